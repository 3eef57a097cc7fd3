/*
 * Writing one inode's dirty pages: a batch of up to SFS_PC_BATCH pages is
 * taken out of the dirty list (WRITEBACK), blocks are allocated for the
 * delayed ones -- runs of consecutive pages in one request each, so a file
 * written in order gets long extents -- in a NOFAIL handle that consumes
 * the reservations made at write time (blocks, and the journal credits
 * of credits.c: the handle starts without waiting for log space), the
 * bios go to the device in one submission, and once they complete the
 * pages are clean.
 *
 * Memory: the batch (bios and page vector) is a mempool element, and the
 * handle is NOFAIL (the tree blocks it may need were reserved on disk at
 * write time; their memory loops inside the allocator rather than fail),
 * so writeback moves when nothing clean is left to reclaim.
 *
 * Ordered mode: the handle that maps fresh blocks attaches the inode
 * (jnl_inode_add) and counts the batch as ordered before it stops; the
 * commit's wait (pc_ordered_ops) sleeps until every such batch started
 * before it has completed.  The bios are submitted right after the handle
 * stops, without waiting for anything the commit could hold.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/pagecache/pc_internal.h"

void pc_batch_end_io(struct sfs_bio *bio)
{
	struct pc_batch *b = bio->private;

	if (bio->error) {
		int zero = 0;

		atomic_compare_exchange_strong(&b->error, &zero, bio->error);
	}
	if (atomic_fetch_sub(&b->left, 1) == 1)
		sem_post(&b->done);
}

/* Pages per vectored bio: 1 MiB of 4 KiB pages, well under IOV_MAX. */
#define PC_MAX_SEGS 256u

/*
 * Fold runs of the batch's one-page bios that are contiguous on the
 * device into vectored bios (the first of each run carries the run): one
 * SQE and one device request per run instead of one per page.  Returns
 * the bios to submit, in @bios.
 */
static unsigned merge_runs(struct pc_batch *b, struct sfs_bio **bios)
{
	unsigned nb = 0;

	for (unsigned i = 0, run; i < b->nr; i += run) {
		struct sfs_bio *first = &b->bio[i];
		uint64_t end = first->off + first->len;

		for (run = 1; i + run < b->nr && run < PC_MAX_SEGS; run++) {
			const struct sfs_bio *next = &b->bio[i + run];
			if (next->op != first->op || next->off != end)
				break;
			end += next->len;
		}
		if (run > 1) {
			for (unsigned k = 0; k < run; k++)
				b->iov[i + k] = (struct iovec){ b->bio[i + k].buf, b->bio[i + k].len };
			first->iov = &b->iov[i];
			first->nr_iov = (uint16_t)run;
			first->len = (uint32_t)(end - first->off);
		}
		bios[nb++] = first;
	}
	return nb;
}

/* Submit the batch's bios (set up by the caller) and wait for them. */
int pc_batch_run(struct sfs_fs *fs, struct pc_batch *b)
{
	struct sfs_bio *bios[SFS_PC_BATCH];
	unsigned nb;

	if (!b->nr)
		return 0;
	nb = merge_runs(b, bios);
	atomic_store(&b->left, nb);
	atomic_store(&b->error, 0);
	sem_init(&b->done, 0, 0);
	PC_STAT(fs->pc, bios, nb);
	sfs_bdev_submit_batch(fs->bdev, bios, nb);
	while (sem_wait(&b->done))
		;
	sem_destroy(&b->done);
	return atomic_load(&b->error);
}

static void batch_bio(struct sfs_fs *fs, struct pc_batch *b, unsigned i, enum sfs_bio_op op,
		      uint64_t pblk)
{
	struct sfs_bio *bio = &b->bio[i];

	memset(bio, 0, sizeof(*bio));
	bio->op = op;
	bio->buf = b->pg[i]->data;
	bio->len = fs->bsize;
	bio->off = pblk << fs->blog;
	bio->end_io = pc_batch_end_io;
	bio->private = b;
}

static int cmp_page(const void *a, const void *b)
{
	uint32_t x = (*(struct pc_page *const *)a)->idx, y = (*(struct pc_page *const *)b)->idx;

	return x < y ? -1 : x > y;
}

