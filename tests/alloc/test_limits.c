/* Edge cases and misuse: each test pins a bug a review found once. */
#include <errno.h>
#include <unistd.h>
#include <sched.h>
#include <stdbool.h>
#include <string.h>
#include "helpers.h"

struct catcher catcher;

static void test_nofail_ignores_noretry(void **state)
{
	struct hog h = { 0 };
	pthread_t t;
	(void)state;
	setup_budget("budget=4M,background=off,throttle_timeout=20ms");
	hog_fill(&h, 4096);
	/* Someone frees later; NOFAIL must wait for it, NORETRY or not. */
	struct freer f = { &h, 100, 4 };
	pthread_create(&t, NULL, delayed_free, &f);
	void *p = mc_alloc_named("test.nofail_noretry", 4096, MC_KERNEL | MC_NOFAIL | MC_NORETRY);
	pthread_join(t, NULL);
	assert_non_null(p);
	mc_free(p);
	hog_free(&h);
	setup_budget(NULL);
}

static void test_zero_size_and_impossible_sizes(void **state)
{
	(void)state;
	void *z = mc_alloc(0, MC_KERNEL);
	assert_non_null(z);
	mc_free(z);                             /* not a "double free" under ASan */
	mc_free(mc_calloc(0, 8, MC_KERNEL));
	assert_null(mc_alloc_named("test.huge", (size_t)-100, MC_KERNEL | MC_NOWARN));
	assert_null(mc_alloc_named("test.huge", (size_t)1 << 62, MC_KERNEL | MC_NOWARN));
	assert_int_equal(mc_used_exact(), 0);
}

static void test_realloc_zero_gives_zeros_past_the_old_size(void **state)
{
	(void)state;
	unsigned char *p = mc_zalloc(10, MC_KERNEL);
	memset(p, 0xaa, 10);
	p = mc_realloc(p, 16, MC_KERNEL | MC_ZERO);       /* in place, same class */
	for (int i = 10; i < 16; i++)
		assert_int_equal(p[i], 0);
	p = mc_realloc(p, 100, MC_KERNEL | MC_ZERO);      /* moves */
	for (int i = 10; i < 100; i++)
		assert_int_equal(p[i], 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(p[i], 0xaa);
	mc_free(p);
}

static void test_stats_with_no_top_sites(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	(void)state;
	FILE *f = open_memstream(&buf, &len);
	mc_stats_print(f, 1, 0);
	mc_stats_print(f, 0, 0);
	fclose(f);
	assert_non_null(strstr(buf, "\"sites\":[]"));
	free(buf);
}

/* nth=1 counted globally fails exactly one call, however threads race. */
static _Atomic int nth_fails;
static pthread_barrier_t nth_bar;

static void *nth_worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&nth_bar);
	void *p = mc_alloc_named("test.nth_race", 32, MC_KERNEL | MC_NOWARN);
	nth_fails += !p;
	mc_free(p);
	return NULL;
}

static void test_nth_global_is_exact_under_races(void **state)
{
	char err[128];
	(void)state;
	for (int round = 0; round < 300; round++) {
		pthread_t t[2];
		nth_fails = 0;
		assert_int_equal(mc_fault_set("test.nth_race:nth=1", err, sizeof(err)), 0);
		pthread_barrier_init(&nth_bar, NULL, 2);
		for (int i = 0; i < 2; i++)
			pthread_create(&t[i], NULL, nth_worker, NULL);
		for (int i = 0; i < 2; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&nth_bar);
		assert_int_equal(nth_fails, 1);
	}
	mc_fault_set("", err, sizeof(err));
}

/* Many threads, each holding a batch unfolded, cannot carry usage past
 * the budget on the fast path. */
#define MANY 64
static pthread_barrier_t many_bar;
static void *many_worker(void *arg)
{
	void **out = arg;
	pthread_barrier_wait(&many_bar);
	*out = mc_alloc_named("test.many", 16384, MC_NOWAIT | MC_NOWARN);
	pthread_barrier_wait(&many_bar);
	return NULL;
}

