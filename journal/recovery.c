/*
 * Recovery: scan, revoke, replay (jbd2's three passes).
 *
 *  SCAN    from the superblock's start and sequence, walk transaction
 *          after transaction.  Every block must carry the expected
 *          sequence, its own position and a good checksum; every copy
 *          must match its tag; the commit block must match the blocks
 *          counted and the chained checksum.  The first transaction that
 *          fails is the end of the log (it and anything after are
 *          discarded: a torn or never-finished commit).
 *  REVOKE  collect every revoke record of the complete transactions, with
 *          the newest sequence that revoked each block.
 *  REPLAY  write each copy home unless a revoke record of its own or a
 *          later transaction covers it; in log order, so the newest copy
 *          wins.
 * Then flush, and mark the log clean with the next sequence past the end
 * (past a discarded transaction too, so none of its blocks can ever pass
 * for part of a new one).  Replaying writes only what the log dictates,
 * so running it again -- after a crash in the middle -- gives the same
 * image.
 *
 * Memory: a read window over the log, a copy of the current descriptor, a
 * batch of home writes and the revoke table, all freed before returning.
 */
#include <errno.h>
#include <string.h>

#include "fs/block/buf_ops.h"
#include "journal/internal.h"

#define WINDOW_BYTES (256u * 1024)
#define REPLAY_BATCH 64u

enum pass { PASS_SCAN, PASS_REVOKE, PASS_REPLAY };

/* Revoke table: block -> newest revoking sequence. */
struct rrev {
	uint64_t blkno, seq;
	uint32_t next;               /* index + 1 of the next entry in the chain */
};

struct replay {
	uint8_t *bufs;
	uint64_t blk[REPLAY_BATCH];
	struct sfs_bio bios[REPLAY_BATCH];
	struct sfs_bio *ptrs[REPLAY_BATCH];
	unsigned n;
	mc_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending;
	int err;
};

struct rctx {
	struct sfs_bdev *bdev;
	const struct jnl_area *a;
	struct sfs_bcache *cache;
	struct jnl_recovery_info *info;
	uint32_t bsize;
	uint64_t seed, log_len, dev_blocks;
	unsigned tpd, rpb;
	bool aligned;
	enum pass pass;
	/* read window */
	uint8_t *win;
	uint64_t win_pos;
	unsigned win_n, win_cap;
	uint8_t *desc;
	/* revoke table */
	uint32_t *bucket;
	uint32_t nbuckets;
	struct rrev *rev;
	uint32_t nrev, rev_cap;
	struct replay rp;
};

static uint64_t log_next(const struct rctx *c, uint64_t pos)
{
	return pos + 1 == c->a->blocks ? JNL_FIRST : pos + 1;
}

/* The log block at @pos, read through the window; NULL with *err set. */
static const uint8_t *log_block(struct rctx *c, uint64_t pos, int *err)
{
	unsigned n;

	if (c->win_n && pos >= c->win_pos && pos < c->win_pos + c->win_n)
		return c->win + (size_t)(pos - c->win_pos) * c->bsize;
	n = c->win_cap;
	if (pos + n > c->a->blocks)
		n = (unsigned)(c->a->blocks - pos);
	c->win_n = 0;
	*err = sfs_bdev_read(c->bdev, c->win, (size_t)n * c->bsize,
			     (c->a->start + pos) * (uint64_t)c->bsize);
	if (*err)
		return NULL;
	c->win_pos = pos;
	c->win_n = n;
	return c->win;
}

static uint32_t rev_slot(const struct rctx *c, uint64_t blkno)
{
	return (uint32_t)((blkno * 0x9e3779b97f4a7c15ull) >> 32) & (c->nbuckets - 1);
}

static struct rrev *rev_find(const struct rctx *c, uint64_t blkno)
{
	uint32_t i;

	if (!c->nbuckets)
		return NULL;
	for (i = c->bucket[rev_slot(c, blkno)]; i; i = c->rev[i - 1].next)
		if (c->rev[i - 1].blkno == blkno)
			return &c->rev[i - 1];
	return NULL;
}

static void rev_set(struct rctx *c, uint64_t blkno, uint64_t seq)
{
	struct rrev *r = rev_find(c, blkno);
	uint32_t s;

	if (r) {
		if (seq > r->seq)
			r->seq = seq;
		return;
	}
	/* sized from the scan's count: there is room */
	s = rev_slot(c, blkno);
	c->rev[c->nrev] = (struct rrev){ .blkno = blkno, .seq = seq, .next = c->bucket[s] };
	c->bucket[s] = ++c->nrev;
}

