/*
 * Namespace operations under injected allocation failures (alloc/'s fault
 * injection over every failable call site; its open-coded-retry detector
 * runs throughout): each operation either succeeds or fails -- -ENOMEM or
 * one of Linux's ordinary refusals -- and leaves the filesystem
 * consistent: after hundreds of operations with random failures, every
 * directory checks, every link count matches its names, the inodes in use
 * are exactly those named, and fsck is clean.
 */
#include "ns_helpers.h"

const char *fsck_path;

static void fault(const char *spec)
{
	char err[256];

	if (mc_fault_set(spec, err, sizeof(err)))
		fail_msg("fault spec %s: %s", spec, err);
}

static bool ordinary(int ret)
{
	return !ret || ret == -ENOMEM || ret == -EEXIST || ret == -ENOENT || ret == -ENOTEMPTY ||
	       ret == -EISDIR || ret == -ENOTDIR || ret == -EINVAL || ret == -EPERM;
}

static void ops_under_faults(unsigned fseed)
{
	char path[256], spec[64], n1[16], n2[16];
	struct sfs_cred cr = { 0 };
	unsigned seed = fseed * 7 + 1, enomem = 0, ok = 0;
	struct sfs_fs *fs;
	uint64_t dirs[3];

	scratch_path(path, sizeof(path), "nsnomem");
	make_image(path, 12, 64 << 20, 0);
	fs = mount_opts(path, NULL);
	dirs[0] = ROOT;
	dirs[1] = mk(fs, ROOT, "a", S_IFDIR | 0755);
	dirs[2] = mk(fs, ROOT, "b", S_IFDIR | 0755);
	/* Something to remove from the start, an orphan file already made. */
	for (int i = 0; i < 40; i++) {
		snprintf(n1, sizeof(n1), "n%d", i % 16);
		sfs_create(fs, dirs[i % 3], n1, 0644, 0, &cr, NULL);
	}
	assert_int_equal(sfs_unlink(fs, dirs[0], "n0"), 0);
	/* Not buf_alloc: the buffer cache's read-ahead tries that site again
	 * in the same operation after a failure (as fs/'s own nomem test,
	 * which leaves it out too). */
	snprintf(spec, sizeof(spec), "buf_alloc:p=0;*:p=0.03,seed=%u", fseed);
	fault(spec);
	for (int i = 0; i < 500; i++) {
		uint64_t d1, d2;
		struct sfs_attr a;
		int ret = 0;

		seed = seed * 1103515245u + 12345u;
		d1 = dirs[(seed >> 8) % 3];
		d2 = dirs[(seed >> 12) % 3];
		snprintf(n1, sizeof(n1), "n%u", (seed >> 16) % 16);
		snprintf(n2, sizeof(n2), "n%u", (seed >> 20) % 16);
		switch ((seed >> 24) % 9) {
		case 0:
			ret = sfs_create(fs, d1, n1, 0644, 0, &cr, &a);
			break;
		case 1:
			ret = sfs_mkdir(fs, d1, n1, 0755, 0, &cr, &a);
			break;
		case 2:
			ret = sfs_rmdir(fs, d1, n1);
			break;
		case 3:
			ret = sfs_unlink(fs, d1, n1);
			break;
		case 4:
			ret = sfs_lookup(fs, d1, n1, 0, &a);
			if (!ret && !S_ISDIR(a.mode))
				ret = sfs_link(fs, a.ino, d2, n2, 0, NULL);
			break;
		case 5:
			ret = sfs_rename(fs, d1, n1, d2, n2, (seed >> 4) % 3);
			break;
		case 6:
			ret = sfs_symlink(fs, d1, n1, (seed & 1) ? "short" :
					  "a-target-longer-than-eighty-bytes-goes-to-a-data-block-"
					  "of-its-own-rather-than-inline", 0, &cr, &a);
			break;
		case 7:
			ret = sfs_lookup(fs, d1, n1, 0, &a);
			if (!ret && (S_ISREG(a.mode) || S_ISDIR(a.mode)))
				ret = sfs_setxattr(fs, a.ino, n2, "v", 1, 0) == -EOPNOTSUPP ? 0 :
				      sfs_setxattr(fs, a.ino, "user.v", n2, 300, 0);
			break;
		default:
			ret = sfs_lookup(fs, d1, n1, 0, &a);
			break;
		}
		if (!ordinary(ret))
			fail_msg("operation %d of seed %u returned %d", i, fseed, ret);
		enomem += ret == -ENOMEM;
		ok += !ret;
	}
	fault("");
	printf("seed %u: %u succeeded, %u failed with ENOMEM\n", fseed, ok, enomem);
	assert_true(enomem > 0);
	check_tree(fs, 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_operations_fail_cleanly_under_allocation_faults(void **state)
{
	(void)state;
	for (unsigned s = 1; s <= 6; s++)
		ops_under_faults(s);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_operations_fail_cleanly_under_allocation_faults),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
