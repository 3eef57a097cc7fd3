/*
 * scopefs-db's truncate family (range.h): each command mounts the image
 * read-write through the library (with -o options), runs one operation,
 * prints what the file looks like after it, and unmounts.  Errors are
 * printed with their errno name and, for the EINVALs of collapse and
 * insert, the rule that was broken.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/fs.h"
#include "tools/common/toolutil.h"
#include "tools/db/db.h"
#include "tools/db/range.h"

struct range_args {
	uint64_t ino, off, len;
	bool keep_size;
};

typedef int (*range_fn)(struct sfs_fs *fs, const struct range_args *a, const char *cmd);

static const char *errname(int err)
{
	const char *n = strerrorname_np(err);

	return n ? n : "?";
}

/* Why Linux refuses a collapse or insert with EINVAL (the same rules the
 * library applies, falloc.c), from the file as it is. */
static void explain_einval(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	struct sfs_attr at;
	uint64_t bs;

	if (sfs_getattr(fs, a->ino, &at))
		return;
	bs = at.blksize;
	if (!a->len)
		fprintf(stderr, "  the length is zero\n");
	else if (a->off % bs || a->len % bs)
		fprintf(stderr, "  OFF and LEN must be multiples of the block size (%llu)\n",
			(unsigned long long)bs);
	else if (!strcmp(cmd, "collapse") && a->off + a->len >= at.size)
		fprintf(stderr, "  the range must end before the end of the file (size %llu)\n",
			(unsigned long long)at.size);
	else if (!strcmp(cmd, "insert") && a->off >= at.size)
		fprintf(stderr, "  OFF must be below the size of the file (%llu)\n",
			(unsigned long long)at.size);
	else if ((at.mode & 0170000) != 0100000)
		fprintf(stderr, "  inode %llu is not a regular file\n", (unsigned long long)a->ino);
}

/* Parse INO and @nnum more numbers (and an optional keep-size), mount, run
 * @fn, unmount. */
static int with_range(struct db *db, int argc, char **argv, int nnum, bool keep_ok,
		      const char *usage, range_fn fn)
{
	struct range_args a = { 0 };
	struct sfs_fs *fs;
	uint64_t *v[] = { &a.ino, &a.off, &a.len };
	int ret;

	if (argc - 1 == nnum + 1 && keep_ok && !strcmp(argv[argc - 1], "keep-size")) {
		a.keep_size = true;
		argc--;
	}
	if (argc - 1 != nnum)
		return db_err("usage: %s %s", argv[0], usage);
	for (int i = 0; i < nnum; i++)
		if (db_parse_u64(argv[1 + i], v[i], i ? "offset or length" : "inode"))
			return -1;
	if (!db->writable)
		return db_err("%s mounts the image read-write: open it with -w", argv[0]);
	if (db_fs_mount(db, &fs))
		return -1;
	ret = fn(fs, &a, argv[0]);
	if (ret < 0) {
		db_err("%s: %s (%s)", argv[0], strerror(-ret), errname(-ret));
		if (ret == -EINVAL)
			explain_einval(fs, &a, argv[0]);
	}
	return db_fs_unmount(db, fs, ret);
}

/* The file after a change: size, blocks allocated, extents. */
static int report(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_map m[64];
	struct sfs_attr at;
	uint64_t lblk = 0, extents = 0;
	unsigned n;
	int ret;

	ret = sfs_getattr(fs, ino, &at);
	if (ret)
		return ret;
	/* Count the extents in batches (the map has no "how many"). */
	do {
		ret = sfs_extent_map(fs, ino, lblk, (1ull << 32) - lblk, m, 64, &n);
		if (ret)
			return ret;
		extents += n;
		if (n)
			lblk = m[n - 1].lblk + m[n - 1].len;
	} while (n == 64 && lblk < (1ull << 32));
	printf("inode %llu: size %llu, %llu blocks of %u bytes, %llu extents\n",
	       (unsigned long long)ino, (unsigned long long)at.size,
	       (unsigned long long)(at.blocks * 512 / at.blksize), at.blksize,
	       (unsigned long long)extents);
	return 0;
}

static int falloc_mode(struct sfs_fs *fs, const struct range_args *a, unsigned mode)
{
	int ret = sfs_fallocate(fs, a->ino, mode, a->off, a->len, NULL);

	return ret ? ret : report(fs, a->ino);
}

static int do_truncate(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	struct sfs_setattr sa = { .valid = SFS_SET_SIZE, .size = a->off };
	int ret;

	(void)cmd;
	ret = sfs_setattr(fs, a->ino, &sa, NULL, NULL);
	return ret ? ret : report(fs, a->ino);
}

static int do_falloc(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return falloc_mode(fs, a, a->keep_size ? SFS_FALLOC_KEEP_SIZE : 0);
}

static int do_punch(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return falloc_mode(fs, a, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE);
}

static int do_zero(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return falloc_mode(fs, a, SFS_FALLOC_ZERO_RANGE | (a->keep_size ? SFS_FALLOC_KEEP_SIZE : 0));
}

static int do_collapse(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return falloc_mode(fs, a, SFS_FALLOC_COLLAPSE_RANGE);
}

static int do_insert(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return falloc_mode(fs, a, SFS_FALLOC_INSERT_RANGE);
}

static int seek(struct sfs_fs *fs, const struct range_args *a, int whence)
{
	uint64_t to;
	int ret = sfs_lseek_data_hole(fs, a->ino, a->off, whence, &to);

	if (ret)
		return ret;
	printf("%s from %llu: %llu\n", whence == SFS_SEEK_DATA ? "data" : "hole",
	       (unsigned long long)a->off, (unsigned long long)to);
	return 0;
}

static int do_seek_data(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return seek(fs, a, SFS_SEEK_DATA);
}

static int do_seek_hole(struct sfs_fs *fs, const struct range_args *a, const char *cmd)
{
	(void)cmd;
	return seek(fs, a, SFS_SEEK_HOLE);
}

int db_cmd_range_truncate(struct db *db, int argc, char **argv)
{
	/* SIZE travels in the offset slot. */
	return with_range(db, argc, argv, 2, false, "INO SIZE", do_truncate);
}

int db_cmd_falloc(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 3, true, "INO OFF LEN [keep-size]", do_falloc);
}

int db_cmd_punch(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 3, false, "INO OFF LEN", do_punch);
}

int db_cmd_zero_range(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 3, true, "INO OFF LEN [keep-size]", do_zero);
}

int db_cmd_collapse(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 3, false, "INO OFF LEN", do_collapse);
}

int db_cmd_insert(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 3, false, "INO OFF LEN", do_insert);
}

int db_cmd_seek_data(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 2, false, "INO OFF", do_seek_data);
}

int db_cmd_seek_hole(struct db *db, int argc, char **argv)
{
	return with_range(db, argc, argv, 2, false, "INO OFF", do_seek_hole);
}