static void test_many_threads_cannot_overrun_the_budget(void **state)
{
	pthread_t t[MANY];
	void *got[MANY];
	struct mc_budget_snap b;
	(void)state;
	setup_budget("budget=1M,background=off");
	pthread_barrier_init(&many_bar, NULL, MANY + 1);
	for (int i = 0; i < MANY; i++)
		pthread_create(&t[i], NULL, many_worker, &got[i]);
	pthread_barrier_wait(&many_bar);
	pthread_barrier_wait(&many_bar);        /* all allocated, none exited */
	mc_budget_snapshot(&b);
	assert_true(b.used <= b.budget - b.wmark_min);
	for (int i = 0; i < MANY; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < MANY; i++)
		mc_free(got[i]);
	pthread_barrier_destroy(&many_bar);
	setup_budget(NULL);
}

/* Spans emptied and refilled by two threads at once: an empty span given
 * back to the OS (MADV_DONTNEED) must never be one another thread has
 * already taken and filled, or its live objects read back as zeros. */
#define CHURN_OBJS 96               /* 32 KiB objects: ~14 spans a round */
static atomic_int churn_bad;
static atomic_bool churn_stop;
static void *churn_worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	void *obj[CHURN_OBJS];

	while (!atomic_load(&churn_stop)) {
		for (int i = 0; i < CHURN_OBJS; i++) {
			obj[i] = mc_alloc_named("test.churn", 32768, MC_KERNEL | MC_NOFAIL);
			memset(obj[i], (int)(seed + i) | 1, 32768);
		}
		sched_yield();
		for (int i = 0; i < CHURN_OBJS; i++) {
			const unsigned char *b = obj[i];
			if (b[0] != (unsigned char)((seed + i) | 1) ||
			    b[32767] != (unsigned char)((seed + i) | 1))
				atomic_fetch_add(&churn_bad, 1);
			mc_free(obj[i]);
		}
		seed++;
	}
	return NULL;
}

static void test_span_reuse_never_zeroes_live_objects(void **state)
{
	pthread_t t[3];
	(void)state;
	atomic_store(&churn_bad, 0);
	atomic_store(&churn_stop, false);
	for (uintptr_t i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, churn_worker, (void *)(i * 1000));
	usleep(1500 * 1000);
	atomic_store(&churn_stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&churn_bad), 0);
}

/* A shrinker unregistering another during a pass must not break the walk. */
static struct tcache ua, ub;
static size_t unreg_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	if (ub.sh.registered)
		mc_shrinker_unregister(&ub.sh);
	return tcache_scan(s, sc);
}

static void test_unregister_during_a_pass(void **state)
{
	(void)state;
	tcache_init(&ub, "test-victim", 0, 64);   /* registered first: walked after ua */
	tcache_init(&ua, "test-unregisterer", 0, 64);
	ua.sh.scan = unreg_scan;
	tcache_fill(&ua, 4);
	tcache_fill(&ub, 4);
	mc_drop_caches();
	assert_false(ub.sh.registered);
	while (ub.n)
		mc_free(ub.obj[--ub.n]);
	free(ub.obj);
	tcache_destroy(&ua);
}

/* The writeback kick runs in reclaim context: allocating there cannot
 * recurse into reclaim. */
static _Atomic unsigned kick_depth, kick_max;
static void alloc_in_kick(void *arg, size_t pages)
{
	(void)arg;
	(void)pages;
	unsigned d = ++kick_depth;
	if (d > kick_max)
		kick_max = d;
	mc_free(mc_alloc_named("test.kick_work", 64, MC_KERNEL | MC_NOWARN));
	kick_depth--;
}

static void test_kick_allocating_does_not_recurse(void **state)
{
	struct hog h = { 0 };
	(void)state;
	setup_budget("budget=4M,background=off,throttle_timeout=10ms");
	hog_fill(&h, 4096);
	struct mc_wb_kicker k = { .fn = alloc_in_kick };
	mc_writeback_kicker_register(&k);
	assert_null(mc_alloc_named("test.kick_trigger", 4096, MC_KERNEL | MC_NOWARN));
	mc_writeback_kicker_unregister(&k);
	assert_int_equal(kick_max, 1);
	hog_free(&h);
	setup_budget(NULL);
}

