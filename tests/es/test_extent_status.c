/* The extent status cache: exact after every change, never fails where
 * truncate needs it not to, fails cleanly elsewhere, and gives memory back. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "alloc/mc.h"
#include "fs/es/extent_status.h"

#define NB 4096u

/* The model: per block, known or not, state and physical block. */
struct cell {
	uint8_t known, state;
	uint64_t pblk;
};

static uint64_t rng = 0x1234;
static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void model_set(struct cell *m, const struct sfs_es_extent *e)
{
	for (uint32_t i = 0; i < e->len; i++) {
		m[e->lblk + i].known = 1;
		m[e->lblk + i].state = (uint8_t)e->state;
		m[e->lblk + i].pblk = (e->state == SFS_ES_WRITTEN || e->state == SFS_ES_UNWRITTEN) ?
				      e->pblk + i : 0;
	}
}

struct walk_ctx {
	const struct cell *m;
	uint64_t prev_end;
	uint64_t covered;
	int bad;
};

static int check_extent(const struct sfs_es_extent *e, void *arg)
{
	struct walk_ctx *w = arg;

	if (!e->len || e->lblk < w->prev_end || (uint64_t)e->lblk + e->len > NB)
		w->bad = 1;                      /* order, overlap, bounds */
	for (uint32_t i = 0; i < e->len && !w->bad; i++) {
		const struct cell *c = &w->m[e->lblk + i];
		uint64_t p = (e->state == SFS_ES_WRITTEN || e->state == SFS_ES_UNWRITTEN) ?
			     e->pblk + i : 0;
		if (!c->known || c->state != e->state || c->pblk != p)
			w->bad = 2;
	}
	w->prev_end = (uint64_t)e->lblk + e->len;
	w->covered += e->len;
	return w->bad;
}

/* The tree and the model agree block for block. */
static void agree(struct sfs_es_tree *t, const struct cell *m)
{
	struct walk_ctx w = { m, 0, 0, 0 };
	uint64_t known = 0;

	sfs_es_walk(t, check_extent, &w);
	assert_int_equal(w.bad, 0);
	for (uint32_t b = 0; b < NB; b++)
		known += m[b].known;
	assert_int_equal(w.covered, known);
	for (int i = 0; i < 16; i++) {
		uint32_t b = (uint32_t)(rnd() % NB);
		struct sfs_es_extent e;
		int hit = sfs_es_lookup(t, b, &e);
		assert_int_equal(hit, m[b].known);
	}
}

static uint32_t max_len = 64;

static void random_extent(struct sfs_es_extent *e)
{
	e->lblk = (uint32_t)(rnd() % NB);
	e->len = 1 + (uint32_t)(rnd() % max_len);
	if (e->lblk + e->len > NB)
		e->len = NB - e->lblk;
	e->state = (enum sfs_es_state)(1 + rnd() % 4);
	e->pblk = (e->state == SFS_ES_WRITTEN || e->state == SFS_ES_UNWRITTEN) ?
		  100000 + (rnd() % 4) * 1000 + e->lblk : 0;   /* contiguous runs merge */
}

static void test_cache_agrees_with_a_model_after_every_change(void **state)
{
	struct sfs_es_cache *c = sfs_es_cache_create("test_es");
	struct cell *m = calloc(NB, sizeof(*m));
	struct sfs_es_tree t;
	unsigned ops = getenv("SCOPEFS_ES_OPS") ? (unsigned)atoi(getenv("SCOPEFS_ES_OPS")) : 20000;
	(void)state;

	printf("seed 0x1234, %u operations\n", ops);
	sfs_es_tree_init(&t, c);
	for (unsigned i = 0; i < ops; i++) {
		struct sfs_es_extent e;
		random_extent(&e);
		if (rnd() % 3) {
			assert_int_equal(sfs_es_insert(&t, &e, 0), 0);
			model_set(m, &e);
		} else {
			assert_int_equal(sfs_es_remove(&t, e.lblk, e.len, 0), 0);
			for (uint32_t b = 0; b < e.len; b++)
				m[e.lblk + b].known = 0;
		}
		agree(&t, m);
		assert_int_equal(sfs_es_check(&t), 0);
	}
	struct sfs_es_stats st;
	sfs_es_stats(c, &st);
	assert_true(st.splits > 0 && st.merges > 0);
	printf("%llu extents in %llu leaves at the end\n", (unsigned long long)st.nodes,
	       (unsigned long long)st.leaves);
	sfs_es_tree_destroy(&t);
	sfs_es_cache_destroy(c);
	free(m);
}

