/*
 * Log space: a 1,024-block journal filled ten times over.  Handles that
 * find the log short of space wait for a checkpoint instead of failing or
 * deadlocking; the whole run ends within 60 s and the image then holds
 * the last version of every block.  And a log filled to its last block:
 * a handle that must checkpoint first leaves nothing running that a
 * commit could try to fit into no space.
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

/*
 * The stress test's "j->used + t->log_len <= j->log_len" abort, made
 * deterministic.  Committed transactions fill the log to its last block,
 * their buffers still dirty.  A handle starting then must checkpoint; we
 * hold the buffer lock of a block of the oldest transaction, so that
 * checkpoint cannot finish.  While it waits, the commit interval passes and
 * a commit is forced: if the starter had made a transaction running before
 * looking for space, that empty transaction would commit with a commit
 * block and no log block left for it -- over the tail.  Nothing may commit
 * until the checkpoint has made room; then the handle completes.
 */
static void test_start_on_exactly_full_log_commits_nothing_until_room(void **state)
{
	/* a short interval: the commit thread would commit a running
	 * transaction while the starter checkpoints */
	const struct jnl_config cfg = { .commit_interval_ms = 20 };
	struct full_starter s;
	struct jnl_stats st;
	uint64_t next = 0, commits;
	int64_t want[64] = { 0 }, got[64];
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 64);
	jenv_open(&e, NULL, &cfg, NULL);
	st = jfill_log(&e, &next, 63, want);
	assert_int_equal(st.log_used, st.log_blocks);
	assert_int_equal(st.log_head, st.log_tail);

	/* block 0 went home with the oldest transaction: its checkpoint
	 * waits for this lock */
	commits = st.commits;
	full_starter_begin(&s, &e, 63, 2);
	/* several commit intervals, then an explicit commit request */
	usleep(100 * 1000);
	assert_int_equal(jnl_force_commit(e.j), 0);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.errno_, 0);
	assert_true(st.log_used <= st.log_blocks);
	assert_int_equal(st.commits, commits);
	assert_int_equal(st.running_tid, 0);

	full_starter_end(&s);
	want[63] = 2;
	assert_int_equal(jnl_force_commit(e.j), 0);
	jnl_get_stats(e.j, &st);
	jnl_print_stats(e.j, stderr, 0);
	assert_true(st.log_used <= st.log_blocks);
	assert_int_equal(st.commits, commits + 1);
	assert_int_equal(jenv_close(&e), 0);
	image_versions(&e, got);
	assert_memory_equal(got, want, sizeof(want));
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_journal_filled_ten_times_waits_for_checkpoints),
		cmocka_unit_test(test_start_on_exactly_full_log_commits_nothing_until_room),
	};

	return cmocka_run_group_tests_name("journal_fill", tests, suite_init, NULL);
}
