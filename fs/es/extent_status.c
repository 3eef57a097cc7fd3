/*
 * The extent status cache (see extent_status.h): a B+tree of sorted
 * leaves of extents, with the split allocation of seed 000.
 *
 * Shape (tree lock held): t->height inner levels above the leaves (0: the
 * root is a leaf, or NULL for an empty tree).  An inner node holds 1..
 * ES_FAN children in order and key[i] == the first block of child i's
 * subtree, exactly (so key[0] is the node's own first block).  A leaf
 * holds 1..SFS_ES_LEAF extents, sorted and non-overlapping, every one
 * before every extent of the next leaf.  Hence the extent holding a block,
 * if any, lies in the leaf reached by taking, at each level, the last
 * child whose key is <= that block.  Nodes are never merged with their
 * siblings: an emptied node is unlinked, a root with one child dropped.
 *
 * Memory.  A change needs new nodes only to split one full leaf (and full
 * inner nodes above it); how many is found under the lock, they are
 * allocated outside it (lock_with_pool) and kept in a small pool, with
 * the nodes a removal empties, until the change is done.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include "fs/es/extent_status.h"

#define ES_FAN  64      /* children of an inner node (the same size as a leaf) */
#define ES_MAXH 16      /* inner levels at most (64^16 is far past 2^32 blocks) */

#define ES_SAMPLES 8     /* every (capacity / 8)th key, in the header's cache line */

struct sfs_es_node {
	uint32_t nr;                              /* extents, or children */
	bool leaf;
	/* samp[j] = key[j * 8] (inner) or start[j * 4] (leaf), j < groups:
	 * a search reads this line, then one group, not every key */
	uint32_t samp[ES_SAMPLES];
	union {
		struct {                                  /* leaf */
			uint32_t start[SFS_ES_LEAF];      /* ext[i].lblk: two cache lines
							     to search, not twelve */
			struct sfs_es_extent ext[SFS_ES_LEAF];
		};
		struct {                                  /* inner */
			uint32_t key[ES_FAN];
			struct sfs_es_node *child[ES_FAN];
		};
	};
};

/* Where a descent went: the inner node and child index at each level. */
struct es_path {
	struct sfs_es_node *n[ES_MAXH];
	unsigned i[ES_MAXH];
};

/* Nodes for one change: allocated before it, and emptied ones recycled. */
struct es_pool {
	struct sfs_es_node *n[ES_MAXH + 2];
	unsigned nr;
};

struct sfs_es_cache {
	const char *name;
	mc_mutex_t lock;                 /* the LRU and the stamp */
	struct sfs_es_tree *lru_head, *lru_tail;   /* head = most recently used */
	uint64_t stamp;
	struct mc_shrinker shrinker;
	_Atomic uint64_t nodes, trees, leaves;
	_Atomic uint64_t lookups, hits, inserts, removes, splits, merges, shrunk, busy, enomem,
		retried;
};

static inline uint64_t end_of(const struct sfs_es_extent *e)
{
	return (uint64_t)e->lblk + e->len;
}

static inline bool mapped(enum sfs_es_state s)
{
	return s == SFS_ES_WRITTEN || s == SFS_ES_UNWRITTEN;
}

static inline uint32_t node_min(const struct sfs_es_node *n)
{
	return n->leaf ? n->ext[0].lblk : n->key[0];
}

/* ---- searching ---------------------------------------------------------- */

/*
 * The index of the last of @nr sorted @keys that is <= @lblk (0 if none),
 * @g keys a group, using the node's samples.  Counting, not a binary
 * search: no branch to mispredict, and the compiler vectorises it (the
 * keys are sorted, so the count is the index past the last key <= lblk).
 * The samples pick the group, one or two cache lines hold it: at a million
 * extents a level costs three lines instead of six.
 */
static unsigned last_le(const struct sfs_es_node *n, const uint32_t *keys, unsigned g,
			uint64_t lblk, const void *next, size_t size)
{
	unsigned groups = (n->nr + g - 1) / g, c = 0, base, lim;

	for (unsigned j = 0; j < groups; j++)
		c += n->samp[j] <= lblk;
	base = c ? (c - 1) * g : 0;
	/* What the caller reads next (a child pointer, an extent) lies in
	 * this group too: fetch its line while the keys' line comes in. */
	__builtin_prefetch((const char *)next + (size_t)base * size);
	if (!c)
		return 0;
	lim = base + g < n->nr ? base + g : n->nr;
	c = 0;
	for (unsigned i = base; i < lim; i++)
		c += keys[i] <= lblk;
	return base + c - 1;   /* c >= 1: keys[base] is the sample */
}

/* Recompute the samples after the keys or starts of @n changed. */
static void node_sample(struct sfs_es_node *n)
{
	const uint32_t *keys = n->leaf ? n->start : n->key;
	unsigned g = n->leaf ? SFS_ES_LEAF / ES_SAMPLES : ES_FAN / ES_SAMPLES;

	for (unsigned j = 0; j * g < n->nr; j++)
		n->samp[j] = keys[j * g];
}

