/*
 * Log space: a 1,024-block journal filled ten times over.  Handles that
 * find the log short of space wait for a checkpoint instead of failing or
 * deadlocking; the whole run ends within 60 s and the image then holds
 * the last version of every block.
 */
#include "helpers.h"

#define HOME 3000u

static void test_small_journal_filled_ten_times_waits_for_checkpoints(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 5000 };
	static int64_t last[HOME];
	struct jnl_stats st;
	uint64_t t0 = now_ms(), rng = 5, logged = 0, k = 0, elapsed;
	int64_t *got = calloc(HOME, sizeof(*got));
	struct jenv e;

	(void)state;
	jenv_make(&e, 1024, HOME);
	jenv_open(&e, NULL, &cfg, NULL);
	while (logged < 10 * 1024) {
		struct jnl_handle *h;
		unsigned n = 8 + (unsigned)(rng_next(&rng) % 24);

		k++;
		assert_int_equal(jnl_start(e.j, n, 0, &h), 0);
		for (unsigned i = 0; i < n; i++) {
			uint64_t b = rng_next(&rng) % HOME;

			assert_int_equal(jwrite(&e, h, b, k), 0);
			last[b] = (int64_t)k;
		}
		assert_int_equal(jnl_stop(h), 0);
		jnl_get_stats(e.j, &st);
		logged = st.log_blocks_written;
		assert_true(now_ms() - t0 < 60000);
	}
	assert_int_equal(jnl_force_commit(e.j), 0);
	jnl_get_stats(e.j, &st);
	jnl_print_stats(e.j, stderr, 0);
	assert_true(st.log_blocks_written >= 10 * 1024);
	assert_true(st.checkpoint_waits > 0);
	assert_true(st.commits_size > 0);      /* transactions closed at the size cap */
	assert_true(st.wraps >= 9);
	assert_int_equal(jenv_close(&e), 0);
	elapsed = now_ms() - t0;
	fprintf(stderr, "%llu handles, %llu log blocks in %llu ms\n", (unsigned long long)k,
		(unsigned long long)st.log_blocks_written, (unsigned long long)elapsed);
	assert_true(elapsed < 60000);
	image_versions(&e, got);
	assert_memory_equal(got, last, sizeof(last));
	free(got);
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_journal_filled_ten_times_waits_for_checkpoints),
	};

	return cmocka_run_group_tests_name("journal_fill", tests, suite_init, NULL);
}