/* Take up to @max dirty pages of [from, end) into writeback (lock held). */
static unsigned collect(struct sfs_pcache *pc, struct pc_map *m, uint64_t from, uint64_t end,
			unsigned max, struct pc_batch *b)
{
	struct pc_list *p, *n;
	unsigned nr = 0;

	for (p = m->dirty.next; p != &m->dirty && nr < max; p = n) {
		struct pc_page *pg = pc_entry(p, struct pc_page, link);

		n = p->next;
		if (pg->idx < from || pg->idx >= end)
			continue;
		pc_list_del(&pg->link);
		pg->state = PG_WRITEBACK;
		m->nr_dirty--;
		pc->nr_dirty--;
		m->nr_wb++;
		pc->nr_wb++;
		b->pg[nr] = pg;
		b->fresh[nr] = b->unwritten[nr] = false;
		nr++;
	}
	if (!m->nr_dirty && !pc_list_empty(&m->dlink))
		pc_list_del(&m->dlink);
	return nr;
}

/*
 * Give the tree blocks reserved for @m back to the free count just
 * before the allocations that may use them (and keep them otherwise).
 */
static void md_release(struct sfs_pcache *pc, struct pc_map *m)
{
	uint32_t n;

	mc_mutex_lock(&pc->lock);
	n = m->md_resv;
	m->md_resv = 0;
	pc->nr_md -= n;
	mc_mutex_unlock(&pc->lock);
	if (n)
		sfs_blocks_unreserve(pc->fs, n);
}

static void md_rereserve(struct sfs_pcache *pc, struct pc_map *m)
{
	uint32_t k = pc_md_reserve();
	bool need;

	mc_mutex_lock(&pc->lock);
	need = m->nr_delayed && !m->md_resv;
	mc_mutex_unlock(&pc->lock);
	/* Short of space, the filesystem reserve is the pool for tree
	 * blocks (as at write time); failing that, the mapping may still
	 * use it unreserved (SFS_EXT_USE_RESERVE). */
	if (!need || (sfs_blocks_reserve(pc->fs, k, SFS_ALLOC_PRIVILEGED) &&
		      sfs_blocks_reserve(pc->fs, k, SFS_ALLOC_PRIVILEGED | SFS_ALLOC_USE_RESERVE)))
		return;
	mc_mutex_lock(&pc->lock);
	if (m->nr_delayed && !m->md_resv) {
		m->md_resv = k;
		pc->nr_md += k;
		k = 0;
	}
	mc_mutex_unlock(&pc->lock);
	if (k)
		sfs_blocks_unreserve(pc->fs, k);
}

/* The step's NOFAIL handle: from the inode's journal reservation when it
 * holds one (no wait for log space, no fresh memory), else an ordinary
 * start. */
static int wb_trans_start(struct sfs_pcache *pc, struct sfs_inode_info *ip, struct jnl_rsv *rsv,
			  struct sfs_trans *t)
{
	if (jnl_rsv_held(rsv)) {
		PC_STAT(pc, wb_rsv_starts, 1);
		return sfs_trans_start_reserved(pc->fs, rsv, SFS_TRANS_NOFAIL, t);
	}
	PC_STAT(pc, wb_plain_starts, 1);
	return sfs_trans_start(pc->fs, pc_wb_credits(ip), SFS_TRANS_NOFAIL, t);
}

/* A handle with room for one more mapping (a restarted one must be
 * attached to the ordered list again). */
static int trans_ready(struct sfs_pcache *pc, struct sfs_inode_info *ip, struct jnl_rsv *rsv,
		       struct sfs_trans *t, bool *started, bool *ordered)
{
	int ret;

	if (!*started) {
		ret = wb_trans_start(pc, ip, rsv, t);
		*started = !ret;
		return ret;
	}
	ret = sfs_trans_ensure(t, pc_wb_credits(ip), NULL);
	if (ret == 1) {
		*ordered = false;
		ret = 0;
	}
	return ret;
}

/* Map pages [i, j) of @b (sorted, consecutive delayed pages are one run).
 * Returns 0 or -errno; *resv_left gets reservations not consumed. */