/* The last child of inner @n whose key is <= @lblk (0 if none). */
static unsigned child_for(const struct sfs_es_node *n, uint64_t lblk)
{
	return last_le(n, n->key, ES_FAN / ES_SAMPLES, lblk, n->child, sizeof(n->child[0]));
}

/* The leaf where @lblk belongs (the first leaf when @lblk is before every
 * extent), recording the way in @p; NULL for an empty tree. */
static struct sfs_es_node *descend(struct sfs_es_tree *t, uint64_t lblk, struct es_path *p)
{
	struct sfs_es_node *n = t->root;

	for (unsigned l = 0; l < t->height; l++) {
		unsigned i = child_for(n, lblk);

		p->n[l] = n;
		p->i[l] = i;
		n = n->child[i];
	}
	return n;
}

/* The leaf after the one @p leads to, moving @p there; NULL at the end. */
static struct sfs_es_node *next_leaf(struct sfs_es_tree *t, struct es_path *p)
{
	for (int l = (int)t->height - 1; l >= 0; l--) {
		struct sfs_es_node *n;

		if (p->i[l] + 1 >= p->n[l]->nr)
			continue;
		n = p->n[l]->child[++p->i[l]];
		for (unsigned d = (unsigned)l + 1; d < t->height; d++) {
			p->n[d] = n;
			p->i[d] = 0;
			n = n->child[0];
		}
		return n;
	}
	return NULL;
}

/* The first leaf whose first extent starts at or after @lblk. */
static struct sfs_es_node *leaf_from(struct sfs_es_tree *t, uint64_t lblk, struct es_path *p)
{
	struct sfs_es_node *n = descend(t, lblk, p);

	if (!n || n->ext[0].lblk >= lblk)
		return n;
	return next_leaf(t, p);
}

