/* Scopes nest and restore exactly, per thread, and bind every path. */
#include "helpers.h"

struct catcher catcher;

static void test_scopes_nest_and_restore_exactly(void **state)
{
	(void)state;
	assert_int_equal(mc_scope_current(), 0);
	mc_scope_t a = mc_nofs_save();
	assert_int_equal(mc_scope_current(), MC_SCOPE_NOFS);
	assert_int_equal(mc_effective_flags(MC_KERNEL), MC_NOFS);
	mc_scope_t b = mc_noio_save();
	assert_int_equal(mc_scope_current(), MC_SCOPE_NOFS | MC_SCOPE_NOIO);
	assert_int_equal(mc_effective_flags(MC_KERNEL | MC_NOFAIL), MC_NOIO | MC_NOFAIL);
	mc_scope_t c = mc_nofs_save();           /* nested save of the same scope */
	assert_int_equal(mc_scope_depth(), 3);
	mc_nofs_restore(c);
	assert_int_equal(mc_scope_current(), MC_SCOPE_NOFS | MC_SCOPE_NOIO);
	mc_noio_restore(b);
	assert_int_equal(mc_scope_current(), MC_SCOPE_NOFS);
	assert_int_equal(mc_effective_flags(MC_KERNEL), MC_NOFS);
	mc_nofs_restore(a);
	assert_int_equal(mc_scope_current(), 0);
	assert_int_equal(mc_scope_depth(), 0);
	assert_int_equal(mc_effective_flags(MC_KERNEL), MC_KERNEL);
	/* MEMALLOC forbids recursion into reclaim but leaves FS/IO meaning intact. */
	mc_scope_t m = mc_memalloc_save();
	assert_int_equal(mc_effective_flags(MC_KERNEL), MC_KERNEL & ~MC_DIRECT_RECLAIM);
	mc_memalloc_restore(m);
}

static void test_scope_restore_out_of_order_is_reported(void **state)
{
	(void)state;
	catch_start(KIND(MC_REP_SCOPE_MISMATCH));
	mc_scope_t a = mc_nofs_save();
	mc_scope_t b = mc_noio_save();
	mc_nofs_restore(a);                      /* wrong: b is still open */
	assert_int_equal(catcher.n[MC_REP_SCOPE_MISMATCH], 1);
	assert_int_equal(mc_scope_current(), 0);
	(void)b;
	catch_stop();
}

static pthread_barrier_t bar;
static unsigned other_scope_seen[2];

static void *scope_thread(void *arg)
{
	int me = (int)(intptr_t)arg;
	mc_scope_t tok = 0;

	if (me == 0)
		tok = mc_nofs_save();
	pthread_barrier_wait(&bar);              /* both threads inside their state */
	other_scope_seen[me] = mc_scope_current();
	void *p = mc_alloc(64, MC_KERNEL);
	pthread_barrier_wait(&bar);
	mc_free(p);
	if (me == 0)
		mc_nofs_restore(tok);
	return NULL;
}

static void test_scopes_are_per_thread(void **state)
{
	pthread_t t[2];
	(void)state;
	pthread_barrier_init(&bar, NULL, 2);
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, scope_thread, (void *)(intptr_t)i);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(other_scope_seen[0], MC_SCOPE_NOFS);
	assert_int_equal(other_scope_seen[1], 0);
	assert_int_equal(mc_scope_current(), 0);
	pthread_barrier_destroy(&bar);
}

/* The kernel's vmalloc path once ignored the scope: ours must not.  With the
 * budget full, a large KERNEL allocation inside NOFS must not reach an FS
 * shrinker; outside the scope it must. */
static void check_path_honours_nofs(size_t size)
{
	struct tcache fs_cache;
	struct hog h = { 0 };

	setup_budget("budget=8M,background=off,throttle_timeout=20ms");
	tcache_init(&fs_cache, "test-fs-cache", MC_FS, 4096);
	assert_int_equal(tcache_fill(&fs_cache, 128), 128);
	hog_fill(&h, 64 * 1024);
	hog_release(&h, 0);
	struct hog h2 = { 0 };
	hog_fill(&h2, 4096);

	mc_scope_t tok = mc_nofs_save();
	void *p = mc_alloc_named("test.scope_path", size, MC_KERNEL | MC_NOWARN);
	mc_nofs_restore(tok);
	assert_null(p);
	assert_int_equal(fs_cache.direct_calls, 0);
	assert_int_equal(fs_cache.fs_ctx_violations, 0);

	/* Same request outside the scope: the FS shrinker may now help. */
	p = mc_alloc_named("test.scope_path", size, MC_KERNEL | MC_NOWARN);
	assert_true(fs_cache.direct_calls > 0);
	assert_non_null(p);
	mc_free(p);
	tcache_destroy(&fs_cache);
	hog_free(&h);
	hog_free(&h2);
	assert_int_equal(mc_used_exact(), 0);
	setup_budget(NULL);
}

static void test_small_path_honours_nofs_scope(void **state)
{
	(void)state;
	check_path_honours_nofs(2048);
}

static void test_large_path_honours_nofs_scope(void **state)
{
	(void)state;
	check_path_honours_nofs(256 * 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes_nest_and_restore_exactly),
		cmocka_unit_test(test_scope_restore_out_of_order_is_reported),
		cmocka_unit_test(test_scopes_are_per_thread),
		cmocka_unit_test(test_small_path_honours_nofs_scope),
		cmocka_unit_test(test_large_path_honours_nofs_scope),
	};
	return RUN_ALLOC_TESTS(tests);
}