static int map_batch(struct sfs_pcache *pc, struct pc_map *m, struct sfs_inode_info *ip,
		     struct jnl_rsv *rsv, struct pc_batch *b, uint64_t *pblk,
		     uint64_t *unused_resv)
{
	struct sfs_fs *fs = pc->fs;
	struct sfs_trans t;
	bool started = false, ordered = false;
	unsigned i = 0;
	int ret = 0;

	while (i < b->nr) {
		struct pc_page *pg = b->pg[i];
		struct sfs_mapping mp;
		unsigned run = 1, flags = 0;

		if (pg->delayed) {
			while (i + run < b->nr && b->pg[i + run]->delayed &&
			       b->pg[i + run]->idx == pg->idx + run)
				run++;
			flags = SFS_MAPF_CREATE | SFS_MAPF_RESERVED | SFS_MAPF_NOFAIL |
				SFS_MAPF_PRIVILEGED;
		} else {
			while (i + run < b->nr && !b->pg[i + run]->delayed &&
			       b->pg[i + run]->idx == pg->idx + run)
				run++;
		}
		ret = 0;
		if (!flags) {
			/* writeback must move: its lookups cannot fail on memory */
			ret = sfs_map_blocks(NULL, ip, pg->idx, run, SFS_MAPF_NOFAIL, &mp);
			if (ret)
				break;
			/* A dirtied page whose block was removed under it (range
			 * operations drop pages first: should not happen). */
			if (mp.state == SFS_MAPPED_HOLE)
				flags = SFS_MAPF_CREATE | SFS_MAPF_NOFAIL | SFS_MAPF_PRIVILEGED;
		}
		if (flags) {
			ret = trans_ready(pc, ip, rsv, &t, &started, &ordered);
			if (!ret)
				ret = sfs_map_blocks(&t, ip, pg->idx, run, flags, &mp);
		}
		if (ret)
			break;
		for (unsigned k = 0; k < mp.len && k < run; k++) {
			pblk[i + k] = mp.pblk + k;
			b->fresh[i + k] = mp.fresh;
			b->unwritten[i + k] = mp.state == SFS_MAPPED_UNWRITTEN;
			if (b->pg[i + k]->delayed && !mp.fresh)
				(*unused_resv)++;    /* someone else mapped it */
		}
		if (mp.fresh) {
			PC_STAT(pc, wb_allocs, 1);
			if (!ordered && fs->j) {
				ret = jnl_inode_add(t.h, &ip->ji, 0, UINT64_MAX);
				if (ret)
					break;
				ordered = true;
			}
			mc_mutex_lock(&pc->lock);
			if (!b->ordered_counted) {
				m->ord_started++;
				b->ordered_counted = true;
			}
			mc_mutex_unlock(&pc->lock);
		}
		i += mp.len < run ? mp.len : run;
	}
	if (started) {
		int r = sfs_trans_stop(&t);

		if (!ret)
			ret = r;
	}
	b->mapped = i;
	return ret;
}

/* Unwritten blocks just written become written (after their data). */
static int convert_unwritten(struct sfs_pcache *pc, struct sfs_inode_info *ip,
			     struct jnl_rsv *rsv, struct pc_batch *b)
{
	struct sfs_trans t;
	int ret = 0, r;
	bool any = false;

	for (unsigned i = 0; i < b->nr; i++)
		any |= b->unwritten[i];
	if (!any)
		return 0;
	ret = wb_trans_start(pc, ip, rsv, &t);
	if (ret)
		return ret;
	for (unsigned i = 0; i < b->nr && !ret; i++) {
		unsigned run = 1;

		if (!b->unwritten[i])
			continue;
		while (i + run < b->nr && b->unwritten[i + run] &&
		       b->pg[i + run]->idx == b->pg[i]->idx + run)
			run++;
		ret = sfs_trans_ensure(&t, sfs_ext_credits(ip) + 2, NULL);
		if (ret < 0)
			break;
		mc_write_lock(&ip->data_sem);
		ret = sfs_ext_mark_written(&t, ip, b->pg[i]->idx, run, SFS_EXT_NOFAIL);
		mc_rw_unlock(&ip->data_sem);
		i += run - 1;
	}
	r = sfs_trans_stop(&t);
	return ret ? ret : r;
}