/* Index of the first extent of leaf @n ending after @lblk (n->nr if none). */
static unsigned lower_bound(const struct sfs_es_node *n, uint64_t lblk)
{
	unsigned lo = 0, hi = n->nr;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (end_of(&n->ext[mid]) <= lblk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The cached extent holding @lblk in leaf @n, or NULL. */
static struct sfs_es_extent *in_leaf(struct sfs_es_node *n, uint64_t lblk)
{
	unsigned i;

	/* The last extent starting at or before lblk. */
	if (!n->nr || n->start[0] > lblk)
		return NULL;
	i = last_le(n, n->start, SFS_ES_LEAF / ES_SAMPLES, lblk, n->ext, sizeof(n->ext[0]));
	if (end_of(&n->ext[i]) <= lblk)
		return NULL;
	return &n->ext[i];
}

/* Keep start[] and the samples in step after extents of @n moved or
 * changed start. */
static void leaf_sync(struct sfs_es_node *n)
{
	for (unsigned i = 0; i < n->nr; i++)
		n->start[i] = n->ext[i].lblk;
	node_sample(n);
}

/* ---- cache bookkeeping -------------------------------------------------- */

static void touch(struct sfs_es_tree *t)
{
	struct sfs_es_cache *c = t->cache;

	/* Already the most recent tree: no need for the shared lock on every
	 * hit (a racy read is only a hint; the next touch corrects it). */
	if (__atomic_load_n(&c->lru_head, __ATOMIC_RELAXED) == t)
		return;
	mc_mutex_lock(&c->lock);
	t->lru_stamp = ++c->stamp;
	if (t->on_lru && c->lru_head != t) {
		/* unlink */
		if (t->lru_prev)
			t->lru_prev->lru_next = t->lru_next;
		if (t->lru_next)
			t->lru_next->lru_prev = t->lru_prev;
		else
			c->lru_tail = t->lru_prev;
		t->on_lru = false;
	}
	if (!t->on_lru) {
		t->lru_prev = NULL;
		t->lru_next = c->lru_head;
		if (c->lru_head)
			c->lru_head->lru_prev = t;
		c->lru_head = t;
		if (!c->lru_tail)
			c->lru_tail = t;
		t->on_lru = true;
	}
	mc_mutex_unlock(&c->lock);
}

/* Account extents entering (+) or leaving (-) tree @t. */
static void count_extents(struct sfs_es_tree *t, int64_t delta)
{
	t->nodes += (uint64_t)delta;
	atomic_fetch_add(&t->cache->nodes, (uint64_t)delta);
}

static void count_leaves(struct sfs_es_tree *t, int64_t delta)
{
	t->leaves += (uint64_t)delta;
	atomic_fetch_add(&t->cache->leaves, (uint64_t)delta);
}

/* Free a node that is no longer linked (its extents already uncounted). */
static void free_node(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (t->hint == n)
		t->hint = NULL;
	mc_free(n);
}

static void free_subtree(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned height)
{
	if (!n)
		return;
	if (height) {
		for (unsigned i = 0; i < n->nr; i++)
			free_subtree(t, n->child[i], height - 1);
	} else {
		count_extents(t, -(int64_t)n->nr);
		count_leaves(t, -1);
	}
	free_node(t, n);
}

/* Help progress before the one retry: give back some of our own cache
 * (other trees only: ours is locked by this thread, the shrink try-locks). */
static void shrink_own(void *arg)
{
	struct sfs_es_cache *c = arg;

	atomic_fetch_add(&c->retried, 1);
	sfs_es_shrink(c, 128);
}

/*
 * One node.  With SFS_ES_NOFAIL (truncate) the allocation cannot fail;
 * otherwise one retry after shrinking our own cache, then -ENOMEM.
 *
 * Called WITHOUT the tree's lock: reclaim may run our own shrinker, which
 * try-locks trees, and alloc/'s lock checker (rightly) refuses an
 * allocation that may enter reclaim while holding a lock reclaim takes.
 */
static struct sfs_es_node *node_alloc(struct sfs_es_tree *t, unsigned flags)
{
	struct sfs_es_node *n;

	if (flags & SFS_ES_NOFAIL)
		n = mc_alloc_named("es.split", sizeof(*n), MC_KERNEL | MC_NOFAIL);
	else if (flags & SFS_ES_HINT)
		/* A fill: failing only leaves the range unknown; no retry. */
		n = mc_alloc_named("es.fill", sizeof(*n), MC_KERNEL | MC_NOWARN | MC_NORETRY);
	else
		n = mc_alloc_retry_once_named("es.node", sizeof(*n), MC_KERNEL | MC_NOWARN,
					      shrink_own, t->cache);
	if (!n)
		atomic_fetch_add(&t->cache->enomem, 1);
	return n;
}

static struct sfs_es_node *pool_take(struct es_pool *pl, bool leaf)
{
	struct sfs_es_node *n = pl->n[--pl->nr];

	n->nr = 0;
	n->leaf = leaf;
	return n;
}

/* An unlinked, emptied node: back to the pool while it has room. */
static void pool_put(struct sfs_es_tree *t, struct es_pool *pl, struct sfs_es_node *n)
{
	if (t->hint == n)
		t->hint = NULL;
	if (pl && pl->nr < ES_MAXH + 2)
		pl->n[pl->nr++] = n;
	else
		free_node(t, n);
}

static void pool_drop(struct sfs_es_tree *t, struct es_pool *pl)
{
	while (pl->nr)
		free_node(t, pl->n[--pl->nr]);
}

/* ---- changing the shape ------------------------------------------------- */

/* A child's first block changed: keep the keys above it exact. */
static void fix_keys(struct sfs_es_tree *t, struct es_path *p, int level, uint32_t key)
{
	for (int l = level; l >= 0; l--) {
		p->n[l]->key[p->i[l]] = key;
		node_sample(p->n[l]);
		if (p->i[l])
			break;
	}
	(void)t;
}

/* Link @c (a new node) right after the child @p names at @level; a full
 * node splits, up to a new root: in halves, or at the tree's right edge
 * (@edge: @c is the new last node of its level) keeping all but the last
 * child, so that a file mapped front to back fills its nodes instead of
 * leaving every one half empty (one level less at a million extents).
 * @p is stale afterwards. */
static void insert_child(struct sfs_es_tree *t, struct es_path *p, int level,
			 struct sfs_es_node *c, bool edge, struct es_pool *pl)
{
	struct sfs_es_node *x, *y = NULL;
	unsigned pos;

	if (level < 0) {
		struct sfs_es_node *r = pool_take(pl, false);

		r->nr = 2;
		r->child[0] = t->root;
		r->key[0] = node_min(t->root);
		r->child[1] = c;
		r->key[1] = node_min(c);
		node_sample(r);
		t->root = r;
		t->height++;
		return;
	}
	x = p->n[level];
	pos = p->i[level] + 1;
	if (x->nr == ES_FAN) {
		unsigned h = edge && pos == ES_FAN ? ES_FAN - 1 : ES_FAN / 2;

		y = pool_take(pl, false);
		y->nr = x->nr - h;
		memcpy(y->key, &x->key[h], y->nr * sizeof(x->key[0]));
		memcpy(y->child, &x->child[h], y->nr * sizeof(x->child[0]));
		x->nr = h;
		node_sample(x);
		node_sample(y);
		if (pos > h) {
			x = y;
			pos -= h;
		}
	}
	memmove(&x->key[pos + 1], &x->key[pos], (x->nr - pos) * sizeof(x->key[0]));
	memmove(&x->child[pos + 1], &x->child[pos], (x->nr - pos) * sizeof(x->child[0]));
	x->key[pos] = node_min(c);
	x->child[pos] = c;
	x->nr++;
	node_sample(x);
	if (y)
		insert_child(t, p, level - 1, y, edge, pl);
}

/* Unlink the child @p names at @level; a node left empty goes too.  The
 * keys above stay exact.  @p is stale afterwards. */
static void delete_child(struct sfs_es_tree *t, struct es_path *p, int level,
			 struct es_pool *pl)
{
	struct sfs_es_node *x = p->n[level];
	unsigned i = p->i[level];

	memmove(&x->key[i], &x->key[i + 1], (x->nr - i - 1) * sizeof(x->key[0]));
	memmove(&x->child[i], &x->child[i + 1], (x->nr - i - 1) * sizeof(x->child[0]));
	x->nr--;
	node_sample(x);
	if (!x->nr) {
		pool_put(t, pl, x);
		if (level == 0) {
			t->root = NULL;
			t->height = 0;
		} else {
			delete_child(t, p, level - 1, pl);
		}
		return;
	}
	if (i == 0)
		fix_keys(t, p, level - 1, x->key[0]);
}

/* A root with one child is not needed. */
static void shrink_root(struct sfs_es_tree *t, struct es_pool *pl)
{
	while (t->height && t->root->nr == 1) {
		struct sfs_es_node *r = t->root;

		t->root = r->child[0];
		t->height--;
		pool_put(t, pl, r);
	}
}

/* Unlink the emptied leaf @n that @p leads to.  @p is stale afterwards. */
static void remove_leaf(struct sfs_es_tree *t, struct es_path *p, struct sfs_es_node *n,
			struct es_pool *pl)
{
	if (t->height)
		delete_child(t, p, (int)t->height - 1, pl);
	else
		t->root = NULL;
	count_leaves(t, -1);
	pool_put(t, pl, n);
}

/* Whether @p leads to the last leaf. */
static bool rightmost(const struct sfs_es_tree *t, const struct es_path *p)
{
	for (unsigned l = 0; l < t->height; l++)
		if (p->i[l] + 1 != p->n[l]->nr)
			return false;
	return true;
}

/* Move the extents of the full leaf @n (@p leads to it) from @h on into a
 * new leaf after it; returns the new leaf.  @p is stale afterwards. */
static struct sfs_es_node *split_leaf(struct sfs_es_tree *t, struct es_path *p,
				      struct sfs_es_node *n, unsigned h, struct es_pool *pl)
{
	struct sfs_es_node *m = pool_take(pl, true);
	bool edge = h == n->nr - 1 && rightmost(t, p);

	m->nr = n->nr - h;
	memcpy(m->ext, &n->ext[h], m->nr * sizeof(m->ext[0]));
	n->nr = h;
	leaf_sync(m);
	count_leaves(t, 1);
	insert_child(t, p, (int)t->height - 1, m, edge, pl);
	return m;
}

/* Nodes a split of the full leaf @p leads to takes: the leaf, each full
 * inner node above it, and a new root when they all are. */
static unsigned split_cost(struct sfs_es_tree *t, const struct es_path *p)
{
	unsigned c = 1;

	for (int l = (int)t->height - 1; l >= 0; l--) {
		if (p->n[l]->nr < ES_FAN)
			return c;
		c++;
	}
	return c + 1;
}

static void insert_at(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned i,
		      const struct sfs_es_extent *e)
{
	memmove(&n->ext[i + 1], &n->ext[i], (n->nr - i) * sizeof(n->ext[0]));
	n->ext[i] = *e;
	n->nr++;
	leaf_sync(n);
	count_extents(t, 1);
}

static void delete_range(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned i, unsigned k)
{
	if (k <= i)
		return;
	memmove(&n->ext[i], &n->ext[k], (n->nr - k) * sizeof(n->ext[0]));
	n->nr -= k - i;
	leaf_sync(n);
	count_extents(t, -(int64_t)(k - i));
}

static void trim_front(struct sfs_es_extent *e, uint64_t new_start)
{
	uint32_t cut = (uint32_t)(new_start - e->lblk);

	e->lblk = (uint32_t)new_start;
	e->len -= cut;
	if (mapped(e->state))
		e->pblk += cut;
}

/* ---- what a change needs ------------------------------------------------ */

/* Removing [s, e): a new node only to split one extent in two in a full
 * leaf. */
static unsigned remove_needs(struct sfs_es_tree *t, uint64_t s, uint64_t e)
{
	struct es_path p;
	struct sfs_es_node *n = descend(t, s, &p);
	struct sfs_es_extent *x = n ? in_leaf(n, s) : NULL;

	if (x && x->lblk < s && end_of(x) > e && n->nr == SFS_ES_LEAF)
		return split_cost(t, &p);
	return 0;
}

/*
 * Inserting [s, e): its range is removed first, then the extent lands in
 * the leaf where s belongs -- that leaf, or the one before it when the
 * removal moved its first extent past s; when s is before every extent,
 * the first leaf the removal leaves.  It takes at most two slots there
 * (the middle of an extent removed, the new one between the halves), so
 * only a leaf one short of full can split.  A leaf the removal empties
 * goes to the pool; fullness above only drops.
 */
static unsigned insert_needs(struct sfs_es_tree *t, uint64_t s, uint64_t e)
{
	struct es_path p, q;
	struct sfs_es_node *n = descend(t, s, &p), *b;
	unsigned cost = 0, c;

	if (!n)
		return 1;
	if (n->ext[0].lblk > s) {
		/* s before everything: skip the leaves the removal empties. */
		while (n && n->ext[0].lblk < e && end_of(&n->ext[n->nr - 1]) <= e)
			n = next_leaf(t, &p);
		if (!n)
			return 1;
		return n->nr + 1 >= SFS_ES_LEAF ? split_cost(t, &p) : 0;
	}
	if (n->nr + 1 >= SFS_ES_LEAF)
		cost = split_cost(t, &p);
	if (n->ext[0].lblk) {
		b = descend(t, n->ext[0].lblk - 1, &q);
		if (b != n && b->nr + 1 >= SFS_ES_LEAF && (c = split_cost(t, &q)) > cost)
			cost = c;
	}
	return cost;
}

/*
 * The nodes a change of [s, e) needs, allocated outside the lock: look
 * (locked), allocate (unlocked), and come back locked.  What is needed can
 * grow while unlocked only through a concurrent fill (the shrinker only
 * empties leaves); a caller that changes the tree holds the inode's
 * data_sem for writing, which excludes fills, so a NOFAIL caller always
 * has its nodes.  Returns with the lock held; false = nodes are needed and
 * could not be had (-ENOMEM).
 */
static bool lock_with_pool(struct sfs_es_tree *t, uint64_t s, uint64_t e, unsigned flags,
			   unsigned (*needs)(struct sfs_es_tree *, uint64_t, uint64_t),
			   struct es_pool *pl)
{
	unsigned want;

	pl->nr = 0;
	mc_mutex_lock(&t->lock);
	want = needs(t, s, e);
	if (!want)
		return true;
	t->pinned++;
	mc_mutex_unlock(&t->lock);
	while (pl->nr < want) {
		struct sfs_es_node *n = node_alloc(t, flags);

		if (!n)
			break;
		pl->n[pl->nr++] = n;
	}
	mc_mutex_lock(&t->lock);
	t->pinned--;
	return pl->nr >= needs(t, s, e);
}

/* ---- the changes -------------------------------------------------------- */

/*
 * Remove [s, e) from leaf @n (@p leads to it).  When one extent covers the
 * range with something left on both sides it splits, taking a slot (in a
 * full leaf the leaf splits first): then true, and @p is stale.
 */
static bool cut_leaf(struct sfs_es_tree *t, struct es_path *p, struct sfs_es_node *n,
		     uint64_t s, uint64_t e, struct es_pool *pl)
{
	unsigned i = lower_bound(n, s), k;
	struct sfs_es_extent *x;

	if (i == n->nr)
		return false;
	x = &n->ext[i];
	if (x->lblk < s && end_of(x) > e) {
		/* The middle of x goes: its tail becomes an extent of its own. */
		struct sfs_es_extent tail = *x;

		if (n->nr == SFS_ES_LEAF) {
			unsigned h = n->nr / 2;
			struct sfs_es_node *m = split_leaf(t, p, n, h, pl);

			if (i >= h) {
				n = m;
				i -= h;
			}
			x = &n->ext[i];
		}
		trim_front(&tail, e);
		x->len = (uint32_t)(s - x->lblk);
		insert_at(t, n, i + 1, &tail);
		atomic_fetch_add(&t->cache->splits, 1);
		return true;
	}
	if (x->lblk < s) {
		x->len = (uint32_t)(s - x->lblk);
		i++;
	}
	for (k = i; k < n->nr && end_of(&n->ext[k]) <= e; k++)
		;
	if (k < n->nr && n->ext[k].lblk < e)
		trim_front(&n->ext[k], e);
	delete_range(t, n, i, k);
	leaf_sync(n);
	if (n->nr)
		fix_keys(t, p, (int)t->height - 1, n->ext[0].lblk);
	return false;
}

/* Remove [s, e) from the tree. */
static void remove_locked(struct sfs_es_tree *t, uint64_t s, uint64_t e, struct es_pool *pl)
{
	struct es_path p;
	struct sfs_es_node *n = descend(t, s, &p);

	while (n && n->ext[0].lblk < e) {
		/* The next leaf starts at or after the end of this one. */
		uint64_t after = end_of(&n->ext[n->nr - 1]);

		if (cut_leaf(t, &p, n, s, e, pl))
			break;          /* a split: nothing else was in the range */
		if (n->nr) {
			n = next_leaf(t, &p);
			continue;
		}
		remove_leaf(t, &p, n, pl);
		n = leaf_from(t, after, &p);
	}
	shrink_root(t, pl);
}

/* Can @a be followed by @b in one extent? */
static bool mergeable(const struct sfs_es_extent *a, const struct sfs_es_extent *b)
{
	if (a->state != b->state || end_of(a) != b->lblk || (uint64_t)a->len + b->len > UINT32_MAX)
		return false;
	return !mapped(a->state) || a->pblk + a->len == b->pblk;
}

/* Put @e (its range already removed) into the tree, merging with its
 * neighbours where the result is one extent. */
static void place_locked(struct sfs_es_tree *t, const struct sfs_es_extent *e,
			 struct es_pool *pl)
{
	struct es_path p;
	struct sfs_es_node *n = descend(t, e->lblk, &p), *nx;
	unsigned i, q;

	if (!n) {
		n = pool_take(pl, true);
		insert_at(t, n, 0, e);
		count_leaves(t, 1);
		t->root = n;
		t->height = 0;
		return;
	}
	/* A leaf whose first extent starts at or before lblk holds one
	 * ending at or before it (the removal took any at lblk): the
	 * predecessor is in this leaf, or there is none. */
	i = lower_bound(n, e->lblk);
	if (i > 0 && mergeable(&n->ext[i - 1], e)) {
		q = i - 1;
		n->ext[q].len += e->len;
		atomic_fetch_add(&t->cache->merges, 1);
	} else {
		if (n->nr == SFS_ES_LEAF) {
			/* Appending to the last leaf: a new leaf with only the
			 * last extent and this one (see insert_child). */
			unsigned h = i == n->nr && rightmost(t, &p) ? n->nr - 1 : n->nr / 2;
			struct sfs_es_node *m = split_leaf(t, &p, n, h, pl);

			if (i > h) {
				n = m;
				i -= h;
			}
		}
		insert_at(t, n, i, e);
		q = i;
	}
	/* The path again (a split made it stale), and the first block (at
	 * index 0 only in the first leaf). */
	descend(t, n->ext[0].lblk, &p);
	fix_keys(t, &p, (int)t->height - 1, n->ext[0].lblk);
	/* The successor: next in the leaf, or the next leaf's first. */
	if (q + 1 < n->nr) {
		if (mergeable(&n->ext[q], &n->ext[q + 1])) {
			n->ext[q].len += n->ext[q + 1].len;
			delete_range(t, n, q + 1, q + 2);
			atomic_fetch_add(&t->cache->merges, 1);
		}
		return;
	}
	nx = next_leaf(t, &p);
	if (nx && mergeable(&n->ext[q], &nx->ext[0])) {
		n->ext[q].len += nx->ext[0].len;
		delete_range(t, nx, 0, 1);
		if (nx->nr) {
			fix_keys(t, &p, (int)t->height - 1, nx->ext[0].lblk);
		} else {
			remove_leaf(t, &p, nx, pl);
			shrink_root(t, pl);
		}
		atomic_fetch_add(&t->cache->merges, 1);
	}
}

/* ---- public ------------------------------------------------------------- */

static size_t es_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_es_cache *c = s->priv;
	(void)sc;
	return (size_t)atomic_load(&c->nodes);
}

static size_t es_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	return (size_t)sfs_es_shrink(s->priv, sc->nr_to_scan);
}

