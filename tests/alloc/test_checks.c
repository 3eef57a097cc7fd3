/* The debug checks fire on purpose-built bad code and stay silent on good code. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "helpers.h"

struct catcher catcher;

static void test_lock_taken_in_reclaim_then_held_across_fs_alloc_is_reported(void **state)
{
	static mc_mutex_t inode_lock;
	struct tcache c;
	(void)state;

	/* lockdep's fs_reclaim case: an FS shrinker takes the inode lock. */
	mc_mutex_init(&inode_lock, "test.inode_lock");
	tcache_init(&c, "test-locking-shrinker", MC_FS, 256);
	c.take_lock = &inode_lock;
	tcache_fill(&c, 8);
	mc_drop_caches();                      /* the shrinker takes the lock in reclaim */
	assert_true(inode_lock.cls->taken_in_reclaim);

	catch_start(KIND(MC_REP_FS_RECLAIM_LOCK));
	/* Good code: the same lock held, but the allocation is in a NOFS scope. */
	mc_mutex_lock(&inode_lock);
	mc_scope_t tok = mc_nofs_save();
	mc_free(mc_alloc(64, MC_KERNEL));
	mc_nofs_restore(tok);
	mc_mutex_unlock(&inode_lock);
	assert_int_equal(catcher.n[MC_REP_FS_RECLAIM_LOCK], 0);
	/* Bad code: GFP_KERNEL-style allocation under the lock. */
	mc_mutex_lock(&inode_lock);
	void *p = mc_alloc_named("test.bad_alloc_under_lock", 64, MC_KERNEL);
	mc_mutex_unlock(&inode_lock);
	mc_free(p);
	assert_int_equal(catcher.n[MC_REP_FS_RECLAIM_LOCK], 1);
	assert_string_equal(catcher.last_site[MC_REP_FS_RECLAIM_LOCK]->name,
			    "test.bad_alloc_under_lock");
	assert_non_null(strstr(catcher.last[MC_REP_FS_RECLAIM_LOCK], "test.inode_lock"));
	catch_stop();
	tcache_destroy(&c);
}

/* A NOFS scope does not protect against a lock that a shrinker needing
 * nothing takes: that shrinker runs in NOFS reclaim too. */
static void test_nofs_does_not_cover_locks_of_context_free_shrinkers(void **state)
{
	static mc_mutex_t cache_lock;
	struct tcache c;
	(void)state;

	mc_mutex_init(&cache_lock, "test.plain_cache_lock");
	tcache_init(&c, "test-plain-shrinker", 0, 256);
	c.take_lock = &cache_lock;
	tcache_fill(&c, 8);
	mc_drop_caches();
	catch_start(KIND(MC_REP_FS_RECLAIM_LOCK));
	mc_mutex_lock(&cache_lock);
	mc_scope_t tok = mc_nofs_save();
	mc_free(mc_alloc_named("test.nofs_under_plain_lock", 64, MC_KERNEL));
	mc_nofs_restore(tok);
	/* Without direct reclaim nothing can deadlock: silent. */
	mc_free(mc_alloc_named("test.nowait_under_plain_lock", 64, MC_NOWAIT));
	mc_mutex_unlock(&cache_lock);
	assert_int_equal(catcher.n[MC_REP_FS_RECLAIM_LOCK], 1);
	assert_string_equal(catcher.last_site[MC_REP_FS_RECLAIM_LOCK]->name,
			    "test.nofs_under_plain_lock");
	catch_stop();
	tcache_destroy(&c);
}

/* The first time reclaim meets its caller's lock the checker must speak
 * before the thread blocks on itself, not after (it never would be). */
