/*
 * The inode cache: a hash table of in-memory inodes, an LRU of the
 * unreferenced ones, and the shrinker that frees them under pressure.
 *
 * Locking: the cache lock covers the hash chains, the LRU, and each
 * inode's ref, holds, state and LRU mark.  Nothing allocates, does I/O or
 * takes another lock of the filesystem while holding it, except releasing a
 * preallocation window (pa_lock, then group held_lock) when an inode's
 * last reference goes.
 *
 * Why the shrinker is safe in every context it can be called from:
 * alloc/ may run it from direct reclaim of any allocation in the process
 * -- inside a journal handle, under a group lock, under an inode's
 * data_sem, even by the thread that holds the cache lock -- and from the
 * background reclaimer.  It only try-locks the cache lock (giving up when
 * it is held: no wait, so no deadlock, and alloc/ learns nothing that
 * could make a caller's lock "taken in reclaim"), and it only frees
 * unreferenced inodes, which by construction have nothing to write (every
 * change to an inode is logged into its table block when it is made), no
 * preallocation window (released at the last reference) and no ordered
 * data attached (a user of jnl_inode_add holds a reference until the
 * commit is done -- issue 10 must keep that rule).  So it needs neither
 * MC_FS nor MC_IO: no I/O, no journal, no waiting.
 *
 * fsync after eviction.  An inode's last_tid (the last transaction that
 * changed it, what fsync commits) lives in the in-memory inode; an
 * evicted inode read back must not come back with 0, or an fsync would
 * take the fast path while its change is still in a running transaction.
 * ext4 gives a re-read inode the journal's newest tid; we keep the newest
 * last_tid of any evicted inode (evicted_tid), which bounds the re-read
 * inode's own and is older than the journal's newest, so fewer fsyncs
 * force a commit they do not need.
 *
 * The LRU is lazy, as the kernel's inode LRU: an inode found in the cache
 * is not taken off the list (that would touch both its neighbours, two
 * cache misses per lookup in a large cache); it is marked referenced
 * instead, and eviction, working from the tail, takes in-use inodes off
 * the list and gives referenced ones a second chance at the head.
 *
 * The hash grows with the number of cached inodes (a lookup walks a chain
 * of about one on average: each step is a cache miss in a large cache):
 * when the count passes the buckets, the table is doubled -- allocated
 * outside the lock (nothing allocates under it), then rehashed under it,
 * once per doubling.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/inode.h"

struct sfs_icache {
	mc_mutex_t lock;
	pthread_cond_t wait;          /* an inode left the NEW or FREEING state */
	struct sfs_inode_info **hash;
	uint32_t nbuckets;            /* power of two */
	struct sfs_inode_info *lru_head, *lru_tail;   /* head = most recently used */
	uint64_t nr_cached, nr_lru;
	jnl_tid_t evicted_tid;        /* newest last_tid of an evicted inode */
	bool growing;                 /* a thread is allocating a bigger table */
	struct mc_shrinker shrinker;
	struct sfs_fs *fs;
};

static uint32_t bucket(const struct sfs_icache *ic, uint64_t ino)
{
	return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 40) & (ic->nbuckets - 1);
}

static struct sfs_inode_info *find_locked(struct sfs_icache *ic, uint64_t ino)
{
	for (struct sfs_inode_info *ip = ic->hash[bucket(ic, ino)]; ip; ip = ip->hnext)
		if (ip->ino == ino)
			return ip;
	return NULL;
}

static void unhash_locked(struct sfs_icache *ic, struct sfs_inode_info *ip)
{
	struct sfs_inode_info **pp = &ic->hash[bucket(ic, ip->ino)];

	while (*pp && *pp != ip)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = ip->hnext;
	ip->hnext = NULL;
	ic->nr_cached--;
}

static void lru_del_locked(struct sfs_icache *ic, struct sfs_inode_info *ip)
{
	if (ip->lru_prev)
		ip->lru_prev->lru_next = ip->lru_next;
	else
		ic->lru_head = ip->lru_next;
	if (ip->lru_next)
		ip->lru_next->lru_prev = ip->lru_prev;
	else
		ic->lru_tail = ip->lru_prev;
	ip->lru_prev = ip->lru_next = NULL;
	ic->nr_lru--;
}

static bool on_lru_locked(const struct sfs_icache *ic, const struct sfs_inode_info *ip)
{
	return ip->lru_prev || ic->lru_head == ip;
}