struct sfs_es_cache *sfs_es_cache_create(const char *name)
{
	struct sfs_es_cache *c = mc_zalloc(sizeof(*c), MC_KERNEL);

	if (!c)
		return NULL;
	c->name = name;
	mc_mutex_init(&c->lock, "es.cache_lru");
	c->shrinker.name = name;
	c->shrinker.needs = 0;       /* memory only, try-locks: safe in any context */
	c->shrinker.count = es_count;
	c->shrinker.scan = es_scan;
	c->shrinker.priv = c;
	if (mc_shrinker_register(&c->shrinker)) {
		mc_free(c);
		return NULL;
	}
	return c;
}

void sfs_es_cache_destroy(struct sfs_es_cache *c)
{
	if (!c)
		return;
	mc_shrinker_unregister(&c->shrinker);
	mc_mutex_destroy(&c->lock);
	mc_free(c);
}

void sfs_es_tree_init(struct sfs_es_tree *t, struct sfs_es_cache *c)
{
	memset(t, 0, sizeof(*t));
	mc_mutex_init(&t->lock, "es.tree");
	t->cache = c;
	atomic_fetch_add(&c->trees, 1);
}

void sfs_es_tree_destroy(struct sfs_es_tree *t)
{
	struct sfs_es_cache *c = t->cache;

	mc_mutex_lock(&t->lock);
	free_subtree(t, t->root, t->height);
	t->root = NULL;
	t->height = 0;
	mc_mutex_unlock(&t->lock);
	mc_mutex_lock(&c->lock);
	if (t->on_lru) {
		if (t->lru_prev)
			t->lru_prev->lru_next = t->lru_next;
		else
			c->lru_head = t->lru_next;
		if (t->lru_next)
			t->lru_next->lru_prev = t->lru_prev;
		else
			c->lru_tail = t->lru_prev;
		t->on_lru = false;
	}
	mc_mutex_unlock(&c->lock);
	mc_mutex_destroy(&t->lock);
	atomic_fetch_sub(&c->trees, 1);
}

