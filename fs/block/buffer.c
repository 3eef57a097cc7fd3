/*
 * Buffer cache core: lookup, references, LRU, states, journal ownership,
 * invalidation and the shrinker.  I/O is in buffer_io.c.
 *
 * Allocation happens before c->lock is taken (insert_or_find resolves the
 * race), so the shrinker can block on c->lock without ever waiting for a
 * thread that is itself inside reclaim.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/block/bdev_internal.h"
#include "fs/block/buffer_internal.h"

#define INITIAL_BUCKETS 1024u

static size_t hash_slot(const struct sfs_bcache *c, uint64_t blkno)
{
	return (size_t)((blkno * 0x9e3779b97f4a7c15ull) >> 20) & (c->nbuckets - 1);
}

struct sfs_buf *hash_find(struct sfs_bcache *c, uint64_t blkno)
{
	struct sfs_buf *bh;

	for (bh = c->hash[hash_slot(c, blkno)]; bh; bh = bh->hnext)
		if (bh->blkno == blkno)
			return bh;
	return NULL;
}

static void hash_add(struct sfs_bcache *c, struct sfs_buf *bh)
{
	size_t s = hash_slot(c, bh->blkno);

	bh->hnext = c->hash[s];
	c->hash[s] = bh;
	c->nr++;
}

static void hash_del(struct sfs_bcache *c, struct sfs_buf *bh)
{
	struct sfs_buf **pp = &c->hash[hash_slot(c, bh->blkno)];

	while (*pp != bh)
		pp = &(*pp)->hnext;
	*pp = bh->hnext;
	bh->hnext = NULL;
	c->nr--;
}

/* Grow the table when chains get long; the new table is allocated outside
 * the lock, and failing to grow only costs speed. */
static void maybe_grow(struct sfs_bcache *c)
{
	struct sfs_buf **nt, **old;
	size_t n, i;

	mc_mutex_lock(&c->lock);
	n = c->nr > 2 * c->nbuckets ? c->nbuckets * 4 : 0;
	mc_mutex_unlock(&c->lock);
	if (!n)
		return;
	nt = mc_calloc(n, sizeof(*nt), MC_KERNEL | MC_NORETRY | MC_NOWARN);
	if (!nt)
		return;
	mc_mutex_lock(&c->lock);
	if (n <= c->nbuckets) {
		mc_mutex_unlock(&c->lock);
		mc_free(nt);
		return;
	}
	old = c->hash;
	i = c->nbuckets;
	c->hash = nt;
	c->nbuckets = n;
	c->nr = 0;
	while (i--) {
		struct sfs_buf *bh = old[i], *next;

		for (; bh; bh = next) {
			next = bh->hnext;
			hash_add(c, bh);
		}
	}
	mc_mutex_unlock(&c->lock);
	mc_free(old);
}

static void lru_add(struct sfs_bcache *c, struct sfs_buf *bh)
{
	bh->lru_prev = NULL;
	bh->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = bh;
	else
		c->lru_tail = bh;
	c->lru_head = bh;
	c->nr_lru++;
}

void lru_del(struct sfs_bcache *c, struct sfs_buf *bh)
{
	if (bh->lru_prev)
		bh->lru_prev->lru_next = bh->lru_next;
	else
		c->lru_head = bh->lru_next;
	if (bh->lru_next)
		bh->lru_next->lru_prev = bh->lru_prev;
	else
		c->lru_tail = bh->lru_prev;
	bh->lru_prev = bh->lru_next = NULL;
	c->nr_lru--;
}

void dirty_add(struct sfs_bcache *c, struct sfs_buf *bh)
{
	bh->dirty_next = NULL;
	bh->dirty_prev = c->dirty_tail;
	if (c->dirty_tail)
		c->dirty_tail->dirty_next = bh;
	else
		c->dirty_head = bh;
	c->dirty_tail = bh;
	c->nr_dirty++;
}

void dirty_del(struct sfs_bcache *c, struct sfs_buf *bh)
{
	if (bh->dirty_prev)
		bh->dirty_prev->dirty_next = bh->dirty_next;
	else
		c->dirty_head = bh->dirty_next;
	if (bh->dirty_next)
		bh->dirty_next->dirty_prev = bh->dirty_prev;
	else
		c->dirty_tail = bh->dirty_prev;
	bh->dirty_prev = bh->dirty_next = NULL;
	c->nr_dirty--;
}

struct sfs_buf *buf_alloc(struct sfs_bcache *c, uint64_t blkno, mc_flags_t gfp)
{
	struct sfs_buf *bh = mc_zalloc(sizeof(*bh), gfp);

