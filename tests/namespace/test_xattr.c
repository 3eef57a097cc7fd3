/*
 * Extended attributes through the public API: Linux's names, limits and
 * errors, XATTR_CREATE / XATTR_REPLACE, values moving between the inline
 * area and the external block, POSIX ACL checks, and the block freed with
 * its inode; the tree check and fsck after each test.
 */
#include "ns_helpers.h"

const char *fsck_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "nsxattr");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->fs) {
		check_tree(e->fs, 0);
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	}
	assert_fsck_clean(e->path);
	unlink(e->path);
	free(e);
	return 0;
}

static void remount(struct env *e)
{
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	assert_fsck_clean(e->path);
	e->fs = mount_opts(e->path, NULL);
}

static void test_set_get_list_remove_with_create_and_replace(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	char buf[256];

	assert_int_equal(sfs_setxattr(e->fs, f, "user.a", "1", 1, 0), 0);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.a", "2", 1, SFS_XATTR_CREATE), -EEXIST);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.b", "2", 1, SFS_XATTR_REPLACE), -ENODATA);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.a", "22", 2, SFS_XATTR_REPLACE), 0);
	assert_int_equal(sfs_setxattr(e->fs, f, "trusted.t", "", 0, SFS_XATTR_CREATE), 0);
	assert_int_equal(sfs_setxattr(e->fs, f, "security.selinux", "ctx", 3, 0), 0);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.a", NULL, 0), 2);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.a", buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "22", 2);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.a", buf, 1), -ERANGE);
	assert_int_equal(sfs_getxattr(e->fs, f, "trusted.t", buf, sizeof(buf)), 0);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.none", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(sfs_listxattr(e->fs, f, NULL, 0), 7 + 10 + 17);
	assert_int_equal(sfs_listxattr(e->fs, f, buf, 5), -ERANGE);
	assert_int_equal(sfs_listxattr(e->fs, f, buf, sizeof(buf)), 34);
	assert_memory_equal(buf, "user.a\0trusted.t\0security.selinux\0", 34);
	remount(e);
	assert_int_equal(sfs_getxattr(e->fs, f, "security.selinux", buf, sizeof(buf)), 3);
	assert_int_equal(sfs_removexattr(e->fs, f, "user.a"), 0);
	assert_int_equal(sfs_removexattr(e->fs, f, "user.a"), -ENODATA);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.a", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(sfs_listxattr(e->fs, f, buf, sizeof(buf)), 27);
}

static void test_names_and_limits_give_linux_errors(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	struct sfs_attr a;
	char name[300], *big;

	assert_int_equal(sfs_setxattr(e->fs, f, "user.", "x", 1, 0), -EINVAL);
	assert_int_equal(sfs_setxattr(e->fs, f, "", "x", 1, 0), -ERANGE);
	assert_int_equal(sfs_setxattr(e->fs, f, "other.x", "x", 1, 0), -EOPNOTSUPP);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.foo", "x", 1, 0), -EOPNOTSUPP);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.x", "x", 1, 4), -EINVAL);
	memset(name, 'n', sizeof(name));
	memcpy(name, "user.", 5);
	name[255] = 0;
	assert_int_equal(sfs_setxattr(e->fs, f, name, "x", 1, 0), 0);
	name[255] = 'n';
	name[256] = 0;
	assert_int_equal(sfs_setxattr(e->fs, f, name, "x", 1, 0), -ERANGE);
	assert_int_equal(sfs_getxattr(e->fs, f, name, NULL, 0), -ERANGE);
	big = calloc(1, 70000);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.big", big, 65537, 0), -E2BIG);
	/* Larger than a block can hold: no room anywhere. */
	assert_int_equal(sfs_setxattr(e->fs, f, "user.big", big, 65536, 0), -ENOSPC);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.big", big, 4000, 0), 0);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.big", NULL, 0), 4000);
	free(big);
	/* user.* only on regular files and directories, as the VFS. */
	assert_int_equal(sfs_symlink(e->fs, ROOT, "l", "target", 0, me(), &a), 0);
	assert_int_equal(sfs_setxattr(e->fs, a.ino, "user.x", "x", 1, 0), -EPERM);
	assert_int_equal(sfs_setxattr(e->fs, a.ino, "trusted.x", "x", 1, 0), 0);
	assert_int_equal(sfs_setxattr(e->fs, ROOT, "user.x", "x", 1, 0), 0);
	assert_int_equal(sfs_removexattr(e->fs, ROOT, "user.x"), 0);
}