int sfs_es_lookup(struct sfs_es_tree *t, uint32_t lblk, struct sfs_es_extent *out)
{
	struct sfs_es_extent *x = NULL;
	struct sfs_es_node *n;

	atomic_fetch_add_explicit(&t->cache->lookups, 1, memory_order_relaxed);
	mc_mutex_lock(&t->lock);
	/* The last leaf first: an extent holding lblk lies in a leaf whose
	 * span [first start, last end) includes lblk.  The span is copied
	 * into the tree, so a miss costs no read of the leaf; every change
	 * clears the hint. */
	n = t->hint;
	if (!n || lblk < t->hint_lo || lblk >= t->hint_hi) {
		/* The leaf's span ends where the next leaf's begins: the key
		 * after the one taken at the lowest level that has one, read
		 * on the way down (the leaf's own last extent would be one
		 * more cache miss on every lookup that misses the hint). */
		uint64_t hi = (uint64_t)UINT32_MAX + 1;

		n = t->root;
		for (unsigned l = 0; l < t->height; l++) {
			unsigned i = child_for(n, lblk);

			if (i + 1 < n->nr)
				hi = n->key[i + 1];
			n = n->child[i];
		}
		t->hint = n;
		if (n) {
			t->hint_lo = n->start[0];
			t->hint_hi = hi;
		}
	}
	if (n)
		x = in_leaf(n, lblk);
	if (x)
		*out = *x;
	mc_mutex_unlock(&t->lock);
	if (!x)
		return 0;
	atomic_fetch_add_explicit(&t->cache->hits, 1, memory_order_relaxed);
	touch(t);
	return 1;
}

