/*
 * Reserved credits: log space held for a handle that starts later where it
 * must not wait (the page cache's writeback).  A reserved start goes
 * through on a log that is full and cannot be checkpointed, and with every
 * journal allocation failing; reservations are capped, block or refuse
 * past the cap, come back exactly, and race safely with commits.
 */
#include "helpers.h"

/*
 * Committed transactions fill every log block that the reservation does
 * not hold, and the oldest one's checkpoint is held up by a buffer lock.
 * A normal start waits for that checkpoint; the reserved start does not,
 * and its transaction commits into the space the reservation kept.
 */
static void test_reserved_start_goes_through_a_full_log(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 600000 };
	struct full_starter s;
	struct jnl_rsv r = { 0 };
	struct jnl_stats st;
	struct jnl_handle *h;
	uint64_t next = 0, t0, commits;
	int64_t want[64] = { 0 }, got[64];
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 64);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_reserve(e.j, &r, 4, 0), 0);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.rsv_held, 1);
	assert_int_equal(st.rsv_blocks, 6);   /* 4 copies, a descriptor, a commit block */

	/* fill what the reservation leaves, to the last block */
	st = jfill_log(&e, &next, 56, want);

	st = full_starter_begin(&s, &e, 63, 2);
	commits = st.commits;

	/* the reserved handle: no wait, four blocks, committed */
	t0 = now_ms();
	assert_int_equal(jnl_start_reserved(&r, 0, &h), 0);
	assert_false(jnl_rsv_held(&r));
	for (uint64_t i = 56; i < 60; i++) {
		assert_int_equal(jwrite(&e, h, i, 3), 0);
		want[i] = 3;
	}
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	assert_true(now_ms() - t0 < 5000);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.errno_, 0);
	assert_int_equal(st.commits, commits + 1);
	assert_true(st.log_used <= st.log_blocks);
	assert_int_equal(st.rsv_held, 0);
	assert_int_equal(st.rsv_blocks, 0);
	assert_int_equal(st.rsv_started, 1);
	assert_int_equal(st.rsv_txn_allocs, 0);   /* the spare transaction served */
	assert_false(s.done);                      /* still waiting for its checkpoint */

	full_starter_end(&s);
	want[63] = 2;
	assert_int_equal(jenv_close(&e), 0);
	image_versions(&e, got);
	assert_memory_equal(got, want, sizeof(want));
	jenv_drop(&e);
}

/* A reserved start needs no fresh memory: with every journal allocation
 * failing, a normal start fails and a reserved one does not. */
static void test_reserved_start_needs_no_fresh_memory(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 600000 };
	struct jnl_rsv r1 = { 0 }, r2 = { 0 };
	struct jnl_stats st;
	struct jnl_handle *h;
	struct jenv e;
	char err[128];

	(void)state;
	jenv_make(&e, 128, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_reserve(e.j, &r1, 2, 0), 0);
	assert_int_equal(jnl_reserve(e.j, &r2, 2, 0), 0);
	/* no running transaction: the start must open one */
	assert_int_equal(jnl_force_commit(e.j), 0);
	assert_int_equal(mc_fault_set("journal.*:always", err, sizeof(err)), 0);
	assert_int_equal(jnl_start(e.j, 2, 0, &h), -ENOMEM);
	assert_int_equal(jnl_start_reserved(&r1, 0, &h), 0);
	assert_int_equal(jnl_stop(h), 0);
	/* NOFAIL: its block changes loop in the allocator instead */
	assert_int_equal(jnl_start_reserved(&r2, JNL_NOFAIL, &h), 0);
	assert_int_equal(jwrite(&e, h, 1, 7), 0);
	jnl_handle_set_sync(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(mc_fault_set("", err, sizeof(err)), 0);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.rsv_started, 2);
	assert_int_equal(st.rsv_txn_allocs, 0);
	assert_int_equal(st.rsv_held, 0);
	assert_int_equal(jenv_close(&e), 0);
	assert_int_equal(recover_image(&e, 0, NULL), 0);
	{
		int64_t got[8];

		image_versions(&e, got);
		assert_int_equal(got[1], 7);
	}
	jenv_drop(&e);
}

struct blocked_reserver {
	struct jnl_journal *j;
	struct jnl_rsv r;
	_Atomic int done;
	int ret;
};

static void *reserve_blocking(void *arg)
{
	struct blocked_reserver *b = arg;

	b->ret = jnl_reserve(b->j, &b->r, 8, 0);
	b->done = 1;
	return NULL;
}