static void lru_add_locked(struct sfs_icache *ic, struct sfs_inode_info *ip)
{
	ip->lru_prev = NULL;
	ip->lru_next = ic->lru_head;
	if (ic->lru_head)
		ic->lru_head->lru_prev = ip;
	else
		ic->lru_tail = ip;
	ic->lru_head = ip;
	ic->nr_lru++;
}

static void destroy_inode(struct sfs_inode_info *ip)
{
	sfs_es_tree_destroy(&ip->es);
	sfs_ext_cache_destroy(ip);
	mc_rwlock_destroy(&ip->rwsem);
	mc_rwlock_destroy(&ip->data_sem);
	mc_mutex_destroy(&ip->attr_lock);
	mc_free(ip);
}

/* Unhash up to @nr unreferenced LRU inodes (oldest first, a referenced one
 * gets a second chance) onto *dead; lock held. */
static size_t evict_locked(struct sfs_icache *ic, size_t nr, struct sfs_inode_info **dead)
{
	size_t n = 0, budget = 2 * ic->nr_lru + 1;   /* each moves once at most */

	while (n < nr && ic->lru_tail && budget--) {
		struct sfs_inode_info *ip = ic->lru_tail;

		lru_del_locked(ic, ip);
		if (ip->ref)
			continue;           /* in use: it comes back at its last iput */
		if (ip->lru_referenced) {
			ip->lru_referenced = false;
			lru_add_locked(ic, ip);
			continue;
		}
		unhash_locked(ic, ip);
		if (ip->last_tid > ic->evicted_tid)
			ic->evicted_tid = ip->last_tid;
		ip->hnext = *dead;
		*dead = ip;
		n++;
	}
	return n;
}

static void destroy_list(struct sfs_inode_info *dead)
{
	while (dead) {
		struct sfs_inode_info *next = dead->hnext;

		destroy_inode(dead);
		dead = next;
	}
}

#define HASH_MAX_BUCKETS (1u << 24)

static bool needs_growth_locked(const struct sfs_icache *ic)
{
	return !ic->growing && ic->nr_cached > ic->nbuckets &&
	       ic->nbuckets < HASH_MAX_BUCKETS;
}

/* Double the hash table (called without the lock, after an insert found it
 * too full).  Failing to allocate only keeps the chains longer. */
static void grow(struct sfs_icache *ic)
{
	struct sfs_inode_info **nh, **old;
	uint32_t nb, ob;

	mc_mutex_lock(&ic->lock);
	if (!needs_growth_locked(ic)) {
		mc_mutex_unlock(&ic->lock);
		return;
	}
	ic->growing = true;
	ob = ic->nbuckets;
	mc_mutex_unlock(&ic->lock);

	nb = ob * 2;
	nh = mc_alloc_named("inode.hash", (size_t)nb * sizeof(*nh), MC_KERNEL | MC_ZERO | MC_NOWARN);

	mc_mutex_lock(&ic->lock);
	ic->growing = false;
	if (!nh) {
		mc_mutex_unlock(&ic->lock);
		return;
	}
	old = ic->hash;
	ic->hash = nh;
	ic->nbuckets = nb;
	for (uint32_t b = 0; b < ob; b++) {
		struct sfs_inode_info *ip = old[b], *next;

		for (; ip; ip = next) {
			uint32_t h = bucket(ic, ip->ino);

			next = ip->hnext;
			ip->hnext = nh[h];
			nh[h] = ip;
		}
	}
	mc_mutex_unlock(&ic->lock);
	mc_free(old);
}

static size_t shrink_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_icache *ic = s->priv;

	(void)sc;
	/* An unlocked read: a count for reclaim's arithmetic only. */
	return __atomic_load_n(&ic->nr_lru, __ATOMIC_RELAXED);
}

static size_t shrink_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_icache *ic = s->priv;
	struct sfs_inode_info *dead = NULL;
	size_t n;

	if (!mc_mutex_trylock(&ic->lock))
		return MC_SHRINK_STOP;
	n = evict_locked(ic, sc->nr_to_scan, &dead);
	mc_mutex_unlock(&ic->lock);
	destroy_list(dead);
	SFS_STAT(ic->fs, icache_shrunk, n);
	return n;
}