static void test_values_move_between_inline_and_block(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	char name[32], val[200], buf[256];
	struct sfs_attr a0, a1;

	assert_int_equal(sfs_getattr(e->fs, f, &a0), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "user.attr%02d", i);
		memset(val, 'a' + i % 26, sizeof(val));
		assert_int_equal(sfs_setxattr(e->fs, f, name, val, 40 + i, 0), 0);
	}
	assert_int_equal(sfs_getattr(e->fs, f, &a1), 0);
	assert_int_equal(a1.blocks, a0.blocks + 8);   /* one 4 KiB block, in 512-byte units */
	remount(e);
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "user.attr%02d", i);
		assert_int_equal(sfs_getxattr(e->fs, f, name, buf, sizeof(buf)), 40 + i);
		assert_int_equal(buf[0], 'a' + i % 26);
	}
	for (int i = 0; i < 40; i++) {
		if (i == 3)
			continue;
		snprintf(name, sizeof(name), "user.attr%02d", i);
		assert_int_equal(sfs_removexattr(e->fs, f, name), 0);
	}
	assert_int_equal(sfs_getattr(e->fs, f, &a1), 0);
	assert_int_equal(a1.blocks, a0.blocks);   /* back inline, the block freed */
	assert_int_equal(sfs_getxattr(e->fs, f, "user.attr03", buf, sizeof(buf)), 43);
	/* A file with a block, unlinked: the block goes with it. */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "user.attr%02d", i);
		assert_int_equal(sfs_setxattr(e->fs, f, name, val, 90, 0), 0);
	}
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
}

static void put_acl(uint8_t *p, unsigned n, const uint16_t (*ent)[2], const uint32_t *ids)
{
	sfs_put_le(p, 4, 2);
	for (unsigned i = 0; i < n; i++) {
		sfs_put_le(p + 4 + 8 * i, 2, ent[i][0]);
		sfs_put_le(p + 6 + 8 * i, 2, ent[i][1]);
		sfs_put_le(p + 8 + 8 * i, 4, ids[i]);
	}
}

static void test_posix_acls_are_checked(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	uint64_t d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	static const uint16_t good[][2] = { { 1, 6 }, { 2, 4 }, { 4, 4 }, { 0x10, 4 }, { 0x20, 4 } };
	static const uint16_t nomask[][2] = { { 1, 6 }, { 2, 4 }, { 4, 4 }, { 0x20, 4 } };
	static const uint16_t order[][2] = { { 4, 4 }, { 1, 6 }, { 0x20, 4 } };
	static const uint16_t minimal[][2] = { { 1, 6 }, { 4, 4 }, { 0x20, 4 } };
	static const uint32_t ids[] = { 0, 1000, 0, 0, 0 };
	uint8_t acl[64], buf[64];

	put_acl(acl, 5, good, ids);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_access", acl, 44, 0), 0);
	assert_int_equal(sfs_getxattr(e->fs, f, "system.posix_acl_access", buf, sizeof(buf)), 44);
	assert_memory_equal(buf, acl, 44);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_access", acl, 43, 0), -EINVAL);
	put_acl(acl, 4, nomask, ids);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_access", acl, 36, 0), -EINVAL);
	put_acl(acl, 3, order, ids);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_access", acl, 28, 0), -EINVAL);
	put_acl(acl, 3, minimal, ids);
	sfs_put_le(acl, 4, 1);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_access", acl, 28, 0), -EINVAL);
	sfs_put_le(acl, 4, 2);
	assert_int_equal(sfs_setxattr(e->fs, f, "system.posix_acl_default", acl, 28, 0), -EACCES);
	assert_int_equal(sfs_setxattr(e->fs, d, "system.posix_acl_default", acl, 28, 0), 0);
	assert_int_equal(sfs_listxattr(e->fs, d, (char *)buf, sizeof(buf)), 25);
	/* An empty ACL removes it. */
	assert_int_equal(sfs_setxattr(e->fs, d, "system.posix_acl_default", acl, 4, 0), 0);
	assert_int_equal(sfs_getxattr(e->fs, d, "system.posix_acl_default", buf, sizeof(buf)),
			 -ENODATA);
	assert_int_equal(sfs_removexattr(e->fs, f, "system.posix_acl_access"), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_set_get_list_remove_with_create_and_replace),
		T(test_names_and_limits_give_linux_errors),
		T(test_values_move_between_inline_and_block),
		T(test_posix_acls_are_checked),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