static void test_reclaim_blocking_on_its_callers_lock_reports_before_hanging(void **state)
{
	(void)state;
	pid_t pid = fork();
	if (pid == 0) {
		static mc_mutex_t l;
		struct tcache c;
		struct hog h = { 0 };
		setup_budget("budget=4M,background=off,throttle_timeout=10ms,stall=30s");
		mc_mutex_init(&l, "test.self_deadlock");
		tcache_init(&c, "test-self-shrinker", 0, 4096);
		c.take_lock = &l;
		tcache_fill(&c, 16);
		hog_fill(&h, 4096);
		mc_mutex_lock(&l);
		mc_alloc(4096, MC_KERNEL);              /* reclaim -> shrinker -> l */
		_exit(0);                               /* never reached */
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void test_lock_learned_after_the_allocation_is_reported_too(void **state)
{
	static mc_mutex_t late_lock;
	struct tcache c;
	(void)state;

	mc_mutex_init(&late_lock, "test.late_lock");
	mc_mutex_lock(&late_lock);
	mc_free(mc_alloc_named("test.alloc_before_learning", 64, MC_KERNEL));
	mc_mutex_unlock(&late_lock);

	catch_start(KIND(MC_REP_FS_RECLAIM_LOCK));
	tcache_init(&c, "test-late-shrinker", 0, 256);
	c.take_lock = &late_lock;
	tcache_fill(&c, 8);
	mc_drop_caches();
	assert_int_equal(catcher.n[MC_REP_FS_RECLAIM_LOCK], 1);
	assert_non_null(strstr(catcher.last[MC_REP_FS_RECLAIM_LOCK], "test.alloc_before_learning"));
	catch_stop();
	tcache_destroy(&c);
}

static void test_trylock_in_shrinker_is_not_learned(void **state)
{
	static mc_mutex_t trylocked;
	struct tcache c;
	(void)state;

	mc_mutex_init(&trylocked, "test.trylocked");
	tcache_init(&c, "test-trylock-shrinker", 0, 256);
	c.try_lock = &trylocked;
	tcache_fill(&c, 8);
	mc_drop_caches();
	assert_true(c.direct_calls > 0);
	assert_false(trylocked.cls->taken_in_reclaim);
	catch_start(0);   /* any report would now abort the test */
	mc_mutex_lock(&trylocked);
	mc_free(mc_alloc(64, MC_KERNEL));
	mc_mutex_unlock(&trylocked);
	assert_int_equal(mc_locks_held(), 0);
	catch_stop();
	tcache_destroy(&c);
}

static void test_explicit_nofs_inside_nofs_scope_reported_once_per_site(void **state)
{
	(void)state;
	catch_start(KIND(MC_REP_REDUNDANT_NOFS));
	mc_scope_t tok = mc_nofs_save();
	for (int i = 0; i < 3; i++)
		mc_free(mc_alloc_named("test.redundant_nofs", 32, MC_NOFS));
	mc_free(mc_alloc_named("test.plain_kernel_in_scope", 32, MC_KERNEL));
	mc_nofs_restore(tok);
	mc_free(mc_alloc_named("test.nofs_outside_scope", 32, MC_NOFS));
	/* NOIO inside a NOFS-only scope strips more than the scope: needed. */
	tok = mc_nofs_save();
	mc_free(mc_alloc_named("test.noio_in_nofs_scope", 32, MC_NOIO));
	mc_nofs_restore(tok);
	assert_int_equal(catcher.n[MC_REP_REDUNDANT_NOFS], 1);
	assert_string_equal(catcher.last_site[MC_REP_REDUNDANT_NOFS]->name, "test.redundant_nofs");
	catch_stop();
}

static void test_nofail_misuse_warnings(void **state)
{
	(void)state;
	catch_start(KIND(MC_REP_NOFAIL_NORECLAIM) | KIND(MC_REP_NOFAIL_LARGE));
	mc_free(mc_alloc_named("test.nofail_ok", 4096, MC_KERNEL | MC_NOFAIL));
	assert_int_equal(catcher.n[MC_REP_NOFAIL_NORECLAIM] + catcher.n[MC_REP_NOFAIL_LARGE], 0);
	mc_free(mc_alloc_named("test.nofail_nowait", 64, MC_NOWAIT | MC_NOFAIL));
	assert_int_equal(catcher.n[MC_REP_NOFAIL_NORECLAIM], 1);
	mc_free(mc_alloc_named("test.nofail_huge", 1 << 20, MC_KERNEL | MC_NOFAIL));
	assert_int_equal(catcher.n[MC_REP_NOFAIL_LARGE], 1);
	catch_stop();
}

static void help_shrink(void *arg)
{
	(*(int *)arg)++;
}

static void test_open_coded_retry_detected_helper_allowed(void **state)
{
	char err[256];
	(void)state;
	catch_start(KIND(MC_REP_OPEN_RETRY));
	assert_int_equal(mc_fault_set("test.open_loop:nth=1;test_open_coded_retry*:nth=1", err,
				      sizeof(err)), 0);
	/* Bad: the loop seed 000 removed, around our allocator. */
	mc_op_begin();
	void *p = NULL;
	for (int i = 0; i < 3 && !p; i++)
		p = mc_alloc_named("test.open_loop", 64, MC_KERNEL | MC_NOWARN);
	mc_op_end();
	assert_non_null(p);
	mc_free(p);
	assert_int_equal(catcher.n[MC_REP_OPEN_RETRY], 1);
	/* Good: shrink our own cache, then one retry through the helper. */
	int helped = 0;
	mc_op_begin();
	void *q = mc_alloc_retry_once(64, MC_KERNEL | MC_NOWARN, help_shrink, &helped);
	mc_op_end();
	assert_non_null(q);
	assert_int_equal(helped, 1);
	mc_free(q);
	assert_int_equal(catcher.n[MC_REP_OPEN_RETRY], 1);
	/* Once the retry succeeded, the next request at that site in the same
	 * operation is a new one (the status cache inserts run after run). */
	assert_int_equal(mc_fault_set("test.retry_then_more:nth=1", err, sizeof(err)), 0);
	mc_op_begin();
	for (int i = 0; i < 2; i++) {
		void *r = mc_alloc_retry_once_named("test.retry_then_more", 64,
						    MC_KERNEL | MC_NOWARN, help_shrink, &helped);

		assert_non_null(r);
		mc_free(r);
	}
	mc_op_end();
	assert_int_equal(helped, 2);
	assert_int_equal(catcher.n[MC_REP_OPEN_RETRY], 1);
	/* A new operation may call a site that failed in the previous one. */
	assert_int_equal(mc_fault_set("test.next_op:nth=1", err, sizeof(err)), 0);
	mc_op_begin();
	assert_null(mc_alloc_named("test.next_op", 64, MC_KERNEL | MC_NOWARN));
	mc_op_end();
	mc_op_begin();
	mc_free(mc_alloc_named("test.next_op", 64, MC_KERNEL | MC_NOWARN));
	mc_op_end();
	assert_int_equal(catcher.n[MC_REP_OPEN_RETRY], 1);
	mc_fault_set("", err, sizeof(err));
	catch_stop();
}

static void test_double_free_aborts_with_a_report(void **state)
{
	(void)state;
	pid_t pid = fork();
	if (pid == 0) {
		void *p = mc_alloc(64, MC_KERNEL);
		mc_free(p);
		mc_free(p);
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	assert_int_equal(mc_report_count(MC_REP_BAD_FREE), 0);   /* it happened in the child */
}

/* Under ASan the allocator poisons what it frees itself, so ASan sees a
 * use after free in memory it never allocated. */
static void test_asan_sees_use_after_free_in_our_memory(void **state)
{
	(void)state;
#ifdef MC_ASAN
	pid_t pid = fork();
	if (pid == 0) {
		volatile char *p = mc_alloc(64, MC_KERNEL);
		mc_free((void *)p);
		p[3] = 1;
		_exit(0);
	}
	int st;
	waitpid(pid, &st, 0);
	assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
#else
	skip();
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_taken_in_reclaim_then_held_across_fs_alloc_is_reported),
		cmocka_unit_test(test_nofs_does_not_cover_locks_of_context_free_shrinkers),
		cmocka_unit_test(test_reclaim_blocking_on_its_callers_lock_reports_before_hanging),
		cmocka_unit_test(test_lock_learned_after_the_allocation_is_reported_too),
		cmocka_unit_test(test_trylock_in_shrinker_is_not_learned),
		cmocka_unit_test(test_explicit_nofs_inside_nofs_scope_reported_once_per_site),
		cmocka_unit_test(test_nofail_misuse_warnings),
		cmocka_unit_test(test_open_coded_retry_detected_helper_allowed),
		cmocka_unit_test(test_double_free_aborts_with_a_report),
		cmocka_unit_test(test_asan_sees_use_after_free_in_our_memory),
	};
	return RUN_ALLOC_TESTS(tests);
}
