/*
 * The write path: copy into pages and make them dirty.  A new page over a
 * hole is delayed: its block is reserved now (plus, for the inode's first
 * delayed page, md_reserve blocks for the tree blocks its writeout may
 * split off) and the status cache records the range DELAYED; the write
 * that cannot reserve returns -ENOSPC (or what it copied before).  Pages
 * over holes and unwritten blocks also need the inode's journal
 * reservation (credits.c), taken here, before they are dirty.  A new
 * page over a written block that the write covers only in part is read
 * first; over an unwritten block it starts as zeros.
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/file.h"
#include "fs/pagecache/pc_internal.h"

#define RUN_MAX 64u   /* new pages prepared per step */

/* Dirty the cached page @idx with @n bytes at @boff: 1 done, 0 not cached. */
static int write_cached(struct sfs_pcache *pc, struct pc_map *m, uint32_t idx, uint32_t boff,
			const uint8_t *src, size_t n)
{
	struct pc_page *pg;
	int ret = 0;

	mc_mutex_lock(&pc->lock);
	/* stable pages: a page under writeback is not changed */
	while ((pg = pc_page_find(m, idx)) &&
	       (pg->state == PG_READING || pg->state == PG_WRITEBACK))
		mc_cond_wait(&pc->cond, &pc->lock);
	if (pg) {
		memcpy(pg->data + boff, src, n);
		if (pg->state == PG_CLEAN) {
			pc_set_dirty(pc, pg);
			PC_STAT(pc, dirtied, 1);
		}
		ret = 1;
	}
	mc_mutex_unlock(&pc->lock);
	return ret;
}

/* Reserve up to *n data blocks (*n gets how many: a write short of
 * space writes what fits, the next one gets -ENOSPC), and the tree blocks
 * when @m has none reserved; *md gets the tree blocks taken. */
static int reserve(struct sfs_pcache *pc, struct pc_map *m, uint64_t *n, bool privileged,
		   uint32_t *md)
{
	unsigned fl = privileged ? SFS_ALLOC_PRIVILEGED : 0;
	uint64_t avail;
	int ret;

	mc_mutex_lock(&pc->lock);
	*md = m->md_resv ? 0 : pc_md_reserve();
	mc_mutex_unlock(&pc->lock);
	if (!sfs_blocks_reserve(pc->fs, *n + *md, fl))
		return 0;
	/*
	 * Short of space: the data gets what is left, and the tree blocks
	 * this inode's writeout may need come from the filesystem reserve
	 * -- the pool ext4 keeps for this (s_resv_clusters) -- so that
	 * writeback never meets ENOSPC.  With that gone too, the write
	 * cannot be made safe: -ENOSPC now.
	 */
	avail = sfs_balloc_available(pc->fs, fl);
	if (avail < *n)
		*n = avail;
	ret = *n ? sfs_blocks_reserve(pc->fs, *n, fl) : -ENOSPC;
	if (ret || !*md)
		return ret;
	ret = sfs_blocks_reserve(pc->fs, *md, fl | SFS_ALLOC_USE_RESERVE);
	if (ret)
		sfs_blocks_unreserve(pc->fs, *n);
	return ret;
}

