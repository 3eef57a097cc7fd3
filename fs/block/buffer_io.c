/*
 * Buffer cache I/O: reads with verification, read-ahead, writeback, sync.
 *
 * A buffer's lock (SFS_BS_LOCKED) is held for the whole of its I/O.  For a
 * synchronous read the reading thread owns it and verifies after the I/O;
 * for read-ahead and writeback the completion releases it, so a thread that
 * wants the buffer simply waits for its lock.
 *
 * Completions run on the block layer's completion thread: they take
 * c->lock briefly and never allocate or wait.  Nothing here submits with
 * c->lock held.
 */
#include <errno.h>

#include "fs/block/bdev_internal.h"
#include "fs/block/buffer_internal.h"

#define BATCH 64u   /* bios per submission for read-ahead and writeback */

static void bio_init(struct sfs_buf *bh, enum sfs_bio_op op, sfs_bio_end_fn end_io)
{
	bh->bio = (struct sfs_bio){ .op = op, .buf = bh->data, .len = bh->size,
				    .off = bh->blkno << bh->cache->bshift,
				    .end_io = end_io, .private = bh };
}

/* ---- reads ---- */

static void read_end_io(struct sfs_bio *bio)
{
	struct sfs_buf *bh = bio->private;
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->error = bio->error;
	bh->state &= ~SFS_BS_READING;
	if (!bio->error) {
		bh->state |= SFS_BS_UPTODATE;
		c->st.reads++;
	} else {
		c->st.read_errors++;
	}
	pthread_cond_broadcast(&c->wait);
	mc_mutex_unlock(&c->lock);
}

/* The caller holds the buffer lock; READING is set. */
static int read_block(struct sfs_bcache *c, struct sfs_buf *bh)
{
	int ret;

	if (c->sync_io) {
		bh->bio.error = sfs_bdev_read(c->bdev, bh->data, bh->size, bh->blkno << c->bshift);
		bh->bio.private = bh;
		read_end_io(&bh->bio);
	} else {
		bio_init(bh, SFS_BIO_READ, read_end_io);
		sfs_bdev_submit(c->bdev, &bh->bio);
	}
	mc_mutex_lock(&c->lock);
	while (bh->state & SFS_BS_READING)
		mc_cond_wait(&c->wait, &c->lock);
	ret = bh->error;
	mc_mutex_unlock(&c->lock);
	return ret;
}

int buf_read_verify(struct sfs_buf *bh, const struct sfs_buf_ops *ops)
{
	struct sfs_bcache *c = bh->cache;
	bool need_read;
	int ret = 0;

	mc_mutex_lock(&c->lock);
	if ((bh->state & SFS_BS_UPTODATE) && (!ops || (bh->state & SFS_BS_VERIFIED))) {
		if (bh->state & SFS_BS_READAHEAD)
			c->st.ra_hits++;
		bh->state &= ~SFS_BS_READAHEAD;
		mc_mutex_unlock(&c->lock);
		return 0;
	}
	mc_mutex_unlock(&c->lock);

	sfs_buf_lock(bh);   /* also waits for a read-ahead of it in flight */
	mc_mutex_lock(&c->lock);
	need_read = !(bh->state & SFS_BS_UPTODATE);
	if (!need_read && (bh->state & SFS_BS_READAHEAD))
		c->st.ra_hits++;
	bh->state &= ~SFS_BS_READAHEAD;
	if (need_read)
		bh->state |= SFS_BS_READING;
	mc_mutex_unlock(&c->lock);

	if (need_read) {
		ret = read_block(c, bh);
		if (ret)
			goto out;
	}
	if (ops && ops->verify_read) {
		mc_mutex_lock(&c->lock);
		need_read = !(bh->state & SFS_BS_VERIFIED);   /* reused: needs verifying */
		mc_mutex_unlock(&c->lock);
		if (need_read)
			ret = ops->verify_read(bh->data, bh->size, bh->blkno, c->vctx);
		mc_mutex_lock(&c->lock);
		if (ret) {
			/* keep no bad copy: the next read goes to the disk again */
			bh->state &= ~(SFS_BS_UPTODATE | SFS_BS_VERIFIED);
			c->st.verify_failures++;
		} else {
			bh->state |= SFS_BS_VERIFIED;
			bh->ops = ops;
		}
		mc_mutex_unlock(&c->lock);
	}
out:
	sfs_buf_unlock(bh);
	return ret;
}

static void ra_end_io(struct sfs_bio *bio)
{
	struct sfs_buf *bh = bio->private, *dead;
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->error = bio->error;
	bh->state &= ~(SFS_BS_READING | SFS_BS_LOCKED);
	if (!bio->error) {
		bh->state |= SFS_BS_UPTODATE;
		c->st.reads++;
	} else {
		bh->state &= ~SFS_BS_READAHEAD;
		c->st.read_errors++;
	}
	dead = put_locked(c, bh);
	pthread_cond_broadcast(&c->wait);
	mc_mutex_unlock(&c->lock);
	if (dead)
		buf_free(dead);
}