	if (!bh)
		return NULL;
	/* multiples of 4096 are page aligned, smaller powers of two naturally:
	 * either way fit for O_DIRECT at the block size */
	bh->data = mc_alloc(c->bsize, gfp);
	if (!bh->data) {
		mc_free(bh);
		return NULL;
	}
	bh->blkno = blkno;
	bh->size = c->bsize;
	bh->cache = c;
	return bh;
}

void buf_free(struct sfs_buf *bh)
{
	mc_free(bh->data);
	mc_free(bh);
}

struct sfs_buf *insert_or_find(struct sfs_bcache *c, struct sfs_buf *nb, struct sfs_buf **spare)
{
	struct sfs_buf *bh = hash_find(c, nb->blkno);

	*spare = NULL;
	if (bh) {
		if (bh->ref++ == 0)
			lru_del(c, bh);
		bh->state |= SFS_BS_REFERENCED;
		*spare = nb;
		return bh;
	}
	nb->ref = 1;
	hash_add(c, nb);
	return nb;
}

struct sfs_buf *put_locked(struct sfs_bcache *c, struct sfs_buf *bh)
{
	if (--bh->ref > 0)
		return NULL;
	if (bh->state & SFS_BS_STALE)
		return bh;
	lru_add(c, bh);
	return NULL;
}

/* Free clean unreferenced buffers from the cold end of the LRU.  @all:
 * ignore the second-chance bit (drop caches, or a scan of everything).
 * @may_kick: dirty buffers seen may kick writeback (never waited for). */
static size_t shrink_lru(struct sfs_bcache *c, size_t nr, bool all, bool may_kick)
{
	struct sfs_buf *freelist = NULL, *bh, *prev;
	size_t scanned = 0, freed = 0, dirty = 0;
	sfs_bcache_kick_fn kick;

	mc_mutex_lock(&c->lock);
	for (bh = c->lru_tail; bh && scanned < nr; bh = prev) {
		prev = bh->lru_prev;
		scanned++;
		if (bh->state & (SFS_BS_DIRTY | SFS_BS_WRITEBACK | SFS_BS_JOURNAL |
				 SFS_BS_LOCKED)) {
			dirty += !!(bh->state & SFS_BS_DIRTY);
			continue;
		}
		if (!all && (bh->state & SFS_BS_REFERENCED)) {
			bh->state &= ~SFS_BS_REFERENCED;
			lru_del(c, bh);
			lru_add(c, bh);
			continue;
		}
		lru_del(c, bh);
		hash_del(c, bh);
		bh->hnext = freelist;
		freelist = bh;
		freed++;
	}
	c->st.evicted += freed;
	kick = may_kick ? c->kick : NULL;
	mc_mutex_unlock(&c->lock);

	while (freelist) {
		bh = freelist;
		freelist = bh->hnext;
		buf_free(bh);
	}
	if (dirty && kick)
		kick(c->kick_arg, dirty);
	return freed;
}

size_t sfs_bcache_shrink(struct sfs_bcache *c, size_t nr)
{
	return shrink_lru(c, nr, false, true);
}

/* Clean unreferenced buffers are what we can give back; dirty ones on the
 * LRU are counted too, since a scan of them may kick writeback. */
static size_t shrinker_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_bcache *c = s->priv;
	size_t n;

	(void)sc;
	mc_mutex_lock(&c->lock);
	n = c->nr_lru;
	mc_mutex_unlock(&c->lock);
	return n;
}

static size_t shrinker_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_bcache *c = s->priv;
	bool all;

	mc_mutex_lock(&c->lock);
	all = sc->nr_to_scan >= c->nr_lru;
	mc_mutex_unlock(&c->lock);
	sc->nr_scanned = sc->nr_to_scan;
	/* Kicking writeback starts I/O: only when the reclaim we run for may. */
	return shrink_lru(c, sc->nr_to_scan, all, (sc->flags & MC_IO) != 0);
}

int sfs_bcache_create(struct sfs_bdev *bdev, const struct sfs_bcache_opts *o,
		      struct sfs_bcache **out)
{
	struct sfs_bcache *c;
	uint32_t bs = o->block_size;
	int ret;

	if (bs < 1024 || bs > 65536 || (bs & (bs - 1)))
		return -EINVAL;
	c = mc_zalloc(sizeof(*c), MC_KERNEL);
	if (!c)
		return -ENOMEM;
	c->nbuckets = INITIAL_BUCKETS;
	c->hash = mc_calloc(c->nbuckets, sizeof(*c->hash), MC_KERNEL);
	if (!c->hash) {
		ret = -ENOMEM;
		goto err_free;
	}
	c->bdev = bdev;
	c->bsize = bs;
	c->bshift = (unsigned)__builtin_ctz(bs);
	c->sync_io = bs % sfs_bdev_align(bdev) != 0;
	c->max_bytes = o->max_bytes;
	c->ra_max = o->ra_max ? o->ra_max : 32;
	c->vctx = o->verifier_ctx;
	c->ra_last = UINT64_MAX - 1;
	mc_mutex_init(&c->lock, "sfs_bcache.lock");
	mc_cond_init(&c->wait);

