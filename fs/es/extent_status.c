/*
 * The extent status cache (see extent_status.h): sorted leaves of extents
 * in a treap keyed by each leaf's first block, with the split allocation
 * of seed 000.
 *
 * Invariants (tree lock held): every leaf in the treap holds 1..SFS_ES_LEAF
 * extents, sorted and non-overlapping, key == ext[0].lblk; every extent of
 * a leaf lies before every extent of the next leaf.  So the extent holding
 * a block, if any, is in the leaf with the greatest key <= that block.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include "fs/es/extent_status.h"

struct sfs_es_node {
	uint32_t key;                        /* ext[0].lblk (kept while emptied, until unlinked) */
	uint32_t prio;                       /* treap heap order */
	uint32_t nr;                         /* extents in use */
	struct sfs_es_node *left, *right;
	struct sfs_es_extent ext[SFS_ES_LEAF];
};

struct sfs_es_cache {
	const char *name;
	mc_mutex_t lock;                 /* the LRU and the stamp */
	struct sfs_es_tree *lru_head, *lru_tail;   /* head = most recently used */
	uint64_t stamp;
	uint64_t rng;
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

/* ---- treap of leaves ---------------------------------------------------- */

/* Split @t into leaves with key < @key (*l) and >= @key (*r). */
static void split(struct sfs_es_node *t, uint64_t key, struct sfs_es_node **l,
		  struct sfs_es_node **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (t->key < key) {
		split(t->right, key, &t->right, r);
		*l = t;
	} else {
		split(t->left, key, l, &t->left);
		*r = t;
	}
}

/* Join @l and @r, every key of @l below every key of @r. */
static struct sfs_es_node *merge(struct sfs_es_node *l, struct sfs_es_node *r)
{
	if (!l)
		return r;
	if (!r)
		return l;
	if (l->prio > r->prio) {
		l->right = merge(l->right, r);
		return l;
	}
	r->left = merge(l, r->left);
	return r;
}

/* The leaf with the greatest key <= @lblk, or NULL. */
static struct sfs_es_node *leaf_for(struct sfs_es_node *t, uint64_t lblk)
{
	struct sfs_es_node *best = NULL;

	while (t) {
		if (t->key <= lblk) {
			best = t;
			t = t->right;
		} else {
			t = t->left;
		}
	}
	return best;
}

/* The leaf with the smallest key >= @key, or NULL. */
static struct sfs_es_node *first_from(struct sfs_es_node *t, uint64_t key)
{
	struct sfs_es_node *best = NULL;

	while (t) {
		if (t->key >= key) {
			best = t;
			t = t->left;
		} else {
			t = t->right;
		}
	}
	return best;
}

static struct sfs_es_node *leftmost(struct sfs_es_node *t)
{
	while (t && t->left)
		t = t->left;
	return t;
}

/* Index of the first extent of @n ending after @lblk (n->nr if none). */
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
	unsigned i = lower_bound(n, lblk);

	return i < n->nr && n->ext[i].lblk <= lblk ? &n->ext[i] : NULL;
}

/* ---- cache bookkeeping -------------------------------------------------- */

static uint32_t next_prio(struct sfs_es_cache *c)
{
	/* Racy updates only cost randomness, not correctness. */
	uint64_t x = __atomic_load_n(&c->rng, __ATOMIC_RELAXED);
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	__atomic_store_n(&c->rng, x, __ATOMIC_RELAXED);
	return (uint32_t)(x >> 16);
}

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

/* Free an unlinked leaf and forget its extents. */
static void free_leaf(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (t->hint == n)
		t->hint = NULL;
	count_extents(t, -(int64_t)n->nr);
	mc_free(n);
	t->leaves--;
	atomic_fetch_sub(&t->cache->leaves, 1);
}

