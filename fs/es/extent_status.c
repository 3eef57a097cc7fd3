/*
 * The extent status cache (see extent_status.h): a treap per inode,
 * ordered by logical block, with the split allocation of seed 000.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include "fs/es/extent_status.h"

struct sfs_es_node {
	struct sfs_es_extent e;
	uint32_t prio;
	struct sfs_es_node *left, *right;
};

struct sfs_es_cache {
	const char *name;
	mc_mutex_t lock;                 /* the LRU and the stamp */
	struct sfs_es_tree *lru_head, *lru_tail;   /* head = most recently used */
	uint64_t stamp;
	uint64_t rng;
	struct mc_shrinker shrinker;
	_Atomic uint64_t nodes, trees;
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

/* ---- treap ------------------------------------------------------------ */

/* Split @t into keys < @key (*l) and >= @key (*r). */
static void split(struct sfs_es_node *t, uint64_t key, struct sfs_es_node **l,
		  struct sfs_es_node **r)
{
	if (!t) {
		*l = *r = NULL;
	} else if (t->e.lblk < key) {
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

static struct sfs_es_node *find(struct sfs_es_node *t, uint64_t lblk)
{
	while (t) {
		if (lblk < t->e.lblk)
			t = t->left;
		else if (lblk >= end_of(&t->e))
			t = t->right;
		else
			return t;
	}
	return NULL;
}

static struct sfs_es_node *first_from(struct sfs_es_node *t, uint64_t lblk)
{
	struct sfs_es_node *best = NULL;

	while (t) {
		if (t->e.lblk >= lblk) {
			best = t;
			t = t->left;
		} else {
			t = t->right;
		}
	}
	return best;
}

static struct sfs_es_node *rightmost(struct sfs_es_node *t)
{
	while (t && t->right)
		t = t->right;
	return t;
}

/* Detach the rightmost node of *t and return it. */
static struct sfs_es_node *pop_rightmost(struct sfs_es_node **t)
{
	struct sfs_es_node *n;

	if (!*t)
		return NULL;
	if ((*t)->right)
		return pop_rightmost(&(*t)->right);
	n = *t;
	*t = n->left;
	n->left = NULL;
	return n;
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

static void free_node(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	mc_free(n);
	t->nodes--;
	atomic_fetch_sub(&t->cache->nodes, 1);
}

static void free_subtree(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (!n)
		return;
	free_subtree(t, n->left);
	free_subtree(t, n->right);
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
 * The node is counted in t->nodes by node_own() once the lock is held.
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
	if (!n) {
		atomic_fetch_add(&t->cache->enomem, 1);
		return NULL;
	}
	memset(n, 0, sizeof(*n));
	n->prio = next_prio(t->cache);
	atomic_fetch_add(&t->cache->nodes, 1);
	return n;
}

/* Count a node from node_alloc() in its tree (tree lock held). */
static void node_own(struct sfs_es_tree *t, struct sfs_es_node *n)
{
	if (n)
		t->nodes++;
}

/* Would removing [s, e) split one extent in two?  Under the tree lock. */
static bool needs_split(struct sfs_es_tree *t, uint64_t s, uint64_t e);

/*
 * The spare node a removal of [s, e) needs, allocated outside the lock:
 * look (locked), allocate (unlocked), and come back locked.  Whether a
 * split is needed can change while unlocked only through a concurrent
 * fill (the shrinker removes whole extents, which never creates a split);
 * a caller that changes the tree holds the inode's data_sem for writing,
 * which excludes fills, so a NOFAIL caller always gets its spare.
 * Returns with the lock held; false = a split is needed and there is no
 * node for it (-ENOMEM).
 */
static bool lock_with_spare(struct sfs_es_tree *t, uint64_t s, uint64_t e, unsigned flags,
			    struct sfs_es_node **spare)
{
	bool need;

	*spare = NULL;
	mc_mutex_lock(&t->lock);
	need = needs_split(t, s, e);
	if (!need)
		return true;
	t->pinned++;
	mc_mutex_unlock(&t->lock);
	*spare = node_alloc(t, flags);
	mc_mutex_lock(&t->lock);
	t->pinned--;
	node_own(t, *spare);
	return *spare || !needs_split(t, s, e);
}

static void trim_front(struct sfs_es_extent *e, uint64_t new_start)
{
	uint32_t cut = (uint32_t)(new_start - e->lblk);

	e->lblk = (uint32_t)new_start;
	e->len -= cut;
	if (mapped(e->state))
		e->pblk += cut;
}

/*
 * Remove [s, e) from t->root.  @spare is used (and set to NULL) when one
 * extent covers the range with something left on both sides; the caller
 * guaranteed it is there in that case.
 */
static void remove_locked(struct sfs_es_tree *t, uint64_t s, uint64_t e,
			  struct sfs_es_node **spare)
{
	struct sfs_es_node *l, *m, *r, *x, *y;

	split(t->root, s, &l, &m);
	split(m, e, &m, &r);
	/* The extent before s may reach into the range. */
	x = rightmost(l);
	if (x && end_of(&x->e) > s) {
		uint64_t old_end = end_of(&x->e);
		x->e.len = (uint32_t)(s - x->e.lblk);
		if (old_end > e) {
			/* The middle of x goes: its tail needs a node of its own. */
			struct sfs_es_node *tail = *spare;
			*spare = NULL;
			tail->e = x->e;
			tail->e.lblk = x->e.lblk;
			tail->e.len = (uint32_t)(old_end - x->e.lblk);
			trim_front(&tail->e, e);
			r = merge(tail, r);
			atomic_fetch_add(&t->cache->splits, 1);
		}
	}
	/* The last extent starting inside may reach past e: keep its tail. */
	y = pop_rightmost(&m);
	if (y && end_of(&y->e) > e) {
		trim_front(&y->e, e);
		r = merge(y, r);
		y = NULL;
	}
	if (y)
		free_node(t, y);
	free_subtree(t, m);
	t->root = merge(l, r);
}

/* Would removing [s, e) split one extent in two? */
static bool needs_split(struct sfs_es_tree *t, uint64_t s, uint64_t e)
{
	struct sfs_es_node *x = s ? find(t->root, s - 1) : NULL;

	x = x ? x : find(t->root, s);
	return x && x->e.lblk < s && end_of(&x->e) > e;
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
	struct sfs_es_node *n;

	atomic_fetch_add(&t->cache->lookups, 1);
	mc_mutex_lock(&t->lock);
	n = find(t->root, lblk);
	if (n)
		*out = n->e;
	mc_mutex_unlock(&t->lock);
	if (!n)
		return 0;
	atomic_fetch_add(&t->cache->hits, 1);
	touch(t);
	return 1;
}

int sfs_es_next(struct sfs_es_tree *t, uint32_t lblk, struct sfs_es_extent *out)
{
	struct sfs_es_node *n;

	mc_mutex_lock(&t->lock);
	n = find(t->root, lblk);
	if (!n)
		n = first_from(t->root, lblk);
	if (n)
		*out = n->e;
	mc_mutex_unlock(&t->lock);
	return n != NULL;
}

/* Can @a be followed by @b in one extent? */
static bool mergeable(const struct sfs_es_extent *a, const struct sfs_es_extent *b)
{
	if (a->state != b->state || end_of(a) != b->lblk || (uint64_t)a->len + b->len > UINT32_MAX)
		return false;
	return !mapped(a->state) || a->pblk + a->len == b->pblk;
}

int sfs_es_insert(struct sfs_es_tree *t, const struct sfs_es_extent *e, unsigned flags)
{
	uint64_t s = e->lblk, end = end_of(e);
	struct sfs_es_node *n, *spare = NULL, *pred, *succ, *l, *r;

	if (!e->len || end > (uint64_t)UINT32_MAX + 1)
		return -EINVAL;
	atomic_fetch_add(&t->cache->inserts, 1);
	/* Every allocation first, so a failure leaves the tree as it was;
	 * and outside the lock (node_alloc). */
	n = node_alloc(t, flags);
	if (!n)
		return -ENOMEM;
	if (!lock_with_spare(t, s, end, flags, &spare)) {
		node_own(t, n);
		free_node(t, n);
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	node_own(t, n);
	remove_locked(t, s, end, &spare);
	if (spare)
		free_node(t, spare);
	n->e = *e;
	/* Merge with the neighbours where the result is one extent. */
	pred = s ? find(t->root, s - 1) : NULL;
	if (pred && mergeable(&pred->e, &n->e)) {
		pred->e.len += n->e.len;
		free_node(t, n);
		n = pred;
		atomic_fetch_add(&t->cache->merges, 1);
	} else {
		split(t->root, s, &l, &r);
		t->root = merge(merge(l, n), r);
	}
	succ = find(t->root, end_of(&n->e));
	if (succ && succ != n && mergeable(&n->e, &succ->e)) {
		uint64_t key = succ->e.lblk;
		n->e.len += succ->e.len;
		split(t->root, key, &l, &r);
		split(r, key + 1, &succ, &r);
		free_node(t, succ);
		t->root = merge(l, r);
		atomic_fetch_add(&t->cache->merges, 1);
	}
	mc_mutex_unlock(&t->lock);
	touch(t);
	return 0;
}

int sfs_es_remove(struct sfs_es_tree *t, uint32_t lblk, uint32_t len, unsigned flags)
{
	uint64_t s = lblk, e = (uint64_t)lblk + len;
	struct sfs_es_node *spare = NULL;

	if (!len)
		return 0;
	atomic_fetch_add(&t->cache->removes, 1);
	if (!lock_with_spare(t, s, e, flags, &spare)) {
		mc_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	remove_locked(t, s, e, &spare);
	if (spare)
		free_node(t, spare);
	mc_mutex_unlock(&t->lock);
	return 0;
}

static uint64_t count_delayed(struct sfs_es_node *n, uint64_t s, uint64_t e)
{
	uint64_t sum = 0;

	if (!n)
		return 0;
	if (n->e.lblk > s)
		sum += count_delayed(n->left, s, e);
	if (end_of(&n->e) < e)
		sum += count_delayed(n->right, s, e);
	if (n->e.state == SFS_ES_DELAYED) {
		uint64_t a = n->e.lblk > s ? n->e.lblk : s;
		uint64_t b = end_of(&n->e) < e ? end_of(&n->e) : e;
		if (b > a)
			sum += b - a;
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
	if ((ret = fn(&n->e, arg)))
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

/* Free the non-delayed extents of @n's subtree; return the kept ones as a
 * treap again (in order, so merging them back keeps the order). */
static struct sfs_es_node *drop_clean(struct sfs_es_tree *t, struct sfs_es_node *n,
				      uint64_t *budget, uint64_t *freed)
{
	struct sfs_es_node *l, *r;

	if (!n)
		return NULL;
	l = drop_clean(t, n->left, budget, freed);
	r = drop_clean(t, n->right, budget, freed);
	n->left = n->right = NULL;
	if (n->e.state != SFS_ES_DELAYED && *budget) {
		free_node(t, n);
		(*budget)--;
		(*freed)++;
		return merge(l, r);
	}
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
		/* Pinned: its owner is allocating a node for a change it has
		 * already looked at (lock_with_spare) -- busy as well. */
		if (t->pinned) {
			mc_mutex_unlock(&t->lock);
			atomic_fetch_add(&c->busy, 1);
			continue;
		}
		t->root = drop_clean(t, t->root, &budget, &freed);
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
}