void sfs_bcache_readahead(struct sfs_bcache *c, uint64_t blkno, unsigned nr,
			  const struct sfs_buf_ops *ops)
{
	uint64_t nblocks = sfs_bdev_size(c->bdev) >> c->bshift;
	struct sfs_bio *bios[BATCH];
	unsigned n = 0, i;

	/* Small blocks go through the synchronous bounce path: nothing to
	 * overlap, so read-ahead would only add latency. */
	if (c->sync_io)
		return;
	for (i = 0; i < nr && blkno + i < nblocks; i++) {
		struct sfs_buf *bh, *nb, *spare, *dead;
		bool cached;

		mc_mutex_lock(&c->lock);
		cached = hash_find(c, blkno + i) != NULL;
		mc_mutex_unlock(&c->lock);
		if (cached)
			continue;
		/* speculative: never reclaim hard for it */
		nb = buf_alloc(c, blkno + i, MC_NOWAIT | MC_NOWARN);
		if (!nb)
			break;
		mc_mutex_lock(&c->lock);
		bh = insert_or_find(c, nb, &spare);
		if (spare) {
			dead = put_locked(c, bh);
			mc_mutex_unlock(&c->lock);
			buf_free(spare);
			if (dead)
				buf_free(dead);
			continue;
		}
		bh->state |= SFS_BS_LOCKED | SFS_BS_READING | SFS_BS_READAHEAD;
		bh->ops = ops;
		c->st.ra_issued++;
		mc_mutex_unlock(&c->lock);
		bio_init(bh, SFS_BIO_READ, ra_end_io);
		bios[n++] = &bh->bio;
		if (n == BATCH) {
			sfs_bdev_submit_batch(c->bdev, bios, n);
			n = 0;
		}
	}
	if (n)
		sfs_bdev_submit_batch(c->bdev, bios, n);
}

/* Sequential-scan detection, one stream per cache: after two consecutive
 * blocks, keep a window (doubling up to ra_max) read ahead of the reader,
 * refilled when the reader crosses its middle. */
void ra_note_read(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops)
{
	uint64_t start, end;

	mc_mutex_lock(&c->lock);
	if (blkno == c->ra_last) {
		mc_mutex_unlock(&c->lock);
		return;
	}
	if (blkno != c->ra_last + 1) {
		c->ra_last = blkno;
		c->ra_window = 0;
		c->ra_end = 0;
		mc_mutex_unlock(&c->lock);
		return;
	}
	c->ra_last = blkno;
	if (!c->ra_window)
		c->ra_window = 2;
	if (blkno + c->ra_window / 2 < c->ra_end) {
		mc_mutex_unlock(&c->lock);
		return;
	}
	c->ra_window = c->ra_window * 2 > c->ra_max ? c->ra_max : c->ra_window * 2;
	start = c->ra_end > blkno + 1 ? c->ra_end : blkno + 1;
	end = blkno + 1 + c->ra_window;
	if (end > start)
		c->ra_end = end;
	mc_mutex_unlock(&c->lock);
	if (end > start)
		sfs_bcache_readahead(c, start, (unsigned)(end - start), ops);
}

/* ---- writes ---- */

static void wb_end_io(struct sfs_bio *bio)
{
	struct sfs_buf *bh = bio->private, *dead;
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->error = bio->error;
	bh->state &= ~(SFS_BS_WRITEBACK | SFS_BS_LOCKED);
	if (bio->error) {
		/* Keep the data: a later sync may succeed; report the error once. */
		bh->state |= SFS_BS_WRITE_ERR;
		if (!(bh->state & (SFS_BS_DIRTY | SFS_BS_STALE))) {
			bh->state |= SFS_BS_DIRTY;
			dirty_add(c, bh);
		}
		if (!c->wb_error)
			c->wb_error = -EIO;
		c->st.write_errors++;
	} else {
		bh->state &= ~SFS_BS_WRITE_ERR;
		c->st.writes++;
	}
	c->wb_inflight--;
	dead = put_locked(c, bh);
	pthread_cond_broadcast(&c->wait);
	mc_mutex_unlock(&c->lock);
	if (dead)
		buf_free(dead);
}

/* Stamp and check the block, then move it from dirty to writeback.  The
 * buffer is locked and held by the caller.  Returns false if refused. */
