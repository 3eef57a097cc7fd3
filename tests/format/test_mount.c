/*
 * The library's mount path (sfs_sb_open / sfs_sb_load): a good image opens;
 * truncated, zero-filled, random, foreign-revision and future-feature
 * images, and damaged superblocks or descriptors, are refused with a
 * clear errno and sentence, never a crash; unknown ro_compat features
 * degrade to read-only; the image lock keeps a second writer out.
 *
 * argv[1] is mkfs.scopefs (meson passes the built executable).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fs/block/bdev.h"
#include "fs/format/hdr.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "helpers.h"

static const char *mkfs_path;

struct img {
	char path[256];
};

static void make_image(struct img *im, const char *size, const char *bs)
{
	char out[4096];
	char *argv[] = { (char *)mkfs_path, "-q", "-b", (char *)bs, "-g", "1024",
			 im->path, (char *)size, NULL };

	scratch_path(im->path, sizeof(im->path), "mnt");
	argv[6] = im->path;
	if (run_tool(out, sizeof(out), argv) != 0)
		fail_msg("mkfs failed: %s", out);
}

static int setup(void **state)
{
	struct img *im = mc_zalloc(sizeof(*im), MC_KERNEL);

	make_image(im, "16M", "4096");
	*state = im;
	return 0;
}

static int teardown(void **state)
{
	struct img *im = *state;

	unlink(im->path);
	mc_free(im);
	return 0;
}

/* Raw access beside the library, as a corrupting test would do it. */
static void poke(const char *path, uint64_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void peek(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Set a superblock field (by byte offset) and re-checksum, so only the
 * field is wrong. */
static void set_sb_field(const char *path, unsigned off, unsigned size, uint64_t v)
{
	uint8_t sb[SFS_SB_SIZE];

	peek(path, 0, sb, sizeof(sb));
	sfs_put_le(sb + off, size, v);
	sfs_put_le(sb + 8, 8, sfs_csum(sb, sizeof(sb), 8, 0));
	poke(path, 0, sb, sizeof(sb));
}

static int open_expect(const char *path, unsigned flags, struct sfs_sb_info **sbi, char *msg,
		       size_t len)
{
	int ret = sfs_sb_open(path, flags, sbi, msg, len);

	if (ret)
		assert_null(*sbi);
	assert_true(strlen(msg) > 0 || ret == 0);
	return ret;
}

static void test_good_image_opens_with_descriptors(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), 0);
	assert_non_null(sbi->gd);
	assert_int_equal(sbi->geo.group_count, 3);
	assert_false(sbi->read_only);
	assert_int_equal(sbi->gd[0].block_bitmap, sfs_geo_block_bitmap(&sbi->geo, 0));
	assert_true(sbi->gd[1].flags & SFS_BG_BLOCK_UNINIT);
	sfs_sb_free(sbi);
}

static void test_second_writer_is_refused_by_the_image_lock(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *a, *b = NULL;
	char msg[256] = "";

	assert_int_equal(sfs_sb_open(im->path, 0, &a, msg, sizeof(msg)), 0);
	assert_int_equal(sfs_sb_open(im->path, 0, &b, msg, sizeof(msg)), -EBUSY);
	assert_non_null(strstr(msg, "in use"));
	assert_int_equal(sfs_sb_open(im->path, SFS_MOUNT_RDONLY, &b, msg, sizeof(msg)), -EBUSY);
	sfs_sb_free(a);
	/* Readers share. */
	assert_int_equal(sfs_sb_open(im->path, SFS_MOUNT_RDONLY, &a, msg, sizeof(msg)), 0);
	assert_int_equal(sfs_sb_open(im->path, SFS_MOUNT_RDONLY, &b, msg, sizeof(msg)), 0);
	sfs_sb_free(a);
	sfs_sb_free(b);
}

static void test_zero_filled_image_is_not_scopefs(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	assert_int_equal(truncate(im->path, 0), 0);
	assert_int_equal(truncate(im->path, 16 << 20), 0);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a scopefs image"));
}