ssize_t sfs_pc_write(struct sfs_fs *fs, struct sfs_inode_info *ip, const void *buf, size_t len,
		     uint64_t off, bool privileged)
{
	struct sfs_pcache *pc = pc_of(fs);
	struct pc_page *pages[RUN_MAX];
	const uint8_t *src = buf;
	struct pc_map *m;
	bool nomem = false;
	size_t done = 0;
	int ret;

	ret = pc_map_get(pc, ip, &m);
	if (ret)
		return ret;
	mc_mutex_lock(&pc->lock);
	m->users++;
	mc_mutex_unlock(&pc->lock);
	PC_STAT(pc, writes, 1);
	while (done < len && !nomem) {
		uint64_t pos = off + done;
		uint32_t idx = (uint32_t)(pos >> fs->blog);
		uint32_t boff = (uint32_t)(pos & (fs->bsize - 1));
		size_t n = fs->bsize - boff, left, copy;
		uint64_t blocks = ((boff + (len - done)) + fs->bsize - 1) >> fs->blog;
		struct sfs_mapping mp;
		uint32_t md = 0, got = 0;
		uint64_t resv = 0;

		if (n > len - done)
			n = len - done;
		if (write_cached(pc, m, idx, boff, src + done, n)) {
			done += n;
			continue;
		}
		if (blocks > RUN_MAX)
			blocks = RUN_MAX;
		ret = sfs_map_blocks(NULL, ip, idx, (uint32_t)blocks, 0, &mp);
		if (ret)
			break;
		if (mp.len < blocks)
			blocks = mp.len;
		/* stop the run at the first cached page */
		mc_mutex_lock(&pc->lock);
		for (uint32_t i = 1; i < blocks; i++) {
			if (pc_page_find(m, idx + i)) {
				blocks = i;
				break;
			}
		}
		mc_mutex_unlock(&pc->lock);
		/* Pages that will need a handle at writeback (to map, to
		 * convert): the inode's journal credits first. */
		if (mp.state != SFS_MAPPED_WRITTEN) {
			ret = pc_jrsv_get(pc, m, ip, true);
			if (ret)
				break;
		}
		if (mp.state == SFS_MAPPED_HOLE) {
			ret = reserve(pc, m, &blocks, privileged, &md);
			if (ret)
				break;
			resv = blocks;
		}
		for (; got < blocks; got++) {
			pages[got] = pc_page_alloc(fs, idx + got, true);
			if (!pages[got]) {
				/* no second try in this operation: a short write */
				nomem = true;
				break;
			}
		}
		ret = got ? 0 : -ENOMEM;
		if (!ret && resv) {
			struct sfs_es_extent e = { .lblk = idx, .len = got, .state = SFS_ES_DELAYED };

			mc_write_lock(&ip->data_sem);
			ret = sfs_es_insert(&ip->es, &e, 0);
			mc_rw_unlock(&ip->data_sem);
		}
		if (!ret && mp.state == SFS_MAPPED_WRITTEN) {
			/* partly written blocks keep the rest of their bytes */
			if (boff || (got == 1 && boff + n < fs->bsize))
				ret = sfs_bdev_read(fs->bdev, pages[0]->data, fs->bsize,
						    mp.pblk << fs->blog);
			left = len - done - (fs->bsize - boff);
			if (!ret && got > 1 && left < ((size_t)(got - 1) << fs->blog))
				ret = sfs_bdev_read(fs->bdev, pages[got - 1]->data, fs->bsize,
						    (mp.pblk + got - 1) << fs->blog);
		}
		if (ret) {
			for (uint32_t i = 0; i < got; i++)
				pc_page_free(pages[i]);
			if (resv)
				sfs_blocks_unreserve(fs, resv + md);
			break;
		}
		if (resv && got < resv) {
			sfs_blocks_unreserve(fs, resv - got);
			resv = got;
		}
		mc_mutex_lock(&pc->lock);
		for (uint32_t i = 0; i < got; i++) {
			struct pc_page *pg = pages[i];
			uint32_t b0 = i ? 0 : boff;

			copy = fs->bsize - b0;
			if (copy > len - done)
				copy = len - done;
			if (mp.state != SFS_MAPPED_WRITTEN) {
				memset(pg->data, 0, b0);
				memset(pg->data + b0 + copy, 0, fs->bsize - b0 - copy);
			}
			memcpy(pg->data + b0, src + done, copy);
			done += copy;
			pc_page_insert(pc, m, pg);
			pg->state = PG_CLEAN;      /* pc_set_dirty's starting point */
			pc->nr_clean++;
			pc_set_dirty(pc, pg);
			pg->delayed = resv != 0;
		}
		PC_STAT(pc, dirtied, got);
		if (resv) {
			m->nr_delayed += got;
			pc->nr_delayed += got;
			if (md && !m->md_resv) {
				m->md_resv = md;
				pc->nr_md += md;
				md = 0;
			}
		}
		mc_mutex_unlock(&pc->lock);
		if (md)
			sfs_blocks_unreserve(fs, md);
	}
	mc_mutex_lock(&pc->lock);
	m->users--;
	mc_mutex_unlock(&pc->lock);
	pc_jrsv_drop_idle(pc, m);   /* nothing dirtied after all */
	if (done && pc->nr_dirty > pc_dirty_limit(true))
		pc_kick(pc);
	return done ? (ssize_t)done : ret;
}
