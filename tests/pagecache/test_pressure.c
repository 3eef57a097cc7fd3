/*
 * Writeback under memory pressure (issue 10): an 8 MiB budget, a device
 * emulated at 20 MiB/s, a file much larger than the budget written
 * through the cache, once per throttle policy.  It must complete without
 * a stall (the watchdog is at 2 s and aborts), reach a point where no
 * clean page is left to reclaim while dirty data waits (the cache's
 * shrinker counts those calls) with writeback still completing pages,
 * and alloc/'s throttle waits must end as the policy says: woken by
 * completions under `writeback`, timeouts under `congestion`, computed
 * sleeps under `rate`.
 *
 * argv[2]: MiB written per policy (default 24: about 1.2 s per policy at
 * 20 MiB/s under ASan; the stress suite runs 128).
 */
#include "pc_helpers.h"

static uint64_t mib = 24;

static uint64_t ends(const struct mc_stats *a, const struct mc_stats *b, enum mc_wait_end e)
{
	uint64_t n = 0;

	for (int r = 0; r < MC_THROTTLE_NR; r++)
		n += b->throttle[r][e] - a->throttle[r][e];
	return n;
}

static void run_policy(enum mc_throttle_policy pol, const char *name)
{
	static uint8_t buf[256 << 10];
	struct sfs_pc_tunables tun = { .dirty_ratio_pct = 90, .background_ratio_pct = 20,
				       .interval_ms = 200 };
	struct mc_config saved, c;
	struct mc_stats s0, s1;
	struct sfs_pc_stats ps;
	uint64_t ino, t0, wb0 = 0, no_clean_seen = 0, completed_while_full = 0;
	char path[256], err[256];
	struct sfs_fs *fs;

	mc_config_get(&saved);
	c = saved;
	c.budget = 8 << 20;
	c.wmark_min = c.wmark_low = c.wmark_high = 0;
	c.atomic_reserve = c.reclaim_reserve = 0;
	c.batch = 0;
	c.throttle_policy = pol;
	if (mc_configure(&c, err, sizeof(err)))
		fail_msg("mc_configure: %s", err);
	sfs_pc_tune(&tun);
	scratch_path(path, sizeof(path), "pcpress");
	make_image(path, 12, (mib + 96) << 20, 0);
	fs = mount_opts(path, "bdev=bw=20M");
	ino = new_file(fs);
	mc_stats_snapshot(&s0);
	t0 = mc_monotonic_ns();
	for (uint64_t off = 0; off < (mib << 20); off += sizeof(buf)) {
		struct mc_stats s;

		memset(buf, (int)(off >> 18), sizeof(buf));
		assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), off, 0, NULL), sizeof(buf));
		sfs_pc_stats(fs, &ps);
		mc_stats_snapshot(&s);
		if (ps.shrink_no_clean && !no_clean_seen) {
			no_clean_seen = off + sizeof(buf);
			wb0 = s.wb_completed;
		} else if (no_clean_seen && s.wb_completed > wb0) {
			completed_while_full = s.wb_completed - wb0;
		}
	}
	assert_int_equal(sfs_fsync(fs, ino, false), 0);
	mc_stats_snapshot(&s1);
	sfs_pc_stats(fs, &ps);
	printf("%-10s %llu MiB in %.2f s: throttle woken %llu, timeouts %llu, computed %llu "
	       "(asleep %.2f s); cache: no clean page %llu times (first after %llu KiB), "
	       "%llu pages completed since; balance sleeps %llu; stalls %llu\n",
	       name, (unsigned long long)mib, (double)(mc_monotonic_ns() - t0) / 1e9,
	       (unsigned long long)ends(&s0, &s1, MC_WAIT_WOKEN),
	       (unsigned long long)ends(&s0, &s1, MC_WAIT_TIMEOUT),
	       (unsigned long long)ends(&s0, &s1, MC_WAIT_COMPUTED),
	       (double)(s1.throttle_ns[0] + s1.throttle_ns[1] - s0.throttle_ns[0] -
			s0.throttle_ns[1]) / 1e9,
	       (unsigned long long)ps.shrink_no_clean, (unsigned long long)no_clean_seen >> 10,
	       (unsigned long long)completed_while_full, (unsigned long long)ps.balance_sleeps,
	       (unsigned long long)(s1.stalls - s0.stalls));
	assert_int_equal(s1.stalls, s0.stalls);
	/* no clean memory left at some point, and writeback went on */
	assert_true(no_clean_seen > 0);
	assert_true(completed_while_full > 0);
	assert_true(s1.wb_completed - s0.wb_completed >= (mib << 20) / 4096);
	/* direct reclaim met dirty pages: it kicked the writeback thread */
	assert_true(s1.wb_kicks > s0.wb_kicks);
	assert_true(ps.kicks > 0);
	switch (pol) {
	case MC_POLICY_WRITEBACK:
		assert_true(ends(&s0, &s1, MC_WAIT_WOKEN) > 0);
		assert_int_equal(ends(&s0, &s1, MC_WAIT_COMPUTED), 0);
		break;
	case MC_POLICY_CONGESTION:
		assert_true(ends(&s0, &s1, MC_WAIT_TIMEOUT) > 0);
		assert_int_equal(ends(&s0, &s1, MC_WAIT_WOKEN), 0);
		assert_int_equal(ends(&s0, &s1, MC_WAIT_COMPUTED), 0);
		break;
	case MC_POLICY_RATE:
		assert_true(ends(&s0, &s1, MC_WAIT_COMPUTED) > 0);
		assert_int_equal(ends(&s0, &s1, MC_WAIT_WOKEN), 0);
		break;
	}
	assert_int_equal(sfs_fs_unmount(fs), 0);
	if (mc_configure(&saved, err, sizeof(err)))
		fail_msg("mc_configure: %s", err);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_policy_writeback(void **state)
{
	(void)state;
	run_policy(MC_POLICY_WRITEBACK, "writeback");
}

static void test_policy_congestion(void **state)
{
	(void)state;
	run_policy(MC_POLICY_CONGESTION, "congestion");
}

static void test_policy_rate(void **state)
{
	(void)state;
	run_policy(MC_POLICY_RATE, "rate");
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_writeback),
		cmocka_unit_test(test_policy_congestion),
		cmocka_unit_test(test_policy_rate),
	};

	if (test_main_init(argc, argv))
		return 1;
	if (argc > 2)
		mib = strtoull(argv[2], NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
