/*
 * The read path: cached pages are copied out; holes, unwritten and
 * delayed-but-uncached ranges read as zeros without being cached; runs of
 * written blocks are read into new pages in one batch, with a little
 * read-ahead when the file is read in order (up to readahead_pages more
 * blocks of the same extent).
 */
#include <errno.h>
#include <string.h>

#include "fs/file.h"
#include "fs/pagecache/pc_internal.h"

/* Read @n written blocks from @idx (physical @pblk) into new pages; pages
 * already cached end the run early.  Returns 0, 1 (fewer pages than asked:
 * memory ran short) or -errno. */
static int read_run(struct sfs_pcache *pc, struct pc_map *m, uint32_t idx, uint64_t pblk,
		    unsigned n)
{
	struct sfs_fs *fs = pc->fs;
	struct pc_batch *b;
	unsigned got = 0;
	int ret = 0, short_run;

	b = mc_alloc_named("pc.read_batch", sizeof(*b), MC_KERNEL);
	if (!b)
		return -ENOMEM;
	for (; got < n; got++) {
		b->pg[got] = pc_page_alloc(fs, idx + got, false);
		if (!b->pg[got])
			break;
	}
	if (!got) {
		ret = -ENOMEM;
		goto out;
	}
	if (got < n)
		ret = 1;   /* memory ran out: no second try in this operation */
	mc_mutex_lock(&pc->lock);
	for (unsigned i = 0; i < got; i++) {
		if (pc_page_find(m, idx + i)) {
			for (unsigned k = i; k < got; k++)
				pc_page_free(b->pg[k]);
			got = i;
			break;
		}
		pc_page_insert(pc, m, b->pg[i]);
	}
	mc_mutex_unlock(&pc->lock);
	b->nr = got;
	short_run = ret;
	for (unsigned i = 0; i < got; i++) {
		struct sfs_bio *bio = &b->bio[i];

		memset(bio, 0, sizeof(*bio));
		bio->op = SFS_BIO_READ;
		bio->buf = b->pg[i]->data;
		bio->len = fs->bsize;
		bio->off = (pblk + i) << fs->blog;
		bio->end_io = pc_batch_end_io;
		bio->private = b;
	}
	ret = pc_batch_run(fs, b);
	if (!ret)
		ret = short_run;
	mc_mutex_lock(&pc->lock);
	for (unsigned i = 0; i < got; i++) {
		if (ret < 0)
			pc_page_remove(pc, b->pg[i]);
		else
			pc_set_clean(pc, b->pg[i]);
	}
	pthread_cond_broadcast(&pc->cond);
	mc_mutex_unlock(&pc->lock);
	PC_STAT(pc, read_pages, got);
out:
	mc_free(b);
	return ret;
}

/* Copy what the cache has of block @idx: 1 copied, 0 not cached. */
static int copy_cached(struct sfs_pcache *pc, struct pc_map *m, uint32_t idx, uint32_t boff,
		       uint8_t *dst, size_t n)
{
	struct pc_page *pg;
	int ret = 0;

	mc_mutex_lock(&pc->lock);
	while ((pg = pc_page_find(m, idx)) && pg->state == PG_READING)
		mc_cond_wait(&pc->cond, &pc->lock);
	if (pg) {
		memcpy(dst, pg->data + boff, n);
		if (pg->state == PG_CLEAN) {
			/* most recently used */
			pc_list_del(&pg->link);
			pc_list_add(&pc->lru, &pg->link);
		}
		ret = 1;
	}
	mc_mutex_unlock(&pc->lock);
	return ret;
}

ssize_t sfs_pc_read(struct sfs_fs *fs, struct sfs_inode_info *ip, void *buf, size_t len,
		    uint64_t off)
{
	struct sfs_pcache *pc = pc_of(fs);
	unsigned ra = pc_tun.readahead_pages ? pc_tun.readahead_pages : 32;
	struct pc_map *m;
	size_t done = 0;
	int ret;

	if (!len)
		return 0;
	ret = pc_map_get(pc, ip, &m);
	if (ret)
		return ret;
	PC_STAT(pc, reads, 1);
	mc_mutex_lock(&pc->lock);
	m->users++;
	mc_mutex_unlock(&pc->lock);
	while (done < len) {
		uint64_t pos = off + done;
		uint32_t idx = (uint32_t)(pos >> fs->blog);
		uint32_t boff = (uint32_t)(pos & (fs->bsize - 1));
		size_t n = fs->bsize - boff;
		uint64_t want, last;
		struct sfs_mapping mp;

		if (n > len - done)
			n = len - done;
		if (copy_cached(pc, m, idx, boff, (uint8_t *)buf + done, n)) {
			PC_STAT(pc, hits, 1);
			done += n;
			continue;
		}
		last = (off + len - 1) >> fs->blog;
		want = last - idx + 1;
		if (idx == m->ra_next || idx == 0)
			want += ra;
		if (want > SFS_PC_BATCH)
			want = SFS_PC_BATCH;
		ret = sfs_map_blocks(NULL, ip, idx, (uint32_t)want, 0, &mp);
		if (ret)
			break;
		if (mp.state != SFS_MAPPED_WRITTEN) {
			/* zeros, uncached: cheaper to make again than to keep */
			memset((uint8_t *)buf + done, 0, n);
			done += n;
			continue;
		}
		if (mp.len > want)
			mp.len = (uint32_t)want;
		if (mp.len > last - idx + 1)
			PC_STAT(pc, ra_pages, mp.len - (last - idx + 1));
		ret = read_run(pc, m, idx, mp.pblk, mp.len);
		if (ret < 0)
			break;
		if (ret) {
			/* copy what was read, then a short read */
			ret = 0;
			if (copy_cached(pc, m, idx, boff, (uint8_t *)buf + done, n))
				done += n;
			break;
		}
		m->ra_next = idx + mp.len;
	}
	mc_mutex_lock(&pc->lock);
	m->users--;
	pc_map_maybe_free(pc, m);
	mc_mutex_unlock(&pc->lock);
	return done ? (ssize_t)done : ret;
}