static void test_reservations_are_capped_and_come_back_exactly(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 600000 };
	struct jnl_rsv r[64], extra = { 0 };
	struct blocked_reserver b = { 0 };
	struct jnl_stats st0, st;
	struct jnl_handle *h, *h2;
	pthread_t th;
	unsigned n = 0;
	uint64_t t0;
	struct jenv e;

	(void)state;
	memset(r, 0, sizeof(r));
	jenv_make(&e, 256, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	jnl_get_stats(e.j, &st0);
	assert_true(st0.rsv_cap > 0 && st0.rsv_cap + st0.max_txn_blocks <= st0.log_blocks);

	/* bad requests */
	assert_int_equal(jnl_reserve(e.j, &extra, 0, 0), -EINVAL);
	assert_int_equal(jnl_reserve(e.j, &extra, 1u << 20, 0), -ENOSPC);
	assert_int_equal(jnl_reserve(e.j, &extra, 8, 0x80), -EINVAL);
	assert_int_equal(jnl_start_reserved(&extra, 0, &h), -EINVAL);   /* holds nothing */

	while (n < 64 && jnl_reserve(e.j, &r[n], 8, JNL_RSV_TRY) == 0)
		n++;
	assert_true(n > 1 && n < 64);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.rsv_held, n);
	assert_int_equal(st.rsv_blocks, n * 10);   /* 8 copies, a descriptor, a commit */
	assert_true(st.rsv_blocks <= st.rsv_cap);
	assert_true(st.rsv_blocks + 10 > st.rsv_cap);
	assert_int_equal(st.rsv_refused, 1);
	assert_int_equal(jnl_reserve(e.j, &r[n - 1], 8, 0), -EINVAL);   /* already held */

	/* inside a handle, a reservation that would wait refuses instead */
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jnl_reserve(e.j, &extra, 8, 0), -EDEADLK);
	/* and a reserved start cannot nest */
	assert_int_equal(jnl_start_reserved(&r[0], 0, &h2), -EINVAL);
	assert_true(jnl_rsv_held(&r[0]));
	assert_int_equal(jnl_stop(h), 0);

	/* past the cap a reservation waits until one comes back */
	b.j = e.j;
	assert_int_equal(pthread_create(&th, NULL, reserve_blocking, &b), 0);
	t0 = now_ms();
	do {
		assert_true(now_ms() - t0 < 10000);
		usleep(1000);
		jnl_get_stats(e.j, &st);
	} while (!st.rsv_waits);
	usleep(50 * 1000);
	assert_false(b.done);
	jnl_unreserve(&r[--n]);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(b.ret, 0);

	/* a normal start sees the reserved space as used */
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.rsv_blocks, (n + 1) * 10);
	jnl_unreserve(&b.r);
	while (n)
		jnl_unreserve(&r[--n]);
	jnl_unreserve(&r[0]);   /* nothing held: no effect */
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.rsv_held, 0);
	assert_int_equal(st.rsv_blocks, 0);
	assert_int_equal(st.rsv_taken - st0.rsv_taken, st.rsv_returned - st0.rsv_returned);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

/* ---- reservations, reserved starts and normal handles, racing ---- */

#define RACE_HOME 96u
#define RACE_THREADS 3u

struct racer {
	pthread_t th;
	struct jenv *e;
	unsigned id;
	uint64_t rng, starts, returns;
	int ret;
};

static _Atomic int race_stop;

/* Thread @id owns home blocks id, id + RACE_THREADS, ...: no two threads
 * write one block, so the last version each wrote is the image's. */
static int64_t race_last[RACE_HOME];

static void *racer_fn(void *arg)
{
	struct racer *x = arg;
	uint64_t ver = 0;

	while (!race_stop && !x->ret) {
		struct jnl_rsv r = { 0 };
		struct jnl_handle *h;
		unsigned n = 1 + (unsigned)(rng_next(&x->rng) % 12);
		bool reserved = x->id != 0;

		if (reserved) {
			x->ret = jnl_reserve(x->e->j, &r, n, 0);
			if (x->ret)
				break;
			if (rng_next(&x->rng) % 4 == 0) {
				jnl_unreserve(&r);
				x->returns++;
				continue;
			}
			x->ret = jnl_start_reserved(&r, JNL_NOFAIL, &h);
		} else {
			x->ret = jnl_start(x->e->j, n, 0, &h);
		}
		if (x->ret)
			break;
		x->starts++;
		ver++;
		for (unsigned i = 0; i < n && !x->ret; i++) {
			uint64_t b = x->id + RACE_THREADS * (rng_next(&x->rng) % (RACE_HOME / RACE_THREADS));

			x->ret = jwrite(x->e, h, b, ver);
			race_last[b] = (int64_t)ver;
		}
		if (jnl_stop(h) && !x->ret)
			x->ret = -EIO;
	}
	return NULL;
}

static void test_reserved_starts_race_with_commits_and_checkpoints(void **state)
{
	/* a short interval and a small log: commits and checkpoints all along */
	const struct jnl_config cfg = { .commit_interval_ms = 5 };
	struct racer x[RACE_THREADS];
	int64_t got[RACE_HOME];
	struct jnl_stats st;
	uint64_t starts = 0;
	struct jenv e;

	(void)state;
	memset(race_last, 0, sizeof(race_last));
	jenv_make(&e, 128, RACE_HOME);
	jenv_open(&e, NULL, &cfg, NULL);
	race_stop = 0;
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		x[i] = (struct racer){ .e = &e, .id = i, .rng = 77 + i };
		assert_int_equal(pthread_create(&x[i].th, NULL, racer_fn, &x[i]), 0);
	}
	usleep(1500 * 1000);
	race_stop = 1;
	for (unsigned i = 0; i < RACE_THREADS; i++) {
		assert_int_equal(pthread_join(x[i].th, NULL), 0);
		assert_int_equal(x[i].ret, 0);
		starts += x[i].starts;
	}
	jnl_get_stats(e.j, &st);
	jnl_print_stats(e.j, stderr, 0);
	assert_int_equal(st.errno_, 0);
	assert_int_equal(st.rsv_held, 0);
	assert_int_equal(st.rsv_blocks, 0);
	assert_true(st.rsv_started > 10);
	assert_true(st.wraps > 0);
	assert_true(starts > 20);
	assert_int_equal(jenv_close(&e), 0);
	image_versions(&e, got);
	for (unsigned b = 0; b < RACE_HOME; b++)
		assert_int_equal(got[b], race_last[b]);
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserved_start_goes_through_a_full_log),
		cmocka_unit_test(test_reserved_start_needs_no_fresh_memory),
		cmocka_unit_test(test_reservations_are_capped_and_come_back_exactly),
		cmocka_unit_test(test_reserved_starts_race_with_commits_and_checkpoints),
	};

	return cmocka_run_group_tests_name("journal_reserve", tests, suite_init, NULL);
}