static bool revoked(const struct rctx *c, uint64_t blkno, uint64_t seq)
{
	const struct rrev *r = rev_find(c, blkno);

	return r && r->seq >= seq;
}

static void replay_end_io(struct sfs_bio *bio)
{
	struct replay *rp = bio->private;

	mc_mutex_lock(&rp->lock);
	if (bio->error && !rp->err)
		rp->err = bio->error;
	if (--rp->pending == 0)
		pthread_cond_broadcast(&rp->cond);
	mc_mutex_unlock(&rp->lock);
}

/* Write the batch home and wait. */
static int replay_flush(struct rctx *c)
{
	struct replay *rp = &c->rp;
	unsigned i, n = rp->n;
	int err;

	if (!n)
		return 0;
	rp->pending = n;
	for (i = 0; i < n; i++) {
		rp->bios[i] = (struct sfs_bio){
			.op = SFS_BIO_WRITE,
			.buf = rp->bufs + (size_t)i * c->bsize,
			.len = c->bsize,
			.off = rp->blk[i] * (uint64_t)c->bsize,
			.end_io = replay_end_io,
			.private = rp,
		};
		rp->ptrs[i] = &rp->bios[i];
	}
	if (c->aligned) {
		sfs_bdev_submit_batch(c->bdev, rp->ptrs, n);
	} else {
		for (i = 0; i < n; i++) {
			rp->bios[i].error = sfs_bdev_write(c->bdev, rp->bios[i].buf, c->bsize,
							   rp->bios[i].off);
			replay_end_io(&rp->bios[i]);
		}
	}
	mc_mutex_lock(&rp->lock);
	while (rp->pending)
		mc_cond_wait(&rp->cond, &rp->lock);
	err = rp->err;
	mc_mutex_unlock(&rp->lock);
	/* a cached copy of a replayed block is older than the disk now */
	if (c->cache)
		for (i = 0; i < n; i++)
			sfs_bcache_invalidate(c->cache, rp->blk[i], 1);
	c->info->replayed += n;
	rp->n = 0;
	return err;
}

/* Queue @copy for block @home.  Two writes of one block never share a
 * batch: their order would be lost. */
static int replay_add(struct rctx *c, uint64_t home, const uint8_t *copy,
		      const struct jnl_disk_tag *tag)
{
	struct replay *rp = &c->rp;
	uint8_t *dst;
	int ret;

	for (unsigned i = 0; i < rp->n; i++)
		if (rp->blk[i] == home) {
			ret = replay_flush(c);
			if (ret)
				return ret;
			break;
		}
	if (rp->n == REPLAY_BATCH) {
		ret = replay_flush(c);
		if (ret)
			return ret;
	}
	dst = rp->bufs + (size_t)rp->n * c->bsize;
	memcpy(dst, copy, c->bsize);
	if (jnl_le32_to_cpu(tag->flags) & JNL_TAG_ESCAPED)
		memcpy(dst, &tag->escaped, sizeof(tag->escaped));
	rp->blk[rp->n++] = home;
	return 0;
}

/* A home block a tag may name: outside the journal area, inside the device. */
static bool home_ok(const struct rctx *c, uint64_t b)
{
	return b < c->dev_blocks && (b < c->a->start || b >= c->a->start + c->a->blocks);
}

/*
 * Walk the transaction @seq at @pos.  1: complete, *next is the position
 * after it.  0: no complete transaction here (*partial: some of it was).
 * <0: I/O error, corruption, or (later passes) a log that changed.
 */
