/*
 * Shared by the fs tests: scratch images made with the library's own mkfs
 * code (mkfs/create.c linked in), mounting through the public API, files
 * named in the root, and running fsck.scopefs (its path is the test's
 * first argument; its namespace passes see every inode in use reachable)
 * on the unmounted image.  Images live in $SCOPEFS_TEST_DIR, else /var/tmp, else
 * /tmp, and are removed by each test.
 */
#ifndef TESTS_FS_HELPERS_H
#define TESTS_FS_HELPERS_H

#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../format/helpers.h"
#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/geometry.h"
#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "mkfs/mkfs.h"

extern const char *fsck_path;    /* argv[1] */

struct img_params {
	uint32_t block_log;          /* 0 = 12 */
	uint64_t size;               /* bytes */
	uint32_t blocks_per_group;   /* 0 = default */
	int64_t journal_bytes;       /* < 0 default */
	uint32_t reserved_pct_x100;  /* root reserve */
	uint64_t inode_count;        /* 0 = default */
};

/* Make a fresh image at @path with the library's mkfs code. */
static inline void make_image_p(const char *path, const struct img_params *ip)
{
	struct mkfs_opts o;
	struct sfs_bdev *bdev;
	struct mkfs_result res;
	struct sfs_sb_info sbi;
	struct sfs_geo geo;
	char msg[256];
	uint64_t size = ip->size;

	memset(&o, 0, sizeof(o));
	o.image = path;
	o.geo.block_log = ip->block_log;
	o.geo.journal_bytes = ip->journal_bytes;
	o.geo.blocks_per_group = ip->blocks_per_group;
	o.geo.inode_count = ip->inode_count;
	o.reserved_pct_x100 = ip->reserved_pct_x100;
	o.quiet = true;
	/* Whole 4 KiB units, as mkfs.scopefs rounds. */
	for (int i = 0; i < 8; i++) {
		o.geo.size = size - size % 4096;
		if (sfs_geo_compute(&o.geo, &geo, msg, sizeof(msg))) {
			fprintf(stderr, "geometry: %s\n", msg);
			abort();
		}
		if (((geo.block_count << geo.block_log) % 4096) == 0)
			break;
		size = geo.block_count << geo.block_log;
	}
	unlink(path);
	if (sfs_bdev_open(path, SFS_BDEV_CREATE, NULL, &bdev))
		abort();
	if (mkfs_prepare(&o, &geo, &sbi))
		abort();
	if (sfs_bdev_set_size(bdev, geo.block_count << geo.block_log))
		abort();
	if (mkfs_write(&o, &sbi, bdev, &res))
		abort();
	sfs_bdev_close(bdev);
	sfs_sb_info_destroy(&sbi);
}

static inline void make_image(const char *path, uint32_t block_log, uint64_t size,
			      uint32_t bpg)
{
	struct img_params p = { .block_log = block_log, .size = size, .blocks_per_group = bpg,
				.journal_bytes = -1, .reserved_pct_x100 = 500 };

	make_image_p(path, &p);
}

static inline struct sfs_fs *mount_opts(const char *path, const char *opts)
{
	struct sfs_mount_opts o;
	struct sfs_fs *fs = NULL;
	char msg[256];
	int ret;

	sfs_mount_opts_default(&o);
	if (opts && sfs_mount_opts_parse(&o, opts, msg, sizeof(msg))) {
		fprintf(stderr, "mount options: %s\n", msg);
		abort();
	}
	ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg));
	if (ret)
		fprintf(stderr, "mount %s: %s (%d)\n", path, msg, ret);
	assert_int_equal(ret, 0);
	return fs;
}

/* fsck.scopefs -fn on the unmounted image: 0 = clean.  Output in @out. */
static inline int run_fsck(const char *path, char *out, size_t outlen)
{
	char *argv[] = { (char *)fsck_path, "-fn", (char *)path, NULL };

	return run_tool(out, outlen, argv);
}

static inline void assert_fsck_clean(const char *path)
{
	char out[16384];
	int ret = run_fsck(path, out, sizeof(out));

	if (ret)
		fprintf(stderr, "fsck %s exited %d:\n%s\n", path, ret, out);
	assert_int_equal(ret, 0);
}

/*
 * Files are named in the root, "f<N>" (fsck checks that every inode in use
 * is reachable): the name of each inode made here is remembered so a test
 * can drop it by inode number.
 */
static uint32_t *file_names;     /* by inode number: N of "f<N>", 0 = none */
static uint64_t file_names_len;
static uint32_t file_seq;

static inline void file_name_of(uint64_t ino, char *buf, size_t len)
{
	assert_true(ino < file_names_len && file_names[ino]);
	snprintf(buf, len, "f%u", file_names[ino]);
}

/* A regular file of mode 0644 owned by the caller, named in the root. */
static inline int new_file_err(struct sfs_fs *fs, uint64_t *ino)
{
	struct sfs_cred cr = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
	struct sfs_attr a;
	char name[32];
	int ret;

	snprintf(name, sizeof(name), "f%u", ++file_seq);
	ret = sfs_create(fs, 2, name, 0644, 0, &cr, &a);
	if (ret)
		return ret;
	if (a.ino >= file_names_len) {
		uint64_t n = a.ino * 2 + 64;

		file_names = realloc(file_names, n * sizeof(*file_names));
		memset(file_names + file_names_len, 0, (n - file_names_len) * sizeof(*file_names));
		file_names_len = n;
	}
	file_names[a.ino] = file_seq;
	*ino = a.ino;
	return 0;
}

static inline uint64_t new_file(struct sfs_fs *fs)
{
	uint64_t ino = 0;

	assert_int_equal(new_file_err(fs, &ino), 0);
	return ino;
}

/* Remove the name new_file gave @ino (the inode goes with its last user). */
static inline int unlink_file(struct sfs_fs *fs, uint64_t ino)
{
	char name[32];
	int ret;

	if (ino >= file_names_len || !file_names[ino])
		return -ENOENT;
	file_name_of(ino, name, sizeof(name));
	ret = sfs_unlink(fs, 2, name);
	if (!ret)
		file_names[ino] = 0;
	return ret;
}

static inline int test_main_init(int argc, char **argv)
{
	char err[256];

	if (argc < 2) {
		fprintf(stderr, "usage: %s FSCK\n", argv[0]);
		return -1;
	}
	fsck_path = argv[1];
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "mc_init: %s\n", err);
		return -1;
	}
	return 0;
}

#endif
