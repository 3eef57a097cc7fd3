/*
 * Truncate cannot fail part-way (seed 000), and what may fail fails
 * cleanly:
 *  - a file of 100,000 extents truncated to zero inside an 8 MiB budget
 *    with every failable allocation site injected: it completes, NOFAIL
 *    loops are counted, no stall (the env's 2 s watchdog aborts on one),
 *    reserves untouched (default policy), fsck clean;
 *  - punch / zero / collapse / insert / fallocate under injected failures
 *    return -ENOMEM or succeed, and leave tree, cache and bitmaps
 *    consistent (fsck clean after each);
 *  - a power cut in the middle of a multi-transaction truncate is finished
 *    at the next mount (orphan replay), fsck clean.
 * The retry detector (debug_abort in the test env) is on throughout.
 *
 * Usage: test_es_truncate FSCK [EXTENTS]
 */
#include "../fs/helpers.h"
#include "fs/namespace/namespace.h"
#include "fs/super.h"

const char *fsck_path;
static uint64_t g_extents = 100000;

static void fault(const char *spec)
{
	char err[256];

	if (mc_fault_set(spec, err, sizeof(err)))
		fail_msg("fault spec %s: %s", spec, err);
}

static void set_size(struct sfs_fs *fs, uint64_t ino, uint64_t size)
{
	assert_int_equal(sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = size }, NULL, NULL), 0);
}

/* @n extents of one block, every other block, alternately unwritten. */
static uint64_t many_extents(struct sfs_fs *fs, uint64_t n, uint32_t bs)
{
	uint64_t ino = new_file(fs);

	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i * 2, 1, i & 1), 0);
	set_size(fs, ino, 2 * n * bs);
	return ino;
}

static double throttled(const struct mc_stats *b, const struct mc_stats *a)
{
	uint64_t ns = 0;

	for (int i = 0; i < MC_THROTTLE_NR; i++)
		ns += b->throttle_ns[i] - a->throttle_ns[i];
	return (double)ns / 1e9;
}

