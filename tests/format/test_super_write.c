/*
 * The mounted filesystem's superblock writes (fs/super.c) go through the
 * superblock verifier: at unmount a superblock damaged in memory is refused
 * for the primary (buffer cache) and for the backup alike, so fsck can
 * still restore from an intact copy.
 *
 * argv[1] is mkfs.scopefs (meson passes the built executable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs/fs.h"
#include "fs/super.h"
#include "fs/format/mount.h"
#include "helpers.h"

static const char *mkfs_path;

static void peek(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void test_unmount_refuses_corrupt_superblock(void **state)
{
	uint8_t before[SFS_SB_SIZE], after[SFS_SB_SIZE];
	struct sfs_mount_opts o;
	struct sfs_sb_info *sbi;
	struct sfs_super backup;
	struct sfs_fs *fs;
	char path[256], out[4096], msg[256] = "";
	char *argv[] = { (char *)mkfs_path, "-q", path, "16M", NULL };
	uint64_t boff, bblk;
	uint32_t blog;

	(void)state;
	scratch_path(path, sizeof(path), "sbw");
	if (run_tool(out, sizeof(out), argv) != 0)
		fail_msg("mkfs failed: %s", out);
	assert_int_equal(sfs_sb_open(path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	bblk = sbi->geo.backup_sb_block;
	blog = sbi->geo.block_log;
	sfs_sb_free(sbi);
	boff = bblk << blog;

	sfs_mount_opts_default(&o);
	assert_int_equal(sfs_fs_mount(path, &o, &fs, msg, sizeof(msg)), 0);
	/* What the mount itself wrote is the last good backup. */
	peek(path, boff, before, sizeof(before));
	mc_mutex_lock(&fs->sbi->sb_lock);
	fs->sbi->sb.errors = 77;        /* no such error policy */
	mc_mutex_unlock(&fs->sbi->sb_lock);
	assert_int_not_equal(sfs_fs_unmount(fs), 0);

	peek(path, boff, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
	/* Both copies still verify and neither carries the damage. */
	assert_int_equal(sfs_sb_open(path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	assert_int_not_equal(sbi->sb.errors, 77);
	assert_int_equal(sfs_sb_read_copy(sbi->bdev, bblk, blog, &backup, msg, sizeof(msg)), 0);
	assert_int_not_equal(backup.errors, 77);
	sfs_sb_free(sbi);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unmount_refuses_corrupt_superblock),
	};
	char err[256];

	if (argc < 2) {
		fprintf(stderr, "usage: %s MKFS\n", argv[0]);
		return 2;
	}
	mkfs_path = argv[1];
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "mc_init: %s\n", err);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
