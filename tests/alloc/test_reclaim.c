/* Reclaim, throttling, reserves, mempools and the watchdog (seeds 000, 003, 004). */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "helpers.h"

struct catcher catcher;

static void test_nofs_scope_skips_fs_shrinkers_noio_skips_io(void **state)
{
	struct tcache fsc, ioc, anyc;
	struct hog h = { 0 };
	(void)state;

	setup_budget("budget=4M,background=off,throttle_timeout=10ms");
	tcache_init(&fsc, "test-fs", MC_FS, 1024);
	tcache_init(&ioc, "test-io", MC_IO, 1024);
	tcache_init(&anyc, "test-any", 0, 1024);
	tcache_fill(&fsc, 100);
	tcache_fill(&ioc, 100);
	tcache_fill(&anyc, 100);
	hog_fill(&h, 4096);

	mc_scope_t tok = mc_nofs_save();
	void *p = mc_alloc_named("test.in_nofs", 16384, MC_KERNEL | MC_NOWARN);
	mc_nofs_restore(tok);
	assert_int_equal(fsc.direct_calls, 0);
	assert_true(ioc.direct_calls > 0);
	assert_true(anyc.direct_calls > 0);
	mc_free(p);

	unsigned io_before = ioc.direct_calls;
	tcache_fill(&anyc, 100);
	hog_fill(&h, 4096);
	tok = mc_noio_save();
	p = mc_alloc_named("test.in_noio", 16384, MC_KERNEL | MC_NOWARN);
	mc_noio_restore(tok);
	assert_int_equal(fsc.direct_calls, 0);
	assert_int_equal(ioc.direct_calls, io_before);
	assert_int_equal(fsc.fs_ctx_violations + ioc.fs_ctx_violations, 0);
	mc_free(p);

	tcache_destroy(&fsc);
	tcache_destroy(&ioc);
	tcache_destroy(&anyc);
	hog_free(&h);
	assert_int_equal(mc_used_exact(), 0);
}

static void test_nowait_over_budget_fails_without_sleeping_and_wakes_kswapd(void **state)
{
	struct mc_stats a, b;
	struct hog h = { 0 };
	(void)state;

	setup_budget("budget=4M,background=on,throttle_timeout=10ms");
	hog_fill(&h, 4096);
	usleep(100000);                 /* the reclaimer gives up and sleeps again */
	mc_stats_snapshot(&a);
	uint64_t t0 = mc_monotonic_ns();
	void *p = mc_alloc_named("test.nowait", 4096, MC_NOWAIT | MC_NOWARN);
	uint64_t dt = mc_monotonic_ns() - t0;
	for (int i = 0; i < 100; i++) {
		mc_stats_snapshot(&b);
		if (b.reclaim_background > a.reclaim_background)
			break;
		usleep(5000);
	}
	hog_free(&h);
	assert_null(p);
	assert_true(dt < 20000000ull);
	assert_true(b.background_wakeups > a.background_wakeups);
	assert_true(b.reclaim_background > a.reclaim_background);
	/* The caller itself never throttled. */
	assert_int_equal(mc_site_find("test.nowait")->throttled_ns, 0);
}

static void test_nofail_waits_for_a_free_and_is_woken_not_reserved(void **state)
{
	struct mc_stats a, b;
	struct hog h = { 0 };
	pthread_t t;
	(void)state;

	setup_budget("budget=4M,background=off,throttle_timeout=5s,reserve=none");
	hog_fill(&h, 4096);
	struct freer f = { &h, 200, 4 };
	mc_stats_snapshot(&a);
	pthread_create(&t, NULL, delayed_free, &f);
	void *p = mc_alloc_named("test.nofail_wait", 4096, MC_KERNEL | MC_NOFAIL);
	pthread_join(t, NULL);
	mc_stats_snapshot(&b);
	assert_non_null(p);
	assert_true(b.throttle[MC_THROTTLE_NOPROGRESS][MC_WAIT_WOKEN] >
		    a.throttle[MC_THROTTLE_NOPROGRESS][MC_WAIT_WOKEN]);
	assert_int_equal(b.throttle[MC_THROTTLE_NOPROGRESS][MC_WAIT_TIMEOUT],
			 a.throttle[MC_THROTTLE_NOPROGRESS][MC_WAIT_TIMEOUT]);
	assert_true(b.nofail_loops > a.nofail_loops);
	assert_int_equal(b.reserve_atomic_uses + b.reserve_reclaim_uses +
			 b.reserve_kernel_min_uses + b.reserve_kernel_nowmark_uses, 0);
	mc_free(p);
	hog_free(&h);
}

