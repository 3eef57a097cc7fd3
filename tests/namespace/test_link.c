/*
 * Hard links, symlinks and special files through the public API: link
 * counts across link, unlink, rename and rmdir; the link limit; symlink
 * targets inline and in blocks; FIFOs, sockets and devices; and the tree
 * check plus a clean fsck after each test.
 */
#include "ns_helpers.h"

const char *fsck_path;
static const char *db_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "nslink");
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

static void test_link_counts_follow_link_unlink_rename_rmdir(void **state)
{
	struct env *e = *state;
	struct sfs_attr a;
	uint64_t f, d1, d2, sub;

	d1 = mk(e->fs, ROOT, "d1", S_IFDIR | 0755);
	d2 = mk(e->fs, ROOT, "d2", S_IFDIR | 0755);
	assert_int_equal(nlink_of(e->fs, ROOT), 4);
	f = mk(e->fs, d1, "f", S_IFREG | 0644);
	assert_int_equal(sfs_link(e->fs, f, d2, "g", 0, &a), 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(sfs_link(e->fs, f, d1, "f2", 0, &a), 0);
	assert_int_equal(nlink_of(e->fs, f), 3);
	assert_int_equal(sfs_link(e->fs, f, d1, "f2", 0, &a), -EEXIST);
	assert_int_equal(sfs_link(e->fs, d1, ROOT, "dl", 0, &a), -EPERM);
	assert_int_equal(sfs_unlink(e->fs, d1, "f"), 0);
	assert_int_equal(nlink_of(e->fs, f), 2);
	/* A directory moving between parents moves a link with it. */
	sub = mk(e->fs, d1, "sub", S_IFDIR | 0755);
	assert_int_equal(nlink_of(e->fs, d1), 3);
	assert_int_equal(sfs_rename(e->fs, d1, "sub", d2, "sub", 0), 0);
	assert_int_equal(nlink_of(e->fs, d1), 2);
	assert_int_equal(nlink_of(e->fs, d2), 3);
	assert_int_equal(look(e->fs, sub, ".."), d2);
	/* Renaming a name over another name of the same file changes nothing. */
	assert_int_equal(sfs_rename(e->fs, d1, "f2", d2, "g", 0), 0);
	assert_int_equal(nlink_of(e->fs, f), 2);
	assert_int_equal(look(e->fs, d1, "f2"), f);
	/* Over another file: that one loses its link (and goes). */
	{
		uint64_t other = mk(e->fs, d2, "other", S_IFREG | 0644);

		assert_int_equal(sfs_rename(e->fs, d1, "f2", d2, "other", 0), 0);
		assert_int_equal(sfs_getattr(e->fs, other, &a), -ENOENT);
		assert_int_equal(nlink_of(e->fs, f), 2);
	}
	remount(e);
	assert_int_equal(sfs_rmdir(e->fs, d2, "sub"), 0);
	assert_int_equal(nlink_of(e->fs, d2), 2);
	assert_int_equal(sfs_unlink(e->fs, d2, "g"), 0);
	assert_int_equal(sfs_unlink(e->fs, d2, "other"), 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "d2"), 0);
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "d1"), 0);
	assert_int_equal(nlink_of(e->fs, ROOT), 2);
}