static int walk_txn(struct rctx *c, uint64_t pos, uint64_t seq, uint64_t *next, bool *partial)
{
	uint64_t csum = 0, nblocks = 0, ncopies = 0, nrev = 0;
	bool scan = c->pass == PASS_SCAN;
	int err = 0;

	*partial = false;
	for (;;) {
		const uint8_t *blk;
		uint32_t magic, nt, i;

		if (nblocks >= c->log_len)
			goto incomplete;
		blk = log_block(c, pos, &err);
		if (!blk)
			return err;
		if (jnl_hdr_check(blk, c->bsize, 0, c->a->start + pos, seq, c->a->uuid, c->seed))
			goto incomplete;
		magic = jnl_hdr_magic(blk);
		if (magic == JNL_MAGIC_REVOKE) {
			const struct jnl_disk_revoke *r = (const void *)blk;
			uint32_t cnt = jnl_le32_to_cpu(r->count);

			if (cnt > c->rpb)
				goto incomplete;
			csum = jnl_txn_csum_step(csum, jnl_le64_to_cpu(r->hdr.csum));
			if (c->pass == PASS_REVOKE)
				for (i = 0; i < cnt; i++)
					rev_set(c, jnl_le64_to_cpu(r->blknos[i]), seq);
			nrev += cnt;
			nblocks++;
			pos = log_next(c, pos);
			continue;
		}
		if (magic == JNL_MAGIC_COMMIT) {
			const struct jnl_disk_commit *cm = (const void *)blk;

			if (jnl_le32_to_cpu(cm->nr_blocks) != nblocks ||
			    jnl_le64_to_cpu(cm->txn_csum) != csum)
				goto incomplete;
			*next = log_next(c, pos);
			if (scan) {
				c->info->transactions++;
				c->info->log_blocks += nblocks + 1;
				c->info->copies += ncopies;
				c->info->revoke_records += nrev;
			}
			return 1;
		}
		if (magic != JNL_MAGIC_DESC)
			goto incomplete;
		/* the window moves while we read the copies */
		memcpy(c->desc, blk, c->bsize);
		nt = jnl_le32_to_cpu(((const struct jnl_disk_desc *)c->desc)->nr_tags);
		if (!nt || nt > c->tpd)
			goto incomplete;
		nblocks++;
		pos = log_next(c, pos);
		for (i = 0; i < nt; i++) {
			const struct jnl_disk_tag *tag = &((const struct jnl_disk_desc *)c->desc)->tags[i];
			uint64_t home = jnl_le64_to_cpu(tag->blkno), tc = jnl_le64_to_cpu(tag->csum);

			if (nblocks >= c->log_len)
				goto incomplete;
			blk = log_block(c, pos, &err);
			if (!blk)
				return err;
			if (scan) {
				/* the descriptor checked, so the tag is as written */
				if (!home_ok(c, home))
					return -EFSCORRUPTED;
				if (jnl_copy_csum(blk, c->bsize, c->seed, seq) != tc)
					goto incomplete;
			}
			csum = jnl_txn_csum_step(csum, tc);
			if (c->pass == PASS_REPLAY) {
				if (revoked(c, home, seq)) {
					c->info->revoked++;
				} else {
					err = replay_add(c, home, blk, tag);
					if (err)
						return err;
				}
			}
			ncopies++;
			nblocks++;
			pos = log_next(c, pos);
		}
	}
incomplete:
	if (!scan)
		return -EIO;   /* the scan found it complete: the log changed under us */
	*partial = nblocks > 0;
	return 0;
}

/* Walk the complete transactions [first, end) from @start in pass @p. */
static int run_pass(struct rctx *c, enum pass p, uint64_t start, uint64_t first, uint64_t end)
{
	uint64_t pos = start, next = 0, seq;
	bool partial;
	int ret;

	c->pass = p;
	for (seq = first; seq < end; seq++) {
		ret = walk_txn(c, pos, seq, &next, &partial);
		if (ret <= 0)
			return ret ? ret : -EIO;
		pos = next;
	}
	return 0;
}

static int ctx_init(struct rctx *c, struct sfs_bdev *bdev, const struct jnl_area *a,
		    struct sfs_bcache *cache, struct jnl_recovery_info *info)
{
	memset(c, 0, sizeof(*c));
	c->bdev = bdev;
	c->a = a;
	c->cache = cache;
	c->info = info;
	c->bsize = a->block_size;
	c->seed = jnl_csum_seed(a->uuid);
	c->log_len = a->blocks - JNL_FIRST;
	c->dev_blocks = sfs_bdev_size(bdev) / a->block_size;
	c->tpd = jnl_tags_per_desc(c->bsize);
	c->rpb = jnl_revokes_per_block(c->bsize);
	c->aligned = c->bsize % sfs_bdev_align(bdev) == 0;
	c->win_cap = WINDOW_BYTES / c->bsize ? WINDOW_BYTES / c->bsize : 1;
	c->win = mc_alloc_named("journal.recovery", (size_t)c->win_cap * c->bsize, MC_KERNEL);
	c->desc = mc_alloc_named("journal.recovery", c->bsize, MC_KERNEL);
	c->rp.bufs = mc_alloc_named("journal.recovery", (size_t)REPLAY_BATCH * c->bsize, MC_KERNEL);
	mc_mutex_init(&c->rp.lock, "jnl.replay");
	mc_cond_init(&c->rp.cond);
	return c->win && c->desc && c->rp.bufs ? 0 : -ENOMEM;
}