int sfs_icache_init(struct sfs_fs *fs)
{
	struct sfs_icache *ic = mc_zalloc(sizeof(*ic), MC_KERNEL);
	int ret;

	if (!ic)
		return -ENOMEM;
	ic->nbuckets = 4096;
	while (fs->opts.inode_cache && ic->nbuckets < fs->opts.inode_cache && ic->nbuckets < (1u << 20))
		ic->nbuckets <<= 1;
	ic->hash = mc_calloc(ic->nbuckets, sizeof(*ic->hash), MC_KERNEL);
	if (!ic->hash) {
		mc_free(ic);
		return -ENOMEM;
	}
	mc_mutex_init(&ic->lock, "sfs_icache");
	mc_cond_init(&ic->wait);
	ic->fs = fs;
	ic->shrinker.name = "sfs_inodes";
	ic->shrinker.needs = 0;   /* see the comment at the top */
	ic->shrinker.count = shrink_count;
	ic->shrinker.scan = shrink_scan;
	ic->shrinker.priv = ic;
	ret = mc_shrinker_register(&ic->shrinker);
	if (ret) {
		mc_free(ic->hash);
		mc_mutex_destroy(&ic->lock);
		mc_free(ic);
		return ret;
	}
	fs->icache = ic;
	return 0;
}

void sfs_icache_destroy(struct sfs_fs *fs)
{
	struct sfs_icache *ic = fs->icache;
	struct sfs_inode_info *dead = NULL;

	if (!ic)
		return;
	/* Front-end holds left: release them (an unlinked inode is freed). */
	for (;;) {
		struct sfs_inode_info *held = NULL;

		mc_mutex_lock(&ic->lock);
		for (uint32_t b = 0; b < ic->nbuckets && !held; b++)
			for (struct sfs_inode_info *ip = ic->hash[b]; ip && !held; ip = ip->hnext)
				if (ip->holds && ip->state == SFS_I_LIVE)
					held = ip;
		if (held) {
			held->ref -= held->holds - 1;
			held->holds = 0;
		}
		mc_mutex_unlock(&ic->lock);
		if (!held)
			break;
		sfs_iput(held);
	}
	mc_shrinker_unregister(&ic->shrinker);
	mc_mutex_lock(&ic->lock);
	evict_locked(ic, SIZE_MAX, &dead);
	if (ic->nr_cached)
		fprintf(stderr, "scopefs: %llu inodes still referenced at unmount\n",
			(unsigned long long)ic->nr_cached);
	mc_mutex_unlock(&ic->lock);
	destroy_list(dead);
	mc_mutex_destroy(&ic->lock);
	pthread_cond_destroy(&ic->wait);
	mc_free(ic->hash);
	mc_free(ic);
	fs->icache = NULL;
}

void sfs_icache_stats(struct sfs_fs *fs, struct sfs_icache_stats *st)
{
	struct sfs_icache *ic = fs->icache;

	mc_mutex_lock(&ic->lock);
	st->cached = ic->nr_cached;
	st->lru = ic->nr_lru;
	st->referenced = ic->nr_cached - ic->nr_lru;
	mc_mutex_unlock(&ic->lock);
}

static int iget(struct sfs_fs *fs, uint64_t ino, bool nofail, struct sfs_inode_info **out)
{
	struct sfs_icache *ic = fs->icache;
	struct sfs_inode_info *ip, *fresh;
	bool full;
	int ret;

	if (!sfs_geo_ino_valid(&fs->sbi->geo, ino))
		return -EINVAL;
	mc_mutex_lock(&ic->lock);
	for (;;) {
		ip = find_locked(ic, ino);
		if (!ip || ip->state == SFS_I_LIVE)
			break;
		if (ip->state == SFS_I_FREEING) {
			mc_mutex_unlock(&ic->lock);
			return -ENOENT;
		}
		mc_cond_wait(&ic->wait, &ic->lock);
	}
	if (ip) {
		ip->ref++;   /* left on the LRU if it is there (see the top) */
		mc_mutex_unlock(&ic->lock);
		SFS_STAT(fs, icache_hits, 1);
		*out = ip;
		return 0;
	}
	mc_mutex_unlock(&ic->lock);
	SFS_STAT(fs, icache_misses, 1);

	fresh = sfs_inode_alloc(fs, ino, nofail);
	if (!fresh)
		return -ENOMEM;
	mc_mutex_lock(&ic->lock);
	if (find_locked(ic, ino)) {
		/* Someone else read it meanwhile: use theirs. */
		mc_mutex_unlock(&ic->lock);
		destroy_inode(fresh);
		return iget(fs, ino, nofail, out);
	}
	fresh->state = SFS_I_NEW;
	fresh->ref = 1;
	fresh->hnext = ic->hash[bucket(ic, ino)];
	ic->hash[bucket(ic, ino)] = fresh;
	ic->nr_cached++;
	/* It may have been evicted with a change not yet committed. */
	fresh->last_tid = fresh->data_tid = ic->evicted_tid;
	full = needs_growth_locked(ic);
	mc_mutex_unlock(&ic->lock);
	if (full)
		grow(ic);

	ret = sfs_inode_read(fs, fresh, nofail);

	mc_mutex_lock(&ic->lock);
	if (ret)
		unhash_locked(ic, fresh);
	else
		fresh->state = SFS_I_LIVE;
	pthread_cond_broadcast(&ic->wait);
	mc_mutex_unlock(&ic->lock);
	if (ret) {
		destroy_inode(fresh);
		return ret;
	}
	*out = fresh;
	return 0;
}

