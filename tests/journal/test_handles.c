/*
 * Handles: the NOFS scope they hold, nesting, credits, sync handles and
 * the fsync fast path.
 */
#include "helpers.h"

#define QUIET_CFG { .commit_interval_ms = 600000 }

struct forcer {
	pthread_t th;
	struct jnl_journal *j;
	_Atomic int done;
	int ret;
};

static void *force_fn(void *arg)
{
	struct forcer *f = arg;

	f->ret = jnl_force_commit(f->j);
	f->done = 1;
	return NULL;
}

static void test_nested_handles_and_scopes_restore_exactly(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_handle *h1, *h2, *h3;
	unsigned s0 = mc_scope_current(), d0 = mc_scope_depth();
	uint64_t mismatch0 = mc_report_count(MC_REP_SCOPE_MISMATCH);
	struct forcer f = { 0 };
	mc_scope_t noio;
	struct jenv e, other;
	uint64_t t0;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	jenv_make(&other, 64, 8);
	jenv_open(&other, NULL, &cfg, NULL);
	f.j = e.j;

	assert_int_equal(jnl_start(e.j, 4, 0, &h1), 0);
	assert_ptr_equal(jnl_current(), h1);
	assert_true(mc_scope_current() & MC_SCOPE_NOFS);
	assert_int_equal(mc_scope_depth(), d0 + 1);
	/* a scope of the caller's own inside the handle */
	noio = mc_noio_save();
	assert_int_equal(jnl_start(e.j, 2, 0, &h2), 0);
	assert_ptr_equal(h2, h1);                  /* joins, takes no scope of its own */
	assert_int_equal(mc_scope_depth(), d0 + 2);
	assert_int_equal(jwrite(&e, h2, 0, 1), 0);
	assert_int_equal(jnl_handle_credits(h1), 3);
	/* must fit in what the outer handle has left; it may not wait */
	assert_int_equal(jnl_start(e.j, 4, 0, &h3), -ENOSPC);
	/* another journal's handle cannot nest here */
	assert_int_equal(jnl_start(other.j, 1, 0, &h3), -EINVAL);
	/* a commit now waits for h1 to stop: a nested start must not wait
	 * for it in turn */
	assert_int_equal(pthread_create(&f.th, NULL, force_fn, &f), 0);
	usleep(100000);
	assert_false(f.done);
	t0 = now_ms();
	assert_int_equal(jnl_start(e.j, 1, JNL_NOFAIL, &h3), 0);
	assert_true(now_ms() - t0 < 50);
	assert_int_equal(jnl_stop(h3), 0);
	assert_false(f.done);
	assert_int_equal(jnl_start(e.j, 1, JNL_NOFAIL, &h3), 0);
	assert_ptr_equal(h3, h1);
	assert_int_equal(jwrite(&e, h3, 1, 1), 0);
	assert_int_equal(jnl_stop(h3), 0);
	assert_int_equal(jnl_stop(h2), 0);
	assert_ptr_equal(jnl_current(), h1);
	assert_int_equal(mc_scope_depth(), d0 + 2);
	mc_noio_restore(noio);
	assert_int_equal(mc_scope_current(), s0 | MC_SCOPE_NOFS);
	assert_int_equal(jnl_stop(h1), 0);
	pthread_join(f.th, NULL);
	assert_int_equal(f.ret, 0);
	assert_null(jnl_current());
	assert_int_equal(mc_scope_current(), s0);
	assert_int_equal(mc_scope_depth(), d0);
	assert_int_equal(mc_report_count(MC_REP_SCOPE_MISMATCH), mismatch0);

	/* a failed start leaves no scope behind */
	assert_int_equal(jnl_start(e.j, 1u << 20, 0, &h1), -ENOSPC);
	assert_int_equal(mc_scope_depth(), d0);
	assert_int_equal(jenv_close(&other), 0);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&other);
	jenv_drop(&e);
}

static void test_credits_bound_changes_and_extend(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_handle *h;
	struct sfs_buf *bh;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);     /* 63 log blocks: transactions up to 15 */
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	assert_int_equal(jwrite(&e, h, 0, 2), 0);   /* same buffer: one credit */
	assert_int_equal(jwrite(&e, h, 1, 1), 0);
	assert_int_equal(jwrite(&e, h, 2, 1), -ENOSPC);
	assert_int_equal(jnl_extend(h, 1), 0);
	assert_int_equal(jwrite(&e, h, 2, 1), 0);
	assert_int_equal(jnl_extend(h, 100), -EAGAIN);   /* past the transaction cap */
	/* no write access, no dirtying */
	assert_int_equal(sfs_buf_read(e.cache, home(&e, 5), NULL, 0, &bh), 0);
	sfs_buf_lock(bh);
	assert_int_equal(jnl_dirty_metadata(h, bh), -EINVAL);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_start(e.j, 1000, 0, &h), -ENOSPC);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