/* Short extents: hundreds cached, so leaves fill, split, empty and go. */
static void test_cache_agrees_with_a_model_over_many_leaves(void **state)
{
	max_len = 3;
	test_cache_agrees_with_a_model_after_every_change(state);
	max_len = 64;
}

/* Many extents: a tree three inner levels deep is built, cut in the middle
 * of extents, emptied in ranges and refilled, checked against a model. */
static void test_cache_stays_exact_with_a_deep_tree(void **state)
{
	enum { N = 1u << 19 };
	struct sfs_es_cache *c = sfs_es_cache_create("test_es_deep");
	struct cell *m = calloc(N, sizeof(*m));
	struct sfs_es_tree t;
	struct sfs_es_stats st;
	unsigned max_height = 0;
	(void)state;

	sfs_es_tree_init(&t, c);
	/* Single blocks that cannot merge (pblk jumps), in a random order. */
	for (uint32_t k = 0; k < N / 2; k++) {
		uint32_t b = (uint32_t)((k * 2654435761u) % (N / 2)) * 2;
		struct sfs_es_extent e = { b, 1, 1000000 + 3ull * b, SFS_ES_WRITTEN };

		assert_int_equal(sfs_es_insert(&t, &e, 0), 0);
		m[b].known = 1;
		m[b].state = SFS_ES_WRITTEN;
		m[b].pblk = e.pblk;
		if (t.height > max_height)
			max_height = t.height;
	}
	assert_int_equal(sfs_es_check(&t), 0);
	for (unsigned round = 0; round < 3000; round++) {
		uint32_t s = (uint32_t)(rnd() % N), len = 1 + (uint32_t)(rnd() % 2000);
		struct sfs_es_extent e;

		if (s + len > N)
			len = N - s;
		switch (rnd() % 3) {
		case 0:   /* forget a range */
			assert_int_equal(sfs_es_remove(&t, s, len, SFS_ES_NOFAIL), 0);
			for (uint32_t b = s; b < s + len; b++)
				m[b].known = 0;
			break;
		case 1:   /* a long extent over many leaves */
			e = (struct sfs_es_extent){ s, len, 0, SFS_ES_HOLE };
			assert_int_equal(sfs_es_insert(&t, &e, 0), 0);
			model_set(m, &e);
			break;
		default:  /* refill single blocks */
			for (uint32_t b = s; b < s + len; b += 2) {
				e = (struct sfs_es_extent){ b, 1, 7000000 + 5ull * b, SFS_ES_UNWRITTEN };
				assert_int_equal(sfs_es_insert(&t, &e, 0), 0);
				model_set(m, &e);
			}
		}
		if (t.height > max_height)
			max_height = t.height;
		if (round % 100 == 0) {
			assert_int_equal(sfs_es_check(&t), 0);
			for (int i = 0; i < 64; i++) {
				uint32_t b = (uint32_t)(rnd() % N);
				int hit = sfs_es_lookup(&t, b, &e);

				assert_int_equal(hit, m[b].known);
				if (hit) {
					assert_int_equal(e.state, m[b].state);
					assert_true(e.lblk <= b && b < e.lblk + e.len);
				}
			}
		}
	}
	assert_int_equal(sfs_es_check(&t), 0);
	sfs_es_stats(c, &st);
	printf("%llu extents, %llu leaves, height reached %u\n", (unsigned long long)st.nodes,
	       (unsigned long long)st.leaves, max_height);
	assert_true(max_height >= 2);
	/* Truncate's shape: everything past a point, then everything. */
	assert_int_equal(sfs_es_remove(&t, N / 3, N, SFS_ES_NOFAIL), 0);
	assert_int_equal(sfs_es_check(&t), 0);
	assert_int_equal(sfs_es_remove(&t, 0, N, SFS_ES_NOFAIL), 0);
	assert_int_equal(sfs_es_check(&t), 0);
	sfs_es_stats(c, &st);
	assert_int_equal(st.nodes, 0);
	assert_int_equal(st.leaves, 0);
	assert_int_equal(t.height, 0);
	sfs_es_tree_destroy(&t);
	sfs_es_cache_destroy(c);
	free(m);
}