static void test_kernel_policy_uses_reserves_only_after_reclaim_failed(void **state)
{
	struct mc_stats a, b;
	struct tcache c;
	struct hog h = { 0 };
	(void)state;

	setup_budget("budget=4M,background=off,throttle_timeout=10ms,reserve=kernel");
	tcache_init(&c, "test-empty-cache", 0, 512);
	hog_fill(&h, 4096);
	mc_stats_snapshot(&a);
	/* Not NOFAIL: fails, reserves untouched. */
	assert_null(mc_alloc_named("test.plain", 4096, MC_KERNEL | MC_NOWARN));
	mc_stats_snapshot(&b);
	assert_int_equal(b.reserve_kernel_min_uses + b.reserve_kernel_nowmark_uses, 0);
	/* NOFAIL: reclaim first (shrinker called, nothing freed), then reserves. */
	unsigned calls0 = c.direct_calls;
	mc_stats_snapshot(&a);
	void *p = mc_alloc_named("test.nofail_kernel", 4096, MC_KERNEL | MC_NOFAIL);
	mc_stats_snapshot(&b);
	assert_non_null(p);
	assert_true(c.direct_calls >= calls0 + 2);
	assert_true(b.reclaim_direct - a.reclaim_direct >= 2);
	assert_int_equal((b.reserve_kernel_min_uses + b.reserve_kernel_nowmark_uses) -
			 (a.reserve_kernel_min_uses + a.reserve_kernel_nowmark_uses), 1);
	mc_free(p);
	tcache_destroy(&c);
	hog_free(&h);
	setup_budget(NULL);
}

static void test_retry_mayfail_fails_when_nothing_can_be_reclaimed(void **state)
{
	struct hog h = { 0 };
	(void)state;
	setup_budget("budget=4M,background=off,throttle_timeout=10ms");
	hog_fill(&h, 4096);
	uint64_t t0 = now_ms();
	assert_null(mc_alloc_named("test.mayfail", 4096, MC_KERNEL | MC_RETRY_MAYFAIL | MC_NOWARN));
	assert_null(mc_alloc_named("test.noretry", 4096, MC_KERNEL | MC_NORETRY | MC_NOWARN));
	assert_true(now_ms() - t0 < 1000);
	/* ...and succeeds once a shrinker can give something back. */
	struct tcache c;
	tcache_init(&c, "test-mayfail-cache", 0, 4096);
	hog_release(&h, 8);
	tcache_fill(&c, 8);
	void *p = mc_alloc_named("test.mayfail", 4096, MC_KERNEL | MC_RETRY_MAYFAIL);
	assert_non_null(p);
	mc_free(p);
	tcache_destroy(&c);
	hog_free(&h);
}

/* ---- throttling: why did the wait end? ---- */
struct completer { _Atomic int stop; unsigned pages, every_ms; };

static void *complete_steadily(void *arg)
{
	struct completer *c = arg;
	while (!atomic_load(&c->stop)) {
		usleep(c->every_ms * 1000);
		mc_writeback_completed(c->pages);
		mc_writeback_submitted(c->pages);     /* keep the queue full */
	}
	return NULL;
}

static enum mc_wait_end throttle_with(const char *opts, uint64_t *ms)
{
	struct completer c = { 0, 8, 10 };
	pthread_t t;
	enum mc_wait_end e;