long pc_writeback_map(struct sfs_pcache *pc, struct pc_map *m, uint64_t from, uint64_t end,
		      unsigned max)
{
	struct sfs_fs *fs = pc->fs;
	struct sfs_inode_info *ip = NULL;
	uint64_t pblk[SFS_PC_BATCH], unused = 0;
	struct jnl_rsv rsv;
	struct pc_batch *b;
	uint64_t consumed = 0;
	bool any_delayed = false;
	mc_scope_t tok;
	unsigned nr;
	int ret = 0;

	if (max > SFS_PC_BATCH)
		max = SFS_PC_BATCH;
	mc_mutex_lock(&m->wb_lock);
	ret = pc_inode_get(pc, m, &ip);
	if (ret) {
		mc_mutex_unlock(&m->wb_lock);
		return ret == -ENOENT ? 0 : ret;   /* being freed: its pages go with it */
	}
	/* Attached to a transaction's ordered list only here, under the
	 * map's writeback lock. */
	if (!ip->ji.ops)
		jnl_inode_init(&ip->ji, &pc_ordered_ops, ip);
	/* No direct reclaim: it falls back to the pool's reserve at once.
	 * m->wb_lock is held, so no FS reclaim either: a scope, as
	 * everywhere in fs/, not a flag. */
	tok = mc_nofs_save();
	b = mc_mempool_alloc(pc->wb_pool, MC_KERNEL);
	mc_nofs_restore(tok);
	b->nr = 0;
	b->mapped = 0;
	b->ordered_counted = false;
	mc_mutex_lock(&pc->lock);
	nr = collect(pc, m, from, end, max, b);
	mc_mutex_unlock(&pc->lock);
	if (!nr)
		goto out;
	b->nr = nr;
	qsort(b->pg, nr, sizeof(b->pg[0]), cmp_page);
	for (unsigned i = 0; i < nr; i++)
		any_delayed |= b->pg[i]->delayed;
	if (any_delayed)
		md_release(pc, m);
	pc_jrsv_take(pc, m, &rsv);
	ret = map_batch(pc, m, ip, &rsv, b, pblk, &unused);
	if (ret) {
		/* Pages not mapped go back to dirty; the error is kept. */
		mc_mutex_lock(&pc->lock);
		for (unsigned i = b->mapped; i < nr; i++) {
			b->pg[i]->state = PG_CLEAN;   /* pc_set_dirty expects CLEAN */
			pc->nr_clean++;
			pc_list_add(&pc->lru, &b->pg[i]->link);
			m->nr_wb--;
			pc->nr_wb--;
			pc_set_dirty(pc, b->pg[i]);
		}
		m->error = ret;
		mc_mutex_unlock(&pc->lock);
		nr = b->nr = b->mapped;
	}
	for (unsigned i = 0; i < nr; i++) {
		if (b->pg[i]->delayed && b->fresh[i])
			consumed++;
		batch_bio(fs, b, i, SFS_BIO_WRITE, pblk[i]);
	}
	if (unused)
		sfs_blocks_unreserve(fs, unused);
	if (nr) {
		int e = pc_batch_run(fs, b);

		/* The data is on the device: a commit waiting for it may go
		 * on before the conversion below starts its own handle (which
		 * could otherwise wait for that very commit). */
		if (b->ordered_counted) {
			mc_mutex_lock(&pc->lock);
			m->ord_done++;
			b->ordered_counted = false;
			pthread_cond_broadcast(&pc->cond);
			mc_mutex_unlock(&pc->lock);
		}
		if (!e)
			e = convert_unwritten(pc, ip, &rsv, b);
		if (e) {
			PC_STAT(pc, wb_errors, 1);
			if (!ret)
				ret = e;
		}
	}
	mc_mutex_lock(&pc->lock);
	for (unsigned i = 0; i < nr; i++) {
		struct pc_page *pg = b->pg[i];

		if (pg->delayed) {
			pg->delayed = false;
			m->nr_delayed--;
			pc->nr_delayed--;
		}
		pc_set_clean(pc, pg);
	}
	if (b->ordered_counted)
		m->ord_done++;
	if (ret)
		m->error = ret;
	pthread_cond_broadcast(&pc->cond);
	pthread_cond_broadcast(&pc->balance);
	mc_mutex_unlock(&pc->lock);
	(void)consumed;
	pc_jrsv_put(pc, m, &rsv);
	if (any_delayed)
		md_rereserve(pc, m);
	/* the next step's credits, if pages still need a handle */
	pc_jrsv_get(pc, m, ip, false);
	pc_jrsv_drop_idle(pc, m);
	PC_STAT(pc, wb_batches, 1);
	PC_STAT(pc, wb_pages, nr);
out:
	mc_mempool_free(pc->wb_pool, b);
	/* This batch's data is on the device: the inode need not hold up a
	 * commit any more.  Under the map's lock, so that it cannot unlink
	 * the attachment of a batch another thread starts next. */
	if (fs->j && ip->ji.ops)
		jnl_inode_release(fs->j, &ip->ji);
	mc_mutex_unlock(&m->wb_lock);
	/* After the lock: the last reference of an unlinked inode frees it,
	 * and freeing drops this map's pages. */
	sfs_iput(ip);
	return ret ? ret : (long)nr;
}

/* ---- ordered data: what a commit waits for ---- */

static int ordered_submit(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	(void)ji;
	(void)start;
	(void)end;
	return 0;   /* writeback submits right after the handle stops */
}

static int ordered_wait(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	struct sfs_inode_info *ip = ji->priv;
	struct sfs_pcache *pc = pc_of(ip->fs);
	struct pc_map *m;
	uint64_t target;

	(void)start;
	(void)end;
	mc_mutex_lock(&pc->lock);
	m = pc_map_find(pc, ip->ino);
	target = m ? m->ord_started : 0;
	/* The map cannot go while a batch it counted is incomplete. */
	while (m && m->ord_done < target)
		mc_cond_wait(&pc->cond, &pc->lock);
	mc_mutex_unlock(&pc->lock);
	return 0;
}

const struct jnl_inode_ops pc_ordered_ops = { .submit = ordered_submit, .wait = ordered_wait };