static int snapshot(const struct sfs_es_extent *e, void *arg)
{
	struct sfs_es_extent **p = arg;
	*(*p)++ = *e;
	return 0;
}

/* A file cached front to back fills its nodes: at the tree's right edge a
 * full node keeps all but its last entry (half-full nodes would cost twice
 * the memory and a level at a million extents).  Filled back to front,
 * nodes split in halves and every one stays valid. */
static void test_front_to_back_fill_packs_the_leaves(void **state)
{
	struct sfs_es_cache *c = sfs_es_cache_create("test_es_pack");
	const uint32_t n = 20000;
	struct sfs_es_tree t;
	struct sfs_es_stats st;
	(void)state;

	sfs_es_tree_init(&t, c);
	for (uint32_t k = 0; k < n; k++) {
		/* holes two blocks apart: nothing merges */
		struct sfs_es_extent h = { 2 * k, 1, 0, SFS_ES_HOLE };

		assert_int_equal(sfs_es_insert(&t, &h, 0), 0);
	}
	assert_int_equal(sfs_es_check(&t), 0);
	sfs_es_stats(c, &st);
	assert_int_equal(st.nodes, n);
	/* SFS_ES_LEAF - 1 a leaf at least (the last may hold fewer) */
	assert_true(st.leaves <= n / (SFS_ES_LEAF - 1) + 1);
	sfs_es_tree_destroy(&t);

	sfs_es_tree_init(&t, c);
	for (uint32_t k = n; k-- > 0;) {
		struct sfs_es_extent h = { 2 * k, 1, 0, SFS_ES_HOLE };

		assert_int_equal(sfs_es_insert(&t, &h, 0), 0);
	}
	assert_int_equal(sfs_es_check(&t), 0);
	for (uint32_t k = 0; k < 2 * n; k++) {
		struct sfs_es_extent x;

		assert_int_equal(sfs_es_lookup(&t, k, &x), k % 2 == 0);
	}
	sfs_es_tree_destroy(&t);
	sfs_es_cache_destroy(c);
}

/* Seed 000: removing the middle of a cached extent takes one more slot,
 * and in a full leaf a new leaf -- an allocation.  Outside truncate, with
 * the allocator failing, that is -ENOMEM and nothing changed; inside
 * truncate (NOFAIL) it cannot fail.  With room in the leaf nothing is
 * allocated, so nothing can fail. */
static void test_split_fails_cleanly_or_never(void **state)
{
	struct sfs_es_cache *c = sfs_es_cache_create("test_es_split");
	struct sfs_es_tree t;
	struct sfs_es_extent big = { 0, 1000, 5000, SFS_ES_WRITTEN };
	struct sfs_es_extent before[SFS_ES_LEAF + 2], after[SFS_ES_LEAF + 2], *p;
	struct sfs_es_stats st;
	struct mc_stats a, b;
	char err[128];
	(void)state;

	sfs_es_tree_init(&t, c);
	assert_int_equal(sfs_es_insert(&t, &big, 0), 0);
	/* Room in the leaf: the split allocates nothing and cannot fail. */
	assert_int_equal(mc_fault_set("es.node:always", err, sizeof(err)), 0);
	mc_op_begin();
	assert_int_equal(sfs_es_remove(&t, 100, 10, 0), 0);
	mc_op_end();
	mc_fault_set("", err, sizeof(err));
	assert_int_equal(sfs_es_check(&t), 0);
	/* Fill the leaf: holes two blocks apart cannot merge. */
	for (uint32_t k = 2; k < SFS_ES_LEAF; k++) {
		struct sfs_es_extent h = { 2000 + 2 * k, 1, 0, SFS_ES_HOLE };
		assert_int_equal(sfs_es_insert(&t, &h, 0), 0);
	}
	sfs_es_stats(c, &st);
	assert_int_equal(st.nodes, SFS_ES_LEAF);
	assert_int_equal(st.leaves, 1);
	p = before;
	sfs_es_walk(&t, snapshot, &p);
	assert_int_equal(p - before, SFS_ES_LEAF);

	assert_int_equal(mc_fault_set("es.node:always", err, sizeof(err)), 0);
	mc_op_begin();
	assert_int_equal(sfs_es_remove(&t, 400, 100, 0), -ENOMEM);
	mc_op_end();
	mc_fault_set("", err, sizeof(err));
	p = after;
	sfs_es_walk(&t, snapshot, &p);
	assert_int_equal(p - after, SFS_ES_LEAF);
	assert_memory_equal(before, after, sizeof(before[0]) * SFS_ES_LEAF);

	/* The truncate path: every failable site fails, the split still happens. */
	assert_int_equal(mc_fault_set("*:always", err, sizeof(err)), 0);
	mc_stats_snapshot(&a);
	mc_op_begin();
	assert_int_equal(sfs_es_remove(&t, 400, 100, SFS_ES_NOFAIL), 0);
	mc_op_end();
	mc_stats_snapshot(&b);
	mc_fault_set("", err, sizeof(err));
	assert_true(b.nofail_loops > a.nofail_loops);
	assert_int_equal(sfs_es_check(&t), 0);
	sfs_es_stats(c, &st);
	assert_int_equal(st.leaves, 2);
	struct sfs_es_extent e;
	assert_int_equal(sfs_es_lookup(&t, 399, &e), 1);
	assert_int_equal(e.lblk, 110);
	assert_int_equal(e.len, 290);
	assert_int_equal(sfs_es_lookup(&t, 450, &e), 0);
	assert_int_equal(sfs_es_lookup(&t, 500, &e), 1);
	assert_int_equal(e.lblk, 500);
	assert_int_equal(e.pblk, 5500);
	assert_int_equal(e.len, 500);
	sfs_es_tree_destroy(&t);
	sfs_es_cache_destroy(c);
}