static void free_subtree(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (!n)
		return;
	free_subtree(t, n->left);
	free_subtree(t, n->right);
	free_leaf(t, n);
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
 * One leaf.  With SFS_ES_NOFAIL (truncate) the allocation cannot fail;
 * otherwise one retry after shrinking our own cache, then -ENOMEM.
 *
 * Called WITHOUT the tree's lock: reclaim may run our own shrinker, which
 * try-locks trees, and alloc/'s lock checker (rightly) refuses an
 * allocation that may enter reclaim while holding a lock reclaim takes.
 * The leaf is counted in t->leaves by leaf_own() once the lock is held.
 */
static struct sfs_es_node *leaf_alloc(struct sfs_es_tree *t, unsigned flags)
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
	if (!n) {
		atomic_fetch_add(&t->cache->enomem, 1);
		return NULL;
	}
	n->nr = 0;
	n->left = n->right = NULL;
	n->prio = next_prio(t->cache);
	atomic_fetch_add(&t->cache->leaves, 1);
	return n;
}

/* Count a leaf from leaf_alloc() in its tree (tree lock held). */
static void leaf_own(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (n)
		t->leaves++;
}

/* A spare left over at the end of a change (tree lock held). */
static void drop_spare(struct sfs_es_tree *t, struct sfs_es_node *spare)
{
	if (spare)
		free_leaf(t, spare);
}

static void link_leaf(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	struct sfs_es_node *l, *r;

	n->key = n->ext[0].lblk;
	n->left = n->right = NULL;
	split(t->root, n->key, &l, &r);
	t->root = merge(merge(l, n), r);
}

/* Unlink the emptied leaf @n; keep it as the spare when there is none. */
static void unlink_empty(struct sfs_es_tree *t, struct sfs_es_node *n, struct sfs_es_node **spare)
{
	struct sfs_es_node *l, *m, *r;

	split(t->root, n->key, &l, &m);
	split(m, (uint64_t)n->key + 1, &m, &r);
	t->root = merge(l, r);
	if (t->hint == n)
		t->hint = NULL;
	n->left = n->right = NULL;
	if (spare && !*spare)
		*spare = n;
	else
		free_leaf(t, n);
}

/* Move the upper half of the full leaf @n into *spare and link it. */
static struct sfs_es_node *split_leaf(struct sfs_es_tree *t, struct sfs_es_node *n,
				      struct sfs_es_node **spare)
{
	struct sfs_es_node *m = *spare;
	unsigned h = n->nr / 2;

	*spare = NULL;
	m->nr = n->nr - h;
	memcpy(m->ext, &n->ext[h], m->nr * sizeof(m->ext[0]));
	n->nr = h;
	link_leaf(t, m);
	return m;
}

static void insert_at(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned i,
		      const struct sfs_es_extent *e)
{
	memmove(&n->ext[i + 1], &n->ext[i], (n->nr - i) * sizeof(n->ext[0]));
	n->ext[i] = *e;
	n->nr++;
	n->key = n->ext[0].lblk;
	count_extents(t, 1);
}