	setup_budget(opts);
	mc_writeback_submitted(256);
	pthread_create(&t, NULL, complete_steadily, &c);
	usleep(150000);                           /* let the rate estimate settle */
	uint64_t t0 = now_ms();
	e = mc_reclaim_throttle(MC_THROTTLE_WRITEBACK);
	*ms = now_ms() - t0;
	atomic_store(&c.stop, 1);
	pthread_join(t, NULL);
	mc_writeback_completed(mc_writeback_inflight());
	return e;
}

static void test_writeback_throttle_ends_as_each_policy_should(void **state)
{
	uint64_t ms;
	(void)state;

	/* writeback: woken once > 32 pages completed (8 pages per 10 ms: ~40 ms). */
	assert_int_equal(throttle_with("budget=4M,policy=writeback,cluster=32,throttle_timeout=2s",
				       &ms), MC_WAIT_WOKEN);
	assert_true(ms < 1000);
	/* Nothing under writeback: no sleep at all. */
	assert_int_equal(mc_writeback_inflight(), 0);
	assert_int_equal(mc_reclaim_throttle(MC_THROTTLE_WRITEBACK), MC_WAIT_NONE);
	/* congestion: the fixed sleep, however much completes meanwhile. */
	assert_int_equal(throttle_with("budget=4M,policy=congestion,congestion_sleep=300ms,"
				       "throttle_timeout=2s", &ms), MC_WAIT_TIMEOUT);
	assert_true(ms >= 290);
	/* rate: 32 pages at ~800 pages/s is ~40 ms, computed, nobody wakes us. */
	assert_int_equal(throttle_with("budget=4M,policy=rate,cluster=32,throttle_timeout=2s",
				       &ms), MC_WAIT_COMPUTED);
	assert_true(ms >= 10 && ms < 500);
	assert_true(mc_writeback_rate() > 200);
	setup_budget(NULL);
}

static void test_mempool_double_take_is_reported(void **state)
{
	char err[256];
	(void)state;
	struct mc_mempool *mp = mc_mempool_create("test-bios", 4, 256);
	assert_non_null(mp);
	assert_int_equal(mc_fault_set("mempool.elem:always", err, sizeof(err)), 0);
	catch_start(KIND(MC_REP_MEMPOOL_DOUBLE));
	/* Good: take, return, take again. */
	void *a = mc_mempool_alloc(mp, MC_NOIO);
	assert_non_null(a);
	assert_int_equal(mc_mempool_reserve_count(mp), 3);
	mc_mempool_free(mp, a);
	a = mc_mempool_alloc(mp, MC_NOIO);
	assert_int_equal(catcher.n[MC_REP_MEMPOOL_DOUBLE], 0);
	/* Bad: a second element while the first is still held. */
	void *b = mc_mempool_alloc(mp, MC_NOIO);
	assert_non_null(b);
	assert_int_equal(catcher.n[MC_REP_MEMPOOL_DOUBLE], 1);
	mc_mempool_free(mp, a);
	mc_mempool_free(mp, b);
	assert_int_equal(mc_mempool_reserve_count(mp), 4);
	/* A pool that cannot sleep returns NULL when empty. */
	void *e[4];
	catch_start(KIND(MC_REP_MEMPOOL_DOUBLE));
	for (int i = 0; i < 4; i++)
		e[i] = mc_mempool_alloc(mp, MC_NOWAIT);
	assert_null(mc_mempool_alloc(mp, MC_NOWAIT));
	for (int i = 0; i < 4; i++)
		mc_mempool_free(mp, e[i]);
	catch_stop();
	mc_fault_set("", err, sizeof(err));
	mc_mempool_destroy(mp);
}