void sfs_inode_unlock_new(struct sfs_inode_info *ip)
{
	struct sfs_icache *ic = ip->fs->icache;

	mc_mutex_lock(&ic->lock);
	ip->state = SFS_I_LIVE;
	pthread_cond_broadcast(&ic->wait);
	mc_mutex_unlock(&ic->lock);
}

int sfs_iget(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out)
{
	return iget(fs, ino, false, out);
}

int sfs_iget_nofail(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out)
{
	return iget(fs, ino, true, out);
}

/* Make a just-created inode (record written in @t) visible in the cache,
 * still new: see sfs_inode_unlock_new. */
int sfs_icache_insert_new(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	struct sfs_icache *ic = fs->icache;
	bool full;

	mc_mutex_lock(&ic->lock);
	/* A freed incarnation of this number may still be on its way out. */
	while (find_locked(ic, ip->ino))
		mc_cond_wait(&ic->wait, &ic->lock);
	ip->state = SFS_I_NEW;
	ip->ref = 1;
	ip->hnext = ic->hash[bucket(ic, ip->ino)];
	ic->hash[bucket(ic, ip->ino)] = ip;
	ic->nr_cached++;
	full = needs_growth_locked(ic);
	mc_mutex_unlock(&ic->lock);
	if (full)
		grow(ic);
	return 0;
}

void sfs_iget_again(struct sfs_inode_info *ip)
{
	struct sfs_icache *ic = ip->fs->icache;

	mc_mutex_lock(&ic->lock);
	ip->ref++;
	mc_mutex_unlock(&ic->lock);
}

/* Front-end holds (fs.h): counted references. */
int sfs_icache_hold(struct sfs_inode_info *ip, int delta)
{
	struct sfs_icache *ic = ip->fs->icache;
	int ret = 0;

	mc_mutex_lock(&ic->lock);
	if (delta > 0) {
		ip->holds++;
		ip->ref++;
	} else if (ip->holds > 0) {
		ip->holds--;
		ip->ref--;   /* the caller's own reference keeps it above zero */
	} else {
		ret = -EINVAL;
	}
	mc_mutex_unlock(&ic->lock);
	return ret;
}

void sfs_iput(struct sfs_inode_info *ip)
{
	struct sfs_fs *fs = ip->fs;
	struct sfs_icache *ic = fs->icache;
	struct sfs_inode_info *dead = NULL;
	bool free_it = false;

	mc_mutex_lock(&ic->lock);
	if (--ip->ref > 0) {
		mc_mutex_unlock(&ic->lock);
		return;
	}
	/* Its window is only worth keeping while someone writes. */
	sfs_pa_discard(fs, ip);
	if (!ip->d.nlink && ip->state == SFS_I_LIVE) {
		if (on_lru_locked(ic, ip))
			lru_del_locked(ic, ip);
		ip->state = SFS_I_FREEING;
		free_it = true;
	} else if (on_lru_locked(ic, ip)) {
		ip->lru_referenced = true;
	} else {
		lru_add_locked(ic, ip);
		if (fs->opts.inode_cache && ic->nr_lru > fs->opts.inode_cache)
			evict_locked(ic, ic->nr_lru - fs->opts.inode_cache, &dead);
	}
	mc_mutex_unlock(&ic->lock);
	destroy_list(dead);
	if (!free_it)
		return;
	sfs_inode_free(fs, ip);
	mc_mutex_lock(&ic->lock);
	unhash_locked(ic, ip);
	pthread_cond_broadcast(&ic->wait);
	mc_mutex_unlock(&ic->lock);
	destroy_inode(ip);
}