/* The shrinker frees cold, unused, non-delayed extents; a tree in use is
 * skipped, never waited for; reservations (delayed) survive. */
static pthread_barrier_t bar;
static void *hold_tree(void *arg)
{
	struct sfs_es_tree *t = arg;
	mc_mutex_lock(&t->lock);
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	mc_mutex_unlock(&t->lock);
	return NULL;
}

static void test_shrinker_frees_cold_extents_and_skips_busy_trees(void **state)
{
	struct sfs_es_cache *c = sfs_es_cache_create("test_es_shrink");
	struct sfs_es_tree t[4];
	struct sfs_es_stats st;
	pthread_t th;
	(void)state;

	for (int i = 0; i < 4; i++) {
		sfs_es_tree_init(&t[i], c);
		for (uint32_t k = 0; k < 100; k++) {
			struct sfs_es_extent e = { k * 10, 5, 0, k % 10 ? SFS_ES_HOLE : SFS_ES_DELAYED };
			assert_int_equal(sfs_es_insert(&t[i], &e, 0), 0);
		}
	}
	sfs_es_stats(c, &st);
	assert_int_equal(st.nodes, 400);
	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&th, NULL, hold_tree, &t[2]);
	pthread_barrier_wait(&bar);
	uint64_t freed = sfs_es_shrink(c, 1000);
	pthread_barrier_wait(&bar);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&bar);
	assert_int_equal(freed, 3 * 90);                 /* tree 2 busy; delayed kept */
	assert_int_equal(sfs_es_count_delayed(&t[0], 0, 1000), 10 * 5);
	sfs_es_stats(c, &st);
	assert_true(st.shrink_skipped_busy >= 1);
	/* Through alloc/'s reclaim: the registered shrinker is called. */
	size_t before = st.nodes;
	mc_drop_caches();
	sfs_es_stats(c, &st);
	assert_true(st.nodes < before);
	assert_int_equal(st.nodes, 4 * 10);              /* only reservations left */
	for (int i = 0; i < 4; i++)
		sfs_es_tree_destroy(&t[i]);
	sfs_es_cache_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_agrees_with_a_model_after_every_change),
		cmocka_unit_test(test_cache_agrees_with_a_model_over_many_leaves),
		cmocka_unit_test(test_cache_stays_exact_with_a_deep_tree),
		cmocka_unit_test(test_split_fails_cleanly_or_never),
		cmocka_unit_test(test_front_to_back_fill_packs_the_leaves),
		cmocka_unit_test(test_shrinker_frees_cold_extents_and_skips_busy_trees),
	};
	char err[256];
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return r;
}