static void test_watchdog_reports_a_stuck_nofail(void **state)
{
	struct mc_stats a, b;
	struct hog h = { 0 };
	pthread_t t;
	(void)state;

	setup_budget("budget=4M,background=off,throttle_timeout=50ms,stall=300ms");
	catch_start(KIND(MC_REP_STALL));
	hog_fill(&h, 4096);
	struct freer f = { &h, 1200, 8 };
	mc_stats_snapshot(&a);
	pthread_create(&t, NULL, delayed_free, &f);
	void *p = mc_alloc_named("test.stuck_nofail", 4096, MC_KERNEL | MC_NOFAIL);
	pthread_join(t, NULL);
	mc_stats_snapshot(&b);
	assert_non_null(p);
	assert_int_equal(catcher.n[MC_REP_STALL], 1);
	assert_string_equal(catcher.last_site[MC_REP_STALL]->name, "test.stuck_nofail");
	assert_non_null(strstr(catcher.last[MC_REP_STALL], "KERNEL|NOFAIL"));
	assert_int_equal(b.stalls - a.stalls, 1);
	assert_true(b.max_wait_ns >= 1000000000ull);
	catch_stop();
	mc_free(p);
	hog_free(&h);
	setup_budget(NULL);
}

/* ---- an injected clock: waits end on the test's time, not the wall's ---- */
static _Atomic uint64_t fake_ns = 1000000000ull;

static uint64_t fake_now(struct mc_clock *c)
{
	(void)c;
	return atomic_load(&fake_ns);
}

static int fake_wait(struct mc_clock *c, pthread_cond_t *cv, pthread_mutex_t *m, uint64_t dl)
{
	/* Poll the fake time; a real signal still ends the wait early. */
	uint64_t real_dl = mc_monotonic_ns() + 1000000ull;
	struct timespec ts = { (time_t)(real_dl / 1000000000ull), (long)(real_dl % 1000000000ull) };
	(void)c;
	if (pthread_cond_timedwait(cv, m, &ts) == 0)
		return 0;
	return atomic_load(&fake_ns) >= dl ? ETIMEDOUT : 0;
}

static struct mc_clock fake_clock = { fake_now, fake_wait };
static _Atomic int throttle_done;
static enum mc_wait_end throttle_end;

static void *throttle_thread(void *arg)
{
	(void)arg;
	throttle_end = mc_reclaim_throttle(MC_THROTTLE_WRITEBACK);
	atomic_store(&throttle_done, 1);
	return NULL;
}

static void test_injected_clock_decides_when_waits_end(void **state)
{
	pthread_t t;
	(void)state;

	mc_clock_set(&fake_clock);
	/* congestion: 100 ms of *clock* time, however long the wall takes. */
	setup_budget("budget=4M,policy=congestion,congestion_sleep=100ms,throttle_timeout=1s");
	mc_writeback_submitted(64);
	atomic_store(&throttle_done, 0);
	pthread_create(&t, NULL, throttle_thread, NULL);
	usleep(200000);                                 /* 200 ms of wall time */
	assert_false(atomic_load(&throttle_done));
	atomic_fetch_add(&fake_ns, 100000000ull);       /* 100 ms of clock time */
	pthread_join(t, NULL);
	assert_int_equal(throttle_end, MC_WAIT_TIMEOUT);

	/* rate: completions at exactly 1000 pages per clock second; a cluster
	 * of 32 pages must then sleep 32 ms of clock time. */
	setup_budget("budget=4M,policy=rate,cluster=32,throttle_timeout=1s");
	for (int i = 0; i < 50; i++) {
		atomic_fetch_add(&fake_ns, 10000000ull);
		mc_writeback_completed(10);
		mc_writeback_submitted(10);
	}
	assert_true(mc_writeback_rate() >= 990 && mc_writeback_rate() <= 1010);
	atomic_store(&throttle_done, 0);
	pthread_create(&t, NULL, throttle_thread, NULL);
	usleep(50000);
	atomic_fetch_add(&fake_ns, 31000000ull);
	usleep(50000);
	assert_false(atomic_load(&throttle_done));      /* 31 ms: not yet */
	atomic_fetch_add(&fake_ns, 2000000ull);
	pthread_join(t, NULL);
	assert_int_equal(throttle_end, MC_WAIT_COMPUTED);
	mc_writeback_completed(mc_writeback_inflight());
	mc_clock_set(NULL);
	setup_budget(NULL);
}

