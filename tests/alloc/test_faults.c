/* Fault injection hits exactly what it names, never NOFAIL, and is live. */
#include <errno.h>
#include "helpers.h"

struct catcher catcher;

static void set_faults(const char *spec)
{
	char err[256];
	if (mc_fault_set(spec, err, sizeof(err)))
		fail_msg("fault spec '%s': %s", spec, err);
}

static void *target(void) { return mc_alloc_named("inj.target", 64, MC_KERNEL | MC_NOWARN); }
static void *other(void) { return mc_alloc_named("inj.other", 64, MC_KERNEL | MC_NOWARN); }

static void test_nth_fails_exactly_that_call_of_that_site(void **state)
{
	(void)state;
	set_faults("inj.target:nth=4");
	for (int i = 1; i <= 10; i++) {
		void *p = target(), *q = other();
		if (i == 4)
			assert_null(p);
		else
			assert_non_null(p);
		assert_non_null(q);
		mc_free(p);
		mc_free(q);
	}
	assert_int_equal(mc_site_find("inj.target")->injected, 1);
	set_faults("");
}

static void test_every_and_times(void **state)
{
	int fails = 0;
	(void)state;
	set_faults("inj.t*:every=3,times=2");
	for (int i = 1; i <= 12; i++) {
		void *p = target();
		fails += !p;
		if (i == 3 || i == 6)
			assert_null(p);
		else
			assert_non_null(p);
		mc_free(p);
	}
	assert_int_equal(fails, 2);
	set_faults("");
}

static void test_probability_is_seeded_and_plausible(void **state)
{
	int fails = 0;
	(void)state;
	set_faults("inj.target:p=0.25,seed=7");
	for (int i = 0; i < 4000; i++) {
		void *p = target();
		fails += !p;
		mc_free(p);
	}
	assert_true(fails > 800 && fails < 1200);
	set_faults("");
}

static void *per_thread_worker(void *arg)
{
	int *failed_at = arg;
	for (int i = 1; i <= 5; i++) {
		void *p = target();
		if (!p)
			*failed_at = i;
		mc_free(p);
	}
	return NULL;
}

static void test_nth_counts_per_thread_or_globally(void **state)
{
	pthread_t t[2];
	int at[2] = { 0, 0 };
	(void)state;

	set_faults("inj.target:nth=3,count=thread");
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, per_thread_worker, &at[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(at[0], 3);
	assert_int_equal(at[1], 3);

	at[0] = at[1] = 0;
	set_faults("inj.target:nth=3,count=global");
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, per_thread_worker, &at[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal((at[0] != 0) + (at[1] != 0), 1);   /* one failure in all */
	set_faults("");
}

static void test_nofail_site_is_never_failed_but_made_to_loop(void **state)
{
	struct mc_stats before, after;
	(void)state;
	mc_stats_snapshot(&before);
	set_faults("*:always");
	for (int i = 0; i < 5; i++) {
		void *p = mc_alloc_named("inj.nofail", 128, MC_KERNEL | MC_NOFAIL);
		assert_non_null(p);
		mc_free(p);
	}
	assert_null(target());
	set_faults("");
	mc_stats_snapshot(&after);
	struct mc_config c;
	mc_config_get(&c);
	assert_int_equal(after.nofail_injected_loops - before.nofail_injected_loops,
			 5 * c.nofail_fault_loops);
	assert_int_equal(mc_site_find("inj.nofail")->failures, 0);
	assert_int_equal(mc_site_find("inj.nofail")->nofail_loops, 5 * c.nofail_fault_loops);
}

static _Atomic int spin_stop;
static _Atomic unsigned spin_fails, spin_calls;

static void *spinner(void *arg)
{
	(void)arg;
	while (!atomic_load(&spin_stop)) {
		void *p = target();
		spin_calls++;
		spin_fails += !p;
		mc_free(p);
	}
	return NULL;
}

static void test_spec_changes_while_threads_allocate(void **state)
{
	pthread_t t;
	(void)state;
	set_faults("");
	pthread_create(&t, NULL, spinner, NULL);
	while (spin_calls < 1000)
		;
	assert_int_equal(spin_fails, 0);
	set_faults("inj.target:always");
	unsigned c0 = spin_calls;
	while (spin_calls < c0 + 1000)
		;
	assert_true(spin_fails > 500);
	set_faults("");
	unsigned f0 = spin_fails;
	c0 = spin_calls;
	while (spin_calls < c0 + 1000)
		;
	assert_true(spin_fails - f0 <= 2);   /* calls already past the check */
	atomic_store(&spin_stop, 1);
	pthread_join(t, NULL);
	char cur[64];
	mc_fault_get(cur, sizeof(cur));
	assert_string_equal(cur, "");
}

static void test_invalid_spec_names_what_is_wrong(void **state)
{
	char err[256];
	(void)state;
	set_faults("inj.target:nth=2");
	assert_int_equal(mc_fault_set("nocolon", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nocolon"));
	assert_int_equal(mc_fault_set("a:nth=abc", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nth"));
	assert_non_null(strstr(err, "abc"));
	assert_int_equal(mc_fault_set("a:p=1.5", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'p'"));
	assert_int_equal(mc_fault_set("a:nht=3", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "nht"));
	assert_int_equal(mc_fault_set("a:nth=1,every=2", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "exactly one"));
	assert_int_equal(mc_fault_set("ok:always;bad:count=sometimes,always", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "rule 2"));
	/* The old rules stay in force after a rejected spec. */
	char cur[64];
	mc_fault_get(cur, sizeof(cur));
	assert_string_equal(cur, "inj.target:nth=2");
	set_faults("");
}

static void test_invalid_budget_names_what_is_wrong(void **state)
{
	struct mc_config c;
	char err[256];
	(void)state;
	mc_config_defaults(&c);
	assert_int_equal(mc_config_parse(&c, "budget=12Q", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "budget"));
	assert_non_null(strstr(err, "12Q"));
	assert_int_equal(mc_config_parse(&c, "bugdet=1M", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bugdet"));
	assert_int_equal(mc_config_parse(&c, "policy=sometimes", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "writeback, congestion, rate"));
	assert_int_equal(mc_config_parse(&c, "stall=soon", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "stall"));
	mc_config_defaults(&c);
	c.budget = 1000;
	assert_int_equal(mc_configure(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "minimum"));
	mc_config_defaults(&c);
	c.budget = 1 << 20;
	c.wmark_low = 1 << 21;
	assert_int_equal(mc_configure(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "watermarks"));
	size_t v;
	assert_int_equal(mc_parse_size("1.5M", &v), 0);
	assert_int_equal(v, 1572864);
	assert_int_equal(mc_parse_size("-1", &v), -EINVAL);
	assert_int_equal(mc_parse_size("99999999999T", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nth_fails_exactly_that_call_of_that_site),
		cmocka_unit_test(test_every_and_times),
		cmocka_unit_test(test_probability_is_seeded_and_plausible),
		cmocka_unit_test(test_nth_counts_per_thread_or_globally),
		cmocka_unit_test(test_nofail_site_is_never_failed_but_made_to_loop),
		cmocka_unit_test(test_spec_changes_while_threads_allocate),
		cmocka_unit_test(test_invalid_spec_names_what_is_wrong),
		cmocka_unit_test(test_invalid_budget_names_what_is_wrong),
	};
	return RUN_ALLOC_TESTS(tests);
}