static void test_truncate_of_many_extents_completes_under_pressure_and_faults(void **state)
{
	struct mc_stats a, b;
	struct mc_config cfg;
	struct sfs_attr at;
	struct timespec t0, t1;
	char path[256], err[256];
	struct sfs_fs *fs;
	uint64_t ino;
	(void)state;

	scratch_path(path, sizeof(path), "estrunc");
	make_image(path, 10, (4 * g_extents + 16384) * 1024, 0);
	fs = mount_opts(path, NULL);
	ino = many_extents(fs, g_extents, 1024);
	/* The orphan file exists before the faults: its creation is the
	 * namespace's (and may fail on ENOMEM), the truncate is ours. */
	{
		uint64_t small = new_file(fs);

		set_size(fs, small, 8192);
		set_size(fs, small, 0);
	}
	assert_int_equal(sfs_fs_sync(fs), 0);
	assert_int_equal(sfs_inode_hold(fs, ino), 0);
	/* The orphan file's inode (3) is not held: under the budget it may be
	 * evicted, and sfs_orphan_add reads it in with NOFAIL passed down. */

	mc_config_get(&cfg);
	cfg.budget = 8u << 20;
	cfg.wmark_min = cfg.wmark_low = cfg.wmark_high = 0;
	cfg.atomic_reserve = cfg.reclaim_reserve = 0;
	cfg.batch = 0;
	assert_int_equal(mc_configure(&cfg, err, sizeof(err)), 0);
	mc_stats_snapshot(&a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fault("*:always");
	{
		int r = sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE, .size = 0 },
				    NULL, NULL);

		fault("");
		if (r)
			mc_stats_print(stderr, 0, 10);
		assert_int_equal(r, 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	mc_stats_snapshot(&b);
	printf("truncate of %llu extents, budget 8M, every site failing: %.3f s, "
	       "NOFAIL loops %llu (+%llu injected), throttled %.3f s, stalls %llu\n",
	       (unsigned long long)g_extents,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       (unsigned long long)(b.nofail_loops - a.nofail_loops),
	       (unsigned long long)(b.nofail_injected_loops - a.nofail_injected_loops),
	       throttled(&b, &a),
	       (unsigned long long)(b.stalls - a.stalls));
	assert_true(b.nofail_loops + b.nofail_injected_loops > a.nofail_loops + a.nofail_injected_loops);
	assert_int_equal(b.stalls, a.stalls);
	assert_int_equal(b.reserve_atomic_uses, a.reserve_atomic_uses);
	assert_int_equal(b.reserve_kernel_min_uses, a.reserve_kernel_min_uses);
	assert_int_equal(b.reserve_kernel_nowmark_uses, a.reserve_kernel_nowmark_uses);
	cfg.budget = 0;
	assert_int_equal(mc_configure(&cfg, err, sizeof(err)), 0);

	assert_int_equal(sfs_getattr(fs, ino, &at), 0);
	assert_int_equal(at.size, 0);
	assert_int_equal(at.blocks, 0);
	assert_int_equal(sfs_inode_release(fs, ino), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

/*
 * A long truncate frees one busy-block record per extent, held in memory
 * until its transaction commits, while the tree blocks it changes fit one
 * transaction.  Under a budget those records alone exceed, the truncate
 * must commit on the way (sfs_trans_ensure's bound): before, it waited
 * NOFAIL for memory only its own commit could free -- a stall, which the
 * tests' watchdog (stall=2s, debug_abort) turns into a failure.
 */
static void test_truncate_gives_busy_records_back_under_a_small_budget(void **state)
{
	const uint64_t n = 30000;
	struct mc_config cfg, old;
	struct mc_stats a, b;
	struct sfs_attr at;
	struct sfs_fs *fs;
	char path[256], err[256];
	uint64_t ino;
	(void)state;

	scratch_path(path, sizeof(path), "esbusy");
	make_image(path, 10, (4 * n + 16384) * 1024, 0);
	fs = mount_opts(path, NULL);
	ino = many_extents(fs, n, 1024);
	assert_int_equal(sfs_fs_sync(fs), 0);
	assert_int_equal(sfs_inode_hold(fs, ino), 0);
	mc_drop_caches();
	mc_config_get(&old);
	cfg = old;
	/* The records of 30,000 frees are ~1.9 MiB: more than is left. */
	cfg.budget = 2u << 20;
	assert_int_equal(mc_configure(&cfg, err, sizeof(err)), 0);
	mc_stats_snapshot(&a);
	set_size(fs, ino, 0);
	mc_stats_snapshot(&b);
	assert_int_equal(mc_configure(&old, err, sizeof(err)), 0);
	printf("truncate of %llu extents in a 2 MiB budget: NOFAIL loops %llu, stalls %llu\n",
	       (unsigned long long)n, (unsigned long long)(b.nofail_loops - a.nofail_loops),
	       (unsigned long long)(b.stalls - a.stalls));
	assert_int_equal(b.stalls, a.stalls);
	assert_int_equal(sfs_getattr(fs, ino, &at), 0);
	assert_int_equal(at.size, 0);
	assert_int_equal(at.blocks, 0);
	assert_int_equal(sfs_inode_release(fs, ino), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_operations_outside_truncate_fail_cleanly(void **state)
{
	static uint8_t buf[64 * 1024];
	const char *specs[] = { "*:always", "*:every=2", "*:every=3", "es.node:always" };
	char path[256], why[256];
	struct sfs_fs *fs;
	uint64_t ino;
	(void)state;

	scratch_path(path, sizeof(path), "esnomem");
	make_image(path, 10, 16 << 20, 0);
	for (unsigned s = 0; s < sizeof(specs) / sizeof(specs[0]); s++) {
		for (unsigned op = 0; op < 5; op++) {
			int ret = 0;

			fs = mount_opts(path, "fanout=3");
			ino = new_file(fs);
			memset(buf, 0x11 + op, sizeof(buf));
			assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), 0, 0, NULL),
					 (ssize_t)sizeof(buf));
			assert_int_equal(sfs_read(fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
			assert_int_equal(sfs_inode_hold(fs, ino), 0);
			fault(specs[s]);
			switch (op) {
			case 0:
				ret = sfs_fallocate(fs, ino, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE,
						    10 * 1024, 8 * 1024, NULL);
				break;
			case 1:
				ret = sfs_fallocate(fs, ino, SFS_FALLOC_ZERO_RANGE, 10 * 1024 + 7,
						    8 * 1024, NULL);
				break;
			case 2:
				ret = sfs_fallocate(fs, ino, SFS_FALLOC_COLLAPSE_RANGE, 10 * 1024,
						    8 * 1024, NULL);
				break;
			case 3:
				ret = sfs_fallocate(fs, ino, SFS_FALLOC_INSERT_RANGE, 10 * 1024,
						    8 * 1024, NULL);
				break;
			case 4:
				ret = sfs_fallocate(fs, ino, 0, 100 * 1024, 8 * 1024, NULL);
				break;
			}
			fault("");
			if (ret != 0 && ret != -ENOMEM)
				fail_msg("%s op %u: %d", specs[s], op, ret);
			if (sfs_extent_verify(fs, ino, why, sizeof(why)))
				fail_msg("%s op %u: %s", specs[s], op, why);
			assert_int_equal(sfs_inode_release(fs, ino), 0);
			assert_int_equal(sfs_fs_unmount(fs), 0);
			assert_fsck_clean(path);
		}
	}
	unlink(path);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static uint64_t writes(struct sfs_fs *fs)
{
	struct sfs_bdev_stats bs;

	sfs_bdev_stats(sfs_fs_bdev(fs), &bs);
	return bs.writes;
}

static void test_power_cut_inside_a_long_truncate_is_finished_at_mount(void **state)
{
	char path[256], copy[300], opts[64];
	uint64_t ino, w0, w1, n = 20000;
	struct sfs_attr at;
	struct sfs_fs *fs;
	unsigned cuts = 0;
	(void)state;

	scratch_path(path, sizeof(path), "escut");
	snprintf(copy, sizeof(copy), "%s.cut", path);
	make_image(path, 10, 96 << 20, 0);
	fs = mount_opts(path, "fanout=4");
	ino = many_extents(fs, n, 1024);
	assert_int_equal(sfs_fs_unmount(fs), 0);

	/* How many writes the truncate makes. */
	copy_file(path, copy);
	fs = mount_opts(copy, "fanout=4,commit=50");
	w0 = writes(fs);
	set_size(fs, ino, 0);
	assert_int_equal(sfs_fs_commit(fs), 0);
	w1 = writes(fs);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_true(w1 > w0 + 4);

	for (unsigned k = 1; k <= 4; k++) {
		uint64_t cut = w0 + (w1 - w0) * k / 5;
		uint64_t done = 0, again = 1;

		copy_file(path, copy);
		snprintf(opts, sizeof(opts), "fanout=4,commit=50,bdev=cut_after=%llu",
			 (unsigned long long)cut);
		fs = mount_opts(copy, opts);
		(void)sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE, .size = 0 },
				  NULL, NULL);
		sfs_fs_unmount(fs);   /* past the cut nothing reaches the image */

		fs = mount_opts(copy, "fanout=4");
		/* The mount finished the truncate; another replay finds nothing. */
		done = fs->stats.orphans_finished;
		assert_int_equal(sfs_orphan_replay(fs, &again), 0);
		assert_int_equal(again, 0);
		assert_int_equal(sfs_getattr(fs, ino, &at), 0);
		/* Either the size change never committed (nothing to finish)
		 * or every block past it is gone. */
		if (at.size == 0) {
			assert_int_equal(at.blocks, 0);
			cuts += done > 0;
		}
		assert_int_equal(sfs_fs_unmount(fs), 0);
		assert_fsck_clean(copy);
	}
	printf("power cuts inside a %llu-extent truncate (%llu writes): %u finished by orphan replay\n",
	       (unsigned long long)n, (unsigned long long)(w1 - w0), cuts);
	assert_true(cuts > 0);
	unlink(copy);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations_outside_truncate_fail_cleanly),
		cmocka_unit_test(test_truncate_gives_busy_records_back_under_a_small_budget),
		cmocka_unit_test(test_power_cut_inside_a_long_truncate_is_finished_at_mount),
		cmocka_unit_test(test_truncate_of_many_extents_completes_under_pressure_and_faults),
	};

	if (test_main_init(argc, argv))
		return 1;
	if (argc > 2)
		g_extents = strtoull(argv[2], NULL, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
