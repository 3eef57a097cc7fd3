/*
 * scopefs-db commands that go through the filesystem library rather than
 * editing raw structures: they allocate, write and remove ranges exactly
 * as the daemon would (journaled, checked), so tests and people can build
 * a particular tree and then look at it raw.  Each command closes the raw
 * view, mounts the image (with -o options), runs, unmounts and reopens.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/fs.h"
#include "tools/common/toolutil.h"
#include "tools/db/db.h"

typedef int (*lib_fn)(struct sfs_fs *fs, uint64_t *v, int argc, char **argv);

/* Parse @nnum numbers from argv[1..], mount, run @fn, unmount. */
static int with_fs(struct db *db, int argc, char **argv, int nnum, int nmax, const char *usage,
		   lib_fn fn)
{
	struct sfs_fs *fs;
	uint64_t v[4] = { 0 };
	int ret;

	if (argc - 1 < nnum || argc - 1 > nmax)
		return db_err("usage: %s %s", argv[0], usage);
	for (int i = 0; i < nnum; i++)
		if (db_parse_u64(argv[1 + i], &v[i], "argument"))
			return -1;
	if (!db->writable)
		return db_err("%s changes the image: open it with -w", argv[0]);
	if (db_fs_mount(db, &fs))
		return -1;
	ret = fn(fs, v, argc, argv);
	if (ret < 0)
		db_err("%s: %s", argv[0], strerror(-ret));
	return db_fs_unmount(db, fs, ret);
}

int db_fs_mount(struct db *db, struct sfs_fs **fs)
{
	struct sfs_mount_opts o;
	char msg[256];

	sfs_mount_opts_default(&o);
	if (db->mount_opts && sfs_mount_opts_parse(&o, db->mount_opts, msg, sizeof(msg)))
		return db_err("-o %s: %s", db->mount_opts, msg);
	db_close(db);
	if (sfs_fs_mount(db->image, &o, fs, msg, sizeof(msg))) {
		db_err("cannot mount %s: %s", db->image, msg);
		db_open(db);
		return -1;
	}
	return 0;
}

int db_fs_unmount(struct db *db, struct sfs_fs *fs, int ret)
{
	int ret2 = sfs_fs_unmount(fs);

	if (ret2 && ret >= 0) {
		db_err("unmount: %s", strerror(-ret2));
		ret = ret2;
	}
	if (db_open(db))
		return -1;
	return ret < 0 ? -1 : 0;
}

static int do_create(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	struct sfs_cred cr = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
	unsigned long mode = S_IFREG | 0644;
	struct sfs_attr a;
	char *end;
	int ret;

	(void)v;
	if (argc == 2) {
		mode = strtoul(argv[1], &end, 8);
		if (*end || !mode)
			return -EINVAL;
		if (!(mode & S_IFMT))
			mode |= S_IFREG;
	}
	ret = sfs_inode_create(fs, 2, (uint32_t)mode, 0, &cr, &a);
	if (!ret)
		printf("inode %llu (generation %u)\n", (unsigned long long)a.ino, a.generation);
	return ret;
}

int db_cmd_create(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 0, 1, "[MODE]", do_create);
}

static int do_alloc(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	bool unwritten = argc == 5 && !strcmp(argv[4], "unwritten");

	if (argc == 5 && !unwritten)
		return -EINVAL;
	return sfs_alloc_range(fs, v[0], v[1], v[2], unwritten);
}

int db_cmd_alloc(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 3, 4, "INO LBLK COUNT [unwritten]", do_alloc);
}

static int do_write(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	uint64_t byte = 0xab, done = 0;
	uint8_t *buf;
	int ret = 0;

	(void)argc;
	if (argc == 5 && (tu_parse_u64(argv[4], &byte) || byte > 255))
		return -EINVAL;
	buf = mc_alloc(1 << 20, MC_KERNEL);
	if (!buf)
		return -ENOMEM;
	memset(buf, (int)byte, 1 << 20);
	while (done < v[2]) {
		size_t n = v[2] - done > (1 << 20) ? (1 << 20) : (size_t)(v[2] - done);
		ssize_t w = sfs_write(fs, v[0], buf, n, v[1] + done, 0, NULL);

		if (w < 0) {
			ret = (int)w;
			break;
		}
		done += (uint64_t)w;
	}
	mc_free(buf);
	return ret;
}

int db_cmd_write(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 3, 4, "INO OFFSET LENGTH [BYTE]", do_write);
}

static int do_remove(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return sfs_unmap_range(fs, v[0], v[1], v[2]);
}

int db_cmd_remove(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 3, 3, "INO LBLK COUNT", do_remove);
}

static int do_convert(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return sfs_convert_range(fs, v[0], v[1], v[2]);
}

int db_cmd_convert(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 3, 3, "INO LBLK COUNT", do_convert);
}

static int do_unlink(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return sfs_inode_unlink(fs, v[0]);
}

int db_cmd_unlink(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 1, 1, "INO", do_unlink);
}

static int do_verify(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	char why[256];
	unsigned depth = 0;
	uint64_t nodes = 0;
	int ret;

	(void)argc;
	(void)argv;
	ret = sfs_extent_verify(fs, v[0], why, sizeof(why));
	if (ret == -EUCLEAN) {
		printf("inode %llu: extent tree broken: %s\n", (unsigned long long)v[0], why);
		return ret;
	}
	if (!ret)
		ret = sfs_extent_depth(fs, v[0], &depth, &nodes);
	if (!ret)
		printf("inode %llu: extent tree sound, depth %u, %llu tree blocks\n",
		       (unsigned long long)v[0], depth, (unsigned long long)nodes);
	return ret;
}

int db_cmd_verify(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 1, 1, "INO", do_verify);
}

static int do_stats(struct sfs_fs *fs, uint64_t *v, int argc, char **argv)
{
	(void)v;
	(void)argc;
	(void)argv;
	sfs_fs_print_stats(fs, stdout, 0);
	return 0;
}

int db_cmd_stats(struct db *db, int argc, char **argv)
{
	return with_fs(db, argc, argv, 0, 0, "", do_stats);
}