static void ctx_destroy(struct rctx *c)
{
	mc_free(c->win);
	mc_free(c->desc);
	mc_free(c->rp.bufs);
	mc_free(c->bucket);
	mc_free(c->rev);
	mc_mutex_destroy(&c->rp.lock);
	pthread_cond_destroy(&c->rp.cond);
}

static int revoke_table_init(struct rctx *c)
{
	uint64_t n = c->info->revoke_records;

	if (!n)
		return 0;
	if (n > UINT32_MAX / 2)
		return -EFSCORRUPTED;
	c->nbuckets = 64;
	while (c->nbuckets < n)
		c->nbuckets <<= 1;
	c->rev_cap = (uint32_t)n;
	c->bucket = mc_calloc(c->nbuckets, sizeof(*c->bucket), MC_KERNEL);
	c->rev = mc_calloc(c->rev_cap, sizeof(*c->rev), MC_KERNEL);
	return c->bucket && c->rev ? 0 : -ENOMEM;
}

int jnl_recover_cache(struct sfs_bdev *bdev, const struct jnl_area *a, unsigned flags,
		      struct sfs_bcache *cache, struct jnl_recovery_info *info)
{
	struct jnl_recovery_info dummy;
	uint64_t pos, next = 0, seq;
	struct jnl_sb sb;
	struct rctx c;
	bool partial;
	void *sbuf;
	int ret;

	if (!info)
		info = &dummy;
	memset(info, 0, sizeof(*info));
	if (a->blocks < JNL_MIN_BLOCKS)
		return -EINVAL;
	sbuf = mc_alloc_named("journal.recovery", a->block_size, MC_KERNEL);
	if (!sbuf)
		return -ENOMEM;
	ret = jnl_sb_read(bdev, a, sbuf, &sb);
	if (ret)
		goto out_sb;
	info->errno_ = (int)sb.errno_;
	info->first_tid = info->end_tid = sb.sequence;
	if (!sb.start) {
		info->was_clean = true;
		goto out_sb;
	}
	ret = ctx_init(&c, bdev, a, cache, info);
	if (ret)
		goto out;

	c.pass = PASS_SCAN;
	for (pos = sb.start, seq = sb.sequence;; seq++, pos = next) {
		ret = walk_txn(&c, pos, seq, &next, &partial);
		if (ret < 0)
			goto out;
		if (!ret) {
			info->torn = partial;
			break;
		}
	}
	info->end_tid = seq;
	if (flags & JNL_RECOVER_CHECK)
		goto out;

	ret = revoke_table_init(&c);
	if (!ret && c.nbuckets)
		ret = run_pass(&c, PASS_REVOKE, sb.start, sb.sequence, seq);
	if (!ret)
		ret = run_pass(&c, PASS_REPLAY, sb.start, sb.sequence, seq);
	if (!ret)
		ret = replay_flush(&c);
	if (!ret)
		ret = sfs_bdev_flush(bdev);
	if (ret)
		goto out;
	/* clean, and past any sequence the discarded tail of the log used */
	sb.start = 0;
	sb.sequence = seq + 1;
	ret = jnl_sb_write(bdev, a, sbuf, &sb);
out:
	ctx_destroy(&c);
out_sb:
	mc_free(sbuf);
	return ret;
}

int jnl_recover(struct sfs_bdev *bdev, const struct jnl_area *a, unsigned flags,
		struct jnl_recovery_info *info)
{
	return jnl_recover_cache(bdev, a, flags, NULL, info);
}

int jnl_clear_recorded_error(struct sfs_bdev *bdev, const struct jnl_area *a)
{
	void *buf = mc_alloc_named("journal.recovery", a->block_size, MC_KERNEL);
	struct jnl_sb sb;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = jnl_sb_read(bdev, a, buf, &sb);
	if (!ret && sb.errno_) {
		uint32_t e = sb.errno_;

		sb.errno_ = 0;
		ret = jnl_sb_write(bdev, a, buf, &sb);
		if (!ret)
			ret = (int)e;
	}
	mc_free(buf);
	return ret;
}