/* One kicker per mounted filesystem: a kick reaches every one, and
 * unregistering waits for a kick running the kicker (a filesystem may
 * free what its kicker points to right after). */
static _Atomic unsigned kicked_a, kicked_b;
static atomic_bool in_slow_kick, slow_kick_done;
static void kick_a(void *arg, size_t pages)
{
	(void)arg;
	(void)pages;
	kicked_a++;
}

static void kick_slow(void *arg, size_t pages)
{
	(void)arg;
	(void)pages;
	kicked_b++;
	atomic_store(&in_slow_kick, true);
	usleep(200 * 1000);
	atomic_store(&slow_kick_done, true);
}

static void *trigger_kick(void *arg)
{
	(void)arg;
	mc_free(mc_alloc_named("test.kick_trigger", 4096, MC_KERNEL | MC_NOWARN));
	return NULL;
}

static void test_every_kicker_is_kicked_and_unregister_waits(void **state)
{
	struct mc_wb_kicker a = { .fn = kick_a }, b = { .fn = kick_slow };
	struct hog h = { 0 };
	pthread_t t;
	(void)state;
	setup_budget("budget=4M,background=off,throttle_timeout=10ms");
	hog_fill(&h, 4096);
	mc_writeback_kicker_register(&a);
	mc_writeback_kicker_register(&b);
	pthread_create(&t, NULL, trigger_kick, NULL);
	while (!atomic_load(&in_slow_kick))
		usleep(1000);
	mc_writeback_kicker_unregister(&b);
	assert_true(atomic_load(&slow_kick_done));   /* waited for the running kick */
	pthread_join(t, NULL);
	mc_writeback_kicker_unregister(&a);
	assert_true(kicked_a > 0);
	assert_true(kicked_b > 0);
	hog_free(&h);
	setup_budget(NULL);
}

/* A report handler may allocate and take statistics. */
static int allocating_handler(enum mc_report_kind k, const struct mc_site *s, const char *msg,
			      void *arg)
{
	struct mc_stats st;
	(void)s;
	(void)arg;
	if (k != MC_REP_STALL)
		return 0;
	char *copy = mc_strdup(msg, MC_NOWAIT | MC_NOWARN);
	mc_stats_snapshot(&st);
	mc_free(copy);
	catcher.n[k]++;
	return 1;
}

static void test_watchdog_handler_may_allocate(void **state)
{
	struct hog h = { 0 };
	pthread_t t;
	(void)state;
	setup_budget("budget=4M,background=off,throttle_timeout=20ms,stall=200ms");
	memset(&catcher, 0, sizeof(catcher));
	mc_set_report_handler(allocating_handler, NULL);
	hog_fill(&h, 4096);
	struct freer f = { &h, 700, 8 };
	pthread_create(&t, NULL, delayed_free, &f);
	void *p = mc_alloc_named("test.stall_for_handler", 4096, MC_KERNEL | MC_NOFAIL);
	pthread_join(t, NULL);
	mc_set_report_handler(NULL, NULL);
	assert_non_null(p);
	assert_int_equal(catcher.n[MC_REP_STALL], 1);
	mc_free(p);
	hog_free(&h);
	setup_budget(NULL);
}

/* Two pools used once each in one operation, under pressure: the pools'
 * own attempts are not the caller's open-coded retry. */
static void test_mempools_are_not_open_coded_retries(void **state)
{
	char err[128];
	(void)state;
	struct mc_mempool *a = mc_mempool_create("test-a", 2, 128);
	struct mc_mempool *b = mc_mempool_create("test-b", 2, 128);
	assert_int_equal(mc_fault_set("mempool.elem:always", err, sizeof(err)), 0);
	mc_op_begin();
	void *x = mc_mempool_alloc(a, MC_NOIO);
	void *y = mc_mempool_alloc(b, MC_NOIO);
	mc_op_end();
	assert_non_null(x);
	assert_non_null(y);
	mc_mempool_free(a, x);
	mc_mempool_free(b, y);
	mc_fault_set("", err, sizeof(err));
	mc_mempool_destroy(a);
	mc_mempool_destroy(b);
}