/* Seed 003: a large (kvmalloc-style) NOFAIL inside a NOFS scope loops in
 * the allocator until memory comes back, without touching FS shrinkers. */
static void test_large_nofail_in_nofs_scope_loops_until_memory_returns(void **state)
{
	struct mc_stats a, b;
	struct tcache fsc;
	struct hog h = { 0 };
	pthread_t t;
	(void)state;

	setup_budget("budget=4M,background=off,throttle_timeout=50ms,reserve=none");
	tcache_init(&fsc, "test-fs-large", MC_FS, 4096);
	tcache_fill(&fsc, 32);
	hog_fill(&h, 4096);
	struct freer f = { &h, 300, 200 };
	mc_stats_snapshot(&a);
	pthread_create(&t, NULL, delayed_free, &f);
	catch_start(KIND(MC_REP_NOFAIL_LARGE));   /* large NOFAIL is legal, and warned */
	mc_scope_t tok = mc_nofs_save();
	void *p = mc_alloc_named("test.large_nofail", 512 * 1024, MC_KERNEL | MC_NOFAIL);
	mc_nofs_restore(tok);
	catch_stop();
	assert_int_equal(catcher.n[MC_REP_NOFAIL_LARGE], 1);
	pthread_join(t, NULL);
	mc_stats_snapshot(&b);
	assert_non_null(p);
	memset(p, 1, 512 * 1024);
	assert_int_equal(fsc.direct_calls, 0);
	assert_true(mc_site_find("test.large_nofail")->nofail_loops > 0);
	assert_int_equal(b.reserve_atomic_uses + b.reserve_reclaim_uses +
			 b.reserve_kernel_min_uses + b.reserve_kernel_nowmark_uses,
			 a.reserve_atomic_uses + a.reserve_reclaim_uses +
			 a.reserve_kernel_min_uses + a.reserve_kernel_nowmark_uses);
	mc_free(p);
	tcache_destroy(&fsc);
	hog_free(&h);
	setup_budget(NULL);
}

/* ---- 4 threads, tight budget, a cache and a slow simulated device ---- */
struct device {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	void **q;
	size_t head, tail, cap;
	_Atomic int stop;
	_Atomic uint64_t written;
};
static struct device dev;
static struct tcache stress_cache;

static void dev_kick(void *arg, size_t pages)
{
	(void)arg;
	(void)pages;
	pthread_mutex_lock(&dev.lock);
	pthread_cond_signal(&dev.cv);
	pthread_mutex_unlock(&dev.lock);
}

static void *device_main(void *arg)
{
	(void)arg;
	for (;;) {
		void *batch[16];
		size_t n = 0;
		pthread_mutex_lock(&dev.lock);
		while (dev.head == dev.tail && !atomic_load(&dev.stop))
			pthread_cond_wait(&dev.cv, &dev.lock);
		while (n < 16 && dev.head != dev.tail)
			batch[n++] = dev.q[dev.head++ % dev.cap];
		pthread_mutex_unlock(&dev.lock);
		if (!n && atomic_load(&dev.stop))
			break;
		usleep(500);                            /* ~128 MiB/s for 16 pages */
		for (size_t i = 0; i < n; i++)
			mc_free(batch[i]);              /* cleaned pages are released */
		mc_writeback_completed(n);
		dev.written += n;
	}
	return NULL;
}

