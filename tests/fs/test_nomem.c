/*
 * Allocation failures through the library (alloc/'s fault injection, by
 * call-site name; the open-coded-retry detector runs throughout):
 *  - truncate never fails part-way: with every failable site failing every
 *    third call, it completes -- its handle, paths, buffer reads and
 *    allocator reads are NOFAIL, and NOFAIL calls are made to loop instead
 *    of failing (counted);
 *  - every other operation either succeeds or returns -ENOMEM leaving the
 *    filesystem consistent: after a few hundred operations with random
 *    injected failures, every tree verifies and fsck is clean (and no
 *    operation retried a failed allocation on its own).
 */
#include "helpers.h"

const char *fsck_path;

static void fault(const char *spec)
{
	char err[256];

	if (mc_fault_set(spec, err, sizeof(err)))
		fail_msg("fault spec %s: %s", spec, err);
}

static uint64_t nofail_loops(void)
{
	struct mc_stats st;

	mc_stats_snapshot(&st);
	return st.nofail_injected_loops + st.nofail_loops;
}

static void test_truncate_completes_with_every_site_failing(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	struct sfs_attr a;
	uint64_t ino, loops;
	unsigned depth;

	(void)state;
	scratch_path(path, sizeof(path), "nomemtrunc");
	make_image(path, 10, 32 << 20, 0);
	fs = mount_opts(path, "fanout=4");
	ino = new_file(fs);
	for (uint64_t i = 0; i < 1500; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i * 2, 1, i % 3 == 0), 0);
	assert_int_equal(sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 3000 * 1024 }, NULL, NULL), 0);
	assert_int_equal(sfs_extent_depth(fs, ino, &depth, NULL), 0);
	assert_true(depth >= 4);
	/* Held, so looking it up needs no memory once the faults are on. */
	assert_int_equal(sfs_inode_hold(fs, ino), 0);

	loops = nofail_loops();
	fault("*:every=3");
	assert_int_equal(sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 0 }, NULL, NULL), 0);
	fault("");
	printf("truncate of 1500 extents under every=3 faults: %llu NOFAIL loops\n",
	       (unsigned long long)(nofail_loops() - loops));
	assert_true(nofail_loops() > loops);
	assert_int_equal(sfs_getattr(fs, ino, &a), 0);
	assert_int_equal(a.blocks, 0);
	assert_int_equal(a.size, 0);
	assert_int_equal(sfs_extent_depth(fs, ino, &depth, NULL), 0);
	assert_int_equal(depth, 0);
	assert_int_equal(sfs_inode_release(fs, ino), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void ops_under_faults(unsigned fseed)
{
	static uint8_t buf[40000];
	char path[256], why[256], spec[64];
	struct sfs_fs *fs;
	uint64_t ino[4];
	unsigned seed = 99 + fseed, enomem = 0, ok = 0;

	scratch_path(path, sizeof(path), "nomemops");
	make_image(path, 10, 32 << 20, 0);
	fs = mount_opts(path, "fanout=4");
	for (int i = 0; i < 4; i++) {
		ino[i] = new_file(fs);
		assert_int_equal(sfs_inode_hold(fs, ino[i]), 0);
		for (uint64_t k = 0; k < 100; k++)
			assert_int_equal(sfs_alloc_range(fs, ino[i], k * 3, 2, k & 1), 0);
	}
	memset(buf, 0x77, sizeof(buf));
	/* Every site but the buffer cache's buf_alloc: the cache's read-ahead
	 * shares that site and swallows its failures (best effort), so the
	 * next ordinary buffer allocation would look like an open-coded retry
	 * to alloc/'s detector.  Reported to the block layer's owner. */
	snprintf(spec, sizeof(spec), "buf_alloc:p=0;*:p=0.04,seed=%u", fseed);
	fault(spec);
	for (int op = 0; op < 600; op++) {
		uint64_t f = ino[rand_r(&seed) % 4], off = (uint64_t)(rand_r(&seed) % 400);
		long ret = 0;

		switch (rand_r(&seed) % 6) {
		case 0:
			ret = sfs_write(fs, f, buf, 1 + (size_t)rand_r(&seed) % sizeof(buf), off * 1024,
					0, NULL);
			ret = ret > 0 ? 0 : ret;
			break;
		case 1:
			ret = sfs_alloc_range(fs, f, off, 1 + (uint64_t)(rand_r(&seed) % 20),
					      rand_r(&seed) & 1);
			break;
		case 2:
			ret = sfs_unmap_range(fs, f, off, 1 + (uint64_t)(rand_r(&seed) % 30));
			break;
		case 3:
			ret = sfs_convert_range(fs, f, off, 1 + (uint64_t)(rand_r(&seed) % 30));
			break;
		case 4:
			ret = sfs_remove_range(fs, f, off * 1024 + 100, 1 + (uint64_t)(rand_r(&seed) % 20000));
			break;
		case 5:
			ret = sfs_fallocate(fs, f, SFS_FALLOC_KEEP_SIZE, off * 1024,
					    1 + (uint64_t)(rand_r(&seed) % 30000), NULL);
			break;
		}
		if (ret == -ENOMEM)
			enomem++;
		else if (!ret)
			ok++;
		else
			fail_msg("operation %d: %ld", op, ret);
	}
	fault("");
	printf("600 operations under p=0.04 faults (seed %u): %u succeeded, %u returned ENOMEM\n",
	       fseed, ok, enomem);
	assert_true(enomem > 0);
	for (int i = 0; i < 4; i++) {
		if (sfs_extent_verify(fs, ino[i], why, sizeof(why)))
			fail_msg("inode %llu: %s", (unsigned long long)ino[i], why);
		assert_int_equal(sfs_inode_release(fs, ino[i]), 0);
	}
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_failed_operations_leave_the_filesystem_consistent(void **state)
{
	(void)state;
	for (unsigned s = 1; s <= 6; s++)
		ops_under_faults(s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncate_completes_with_every_site_failing),
		cmocka_unit_test(test_failed_operations_leave_the_filesystem_consistent),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