int sfs_es_next(struct sfs_es_tree *t, uint32_t lblk, struct sfs_es_extent *out)
{
	struct es_path p;
	struct sfs_es_node *n;
	unsigned i;
	int found = 0;

	mc_mutex_lock(&t->lock);
	n = descend(t, lblk, &p);
	if (n) {
		i = lower_bound(n, lblk);
		if (i == n->nr) {
			n = next_leaf(t, &p);
			i = 0;
		}
		if (n) {
			*out = n->ext[i];
			found = 1;
		}
	}
	mc_mutex_unlock(&t->lock);
	return found;
}

int sfs_es_insert(struct sfs_es_tree *t, const struct sfs_es_extent *e, unsigned flags)
{
	uint64_t s = e->lblk, end = end_of(e);
	struct es_pool pl;

	if (!e->len || end > (uint64_t)UINT32_MAX + 1)
		return -EINVAL;
	atomic_fetch_add(&t->cache->inserts, 1);
	/* Every allocation first, so a failure leaves the tree as it was;
	 * and outside the lock (node_alloc). */
	if (!lock_with_pool(t, s, end, flags, insert_needs, &pl)) {
		pool_drop(t, &pl);
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	t->hint = NULL;
	remove_locked(t, s, end, &pl);
	place_locked(t, e, &pl);
	pool_drop(t, &pl);
	mc_mutex_unlock(&t->lock);
	touch(t);
	return 0;
}

int sfs_es_remove(struct sfs_es_tree *t, uint32_t lblk, uint32_t len, unsigned flags)
{
	uint64_t s = lblk, e = (uint64_t)lblk + len;
	struct es_pool pl;

	if (!len)
		return 0;
	atomic_fetch_add(&t->cache->removes, 1);
	if (!lock_with_pool(t, s, e, flags, remove_needs, &pl)) {
		pool_drop(t, &pl);
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	t->hint = NULL;
	remove_locked(t, s, e, &pl);
	pool_drop(t, &pl);
	mc_mutex_unlock(&t->lock);
	return 0;
}

uint64_t sfs_es_count_delayed(struct sfs_es_tree *t, uint32_t lblk, uint32_t len)
{
	uint64_t s = lblk, e = (uint64_t)lblk + len, sum = 0;
	struct es_path p;
	struct sfs_es_node *n;

	mc_mutex_lock(&t->lock);
	for (n = descend(t, s, &p); n && n->ext[0].lblk < e; n = next_leaf(t, &p)) {
		for (unsigned i = lower_bound(n, s); i < n->nr && n->ext[i].lblk < e; i++) {
			const struct sfs_es_extent *x = &n->ext[i];
			uint64_t a = x->lblk > s ? x->lblk : s;
			uint64_t b = end_of(x) < e ? end_of(x) : e;

			if (x->state == SFS_ES_DELAYED)
				sum += b - a;
		}
	}
	mc_mutex_unlock(&t->lock);
	return sum;
}

int sfs_es_walk(struct sfs_es_tree *t, int (*fn)(const struct sfs_es_extent *, void *), void *arg)
{
	struct es_path p;
	struct sfs_es_node *n;
	int ret = 0;

	mc_mutex_lock(&t->lock);
	for (n = descend(t, 0, &p); n && !ret; n = next_leaf(t, &p))
		for (unsigned i = 0; i < n->nr && !ret; i++)
			ret = fn(&n->ext[i], arg);
	mc_mutex_unlock(&t->lock);
	return ret;
}

struct check_ctx {
	uint64_t prev_end, extents, leaves;
	bool started;
	unsigned leaf_depth;
};

static bool samples_ok(const struct sfs_es_node *n, const uint32_t *keys, unsigned g)
{
	for (unsigned j = 0; j * g < n->nr; j++)
		if (n->samp[j] != keys[j * g])
			return false;
	return true;
}

static int check_node(const struct sfs_es_node *n, unsigned height, struct check_ctx *cx)
{
	if (!n->nr)
		return -EUCLEAN;
	if (height) {
		if (n->leaf || n->nr > ES_FAN)
			return -EUCLEAN;
		for (unsigned i = 0; i < n->nr; i++)
			if (n->key[i] != node_min(n->child[i]) ||
			    (i && n->key[i] <= n->key[i - 1]) || check_node(n->child[i], height - 1, cx))
				return -EUCLEAN;
		return samples_ok(n, n->key, ES_FAN / ES_SAMPLES) ? 0 : -EUCLEAN;
	}
	if (!n->leaf || n->nr > SFS_ES_LEAF)
		return -EUCLEAN;
	for (unsigned i = 0; i < n->nr; i++) {
		const struct sfs_es_extent *x = &n->ext[i];

		if (!x->len || (cx->started && x->lblk < cx->prev_end) ||
		    end_of(x) > (uint64_t)UINT32_MAX + 1 || x->state < SFS_ES_WRITTEN ||
		    x->state > SFS_ES_HOLE)
			return -EUCLEAN;
		if (n->start[i] != x->lblk)
			return -EUCLEAN;
		cx->prev_end = end_of(x);
		cx->started = true;
	}
	if (!samples_ok(n, n->start, SFS_ES_LEAF / ES_SAMPLES))
		return -EUCLEAN;
	cx->extents += n->nr;
	cx->leaves++;
	return 0;
}

int sfs_es_check(struct sfs_es_tree *t)
{
	struct check_ctx cx = { 0 };
	int ret = 0;

	mc_mutex_lock(&t->lock);
	if (t->root)
		ret = check_node(t->root, t->height, &cx);
	else if (t->height)
		ret = -EUCLEAN;
	if (!ret && t->height && t->root->nr < 2)
		ret = -EUCLEAN;          /* a one-child root should have gone */
	if (!ret && (cx.extents != t->nodes || cx.leaves != t->leaves))
		ret = -EUCLEAN;
	mc_mutex_unlock(&t->lock);
	return ret;
}

/* Drop the non-delayed extents under @n (up to *budget), unlinking what
 * empties; the keys are recomputed on the way back.  True when @n is
 * empty (the caller frees it). */
static bool drop_clean(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned height,
		       uint64_t *budget, uint64_t *freed)
{
	unsigned k = 0;

	if (height) {
		for (unsigned i = 0; i < n->nr; i++) {
			struct sfs_es_node *c = n->child[i];

			if (*budget && drop_clean(t, c, height - 1, budget, freed)) {
				free_node(t, c);
				continue;
			}
			n->child[k] = c;
			n->key[k++] = node_min(c);
		}
		n->nr = k;
		node_sample(n);
		return !k;
	}
	for (unsigned i = 0; i < n->nr; i++) {
		if (n->ext[i].state != SFS_ES_DELAYED && *budget) {
			(*budget)--;
			(*freed)++;
			continue;
		}
		n->ext[k++] = n->ext[i];
	}
	count_extents(t, -(int64_t)(n->nr - k));
	n->nr = k;
	leaf_sync(n);
	if (!k)
		count_leaves(t, -1);
	return !k;
}

uint64_t sfs_es_shrink(struct sfs_es_cache *c, uint64_t nr)
{
	uint64_t freed = 0;

	mc_mutex_lock(&c->lock);
	for (struct sfs_es_tree *t = c->lru_tail; t && freed < nr; t = t->lru_prev) {
		uint64_t budget = nr - freed;

		/* Try-lock only: the tree's owner may be the thread that
		 * entered reclaim (see the header). */
		if (!mc_mutex_trylock(&t->lock)) {
			atomic_fetch_add(&c->busy, 1);
			continue;
		}
		/* Pinned: its owner is allocating a leaf for a change it has
		 * already looked at (lock_with_pool) -- busy as well. */
		if (t->pinned) {
			mc_mutex_unlock(&t->lock);
			atomic_fetch_add(&c->busy, 1);
			continue;
		}
		if (t->root && drop_clean(t, t->root, t->height, &budget, &freed)) {
			free_node(t, t->root);
			t->root = NULL;
			t->height = 0;
		}
		shrink_root(t, NULL);
		t->hint = NULL;
		mc_mutex_unlock(&t->lock);
	}
	mc_mutex_unlock(&c->lock);
	atomic_fetch_add(&c->shrunk, freed);
	return freed;
}

void sfs_es_stats(struct sfs_es_cache *c, struct sfs_es_stats *o)
{
	o->lookups = atomic_load(&c->lookups);
	o->hits = atomic_load(&c->hits);
	o->inserts = atomic_load(&c->inserts);
	o->removes = atomic_load(&c->removes);
	o->splits = atomic_load(&c->splits);
	o->merges = atomic_load(&c->merges);
	o->nodes = atomic_load(&c->nodes);
	o->trees = atomic_load(&c->trees);
	o->shrunk = atomic_load(&c->shrunk);
	o->shrink_skipped_busy = atomic_load(&c->busy);
	o->enomem = atomic_load(&c->enomem);
	o->retried = atomic_load(&c->retried);
	o->leaves = atomic_load(&c->leaves);
}