/* The link limit, reached by setting a count near it offline. */
static void test_link_limit_gives_emlink(void **state)
{
	struct env *e = *state;
	char ino[32], out[4096];
	struct sfs_attr a;
	uint64_t f, d;

	f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	{
		char *argv[] = { (char *)db_path, "-w", e->path, "set-inode", ino, "nlink", "64999",
				 NULL };

		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)f);
		assert_int_equal(run_tool(out, sizeof(out), argv), 0);
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)d);
		assert_int_equal(run_tool(out, sizeof(out), argv), 0);
	}
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(sfs_link(e->fs, f, ROOT, "g", 0, &a), 0);
	assert_int_equal(a.nlink, 65000);
	assert_int_equal(sfs_link(e->fs, f, ROOT, "h", 0, &a), -EMLINK);
	assert_int_equal(look(e->fs, ROOT, "h"), 0);
	mk(e->fs, d, "s1", S_IFDIR | 0755);
	assert_int_equal(sfs_mkdir(e->fs, d, "s2", 0755, 0, me(), &a), -EMLINK);
	assert_int_equal(look(e->fs, d, "s2"), 0);
	/* Put the counts back to the truth before the tree check. */
	assert_int_equal(sfs_unlink(e->fs, ROOT, "g"), 0);
	assert_int_equal(sfs_rmdir(e->fs, d, "s1"), 0);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	{
		char *argv[] = { (char *)db_path, "-w", e->path, "set-inode", ino, "nlink", "1", NULL };

		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)f);
		assert_int_equal(run_tool(out, sizeof(out), argv), 0);
		argv[6] = "2";
		snprintf(ino, sizeof(ino), "%llu", (unsigned long long)d);
		assert_int_equal(run_tool(out, sizeof(out), argv), 0);
	}
	e->fs = mount_opts(e->path, NULL);
}

static void test_symlinks_inline_and_in_blocks(void **state)
{
	struct env *e = *state;
	char target[4200], buf[4200];
	struct sfs_attr a;
	uint64_t s1, s2, s3;

	assert_int_equal(sfs_symlink(e->fs, ROOT, "short", "a/b/c", 0, me(), &a), 0);
	s1 = a.ino;
	assert_int_equal(a.mode, S_IFLNK | 0777);
	assert_int_equal(a.size, 5);
	assert_int_equal(a.blocks, 0);
	memset(target, 'x', sizeof(target));
	target[80] = 0;
	assert_int_equal(sfs_symlink(e->fs, ROOT, "eighty", target, 0, me(), &a), 0);
	s2 = a.ino;
	assert_int_equal(a.blocks, 0);
	target[80] = 'y';
	target[4095] = 0;
	assert_int_equal(sfs_symlink(e->fs, ROOT, "long", target, 0, me(), &a), 0);
	s3 = a.ino;
	assert_int_equal(a.size, 4095);
	assert_true(a.blocks > 0);
	target[4095] = 'z';
	target[4096] = 0;
	assert_int_equal(sfs_symlink(e->fs, ROOT, "toolong", target, 0, me(), &a), -ENAMETOOLONG);
	assert_int_equal(sfs_symlink(e->fs, ROOT, "empty", "", 0, me(), &a), -ENOENT);
	remount(e);
	assert_int_equal(sfs_readlink(e->fs, s1, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "a/b/c", 5);
	assert_int_equal(sfs_readlink(e->fs, s1, buf, 3), 5);   /* truncated copy */
	assert_memory_equal(buf, "a/b", 3);
	assert_int_equal(sfs_readlink(e->fs, s2, buf, sizeof(buf)), 80);
	assert_int_equal(sfs_readlink(e->fs, s3, buf, sizeof(buf)), 4095);
	target[4095] = 0;
	assert_memory_equal(buf, target, 4095);
	assert_int_equal(sfs_readlink(e->fs, ROOT, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "short"), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "long"), 0);
	assert_int_equal(sfs_getattr(e->fs, s3, &a), -ENOENT);
	(void)s2;
}

