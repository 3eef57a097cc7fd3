/* Accounting is exact on snapshot, bounded while running, and per site. */
#include <stdlib.h>
#include "helpers.h"

struct catcher catcher;

#define STORM_THREADS 4
#define STORM_OPS     200000

static _Atomic int storm_stop;
static _Atomic unsigned drift_samples, drift_violations;

static void *storm(void *arg)
{
	uint64_t rng = 0x1234567ull * (1 + (uintptr_t)arg);
	void *slot[512] = { 0 };

	for (int i = 0; i < STORM_OPS; i++) {
		unsigned k = (unsigned)(test_rng(&rng) % 512);
		if (slot[k]) {
			mc_free(slot[k]);
			slot[k] = NULL;
		} else {
			uint64_t r = test_rng(&rng);
			size_t sz = (r % 100) < 2 ? 40000 + r % 200000 : 1 + r % 4096;
			slot[k] = mc_alloc_named("test.storm", sz, MC_KERNEL);
			assert_non_null(slot[k]);
			memset(slot[k], 0xa5, sz < 64 ? sz : 64);
		}
	}
	for (int k = 0; k < 512; k++)
		mc_free(slot[k]);
	return NULL;
}

static void *sampler(void *arg)
{
	(void)arg;
	while (!atomic_load(&storm_stop)) {
		struct mc_budget_snap b;
		mc_budget_snapshot(&b);
		size_t d = b.used > b.used_approx ? b.used - b.used_approx : b.used_approx - b.used;
		drift_samples++;
		if (d > b.max_drift) {
			if (!drift_violations)
				fprintf(stderr, "drift %zu > bound %zu (used %zu approx %zu, %u threads)\n",
					d, b.max_drift, b.used, b.used_approx, b.threads);
			drift_violations++;
		}
	}
	return NULL;
}

static void test_storm_returns_to_zero_and_drift_stays_bounded(void **state)
{
	pthread_t t[STORM_THREADS], s;
	struct mc_site_counts sc;
	(void)state;

	setup_budget("budget=512M");
	size_t base = mc_used_exact();
	pthread_create(&s, NULL, sampler, NULL);
	for (int i = 0; i < STORM_THREADS; i++)
		pthread_create(&t[i], NULL, storm, (void *)(intptr_t)i);
	for (int i = 0; i < STORM_THREADS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&storm_stop, 1);
	pthread_join(s, NULL);
	assert_true(drift_samples > 10);
	assert_int_equal(drift_violations, 0);
	assert_int_equal(mc_used_exact(), base);
	mc_site_counts(mc_site_find("test.storm"), &sc);
	assert_int_equal(sc.live_bytes, 0);
	assert_true(sc.calls > STORM_THREADS * STORM_OPS / 4);
	setup_budget(NULL);
}

static void *live_alloc(size_t size)
{
	return mc_alloc_named("test.live", size, MC_KERNEL);
}

static void test_site_live_bytes_follow_allocations(void **state)
{
	struct mc_site_counts sc;
	(void)state;
	void *a = live_alloc(100);        /* class 112 */
	void *b = live_alloc(100000);     /* large: pages + header page */
	mc_site_counts(mc_site_find("test.live"), &sc);
	assert_int_equal(sc.calls, 2);
	assert_int_equal(sc.live_bytes, 112 + 4096 + 102400);
	assert_int_equal(mc_usable_size(a), 112);
	mc_free(a);
	mc_free(b);
	mc_site_counts(mc_site_find("test.live"), &sc);
	assert_int_equal(sc.live_bytes, 0);
}

static void __attribute__((used, noinline)) never_called(void)
{
	mc_free(mc_alloc_named("test.never_called", 8, MC_KERNEL));
}

static void test_registry_lists_a_site_that_never_ran(void **state)
{
	struct mc_site_counts sc;
	(void)state;
	struct mc_site *s = mc_site_find("test.never_called");
	assert_non_null(s);
	assert_string_equal(s->func, "never_called");
	assert_true(s->line > 0);
	mc_site_counts(s, &sc);
	assert_int_equal(sc.calls, 0);
	/* Every site in the binary is enumerable, alloc/'s own included. */
	assert_true(mc_site_count() >= 5);
	assert_non_null(mc_site_find("mempool.elem"));
}

static void test_alignment_and_zeroing(void **state)
{
	(void)state;
	for (size_t sz = 16; sz <= 4096; sz *= 2) {
		char *p = mc_alloc(sz, MC_KERNEL | MC_ZERO);
		assert_int_equal((uintptr_t)p % sz, 0);
		for (size_t i = 0; i < sz; i++)
			assert_int_equal(p[i], 0);
		mc_free(p);
	}
	void *q = mc_alloc(12288, MC_KERNEL);
	assert_int_equal((uintptr_t)q % 4096, 0);
	mc_free(q);
	char *r = mc_alloc(10, MC_KERNEL);
	memcpy(r, "123456789", 10);
	r = mc_realloc(r, 5000, MC_KERNEL);
	assert_string_equal(r, "123456789");
	mc_free(r);
	assert_null(mc_calloc((size_t)-1, 16, MC_KERNEL));
	char *d = mc_strdup("scopefs", MC_KERNEL);
	assert_string_equal(d, "scopefs");
	mc_free(d);
}

static void test_stats_print_text_and_json(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	(void)state;
	void *keep = mc_alloc_named("test.stats_top", 3000, MC_KERNEL);
	FILE *f = open_memstream(&buf, &len);
	mc_stats_print(f, 1, 5);
	fclose(f);
	assert_non_null(strstr(buf, "\"sites\":["));
	assert_non_null(strstr(buf, "\"test.stats_top\""));
	assert_int_equal(buf[0], '{');
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	mc_stats_print(f, 0, 5);
	fclose(f);
	assert_non_null(strstr(buf, "top sites by live bytes"));
	assert_non_null(strstr(buf, "outside the budget"));
	free(buf);
	mc_free(keep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_storm_returns_to_zero_and_drift_stays_bounded),
		cmocka_unit_test(test_site_live_bytes_follow_allocations),
		cmocka_unit_test(test_registry_lists_a_site_that_never_ran),
		cmocka_unit_test(test_alignment_and_zeroing),
		cmocka_unit_test(test_stats_print_text_and_json),
	};
	return RUN_ALLOC_TESTS(tests);
}