static void test_random_image_is_not_scopefs(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";
	uint8_t buf[65536];

	for (int i = 0; i < 256; i++) {
		for (size_t got = 0; got < sizeof(buf);) {
			ssize_t n = getrandom(buf + got, sizeof(buf) - got, 0);

			assert_true(n > 0);
			got += (size_t)n;
		}
		poke(im->path, (uint64_t)i * sizeof(buf), buf, sizeof(buf));
	}
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EINVAL);
}

static void test_tiny_image_is_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	assert_int_equal(truncate(im->path, 100), 0);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "too small"));
}

static void test_truncated_image_is_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	assert_int_equal(truncate(im->path, 8 << 20), 0);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSCORRUPTED);
	assert_non_null(strstr(msg, "truncated"));
	/* Even a truncation inside the superblock's own block. */
	assert_int_equal(truncate(im->path, 2000), 0);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSCORRUPTED);
}

static void test_future_incompat_feature_is_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	set_sb_field(im->path, offsetof(struct sfs_disk_super, feature_incompat), 4, 0x100);
	assert_int_equal(open_expect(im->path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(msg, "incompatible"));
}

static void test_future_revision_is_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	set_sb_field(im->path, offsetof(struct sfs_disk_super, rev_level), 4, 2);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EOPNOTSUPP);
}

static void test_unknown_ro_compat_feature_opens_read_only(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";

	set_sb_field(im->path, offsetof(struct sfs_disk_super, feature_ro_compat), 4, 0x101);
	assert_int_equal(sfs_sb_open(im->path, 0, &sbi, msg, sizeof(msg)), 0);
	assert_true(sbi->read_only);
	assert_true(sbi->forced_ro);
	assert_non_null(strstr(msg, "read-only"));
	assert_int_equal(sfs_sb_write(sbi, false), -EROFS);
	sfs_sb_free(sbi);
}

static void test_damaged_superblock_is_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	char msg[256] = "";
	uint8_t b;

	peek(im->path, 500, &b, 1);
	b ^= 0x40;
	poke(im->path, 500, &b, 1);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSBADCRC);
	assert_non_null(strstr(msg, "fsck.scopefs"));
	b ^= 0x40;
	poke(im->path, 500, &b, 1);
	/* Bad geometry with a valid checksum. */
	set_sb_field(im->path, offsetof(struct sfs_disk_super, blocks_per_group), 4, 4096);
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSCORRUPTED);
	assert_non_null(strstr(msg, "geometry"));
}

static void test_damaged_descriptors_are_refused(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	uint8_t blk[4096];
	char msg[256] = "";

	peek(im->path, 4096, blk, sizeof(blk));
	blk[200] ^= 1;
	poke(im->path, 4096, blk, sizeof(blk));
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSBADCRC);
	blk[200] ^= 1;
	/* Group 1's inode table moved, checksum valid: bad geometry. */
	sfs_put_le(blk + 64 + 64 + 16, 8, 7);
	poke(im->path, 4096, blk, sizeof(blk));
	{
		/* Re-checksum with the filesystem's seed. */
		uint8_t sb[SFS_SB_SIZE];

		peek(im->path, 0, sb, sizeof(sb));
		sfs_put_le(blk + 8, 8, sfs_csum(blk, sizeof(blk), 8, sfs_get_le(sb + 176, 8)));
		poke(im->path, 4096, blk, sizeof(blk));
	}
	assert_int_equal(open_expect(im->path, 0, &sbi, msg, sizeof(msg)), -EFSCORRUPTED);
	assert_non_null(strstr(msg, "inode table"));
}

