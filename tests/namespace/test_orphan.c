/*
 * The orphan file: an unlinked inode still in use lives until its last
 * hold goes; across a power cut (the block layer drops every later write)
 * it is found and freed by the next mount; a held, unlinked inode that the
 * inode cache frees (its hold given back through sfs_inode_release, or at
 * unmount) takes its xattr block and orphan slot with it, and an inline
 * symlink its target, leaving nothing for the next mount; the truncate
 * API issue 9 calls finishes at the next mount.
 */
#include "ns_helpers.h"
#include "fs/file.h"
#include "fs/namespace/orphan.h"
#include "fs/super.h"

const char *fsck_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "nsorphan");
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

static uint64_t ffree(struct sfs_fs *fs)
{
	struct sfs_statfs st;

	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	return st.ffree;
}

static uint64_t bfree(struct sfs_fs *fs)
{
	struct sfs_statfs st;

	assert_int_equal(sfs_fs_commit(fs), 0);
	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	return st.bfree;
}

static void fill(struct sfs_fs *fs, uint64_t ino, size_t len)
{
	static uint8_t buf[256 * 1024];

	memset(buf, 0x5a, sizeof(buf));
	for (size_t off = 0; off < len; off += sizeof(buf))
		assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), off, 0, me()),
				 (ssize_t)sizeof(buf));
}

static void test_unlinked_inode_lives_until_its_last_hold(void **state)
{
	struct env *e = *state;
	uint64_t files = ffree(e->fs), f;
	struct sfs_attr a;
	uint8_t buf[16];

	assert_int_equal(sfs_create(e->fs, ROOT, "f", 0644, SFS_NS_HOLD, me(), &a), 0);
	f = a.ino;
	fill(e->fs, f, 1 << 20);
	assert_int_equal(sfs_setxattr(e->fs, f, "user.x", "y", 1, 0), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	assert_int_equal(look(e->fs, ROOT, "f"), 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(sfs_read(e->fs, f, buf, sizeof(buf), 4096), (ssize_t)sizeof(buf));
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(sfs_getxattr(e->fs, f, "user.x", buf, sizeof(buf)), 1);
	assert_int_equal(ffree(e->fs), files - 1);
	assert_int_equal(sfs_forget(e->fs, f, 1), 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
	assert_int_equal(ffree(e->fs), files);
}

static void test_unlinked_in_use_inode_survives_a_power_cut(void **state)
{
	struct env *e = *state;
	uint64_t files = ffree(e->fs), blocks, f, d;
	struct sfs_attr a;
	char name[32];
	uint64_t done;

	blocks = bfree(e->fs);
	assert_int_equal(sfs_create(e->fs, ROOT, "f", 0644, SFS_NS_HOLD, me(), &a), 0);
	f = a.ino;
	fill(e->fs, f, 2 << 20);
	/* An external xattr block too, and a held directory removed. */
	for (int i = 0; i < 30; i++) {
		char val[100];

		snprintf(name, sizeof(name), "user.a%d", i);
		memset(val, 'v', sizeof(val));
		assert_int_equal(sfs_setxattr(e->fs, f, name, val, sizeof(val), 0), 0);
	}
	assert_int_equal(sfs_mkdir(e->fs, ROOT, "d", 0755, SFS_NS_HOLD, me(), &a), 0);
	d = a.ino;
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-%d", i);
		mk(e->fs, d, name, S_IFREG | 0644);
	}
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "entry-%d", i);
		assert_int_equal(sfs_unlink(e->fs, d, name), 0);
	}
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "d"), 0);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	/* The power goes: nothing the unmount writes reaches the image. */
	sfs_bdev_power_cut(e->fs->bdev);
	sfs_fs_unmount(e->fs);
	e->fs = mount_opts(e->path, NULL);
	/* The mount finished them; another replay finds nothing. */
	assert_true(e->fs->stats.orphans_finished >= 1);
	assert_int_equal(sfs_orphan_replay(e->fs, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
	assert_int_equal(sfs_getattr(e->fs, d, &a), -ENOENT);
	assert_int_equal(ffree(e->fs), files);
	/* Everything came back but the orphan file's own block. */
	assert_true(bfree(e->fs) + 1 >= blocks);
}

/* Create the orphan file (it keeps its block from then on), so that
 * free-block counts taken after this compare exactly. */
static void make_orphan_file(struct sfs_fs *fs)
{
	struct sfs_attr a;

	assert_int_equal(sfs_create(fs, ROOT, "warm", 0644, SFS_NS_HOLD, me(), &a), 0);
	assert_int_equal(sfs_unlink(fs, ROOT, "warm"), 0);
	assert_int_equal(sfs_forget(fs, a.ino, 1), 0);
}

static uint64_t held_file_with_xattr_block(struct sfs_fs *fs, const char *name)
{
	struct sfs_attr a;

	assert_int_equal(sfs_create(fs, ROOT, name, 0644, SFS_NS_HOLD, me(), &a), 0);
	for (int i = 0; i < 30; i++) {
		char xname[32], val[100];

		snprintf(xname, sizeof(xname), "user.a%d", i);
		memset(val, 'v', sizeof(val));
		assert_int_equal(sfs_setxattr(fs, a.ino, xname, val, sizeof(val), 0), 0);
	}
	assert_int_equal(sfs_getattr(fs, a.ino, &a), 0);
	assert_int_equal(a.blocks, 8);   /* the external block */
	return a.ino;
}

/* Read-only mount: nothing is finished or swept, so the counts are what
 * the last run left. */
static void expect_counts_read_only(struct env *e, uint64_t files, uint64_t blocks)
{
	e->fs = mount_opts(e->path, "ro");
	assert_int_equal(ffree(e->fs), files);
	assert_int_equal(bfree(e->fs), blocks);
	assert_int_equal(e->fs->sbi->sb.error_count, 0);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(e->fs->stats.orphans_finished, 0);
}

static void test_held_unlinked_inode_at_unmount_frees_its_xattr_block(void **state)
{
	struct env *e = *state;
	uint64_t files, blocks, f;
	struct sfs_attr a;

	make_orphan_file(e->fs);
	files = ffree(e->fs);
	blocks = bfree(e->fs);
	f = held_file_with_xattr_block(e->fs, "f");
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	/* Unmount gives the hold back through the inode cache, whose
	 * freeing transaction frees the block and clears the slot. */
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	assert_fsck_clean(e->path);
	expect_counts_read_only(e, files, blocks);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
}

static void test_inode_release_frees_an_unlinked_inode_whole(void **state)
{
	struct env *e = *state;
	uint64_t files, blocks, f;

	make_orphan_file(e->fs);
	files = ffree(e->fs);
	blocks = bfree(e->fs);
	f = held_file_with_xattr_block(e->fs, "f");
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	assert_int_equal(bfree(e->fs), blocks - 1);
	assert_int_equal(sfs_inode_release(e->fs, f), 0);
	assert_int_equal(ffree(e->fs), files);
	assert_int_equal(bfree(e->fs), blocks);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	assert_fsck_clean(e->path);
	expect_counts_read_only(e, files, blocks);
}

/* The inode cache frees what unmount releases: an unlinked inline
 * symlink's root is its target, not a tree to truncate. */
static void test_held_unlinked_symlink_at_unmount(void **state)
{
	struct env *e = *state;
	const char *target = "some/target";
	uint64_t files, blocks, ln, ln2;
	struct sfs_attr a;
	char buf[64];

	make_orphan_file(e->fs);
	files = ffree(e->fs);
	blocks = bfree(e->fs);
	assert_int_equal(sfs_symlink(e->fs, ROOT, "ln", target, SFS_NS_HOLD, me(), &a), 0);
	ln = a.ino;
	assert_int_equal(sfs_symlink(e->fs, ROOT, "ln2", target, SFS_NS_HOLD, me(), &a), 0);
	ln2 = a.ino;
	assert_int_equal(sfs_unlink(e->fs, ROOT, "ln"), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "ln2"), 0);
	/* Still held: still its target (an O_PATH descriptor reads it). */
	assert_int_equal(sfs_readlink(e->fs, ln, buf, sizeof(buf)), (ssize_t)strlen(target));
	assert_memory_equal(buf, target, strlen(target));
	/* One goes now through the inode cache, the other at unmount. */
	assert_int_equal(sfs_inode_release(e->fs, ln2), 0);
	assert_int_equal(sfs_getattr(e->fs, ln2, &a), -ENOENT);
	assert_int_equal(e->fs->sbi->sb.error_count, 0);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	assert_fsck_clean(e->path);
	expect_counts_read_only(e, files, blocks);
}