	c->shrinker.name = o->name ? o->name : "sfs_buffers";
	c->shrinker.needs = 0;   /* see buffer.h: frees clean buffers only, never waits */
	c->shrinker.count = shrinker_count;
	c->shrinker.scan = shrinker_scan;
	c->shrinker.priv = c;
	ret = mc_shrinker_register(&c->shrinker);
	if (ret)
		goto err_lock;
	*out = c;
	return 0;

err_lock:
	pthread_cond_destroy(&c->wait);
	mc_mutex_destroy(&c->lock);
	mc_free(c->hash);
err_free:
	mc_free(c);
	return ret;
}

void sfs_bcache_destroy(struct sfs_bcache *c)
{
	size_t i, held = 0, dirty = 0;

	if (!c)
		return;
	mc_shrinker_unregister(&c->shrinker);
	sfs_bdev_drain(c->bdev);
	for (i = 0; i < c->nbuckets; i++) {
		struct sfs_buf *bh = c->hash[i], *next;

		for (; bh; bh = next) {
			next = bh->hnext;
			held += bh->ref > 0;
			dirty += !!(bh->state & SFS_BS_DIRTY);
			buf_free(bh);
		}
	}
	if (held || dirty)
		bdev_log("buffer cache destroyed with %zu referenced and %zu dirty buffers",
			 held, dirty);
	pthread_cond_destroy(&c->wait);
	mc_mutex_destroy(&c->lock);
	mc_free(c->hash);
	mc_free(c);
}

uint32_t sfs_bcache_block_size(const struct sfs_bcache *c)
{
	return c->bsize;
}

struct sfs_bdev *sfs_bcache_bdev(const struct sfs_bcache *c)
{
	return c->bdev;
}

void sfs_bcache_set_kick(struct sfs_bcache *c, sfs_bcache_kick_fn fn, void *arg)
{
	mc_mutex_lock(&c->lock);
	c->kick = fn;
	c->kick_arg = arg;
	mc_mutex_unlock(&c->lock);
}

struct sfs_buf *sfs_buf_find(struct sfs_bcache *c, uint64_t blkno)
{
	struct sfs_buf *bh;

	mc_mutex_lock(&c->lock);
	bh = hash_find(c, blkno);
	if (bh) {
		if (bh->ref++ == 0)
			lru_del(c, bh);
		bh->state |= SFS_BS_REFERENCED;
	}
	mc_mutex_unlock(&c->lock);
	return bh;
}

int sfs_buf_get(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops,
		unsigned flags, struct sfs_buf **out)
{
	mc_flags_t gfp = MC_KERNEL | ((flags & SFS_BUF_NOFAIL) ? MC_NOFAIL : 0);
	struct sfs_buf *bh, *nb, *spare;
	size_t over;   /* buffers above max_bytes */

	bh = sfs_buf_find(c, blkno);
	if (bh) {
		mc_mutex_lock(&c->lock);
		c->st.hits++;
		if (flags & SFS_BUF_NEW) {
			/* a reallocated block: whatever was cached is not its content */
			bh->state |= SFS_BS_UPTODATE | SFS_BS_VERIFIED;
			bh->state &= ~SFS_BS_READAHEAD;
		}
		mc_mutex_unlock(&c->lock);
		if (flags & SFS_BUF_NEW)
			memset(bh->data, 0, c->bsize);
		goto found;
	}
	maybe_grow(c);
	nb = buf_alloc(c, blkno, gfp);
	if (!nb)
		return -ENOMEM;
	if (flags & SFS_BUF_NEW) {
		memset(nb->data, 0, c->bsize);
		nb->state |= SFS_BS_UPTODATE | SFS_BS_VERIFIED;
	}
	mc_mutex_lock(&c->lock);
	bh = insert_or_find(c, nb, &spare);
	if (spare)
		c->st.hits++;
	else
		c->st.misses++;
	over = c->max_bytes && (size_t)c->nr * c->bsize > c->max_bytes
		? c->nr - c->max_bytes / c->bsize : 0;
	mc_mutex_unlock(&c->lock);
	if (spare) {
		buf_free(spare);
		if (flags & SFS_BUF_NEW) {
			mc_mutex_lock(&c->lock);
			bh->state |= SFS_BS_UPTODATE | SFS_BS_VERIFIED;
			mc_mutex_unlock(&c->lock);
			memset(bh->data, 0, c->bsize);
		}
	}
	if (over)
		shrink_lru(c, over, true, true);
found:
	if (ops && !bh->ops)
		bh->ops = ops;
	*out = bh;
	return 0;
}

