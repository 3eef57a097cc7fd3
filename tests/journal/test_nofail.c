/*
 * A NOFAIL handle (the seed's EXT4_EX_NOFAIL passed to the journal start)
 * starts and commits with every failable allocation site injected and the
 * budget full of reclaimable cache: its allocations loop inside the
 * allocator instead of failing, nothing stalls, and under the default
 * reserve policy they never touch the reserves.  The commit itself
 * allocates nothing.
 */
#include "helpers.h"

static void test_nofail_handle_commits_with_every_site_failing(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 600000 };
	struct sfs_buf *bufs[4];
	struct mc_stats a, b;
	struct jnl_stats js;
	struct jnl_handle *h;
	struct tcache cache;
	struct mc_config mc;
	struct jenv e;
	char err[128];
	jnl_tid_t tid;
	int64_t got[8];

	(void)state;
	setup_alloc("budget=8M,throttle_timeout=10ms");
	mc_config_get(&mc);
	assert_int_equal(mc.reserve_policy, MC_RESERVE_NONE);
	jenv_make(&e, 128, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	/* the buffers exist before the faults: this is about the journal */
	for (int i = 0; i < 4; i++)
		assert_int_equal(sfs_buf_read(e.cache, home(&e, (uint64_t)i), NULL, 0, &bufs[i]), 0);
	tcache_init_jnl(&cache, "test-reclaimable", 0, 4096);
	tcache_fill(&cache, 1 << 16);
	mc_stats_snapshot(&a);

	assert_int_equal(mc_fault_set("*:always", err, sizeof(err)), 0);
	/* an ordinary handle fails: the injection is real */
	assert_int_equal(jnl_start(e.j, 4, 0, &h), -ENOMEM);
	assert_null(jnl_current());

	assert_int_equal(jnl_start(e.j, 4, JNL_NOFAIL, &h), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jnl_get_write_access(h, bufs[i]), 0);
		sfs_buf_lock(bufs[i]);
		pattern_fill(bufs[i]->data, home(&e, (uint64_t)i), 9);
		assert_int_equal(jnl_dirty_metadata(h, bufs[i]), 0);
		sfs_buf_unlock(bufs[i]);
	}
	assert_int_equal(jnl_revoke(h, home(&e, 5)), 0);
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e.j, tid), 0);
	assert_int_equal(mc_fault_set("", err, sizeof(err)), 0);

	mc_stats_snapshot(&b);
	jnl_get_stats(e.j, &js);
	assert_true(js.nofail_handles >= 1);
	assert_true(b.nofail_injected_loops + b.nofail_loops >
		    a.nofail_injected_loops + a.nofail_loops);
	assert_int_equal(b.stalls, 0);
	assert_int_equal(b.reserve_atomic_uses, a.reserve_atomic_uses);
	assert_int_equal(b.reserve_reclaim_uses, a.reserve_reclaim_uses);
	assert_int_equal(b.reserve_kernel_min_uses, a.reserve_kernel_min_uses);
	assert_int_equal(b.reserve_kernel_nowmark_uses, a.reserve_kernel_nowmark_uses);

	for (int i = 0; i < 4; i++)
		sfs_buf_release(bufs[i]);
	tcache_destroy(&cache);
	setup_alloc(NULL);
	assert_int_equal(jenv_close(&e), 0);
	image_versions(&e, got);
	for (int i = 0; i < 3; i++)
		assert_int_equal(got[i], 9);
	jenv_drop(&e);
}

/*
 * The same with the budget held by a thread that lets go only later:
 * NOFAIL waits for the memory (no failure, no stall report) and the
 * commit, needing none, is not held up at all.
 */
struct holder {
	pthread_t th;
	void **p;
	size_t n;
	unsigned delay_ms;
};

static void *release_later(void *arg)
{
	struct holder *hd = arg;

	usleep(hd->delay_ms * 1000);
	while (hd->n)
		mc_free(hd->p[--hd->n]);
	return NULL;
}

static void test_nofail_handle_waits_for_memory_held_elsewhere(void **state)
{
	const struct jnl_config cfg = { .commit_interval_ms = 600000 };
	struct holder hd = { .delay_ms = 300 };
	struct sfs_buf *bh;
	struct mc_stats a, b;
	struct jnl_handle *h;
	struct jenv e;
	char err[128];

	(void)state;
	setup_alloc("budget=8M,background=off,throttle_timeout=20ms");
	jenv_make(&e, 128, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(sfs_buf_read(e.cache, home(&e, 0), NULL, 0, &bh), 0);
	hd.p = calloc(1 << 16, sizeof(void *));
	while (hd.n < (1u << 16)) {
		void *p = mc_alloc_named("test.held", 4096, MC_NOWAIT | MC_NOWARN);

		if (!p)
			break;
		hd.p[hd.n++] = p;
	}
	mc_stats_snapshot(&a);
	assert_int_equal(mc_fault_set("journal.*:always", err, sizeof(err)), 0);
	assert_int_equal(pthread_create(&hd.th, NULL, release_later, &hd), 0);
	assert_int_equal(jnl_start(e.j, 1, JNL_NOFAIL, &h), 0);
	assert_int_equal(jnl_get_write_access(h, bh), 0);
	sfs_buf_lock(bh);
	pattern_fill(bh->data, home(&e, 0), 4);
	assert_int_equal(jnl_dirty_metadata(h, bh), 0);
	sfs_buf_unlock(bh);
	jnl_handle_set_sync(h);
	assert_int_equal(jnl_stop(h), 0);
	pthread_join(hd.th, NULL);
	assert_int_equal(mc_fault_set("", err, sizeof(err)), 0);
	mc_stats_snapshot(&b);
	assert_int_equal(b.stalls, 0);
	assert_true(b.nofail_injected_loops + b.nofail_loops >
		    a.nofail_injected_loops + a.nofail_loops);
	assert_int_equal(b.reserve_reclaim_uses + b.reserve_atomic_uses,
			 a.reserve_reclaim_uses + a.reserve_atomic_uses);
	sfs_buf_release(bh);
	free(hd.p);
	setup_alloc(NULL);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nofail_handle_commits_with_every_site_failing),
		cmocka_unit_test(test_nofail_handle_waits_for_memory_held_elsewhere),
	};

	return cmocka_run_group_tests_name("journal_nofail", tests, suite_init, NULL);
}