static void test_recorded_truncate_finishes_at_the_next_mount(void **state)
{
	struct env *e = *state;
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	struct sfs_attr a;
	uint64_t f, done;
	uint8_t buf[16];

	assert_int_equal(sfs_create(e->fs, ROOT, "f", 0644, 0, me(), &a), 0);
	f = a.ino;
	fill(e->fs, f, 4 << 20);
	/* What issue 9's truncate will do: record, log the new size, crash
	 * before the blocks go. */
	assert_int_equal(sfs_iget(e->fs, f, &ip), 0);
	assert_int_equal(sfs_trans_start(e->fs, SFS_ORPHAN_ADD_CREDITS + 1, 0, &t), 0);
	assert_int_equal(sfs_orphan_add(&t, ip), 0);
	assert_int_equal(sfs_inode_access(&t, ip, false), 0);
	ip->d.size = 4096 + 100;
	assert_int_equal(sfs_inode_commit(&t, ip), 0);
	assert_int_equal(sfs_trans_stop(&t), 0);
	sfs_iput(ip);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	sfs_bdev_power_cut(e->fs->bdev);
	sfs_fs_unmount(e->fs);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(e->fs->stats.orphans_finished, 1);
	assert_int_equal(sfs_orphan_replay(e->fs, &done), 0);
	assert_int_equal(done, 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), 0);
	assert_int_equal(a.size, 4196);
	assert_int_equal(a.blocks, 2 * 8);
	assert_int_equal(sfs_read(e->fs, f, buf, sizeof(buf), 4096), (ssize_t)sizeof(buf));
	assert_int_equal(buf[0], 0x5a);
	/* Recorded again and removed: nothing left for the next mount. */
	assert_int_equal(sfs_iget(e->fs, f, &ip), 0);
	assert_int_equal(sfs_trans_start(e->fs, SFS_ORPHAN_ADD_CREDITS, 0, &t), 0);
	assert_int_equal(sfs_orphan_add(&t, ip), 0);
	assert_int_equal(sfs_orphan_del(&t, ip), 0);
	assert_int_equal(sfs_trans_stop(&t), 0);
	sfs_iput(ip);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(e->fs->stats.orphans_finished, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_unlinked_inode_lives_until_its_last_hold),
		T(test_unlinked_in_use_inode_survives_a_power_cut),
		T(test_held_unlinked_inode_at_unmount_frees_its_xattr_block),
		T(test_inode_release_frees_an_unlinked_inode_whole),
		T(test_held_unlinked_symlink_at_unmount),
		T(test_recorded_truncate_finishes_at_the_next_mount),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