static bool start_write(struct sfs_bcache *c, struct sfs_buf *bh)
{
	const struct sfs_buf_ops *ops = bh->ops;
	struct sfs_buf *dead;
	int ret = 0;

	if (ops && ops->prepare_write)
		ret = ops->prepare_write(bh->data, bh->size, bh->blkno, c->vctx);
	mc_mutex_lock(&c->lock);
	if (ret) {
		c->st.prepare_failures++;
		if (!c->wb_error)
			c->wb_error = ret;
		bh->error = ret;
		bh->state &= ~SFS_BS_LOCKED;
		dead = put_locked(c, bh);
		pthread_cond_broadcast(&c->wait);
		mc_mutex_unlock(&c->lock);
		if (dead)
			buf_free(dead);
		return false;
	}
	if (bh->state & SFS_BS_DIRTY)
		dirty_del(c, bh);
	bh->state &= ~SFS_BS_DIRTY;
	bh->state |= SFS_BS_WRITEBACK;
	c->wb_inflight++;
	mc_mutex_unlock(&c->lock);
	bio_init(bh, SFS_BIO_WRITE, wb_end_io);
	return true;
}

static void submit_writes(struct sfs_bcache *c, struct sfs_bio **bios, unsigned n)
{
	unsigned i;

	if (!c->sync_io) {
		sfs_bdev_submit_batch(c->bdev, bios, n);
		return;
	}
	for (i = 0; i < n; i++) {
		bios[i]->error = sfs_bdev_write(c->bdev, bios[i]->buf, bios[i]->len, bios[i]->off);
		wb_end_io(bios[i]);
	}
}

/* Take up to @max dirty buffers that may go home: lock and hold each. */
static unsigned collect(struct sfs_bcache *c, struct sfs_buf **batch, unsigned max,
			uint32_t pass)
{
	struct sfs_buf *bh;
	unsigned n = 0;

	mc_mutex_lock(&c->lock);
	for (bh = c->dirty_head; bh && n < max; bh = bh->dirty_next) {
		if (bh->state & SFS_BS_JOURNAL) {
			/* not before its transaction commits */
			c->st.journal_skips++;
			continue;
		}
		if ((bh->state & (SFS_BS_LOCKED | SFS_BS_WRITEBACK)) || bh->wb_pass == pass)
			continue;
		bh->wb_pass = pass;
		bh->state |= SFS_BS_LOCKED;
		if (bh->ref++ == 0)
			lru_del(c, bh);
		batch[n++] = bh;
	}
	mc_mutex_unlock(&c->lock);
	return n;
}

static void sort_by_block(struct sfs_buf **b, unsigned n)
{
	unsigned i, j;

	for (i = 1; i < n; i++) {
		struct sfs_buf *x = b[i];

		for (j = i; j > 0 && b[j - 1]->blkno > x->blkno; j--)
			b[j] = b[j - 1];
		b[j] = x;
	}
}

long sfs_bcache_writeback(struct sfs_bcache *c, size_t max, bool wait)
{
	struct sfs_buf *batch[BATCH];
	struct sfs_bio *bios[BATCH];
	long started = 0;
	uint32_t pass;
	int ret;

	mc_mutex_lock(&c->lock);
	pass = ++c->wb_pass;
	mc_mutex_unlock(&c->lock);
	while ((size_t)started < max) {
		size_t want = max - (size_t)started;
		unsigned n, i, k = 0;

		n = collect(c, batch, want < BATCH ? (unsigned)want : BATCH, pass);
		if (!n)
			break;
		sort_by_block(batch, n);
		for (i = 0; i < n; i++)
			if (start_write(c, batch[i]))
				bios[k++] = &batch[i]->bio;
		if (k)
			submit_writes(c, bios, k);
		started += k;
	}
	if (!wait)
		return started;
	mc_mutex_lock(&c->lock);
	while (c->wb_inflight)
		mc_cond_wait(&c->wait, &c->lock);
	ret = c->wb_error;
	mc_mutex_unlock(&c->lock);
	return ret ? ret : started;
}

int sfs_buf_write(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;
	struct sfs_bio *bio = &bh->bio;
	int ret;

	sfs_buf_lock(bh);
	mc_mutex_lock(&c->lock);
	if (bh->state & SFS_BS_JOURNAL) {
		c->st.journal_skips++;
		ret = -EBUSY;
	} else {
		ret = (bh->state & SFS_BS_DIRTY) ? 1 : 0;
	}
	if (ret == 1)
		bh->ref++;   /* dropped by the completion */
	mc_mutex_unlock(&c->lock);
	if (ret != 1) {
		sfs_buf_unlock(bh);
		return ret;
	}
	if (!start_write(c, bh))
		return bh->error;
	submit_writes(c, &bio, 1);
	mc_mutex_lock(&c->lock);
	while (bh->state & SFS_BS_WRITEBACK)
		mc_cond_wait(&c->wait, &c->lock);
	ret = bh->error;
	mc_mutex_unlock(&c->lock);
	return ret;
}

int sfs_bcache_sync(struct sfs_bcache *c)
{
	long wb = sfs_bcache_writeback(c, SIZE_MAX, true);
	int ret, err;

	ret = sfs_bdev_flush(c->bdev);
	mc_mutex_lock(&c->lock);
	err = c->wb_error;
	c->wb_error = 0;
	mc_mutex_unlock(&c->lock);
	if (err)
		return err;
	if (wb < 0)
		return (int)wb;
	return ret;
}
