/*
 * The orphan file: an unlinked inode still in use lives until its last
 * hold goes; across a power cut (the block layer drops every later write)
 * it is found and freed at the next mount; a held, unlinked inode left at
 * unmount leaves a stale slot (and its xattr block) that the next mount
 * sweeps; the truncate API issue 9 calls finishes at the next mount.
 */
#include "ns_helpers.h"
#include "fs/file.h"
#include "fs/namespace/orphan.h"
#include "fs/super.h"

const char *fsck_path, *fsckns_path;

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
	assert_fsck_ns_clean(e->path);
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
	assert_int_equal(sfs_getattr(e->fs, f, &a), 0);
	assert_int_equal(a.nlink, 0);
	assert_int_equal(sfs_orphan_replay(e->fs, &done), 0);
	assert_true(done >= 1);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
	assert_int_equal(sfs_getattr(e->fs, d, &a), -ENOENT);
	assert_int_equal(ffree(e->fs), files);
	/* Everything came back but the orphan file's own block. */
	assert_true(bfree(e->fs) + 1 >= blocks);
}

static void test_held_unlinked_inode_at_unmount_is_swept_next_mount(void **state)
{
	struct env *e = *state;
	uint64_t files = ffree(e->fs), f;
	struct sfs_attr a;

	assert_int_equal(sfs_create(e->fs, ROOT, "f", 0644, SFS_NS_HOLD, me(), &a), 0);
	f = a.ino;
	for (int i = 0; i < 30; i++) {
		char name[32], val[100];

		snprintf(name, sizeof(name), "user.a%d", i);
		memset(val, 'v', sizeof(val));
		assert_int_equal(sfs_setxattr(e->fs, f, name, val, sizeof(val), 0), 0);
	}
	assert_int_equal(sfs_unlink(e->fs, ROOT, "f"), 0);
	/* Unmount gives the hold back through the inode cache, which frees
	 * the inode but knows no xattr blocks: its slot keeps the block. */
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	if (fsckns_path) {
		char out[8192];

		assert_int_equal(run_fsck_ns(e->path, out, sizeof(out)), 0);
	}
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(sfs_orphan_replay(e->fs, NULL), 0);
	assert_int_equal(sfs_getattr(e->fs, f, &a), -ENOENT);
	assert_int_equal(ffree(e->fs), files);
}

/* The inode cache frees what unmount releases by truncating it: an
 * unlinked inline symlink must not show it a target for a tree. */
static void test_held_unlinked_symlink_at_unmount(void **state)
{
	struct env *e = *state;
	uint64_t files = ffree(e->fs);
	struct sfs_attr a;

	assert_int_equal(sfs_symlink(e->fs, ROOT, "ln", "some/target", SFS_NS_HOLD, me(), &a), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "ln"), 0);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	assert_fsck_ns_clean(e->path);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(sfs_orphan_replay(e->fs, NULL), 0);
	assert_int_equal(ffree(e->fs), files);
	{
		struct sfs_super *sb = &e->fs->sbi->sb;

		assert_int_equal(sb->error_count, 0);
	}
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
	assert_int_equal(sfs_orphan_replay(e->fs, &done), 0);
	assert_int_equal(done, 1);
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
	assert_int_equal(sfs_orphan_replay(e->fs, &done), 0);
	assert_int_equal(done, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_unlinked_inode_lives_until_its_last_hold),
		T(test_unlinked_in_use_inode_survives_a_power_cut),
		T(test_held_unlinked_inode_at_unmount_is_swept_next_mount),
		T(test_held_unlinked_symlink_at_unmount),
		T(test_recorded_truncate_finishes_at_the_next_mount),
#undef T
	};
	int ret;

	if (ns_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