/*
 * The deadlock the handle's scope prevents: reclaim from inside a handle
 * must never run a shrinker that needs the filesystem (it could wait for
 * the commit of the transaction the handle holds open).  The same
 * allocations outside a handle do reach it, so the test can fail.
 */
static void test_fs_shrinker_never_runs_inside_a_handle(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct tcache fsc, anyc;
	struct jenv e;
	unsigned outside_calls;

	(void)state;
	jenv_make(&e, 256, 64);
	jenv_open(&e, NULL, &cfg, NULL);
	setup_alloc("budget=16M,background=off,throttle_timeout=10ms");
	tcache_init_jnl(&fsc, "test-fs-needs-fs", MC_FS, 4096);
	tcache_init_jnl(&anyc, "test-any", 0, 4096);
	for (int round = 0; round < 40; round++) {
		struct jnl_handle *h;
		void *p;

		/* a quarter of the budget only the filesystem can give back,
		 * the rest anyone can */
		tcache_fill(&fsc, 1024 - fsc.n);
		tcache_fill(&anyc, 1 << 16);
		assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
		/* the filesystem's allocations under the handle use plain KERNEL */
		p = mc_alloc_named("test.in_handle", 64 * 1024, MC_KERNEL | MC_NOWARN);
		assert_int_equal(jwrite(&e, h, (uint64_t)round % 64, (uint64_t)round + 1), 0);
		assert_int_equal(jnl_stop(h), 0);
		mc_free(p);
	}
	assert_int_equal(jnl_force_commit(e.j), 0);
	assert_int_equal(fsc.calls_in_context, 0);
	assert_true(anyc.calls_in_context > 0);       /* reclaim did run in handles */
	outside_calls = fsc.direct_calls;
	tcache_fill(&fsc, 1024 - fsc.n);
	tcache_fill(&anyc, 1 << 16);
	mc_free(mc_alloc_named("test.outside", 64 * 1024, MC_KERNEL | MC_NOWARN));
	assert_true(fsc.direct_calls > outside_calls);
	tcache_destroy(&fsc);
	tcache_destroy(&anyc);
	setup_alloc(NULL);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

static void test_fsync_of_committed_change_is_only_a_barrier(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_stats a, b, c;
	struct sfs_bdev_stats da, db;
	struct jnl_handle *h;
	jnl_tid_t tid;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_false(jnl_tid_committed(e.j, tid));
	jnl_get_stats(e.j, &a);
	assert_int_equal(jnl_fsync(e.j, tid), 0);
	assert_true(jnl_tid_committed(e.j, tid));
	jnl_get_stats(e.j, &b);
	assert_int_equal(b.commits, a.commits + 1);
	assert_int_equal(b.fsync_commit, a.fsync_commit + 1);
	sfs_bdev_stats(e.bdev, &da);
	assert_int_equal(jnl_fsync(e.j, tid), 0);
	sfs_bdev_stats(e.bdev, &db);
	jnl_get_stats(e.j, &c);
	assert_int_equal(c.commits, b.commits);
	assert_int_equal(c.fsync_fast, b.fsync_fast + 1);
	assert_int_equal(db.flushes, da.flushes + 1);
	assert_int_equal(db.writes, da.writes);
	/* a sync handle waits for its commit in stop */
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 1, 1), 0);
	tid = jnl_handle_tid(h);
	jnl_handle_set_sync(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_true(jnl_tid_committed(e.j, tid));
	/* waiting for one's own transaction would never end */
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jnl_commit_tid(e.j, jnl_handle_tid(h)), -EDEADLK);
	assert_int_equal(jnl_force_commit(e.j), -EDEADLK);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

static void test_commit_interval_commits_without_being_asked(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 50 };
	struct jnl_handle *h;
	struct jnl_stats st;
	jnl_tid_t tid;
	uint64_t t0;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	t0 = now_ms();
	while (!jnl_tid_committed(e.j, tid) && now_ms() - t0 < 2000)
		usleep(5000);
	assert_true(jnl_tid_committed(e.j, tid));
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.commits_interval, 1);
	jnl_print_stats(e.j, stderr, 0);
	jnl_print_stats(e.j, stderr, 1);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nested_handles_and_scopes_restore_exactly),
		cmocka_unit_test(test_credits_bound_changes_and_extend),
		cmocka_unit_test(test_fs_shrinker_never_runs_inside_a_handle),
		cmocka_unit_test(test_fsync_of_committed_change_is_only_a_barrier),
		cmocka_unit_test(test_commit_interval_commits_without_being_asked),
	};

	return cmocka_run_group_tests_name("journal_handles", tests, suite_init, NULL);
}