int sfs_buf_read(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops,
		 unsigned flags, struct sfs_buf **out)
{
	struct sfs_buf *bh;
	int ret;

	ret = sfs_buf_get(c, blkno, ops, flags & ~SFS_BUF_NEW, &bh);
	if (ret)
		return ret;
	ret = buf_read_verify(bh, ops);
	if (ret) {
		sfs_buf_release(bh);
		return ret;
	}
	ra_note_read(c, blkno, ops);
	*out = bh;
	return 0;
}

void sfs_buf_hold(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->ref++;
	mc_mutex_unlock(&c->lock);
}

void sfs_buf_release(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;
	struct sfs_buf *dead;

	mc_mutex_lock(&c->lock);
	dead = put_locked(c, bh);
	mc_mutex_unlock(&c->lock);
	if (dead)
		buf_free(dead);
}

void sfs_buf_lock(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	while (bh->state & SFS_BS_LOCKED)
		mc_cond_wait(&c->wait, &c->lock);
	bh->state |= SFS_BS_LOCKED;
	mc_mutex_unlock(&c->lock);
}

bool sfs_buf_trylock(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;
	bool got;

	mc_mutex_lock(&c->lock);
	got = !(bh->state & SFS_BS_LOCKED);
	bh->state |= SFS_BS_LOCKED;
	mc_mutex_unlock(&c->lock);
	return got;
}

void sfs_buf_unlock(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->state &= ~SFS_BS_LOCKED;
	pthread_cond_broadcast(&c->wait);
	mc_mutex_unlock(&c->lock);
}

void sfs_buf_mark_dirty(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	/* A stale buffer's block was freed: its content must never reach it. */
	if (!(bh->state & (SFS_BS_DIRTY | SFS_BS_STALE))) {
		/* the caller's content is what we trust from now on */
		bh->state |= SFS_BS_DIRTY | SFS_BS_UPTODATE | SFS_BS_VERIFIED;
		dirty_add(c, bh);
	}
	mc_mutex_unlock(&c->lock);
}

void sfs_buf_wait_writeback(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	while (bh->state & SFS_BS_WRITEBACK)
		mc_cond_wait(&c->wait, &c->lock);
	mc_mutex_unlock(&c->lock);
}

void sfs_buf_set_journal(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->state |= SFS_BS_JOURNAL;
	mc_mutex_unlock(&c->lock);
}

void sfs_buf_clear_journal(struct sfs_buf *bh)
{
	struct sfs_bcache *c = bh->cache;

	mc_mutex_lock(&c->lock);
	bh->state &= ~SFS_BS_JOURNAL;
	mc_mutex_unlock(&c->lock);
}

unsigned sfs_buf_state(const struct sfs_buf *bh)
{
	return __atomic_load_n(&bh->state, __ATOMIC_RELAXED);
}

void sfs_bcache_invalidate(struct sfs_bcache *c, uint64_t blkno, uint64_t count)
{
	uint64_t b;

	for (b = blkno; b < blkno + count; b++) {
		struct sfs_buf *bh, *dead = NULL;

		mc_mutex_lock(&c->lock);
		bh = hash_find(c, b);
		if (!bh) {
			mc_mutex_unlock(&c->lock);
			continue;
		}
		/* A write of the old content still in flight must land before
		 * the block can be reused, or it could overwrite the new one. */
		while (bh->state & SFS_BS_WRITEBACK)
			mc_cond_wait(&c->wait, &c->lock);
		if (bh->state & SFS_BS_DIRTY)
			dirty_del(c, bh);
		bh->state &= ~(SFS_BS_DIRTY | SFS_BS_UPTODATE | SFS_BS_VERIFIED);
		bh->state |= SFS_BS_STALE;
		hash_del(c, bh);
		if (bh->ref == 0) {
			lru_del(c, bh);
			dead = bh;
		}
		c->st.invalidated++;
		mc_mutex_unlock(&c->lock);
		if (dead)
			buf_free(dead);
	}
}

void sfs_bcache_stats(struct sfs_bcache *c, struct sfs_bcache_stats *out)
{
	mc_mutex_lock(&c->lock);
	*out = c->st;
	out->buffers = c->nr;
	out->dirty = c->nr_dirty;
	out->lru = c->nr_lru;
	mc_mutex_unlock(&c->lock);
}
