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
 * its cap (mount option cache=) is pinned; each mount's shrinker
 * "sfs_extent_index" unpins them and frees the twins of every inode whose
 * data_sem it can take.
 */
#include <errno.h>

#include "alloc/list.h"
#include "fs/extent_tree.h"
#include "fs/fs.h"
#include "fs/format/hdr.h"

struct sfs_ext_cache {
	struct sfs_inode_info *ip;
	struct mc_list link;                /* on the mount's list, for the shrinker */
	struct sfs_ext_cnode *root;         /* the inode's root: bh NULL */
};

#define CACHE_GFP (MC_NOWAIT | MC_NOWARN | MC_ZERO)

/* One a mount: the inodes with an index, and the shrinker over them. */
struct sfs_ext_index {
	/* the alloc/ wrapper, so that the lock checks learn the shrinker takes it */
	mc_mutex_t lock;
	struct mc_list caches;
	size_t nr_twins;                /* atomic: pinned tree blocks */
	struct mc_shrinker shrinker;
};

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
static size_t cnode_free(struct sfs_ext_index *x, struct sfs_ext_cnode *n)
{
	size_t freed = 0;

	if (!n)
		return 0;
	for (unsigned i = 0; i < n->nkids; i++)
		freed += cnode_free(x, n->kid[i]);
	if (n->bh) {
		sfs_buf_release(n->bh);
		__atomic_fetch_sub(&x->nr_twins, 1, __ATOMIC_RELAXED);
		freed++;
	}
	mc_free(n);
	return freed;
}

static struct sfs_ext_index *index_of(const struct sfs_inode_info *ip)
{
	return ip->fs->ext_index;
}

static struct sfs_ext_cnode *cnode_alloc(struct sfs_ext_index *x, struct sfs_buf *bh,
					 unsigned nkids)
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
		__atomic_fetch_add(&x->nr_twins, 1, __ATOMIC_RELAXED);
	}
	return n;
}

/* Unpin and free the twins; the head stays.  data_sem held for writing
 * (or the inode is being destroyed). */
static size_t drop_twins(struct sfs_ext_index *x, struct sfs_ext_cache *c)
{
	struct sfs_ext_cnode *root = c->root;
	size_t freed = 0;

	if (!root)
		return 0;
	for (unsigned i = 0; i < root->nkids; i++) {
		freed += cnode_free(x, root->kid[i]);
		root->kid[i] = NULL;
	}
	return freed;
}

static size_t shrink_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_ext_index *x = s->priv;

	(void)sc;
	return __atomic_load_n(&x->nr_twins, __ATOMIC_RELAXED);
}

/* Whole inodes at a time: an index with holes would only be refilled by
 * the next lookup.  Try-locks only, so it runs in any reclaim context;
 * a lookup of the inode in progress (data_sem held) keeps its index. */
static size_t shrink_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_ext_index *x = s->priv;
	struct mc_list *pos, *tmp;
	size_t freed = 0;

	if (!mc_mutex_trylock(&x->lock))
		return MC_SHRINK_STOP;
	mc_list_for_each_safe(pos, tmp, &x->caches) {
		struct sfs_ext_cache *c = mc_list_entry(pos, struct sfs_ext_cache, link);
		struct sfs_inode_info *ip = c->ip;

		if (freed >= sc->nr_to_scan)
			break;
		if (!mc_write_trylock(&ip->data_sem))
			continue;
		freed += drop_twins(x, c);
		mc_list_del(&c->link);
		ip->ext_cache = NULL;
		mc_rw_unlock(&ip->data_sem);
		mc_free(c->root);
		mc_free(c);
	}
	mc_mutex_unlock(&x->lock);
	return freed;
}

int sfs_ext_index_create(struct sfs_fs *fs)
{
	struct sfs_ext_index *x = mc_zalloc(sizeof(*x), MC_KERNEL);
	int ret;

	if (!x)
		return -ENOMEM;
	mc_mutex_init(&x->lock, "extent.index_caches");
	mc_list_init(&x->caches);
	x->shrinker.name = "sfs_extent_index";
	x->shrinker.needs = 0;          /* memory and try-locks only */
	x->shrinker.count = shrink_count;
	x->shrinker.scan = shrink_scan;
	x->shrinker.priv = x;
	ret = mc_shrinker_register(&x->shrinker);
	if (ret) {
		mc_mutex_destroy(&x->lock);
		mc_free(x);
		return ret;
	}
	fs->ext_index = x;
	return 0;
}

void sfs_ext_index_destroy(struct sfs_fs *fs)
{
	struct sfs_ext_index *x = fs->ext_index;

	if (!x)
		return;
	mc_shrinker_unregister(&x->shrinker);
	mc_mutex_destroy(&x->lock);
	mc_free(x);
	fs->ext_index = NULL;
}

size_t sfs_ext_index_pinned(struct sfs_fs *fs)
{
	return fs->ext_index ? __atomic_load_n(&fs->ext_index->nr_twins, __ATOMIC_RELAXED) : 0;
}

/* With a cap on the buffer cache (mount option cache=), pinned buffers
 * are memory its own shrinking cannot give back: pin at most half of it. */
static bool over_pin_limit(struct sfs_inode_info *ip, const struct sfs_buf *bh)
{
	size_t cap = ip->fs->opts.cache_bytes;

	return cap &&
	       (__atomic_load_n(&index_of(ip)->nr_twins, __ATOMIC_RELAXED) + 1) * bh->size > cap / 2;
}

struct sfs_ext_cnode *sfs_ext_cache_root(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = __atomic_load_n(&ip->ext_cache, __ATOMIC_ACQUIRE);
	struct sfs_ext_index *x = index_of(ip);

	if (c)
		return c->root;
	if (!x)
		return NULL;   /* nothing could give the pins back */
	c = index_alloc(sizeof(*c));
	if (!c)
		return NULL;
	c->ip = ip;
	c->root = cnode_alloc(x, NULL, SFS_EXTENT_ROOT_ENTRIES);
	if (!c->root) {
		mc_free(c);
		return NULL;
	}
	mc_mutex_lock(&x->lock);
	if (ip->ext_cache) {
		/* another lookup installed one meanwhile */
		mc_mutex_unlock(&x->lock);
		mc_free(c->root);
		mc_free(c);
		return __atomic_load_n(&ip->ext_cache, __ATOMIC_ACQUIRE)->root;
	}
	mc_list_add(&x->caches, &c->link);
	__atomic_store_n(&ip->ext_cache, c, __ATOMIC_RELEASE);
	mc_mutex_unlock(&x->lock);
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
	k = cnode_alloc(index_of(ip), bh, depth ? h.max : 0);
	if (!k)
		return NULL;
	k->hint = h.entries;
	if (__atomic_compare_exchange_n(&n->kid[pos], &expect, k, false, __ATOMIC_RELEASE,
					__ATOMIC_ACQUIRE))
		return k;
	cnode_free(index_of(ip), k);
	return sfs_ext_cache_kid(n, pos, bh->blkno);
}

void sfs_ext_cache_drop(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = ip->ext_cache;

	if (c)
		drop_twins(index_of(ip), c);
}

void sfs_ext_cache_destroy(struct sfs_inode_info *ip)
{
	struct sfs_ext_cache *c = ip->ext_cache;
	struct sfs_ext_index *x = index_of(ip);

	if (!c)
		return;
	mc_mutex_lock(&x->lock);
	mc_list_del(&c->link);
	mc_mutex_unlock(&x->lock);
	ip->ext_cache = NULL;
	drop_twins(x, c);
	mc_free(c->root);
	mc_free(c);
}