/* Under `congestion` the reclaimer must still go back to sleep when there
 * is nothing to wait for, and its sleeps are not allocation throttles. */
static void test_background_reclaimer_idles_under_congestion(void **state)
{
	struct mc_stats a, b;
	struct hog h = { 0 };
	(void)state;
	setup_budget("budget=4M,policy=congestion,congestion_sleep=50ms");
	hog_fill(&h, 4096);
	usleep(100000);
	mc_stats_snapshot(&a);
	usleep(500000);
	mc_stats_snapshot(&b);
	assert_true(b.reclaim_background - a.reclaim_background <= 1);
	assert_int_equal(b.throttle[MC_THROTTLE_WRITEBACK][MC_WAIT_TIMEOUT],
			 a.throttle[MC_THROTTLE_WRITEBACK][MC_WAIT_TIMEOUT]);
	hog_free(&h);
	setup_budget(NULL);
}

static void *complete_four(void *a)
{
	(void)a;
	usleep(50000);
	mc_writeback_completed(4);
	return NULL;
}

/* A writeback waiter is released when nothing is left in flight, even if
 * fewer than a cluster of pages completed. */
static void test_writeback_wait_ends_when_nothing_is_in_flight(void **state)
{
	(void)state;
	setup_budget("budget=4M,policy=writeback,cluster=32,throttle_timeout=2s");
	mc_writeback_submitted(4);
	pthread_t t;
	pthread_create(&t, NULL, complete_four, NULL);
	uint64_t t0 = now_ms();
	assert_int_equal(mc_reclaim_throttle(MC_THROTTLE_WRITEBACK), MC_WAIT_WOKEN);
	assert_true(now_ms() - t0 < 1000);
	pthread_join(t, NULL);
	setup_budget(NULL);
}

/* Threads of the I/O path ask for PR_SET_IO_FLUSHER; where the container
 * withholds CAP_SYS_RESOURCE the refusal is recorded, where it is granted
 * the kernel reports the flag on the thread. */
static void *report_flusher(void *arg)
{
	*(int *)arg = mc_io_flusher_get();
	return NULL;
}

static void test_io_threads_ask_for_io_flusher_and_record_the_outcome(void **state)
{
	struct mc_stats st;
	pthread_t t;
	int got = -1;
	(void)state;

	assert_int_equal(mc_thread_create(&t, "sfs-test-io", report_flusher, &got), 0);
	pthread_join(t, NULL);
	mc_stats_snapshot(&st);
	assert_true(st.io_flusher == 0 || st.io_flusher == 1);
	if (st.io_flusher == 1) {
		assert_int_equal(got, 1);
	} else {
		assert_int_equal(st.io_flusher_errno, EPERM);
		assert_true(got == 0 || got == -EPERM || got == -EINVAL);
		printf("PR_SET_IO_FLUSHER refused here (EPERM): recorded in the statistics\n");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofail_ignores_noretry),
		cmocka_unit_test(test_zero_size_and_impossible_sizes),
		cmocka_unit_test(test_realloc_zero_gives_zeros_past_the_old_size),
		cmocka_unit_test(test_stats_with_no_top_sites),
		cmocka_unit_test(test_nth_global_is_exact_under_races),
		cmocka_unit_test(test_many_threads_cannot_overrun_the_budget),
		cmocka_unit_test(test_span_reuse_never_zeroes_live_objects),
		cmocka_unit_test(test_unregister_during_a_pass),
		cmocka_unit_test(test_kick_allocating_does_not_recurse),
		cmocka_unit_test(test_every_kicker_is_kicked_and_unregister_waits),
		cmocka_unit_test(test_watchdog_handler_may_allocate),
		cmocka_unit_test(test_mempools_are_not_open_coded_retries),
		cmocka_unit_test(test_background_reclaimer_idles_under_congestion),
		cmocka_unit_test(test_writeback_wait_ends_when_nothing_is_in_flight),
		cmocka_unit_test(test_io_threads_ask_for_io_flusher_and_record_the_outcome),
	};
	return RUN_ALLOC_TESTS(tests);
}