static void test_special_files_keep_their_type_and_device(void **state)
{
	struct env *e = *state;
	struct sfs_attr a;
	struct walk_list l;
	unsigned seen = 0;

	assert_int_equal(sfs_mknod(e->fs, ROOT, "fifo", S_IFIFO | 0600, 0, 0, me(), &a), 0);
	assert_int_equal(a.mode, S_IFIFO | 0600);
	assert_int_equal(sfs_mknod(e->fs, ROOT, "sock", S_IFSOCK | 0600, 0, 0, me(), &a), 0);
	assert_int_equal(sfs_mknod(e->fs, ROOT, "chr", S_IFCHR | 0600, makedev(1, 3), 0, me(), &a), 0);
	assert_int_equal(a.rdev, makedev(1, 3));
	assert_int_equal(sfs_mknod(e->fs, ROOT, "blk", S_IFBLK | 0600, makedev(8, 17), 0, me(), &a),
			 0);
	assert_int_equal(sfs_mknod(e->fs, ROOT, "plain", 0600, 0, 0, me(), &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0600);
	assert_int_equal(sfs_mknod(e->fs, ROOT, "dir", S_IFDIR | 0600, 0, 0, me(), &a), -EINVAL);
	assert_int_equal(sfs_create(e->fs, ROOT, "reg", 0640, SFS_NS_HOLD, me(), &a), 0);
	assert_int_equal(sfs_forget(e->fs, a.ino, 1), 0);
	remount(e);
	assert_int_equal(sfs_lookup(e->fs, ROOT, "blk", 0, &a), 0);
	assert_int_equal(a.mode, S_IFBLK | 0600);
	assert_int_equal(a.rdev, makedev(8, 17));
	list_dir(e->fs, ROOT, &l);
	for (size_t i = 2; i < l.n; i++) {
		const char *n = l.v[i].name;
		unsigned want = !strcmp(n, "fifo") ? DT_FIFO : !strcmp(n, "sock") ? DT_SOCK
			      : !strcmp(n, "chr") ? DT_CHR : !strcmp(n, "blk") ? DT_BLK : DT_REG;

		assert_int_equal(l.v[i].dtype, want);
		seen++;
	}
	assert_int_equal(seen, 6);
	free(l.v);
}

static void test_the_remaining_refusals(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	struct walk_list l = { 0 };
	struct sfs_attr a;

	assert_int_equal(sfs_rmdir(e->fs, ROOT, "f"), -ENOTDIR);
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "none"), -ENOENT);
	assert_int_equal(sfs_readdir(e->fs, f, 0, walk_collect, &l), -ENOTDIR);
	assert_int_equal(sfs_forget(e->fs, f, 1), -EINVAL);   /* no hold to give back */
	/* An unlinked file still held cannot get a name back (no O_TMPFILE). */
	assert_int_equal(sfs_lookup(e->fs, ROOT, "f", SFS_NS_HOLD, &a), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	assert_int_equal(sfs_link(e->fs, f, ROOT, "again", 0, &a), -ENOENT);
	assert_int_equal(sfs_forget(e->fs, f, 1), 0);
	assert_int_equal(sfs_link(e->fs, f, ROOT, "again", 0, &a), -ENOENT);
	assert_int_equal(sfs_lookup(e->fs, ROOT, "again", 0, &a), -ENOENT);
}

/* Inodes run out: ENOSPC, and the directory is as it was. */
static void test_running_out_of_inodes(void **state)
{
	struct env *e = *state;
	struct img_params p = { .size = 16 << 20, .journal_bytes = -1, .reserved_pct_x100 = 500,
				.inode_count = 64 };
	struct sfs_attr a;
	char name[16];
	int made = 0, ret = 0;

	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	make_image_p(e->path, &p);
	e->fs = mount_opts(e->path, NULL);
	for (int i = 0; i < 200 && !ret; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		ret = sfs_create(e->fs, ROOT, name, 0644, 0, me(), &a);
		made += !ret;
	}
	assert_int_equal(ret, -ENOSPC);
	assert_true(made > 10);
	assert_int_equal(look(e->fs, ROOT, name), 0);
	assert_int_equal(sfs_mkdir(e->fs, ROOT, "d", 0755, 0, me(), &a), -ENOSPC);
	assert_int_equal(sfs_symlink(e->fs, ROOT, "l", "t", 0, me(), &a), -ENOSPC);
	check_tree(e->fs, 0);
	/* Room again after one goes. */
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f0"), 0);
	assert_int_equal(sfs_mkdir(e->fs, ROOT, "d", 0755, 0, me(), &a), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_link_counts_follow_link_unlink_rename_rmdir),
		T(test_link_limit_gives_emlink),
		T(test_symlinks_inline_and_in_blocks),
		T(test_special_files_keep_their_type_and_device),
		T(test_the_remaining_refusals),
		T(test_running_out_of_inodes),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	db_path = argc > 2 ? argv[2] : NULL;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
