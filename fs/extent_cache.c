/*
 * The extent tree's in-memory index (the contract is in extent_tree.h,
 * "the index cache"): for every tree block a lookup has been through, a
 * twin that pins the block's buffer and points straight at the twins of
 * the node's children.  A lookup follows those pointers instead of hashing
 * a block number into the buffer cache at every level (its lock, its hash
 * chain, its LRU list), and searches a node from the samples its twin keeps
 * (extent_path.c), so a level costs a few cache lines at any tree size.
 *
 * Concurrency: lookups fill twins while holding data_sem for reading,
 * several at once, so a slot is published with a compare-and-swap and read
 * with acquire.  Twins are freed only where no lookup can be walking them:
 * with data_sem held for writing (a change to an index node, the
 * shrinker's try-lock) or when the inode itself is destroyed.
 *
 * Memory: twins come from mc_alloc without reclaim (MC_NOWAIT), and a
 * failed fill is not retried in the same operation: the index is an
 * optimisation, and a lookup without it walks the buffer cache as before.
 * The pinned buffers stay accounted by the buffer cache; at most half of
 * its cap (mount option cache=) is pinned; the shrinker "sfs_extent_index"
 * unpins them and frees the twins of every inode whose data_sem it can take.
 */
#include <errno.h>
#include <pthread.h>

#include "fs/extent_tree.h"
#include "fs/fs.h"
#include "fs/format/hdr.h"

struct sfs_ext_cache {
	struct sfs_inode_info *ip;
	struct sfs_ext_cache *prev, *next;  /* every cache, for the shrinker */
	struct sfs_ext_cnode *root;         /* the inode's root: bh NULL */
};

#define CACHE_GFP (MC_NOWAIT | MC_NOWARN | MC_ZERO)

/* The alloc/ wrapper, so that the lock checks learn the shrinker takes it;
 * initialised with the shrinker (every cache exists after that). */
static mc_mutex_t caches_lock;
static struct sfs_ext_cache *caches;
static size_t nr_twins;                     /* atomic: pinned tree blocks */
static pthread_once_t shrinker_once = PTHREAD_ONCE_INIT;
static struct mc_shrinker shrinker;

/* The operation in which this thread last failed to allocate a twin: an
 * optional fill is not tried again before the next one (alloc/retry.h). */
static __thread uint64_t failed_op;

static void *index_alloc(size_t size)
{
	uint64_t op = mc_op_current();
	void *p;

	if (op && failed_op == op)
		return NULL;
	p = mc_alloc_named("extent.index", size, CACHE_GFP);
	if (!p)
		failed_op = op;
	return p;
}

/* Free a twin and everything below it; returns the buffers unpinned. */
static size_t cnode_free(struct sfs_ext_cnode *n)
{
	size_t freed = 0;

	if (!n)
		return 0;
	for (unsigned i = 0; i < n->nkids; i++)
		freed += cnode_free(n->kid[i]);
	if (n->bh) {
		sfs_buf_release(n->bh);
		__atomic_fetch_sub(&nr_twins, 1, __ATOMIC_RELAXED);
		freed++;
	}
	mc_free(n);
	return freed;
}

static struct sfs_ext_cnode *cnode_alloc(struct sfs_buf *bh, unsigned nkids)
{
	struct sfs_ext_cnode *n;

	n = index_alloc(sizeof(*n) + (size_t)nkids * sizeof(n->kid[0]));
	if (!n)
		return NULL;
	n->nkids = nkids;
	if (bh) {
		sfs_buf_hold(bh);
		n->bh = bh;
		n->blk = bh->blkno;
		n->node = (uint8_t *)bh->data + SFS_HDR_SIZE;
		__atomic_fetch_add(&nr_twins, 1, __ATOMIC_RELAXED);
	}
	return n;
}

/* Unpin and free the twins; the head stays.  data_sem held for writing
 * (or the inode is being destroyed). */
static size_t drop_twins(struct sfs_ext_cache *c)
{
	struct sfs_ext_cnode *root = c->root;
	size_t freed = 0;

	if (!root)
		return 0;
	for (unsigned i = 0; i < root->nkids; i++) {
		freed += cnode_free(root->kid[i]);
		root->kid[i] = NULL;
	}
	return freed;
}

static void unlink_cache(struct sfs_ext_cache *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		caches = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static size_t shrink_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	(void)s;
	(void)sc;
	return __atomic_load_n(&nr_twins, __ATOMIC_RELAXED);
}

/* Whole inodes at a time: an index with holes would only be refilled by
 * the next lookup.  Try-locks only, so it runs in any reclaim context;
 * a lookup of the inode in progress (data_sem held) keeps its index. */