static void delete_range(struct sfs_es_tree *t, struct sfs_es_node *n, unsigned i, unsigned k)
{
	if (k <= i)
		return;
	memmove(&n->ext[i], &n->ext[k], (n->nr - k) * sizeof(n->ext[0]));
	n->nr -= k - i;
	if (n->nr)
		n->key = n->ext[0].lblk;
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

/* The leaf where a change at @s starts: the one holding blocks before or
 * at @s, else the first. */
static struct sfs_es_node *start_leaf(struct sfs_es_tree *t, uint64_t s)
{
	struct sfs_es_node *n = leaf_for(t->root, s);

	return n ? n : leftmost(t->root);
}

/* Does removing [s, e) split one extent in two, and is its leaf full? */
static bool remove_needs_leaf(struct sfs_es_tree *t, uint64_t s, uint64_t e)
{
	struct sfs_es_node *n = leaf_for(t->root, s);
	struct sfs_es_extent *x = n ? in_leaf(n, s) : NULL;

	return x && x->lblk < s && end_of(x) > e && n->nr == SFS_ES_LEAF;
}

/*
 * Might inserting [s, e) need a new leaf?  The extent lands in the start
 * leaf or the leaf before it (when removing [s, e) moved the start leaf's
 * key past s), taking at most two slots (removing the middle of an extent
 * and inserting between the halves); a leaf emptied by the removal is kept
 * as the spare.  Conservative: a leaf one short of full counts as full.
 */
static bool insert_needs_leaf(struct sfs_es_tree *t, uint64_t s, uint64_t e)
{
	struct sfs_es_node *n = start_leaf(t, s), *p;

	(void)e;
	if (!n)
		return true;
	if (n->nr + 1 >= SFS_ES_LEAF)
		return true;
	p = n->key ? leaf_for(t->root, (uint64_t)n->key - 1) : NULL;
	return p && p->nr + 1 >= SFS_ES_LEAF;
}

/*
 * The spare leaf a change of [s, e) needs, allocated outside the lock:
 * look (locked), allocate (unlocked), and come back locked.  Whether a
 * leaf is needed can change while unlocked only through a concurrent fill
 * (the shrinker only empties and frees leaves, after which an emptied one
 * is recycled as the spare); a caller that changes the tree holds the
 * inode's data_sem for writing, which excludes fills, so a NOFAIL caller
 * always gets its spare.  Returns with the lock held; false = a leaf is
 * needed and there is none (-ENOMEM).
 */
static bool lock_with_spare(struct sfs_es_tree *t, uint64_t s, uint64_t e, unsigned flags,
			    bool (*needs)(struct sfs_es_tree *, uint64_t, uint64_t),
			    struct sfs_es_node **spare)
{
	*spare = NULL;
	mc_mutex_lock(&t->lock);
	if (!needs(t, s, e))
		return true;
	t->pinned++;
	mc_mutex_unlock(&t->lock);
	*spare = leaf_alloc(t, flags);
	mc_mutex_lock(&t->lock);
	t->pinned--;
	leaf_own(t, *spare);
	return *spare || !needs(t, s, e);
}

/*
 * Remove [s, e) from leaf @n.  When one extent covers the range with
 * something left on both sides it splits, taking a slot; in a full leaf
 * the leaf splits first, using *spare (the caller made sure it is there).
 */
static void cut_leaf(struct sfs_es_tree *t, struct sfs_es_node *n, uint64_t s, uint64_t e,
		     struct sfs_es_node **spare)
{
	unsigned i = lower_bound(n, s), k;
	struct sfs_es_extent *x;

	if (i == n->nr)
		return;
	x = &n->ext[i];
	if (x->lblk < s && end_of(x) > e) {
		/* The middle of x goes: its tail becomes an extent of its own. */
		struct sfs_es_extent tail = *x;

		if (n->nr == SFS_ES_LEAF) {
			unsigned h = n->nr / 2;
			struct sfs_es_node *m = split_leaf(t, n, spare);

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
		return;
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
	if (n->nr)
		n->key = n->ext[0].lblk;   /* the first may have been trimmed */
}

/* Remove [s, e) from the tree; leaves it empties are unlinked (the first
 * kept as *spare when that is empty). */
static void remove_locked(struct sfs_es_tree *t, uint64_t s, uint64_t e,
			  struct sfs_es_node **spare)
{
	struct sfs_es_node *n = start_leaf(t, s);

	while (n && n->key < e) {
		/* The next leaf, found before @n changes (its key may move up,
		 * never past the next one's). */
		struct sfs_es_node *next = first_from(t->root, (uint64_t)n->key + 1);

		cut_leaf(t, n, s, e, spare);
		if (!n->nr)
			unlink_empty(t, n, spare);
		n = next;
	}
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
			 struct sfs_es_node **spare)
{
	struct sfs_es_node *n = leaf_for(t->root, e->lblk), *nx;
	unsigned i, q;

	if (!t->root) {
		n = *spare;
		*spare = NULL;
		n->nr = 0;
		insert_at(t, n, 0, e);
		link_leaf(t, n);
		return;
	}
	/* A leaf with key <= lblk holds an extent before it (the removal
	 * took any at lblk), so a predecessor is always in the same leaf. */
	if (!n) {
		n = leftmost(t->root);
		i = 0;
	} else {
		i = lower_bound(n, e->lblk);
	}
	if (i > 0 && mergeable(&n->ext[i - 1], e)) {
		q = i - 1;
		n->ext[q].len += e->len;
		atomic_fetch_add(&t->cache->merges, 1);
	} else {
		if (n->nr == SFS_ES_LEAF) {
			unsigned h = n->nr / 2;
			struct sfs_es_node *m = split_leaf(t, n, spare);

			if (i > h) {
				n = m;
				i -= h;
			}
		}
		/* At index 0 only in the first leaf: its key moves down
		 * with no leaf before it, so the treap order holds. */
		insert_at(t, n, i, e);
		q = i;
	}
	/* The successor: next in the leaf, or the next leaf's first. */
	if (q + 1 < n->nr) {
		if (mergeable(&n->ext[q], &n->ext[q + 1])) {
			n->ext[q].len += n->ext[q + 1].len;
			delete_range(t, n, q + 1, q + 2);
			atomic_fetch_add(&t->cache->merges, 1);
		}
		return;
	}
	nx = first_from(t->root, (uint64_t)n->key + 1);
	if (nx && mergeable(&n->ext[q], &nx->ext[0])) {
		n->ext[q].len += nx->ext[0].len;
		delete_range(t, nx, 0, 1);
		if (!nx->nr)
			unlink_empty(t, nx, spare);
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
	c->rng = 0x9e3779b97f4a7c15ull;
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
	free_subtree(t, t->root);
	t->root = NULL;
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
	/* The last leaf first: any extent holding lblk lies in a leaf whose
	 * range [first start, last end) includes lblk. */
	n = t->hint;
	if (!n || lblk < n->ext[0].lblk || lblk >= end_of(&n->ext[n->nr - 1])) {
		n = leaf_for(t->root, lblk);
		t->hint = n;
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
	struct sfs_es_node *n;
	unsigned i;
	int found = 0;

	mc_mutex_lock(&t->lock);
	n = start_leaf(t, lblk);
	if (n) {
		i = lower_bound(n, lblk);
		if (i == n->nr) {
			n = first_from(t->root, (uint64_t)n->key + 1);
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
	struct sfs_es_node *spare;

	if (!e->len || end > (uint64_t)UINT32_MAX + 1)
		return -EINVAL;
	atomic_fetch_add(&t->cache->inserts, 1);
	/* Every allocation first, so a failure leaves the tree as it was;
	 * and outside the lock (leaf_alloc). */
	if (!lock_with_spare(t, s, end, flags, insert_needs_leaf, &spare)) {
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	remove_locked(t, s, end, &spare);
	place_locked(t, e, &spare);
	drop_spare(t, spare);
	mc_mutex_unlock(&t->lock);
	touch(t);
	return 0;
}

int sfs_es_remove(struct sfs_es_tree *t, uint32_t lblk, uint32_t len, unsigned flags)
{
	uint64_t s = lblk, e = (uint64_t)lblk + len;
	struct sfs_es_node *spare;

	if (!len)
		return 0;
	atomic_fetch_add(&t->cache->removes, 1);
	if (!lock_with_spare(t, s, e, flags, remove_needs_leaf, &spare)) {
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	remove_locked(t, s, e, &spare);
	drop_spare(t, spare);
	mc_mutex_unlock(&t->lock);
	return 0;
}

static uint64_t count_delayed(struct sfs_es_node *n, uint64_t s, uint64_t e)
{
	uint64_t sum = 0;

	if (!n)
		return 0;
	if (n->key > s)
		sum += count_delayed(n->left, s, e);
	if (end_of(&n->ext[n->nr - 1]) < e)
		sum += count_delayed(n->right, s, e);
	for (unsigned i = 0; i < n->nr; i++) {
		const struct sfs_es_extent *x = &n->ext[i];

		if (x->state == SFS_ES_DELAYED) {
			uint64_t a = x->lblk > s ? x->lblk : s;
			uint64_t b = end_of(x) < e ? end_of(x) : e;
			if (b > a)
				sum += b - a;
		}
	}
	return sum;
}

uint64_t sfs_es_count_delayed(struct sfs_es_tree *t, uint32_t lblk, uint32_t len)
{
	uint64_t n;

	mc_mutex_lock(&t->lock);
	n = count_delayed(t->root, lblk, (uint64_t)lblk + len);
	mc_mutex_unlock(&t->lock);
	return n;
}

static int walk(struct sfs_es_node *n, int (*fn)(const struct sfs_es_extent *, void *), void *arg)
{
	int ret;

	if (!n)
		return 0;
	if ((ret = walk(n->left, fn, arg)))
		return ret;
	for (unsigned i = 0; i < n->nr; i++)
		if ((ret = fn(&n->ext[i], arg)))
			return ret;
	return walk(n->right, fn, arg);
}

int sfs_es_walk(struct sfs_es_tree *t, int (*fn)(const struct sfs_es_extent *, void *), void *arg)
{
	int ret;

	mc_mutex_lock(&t->lock);
	ret = walk(t->root, fn, arg);
	mc_mutex_unlock(&t->lock);
	return ret;
}

struct check_ctx {
	uint64_t prev_end, extents, leaves;
	bool started;
};

static int check_leaf(const struct sfs_es_node *n, uint32_t max_prio, struct check_ctx *cx)
{
	if (!n)
		return 0;
	if (n->prio > max_prio || !n->nr || n->nr > SFS_ES_LEAF || n->key != n->ext[0].lblk)
		return -EUCLEAN;
	if (check_leaf(n->left, n->prio, cx))
		return -EUCLEAN;
	for (unsigned i = 0; i < n->nr; i++) {
		const struct sfs_es_extent *x = &n->ext[i];

		if (!x->len || (cx->started && x->lblk < cx->prev_end) ||
		    end_of(x) > (uint64_t)UINT32_MAX + 1 || x->state < SFS_ES_WRITTEN ||
		    x->state > SFS_ES_HOLE)
			return -EUCLEAN;
		cx->prev_end = end_of(x);
		cx->started = true;
	}
	cx->extents += n->nr;
	cx->leaves++;
	return check_leaf(n->right, n->prio, cx);
}

int sfs_es_check(struct sfs_es_tree *t)
{
	struct check_ctx cx = { 0 };
	int ret;

	mc_mutex_lock(&t->lock);
	ret = check_leaf(t->root, UINT32_MAX, &cx);
	if (!ret && (cx.extents != t->nodes || cx.leaves != t->leaves))
		ret = -EUCLEAN;
	mc_mutex_unlock(&t->lock);
	return ret;
}

/* Drop the non-delayed extents of @n's subtree (up to *budget); return
 * the leaves left as a treap again (in order, so merging them back keeps
 * the order; a leaf's key only moves up within its own range). */
static struct sfs_es_node *drop_clean(struct sfs_es_tree *t, struct sfs_es_node *n,
				      uint64_t *budget, uint64_t *freed)
{
	struct sfs_es_node *l, *r;
	unsigned k = 0;

	if (!n)
		return NULL;
	l = drop_clean(t, n->left, budget, freed);
	r = drop_clean(t, n->right, budget, freed);
	n->left = n->right = NULL;
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
	if (!k) {
		free_leaf(t, n);
		return merge(l, r);
	}
	n->key = n->ext[0].lblk;
	return merge(merge(l, n), r);
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
		 * already looked at (lock_with_spare) -- busy as well. */
		if (t->pinned) {
			mc_mutex_unlock(&t->lock);
			atomic_fetch_add(&c->busy, 1);
			continue;
		}
		t->root = drop_clean(t, t->root, &budget, &freed);
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