static void *stress_worker(void *arg)
{
	uint64_t rng = 77 + (uintptr_t)arg, t_end = now_ms() + 1500;
	while (now_ms() < t_end) {
		uint64_t r = test_rng(&rng);
		mc_flags_t fl = MC_KERNEL | ((r & 7) == 0 ? MC_NOFAIL : MC_NOWARN);
		void *page = mc_alloc_named("test.stress_page", 4096, fl);
		if (page) {
			memset(page, 1, 64);
			pthread_mutex_lock(&dev.lock);
			if (dev.tail - dev.head < dev.cap) {
				dev.q[dev.tail++ % dev.cap] = page;
				page = NULL;
				mc_writeback_submitted(1);
			}
			pthread_cond_signal(&dev.cv);
			pthread_mutex_unlock(&dev.lock);
			mc_free(page);
		}
		if ((r >> 8) % 4 == 0)
			tcache_fill(&stress_cache, 4);
		void *tmp = mc_alloc_named("test.stress_tmp", 64 + (r >> 16) % 20000,
					   MC_KERNEL | MC_NOWARN);
		mc_free(tmp);
	}
	return NULL;
}

static void test_four_threads_under_tight_budget_no_deadlock_no_stall(void **state)
{
	struct mc_stats a, b;
	pthread_t w[4], d;
	(void)state;

	setup_budget("budget=3M,throttle_timeout=100ms,policy=writeback");
	memset(&dev, 0, sizeof(dev));
	pthread_mutex_init(&dev.lock, NULL);
	pthread_cond_init(&dev.cv, NULL);
	dev.cap = 4096;          /* 16 MiB of dirty pages: more than the budget */
	dev.q = calloc(dev.cap, sizeof(void *));
	tcache_init(&stress_cache, "test-stress-cache", MC_FS, 2048);
	struct mc_wb_kicker kicker = { .fn = dev_kick };
	mc_writeback_kicker_register(&kicker);
	mc_stats_snapshot(&a);
	pthread_create(&d, NULL, device_main, NULL);
	for (int i = 0; i < 4; i++)
		pthread_create(&w[i], NULL, stress_worker, (void *)(intptr_t)i);
	for (int i = 0; i < 4; i++)
		pthread_join(w[i], NULL);
	atomic_store(&dev.stop, 1);
	dev_kick(NULL, 0);
	pthread_join(d, NULL);
	mc_writeback_kicker_unregister(&kicker);
	mc_stats_snapshot(&b);
	tcache_destroy(&stress_cache);
	free(dev.q);
	assert_int_equal(b.stalls, a.stalls);
	assert_true(b.slowpath > a.slowpath);
	assert_true(b.reclaim_direct > a.reclaim_direct);
	assert_true(b.throttle[MC_THROTTLE_WRITEBACK][MC_WAIT_WOKEN] >
		    a.throttle[MC_THROTTLE_WRITEBACK][MC_WAIT_WOKEN]);
	assert_true(dev.written > 100);
	assert_int_equal(mc_writeback_inflight(), 0);
	if (mc_used_exact())
		mc_stats_print(stderr, 0, 5);
	assert_int_equal(mc_used_exact(), 0);
	setup_budget(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofs_scope_skips_fs_shrinkers_noio_skips_io),
		cmocka_unit_test(test_nowait_over_budget_fails_without_sleeping_and_wakes_kswapd),
		cmocka_unit_test(test_nofail_waits_for_a_free_and_is_woken_not_reserved),
		cmocka_unit_test(test_kernel_policy_uses_reserves_only_after_reclaim_failed),
		cmocka_unit_test(test_retry_mayfail_fails_when_nothing_can_be_reclaimed),
		cmocka_unit_test(test_writeback_throttle_ends_as_each_policy_should),
		cmocka_unit_test(test_mempool_double_take_is_reported),
		cmocka_unit_test(test_watchdog_reports_a_stuck_nofail),
		cmocka_unit_test(test_injected_clock_decides_when_waits_end),
		cmocka_unit_test(test_large_nofail_in_nofs_scope_loops_until_memory_returns),
		cmocka_unit_test(test_four_threads_under_tight_budget_no_deadlock_no_stall),
	};
	return RUN_ALLOC_TESTS(tests);
}