static size_t shrink_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_ext_cache *c, *next;
	size_t freed = 0;

	(void)s;
	if (!mc_mutex_trylock(&caches_lock))
		return MC_SHRINK_STOP;
	for (c = caches; c && freed < sc->nr_to_scan; c = next) {
		struct sfs_inode_info *ip = c->ip;

		next = c->next;
		if (!mc_write_trylock(&ip->data_sem))
			continue;
		freed += drop_twins(c);
		unlink_cache(c);
		ip->ext_cache = NULL;
		mc_rw_unlock(&ip->data_sem);
		mc_free(c->root);
		mc_free(c);
	}
	mc_mutex_unlock(&caches_lock);
	return freed;
}

/* Registered once per process and never removed: caches of every mounted
 * filesystem share it, and with none it counts zero. */
static void shrinker_register(void)
{
	mc_mutex_init(&caches_lock, "extent.index_caches");
	shrinker.name = "sfs_extent_index";
	shrinker.needs = 0;             /* memory and try-locks only */
	shrinker.count = shrink_count;
	shrinker.scan = shrink_scan;
	if (mc_shrinker_register(&shrinker))
		shrinker.name = NULL;
}

/* With a cap on the buffer cache (mount option cache=), pinned buffers
 * are memory its own shrinking cannot give back: pin at most half of it.
 * The count is of every filesystem's twins, so with several mounted this
 * only pins less. */
static bool over_pin_limit(struct sfs_inode_info *ip, const struct sfs_buf *bh)
{
	size_t cap = ip->fs->opts.cache_bytes;

	return cap && (__atomic_load_n(&nr_twins, __ATOMIC_RELAXED) + 1) * bh->size > cap / 2;
}

struct sfs_ext_cnode *sfs_ext_cache_root(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = __atomic_load_n(&ip->ext_cache, __ATOMIC_ACQUIRE);

	if (c)
		return c->root;
	pthread_once(&shrinker_once, shrinker_register);
	if (!shrinker.name)
		return NULL;   /* nothing could give the pins back */
	c = index_alloc(sizeof(*c));
	if (!c)
		return NULL;
	c->ip = ip;
	c->root = cnode_alloc(NULL, SFS_EXTENT_ROOT_ENTRIES);
	if (!c->root) {
		mc_free(c);
		return NULL;
	}
	mc_mutex_lock(&caches_lock);
	if (ip->ext_cache) {
		/* another lookup installed one meanwhile */
		mc_mutex_unlock(&caches_lock);
		mc_free(c->root);
		mc_free(c);
		return __atomic_load_n(&ip->ext_cache, __ATOMIC_ACQUIRE)->root;
	}
	c->next = caches;
	if (caches)
		caches->prev = c;
	caches = c;
	__atomic_store_n(&ip->ext_cache, c, __ATOMIC_RELEASE);
	mc_mutex_unlock(&caches_lock);
	return c->root;
}

struct sfs_ext_cnode *sfs_ext_cache_kid(struct sfs_ext_cnode *n, int pos, uint64_t blk)
{
	struct sfs_ext_cnode *k;

	if (!n || pos < 0 || (unsigned)pos >= n->nkids)
		return NULL;
	k = __atomic_load_n(&n->kid[pos], __ATOMIC_ACQUIRE);
	/* The node's entry is the truth.  A tree block is freed or replaced
	 * only by a change to its parent, which drops every twin, so a twin
	 * whose block the entry still names is that block's current buffer;
	 * checked by number alone, without touching the buffer's own cache
	 * line (a cold miss per level in a large tree). */
	if (!k || k->blk != blk)
		return NULL;
	return k;
}

struct sfs_ext_cnode *sfs_ext_cache_fill(struct sfs_inode_info *ip, struct sfs_ext_cnode *n,
					 int pos, struct sfs_buf *bh, unsigned depth)
{
	struct sfs_ext_cnode *k, *expect = NULL;
	struct sfs_extent_header h;

	if (!n || pos < 0 || (unsigned)pos >= n->nkids)
		return NULL;
	if (__atomic_load_n(&n->kid[pos], __ATOMIC_RELAXED))
		return NULL;   /* an outdated twin waits for the next drop */
	if (over_pin_limit(ip, bh))
		return NULL;
	sfs_extent_header_decode(&h, (uint8_t *)bh->data + SFS_HDR_SIZE);
	k = cnode_alloc(bh, depth ? h.max : 0);
	if (!k)
		return NULL;
	k->hint = h.entries;
	if (__atomic_compare_exchange_n(&n->kid[pos], &expect, k, false, __ATOMIC_RELEASE,
					__ATOMIC_ACQUIRE))
		return k;
	cnode_free(k);
	return sfs_ext_cache_kid(n, pos, bh->blkno);
}

void sfs_ext_cache_drop(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = ip->ext_cache;

	if (c)
		drop_twins(c);
}

void sfs_ext_cache_destroy(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = ip->ext_cache;

	if (!c)
		return;
	mc_mutex_lock(&caches_lock);
	unlink_cache(c);
	mc_mutex_unlock(&caches_lock);
	ip->ext_cache = NULL;
	drop_twins(c);
	mc_free(c->root);
	mc_free(c);
}