static void test_superblock_write_keeps_backup_in_step(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	struct sfs_bdev *bdev;
	struct sfs_super backup;
	char msg[256] = "";

	assert_int_equal(sfs_sb_open(im->path, 0, &sbi, msg, sizeof(msg)), 0);
	strcpy(sbi->sb.label, "renamed");
	sbi->sb.mount_count = 7;
	assert_int_equal(sfs_sb_write(sbi, true), 0);
	sfs_sb_free(sbi);

	assert_int_equal(sfs_sb_open(im->path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	assert_string_equal(sbi->sb.label, "renamed");
	assert_int_equal(sbi->sb.mount_count, 7);
	assert_int_equal(sfs_sb_read_copy(sbi->bdev, sbi->geo.backup_sb_block, sbi->geo.block_log,
					  &backup, msg, sizeof(msg)), 0);
	assert_string_equal(backup.label, "renamed");
	sfs_sb_free(sbi);

	/* The backup is found by probing when the primary is gone. */
	assert_int_equal(sfs_bdev_open(im->path, SFS_BDEV_RDONLY, NULL, &bdev), 0);
	{
		uint64_t blk;

		assert_int_equal(sfs_sb_probe_backup(bdev, &backup, &blk, msg, sizeof(msg)), 0);
		assert_int_equal(blk, (16u << 20) / 4096 - 1);
	}
	sfs_bdev_close(bdev);
}

/* A superblock that fails its verifier in memory is refused before either
 * copy is written: the good copies on disk stay as they were. */
static void test_superblock_write_refuses_corrupt_copy(void **state)
{
	struct img *im = *state;
	struct sfs_sb_info *sbi;
	uint8_t before[SFS_SB_SIZE], after[SFS_SB_SIZE];
	uint8_t bbefore[SFS_SB_SIZE], bafter[SFS_SB_SIZE];
	uint64_t boff;
	char msg[256] = "";

	assert_int_equal(sfs_sb_open(im->path, 0, &sbi, msg, sizeof(msg)), 0);
	boff = sbi->geo.backup_sb_block << sbi->geo.block_log;
	peek(im->path, 0, before, sizeof(before));
	peek(im->path, boff, bbefore, sizeof(bbefore));
	/* An error policy the verifier does not know. */
	sbi->sb.errors = 77;
	assert_int_equal(sfs_sb_write(sbi, true), -EFSCORRUPTED);
	assert_non_null(strstr(sfs_verify_reason(), "error policy"));
	/* Geometry that disagrees with itself. */
	sbi->sb.errors = SFS_ERRORS_CONTINUE;
	sbi->sb.group_count += 3;
	assert_int_equal(sfs_sb_write(sbi, false), -EFSCORRUPTED);
	sfs_sb_free(sbi);
	peek(im->path, 0, after, sizeof(after));
	peek(im->path, boff, bafter, sizeof(bafter));
	assert_memory_equal(before, after, sizeof(before));
	assert_memory_equal(bbefore, bafter, sizeof(bbefore));
	assert_int_equal(sfs_sb_open(im->path, 0, &sbi, msg, sizeof(msg)), 0);
	sfs_sb_free(sbi);
}

static void test_every_block_size_opens(void **state)
{
	static const char *const cases[][2] = { { "1024", "16M" }, { "4096", "16M" },
						{ "65536", "256M" } };

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct img im;
		struct sfs_sb_info *sbi;
		char msg[256] = "";

		make_image(&im, cases[i][1], cases[i][0]);
		assert_int_equal(sfs_sb_open(im.path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
		assert_int_equal(sbi->geo.block_size, (uint32_t)atoi(cases[i][0]));
		sfs_sb_free(sbi);
		unlink(im.path);
	}
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_image_opens_with_descriptors),
		T(test_second_writer_is_refused_by_the_image_lock),
		T(test_zero_filled_image_is_not_scopefs),
		T(test_random_image_is_not_scopefs),
		T(test_tiny_image_is_refused),
		T(test_truncated_image_is_refused),
		T(test_future_incompat_feature_is_refused),
		T(test_future_revision_is_refused),
		T(test_unknown_ro_compat_feature_opens_read_only),
		T(test_damaged_superblock_is_refused),
		T(test_damaged_descriptors_are_refused),
		T(test_superblock_write_keeps_backup_in_step),
		T(test_superblock_write_refuses_corrupt_copy),
		cmocka_unit_test(test_every_block_size_opens),
	};
#undef T

	if (argc < 2) {
		fprintf(stderr, "usage: %s MKFS\n", argv[0]);
		return 1;
	}
	mkfs_path = argv[1];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
