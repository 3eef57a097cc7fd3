/*
 * scopefs-db: the offline inspection and editing tool (debugfs / xfs_db in
 * small).  It must work on damaged images, so it reads structures raw and
 * runs the verifiers only to report, never to refuse.
 *
 *   main.c   options, opening the image (primary or backup superblock),
 *            the command table and the command loop
 *   show.c   read-only commands: sb, geometry, gd, inode, block, hex, type
 *   edit.c   corrupting / editing commands: set-*, flip-bit, break-csum, zero
 *   extents.c  extent maps and trees, read raw; corrupting extent entries
 *   lib.c    commands that go through the filesystem library (create,
 *            alloc, write, remove, convert, unlink, verify,
 *            stats): the image is mounted for each and unmounted after
 *   print.c  printing fields from the format's field tables, hex dumps
 *   range.c  the truncate family through the library (range.h)
 *   ns.c     the namespace: listing directories, resolving paths, the
 *            directory index, orphan slots, xattrs; their corruptions
 */
#ifndef SFS_DB_H
#define SFS_DB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fs/format/fields.h"
#include "fs/format/mount.h"

struct db {
	const char *image;
	bool writable;
	struct sfs_bdev *bdev;
	int lock_fd;
	struct sfs_sb_info sbi;      /* from the superblock copy in use */
	bool have_sb;
	uint64_t sb_source;          /* 0 = primary, else the backup's block */
	uint64_t sblock;             /* -s: superblock copy asked for, 0 = primary */
	const char *mount_opts;      /* -o: library mount options */
};

struct db_cmd {
	const char *name;
	const char *args;
	const char *help;
	bool writes;
	int (*fn)(struct db *db, int argc, char **argv);
};

extern const struct db_cmd db_commands[];

/* Helpers shared by the commands; all print their own errors and return
 * 0 or -1. */
int db_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int db_need_sb(struct db *db);
int db_parse_u64(const char *s, uint64_t *v, const char *what);
uint8_t *db_read_block(struct db *db, uint64_t blkno);     /* mc_free the result */
int db_write_block(struct db *db, const void *buf, uint64_t blkno);
/* Open the image raw (lock, device, superblock) / close it again (the
 * library commands close it while they mount it). */
int db_open(struct db *db);
void db_close(struct db *db);
/* Commands that run through the library: close the image, mount it (with
 * -o's options), and after the command unmount (an unmount error becomes
 * the result when the command had none) and reopen it.  0, or -1 with the
 * reason said. */
struct sfs_fs;
int db_fs_mount(struct db *db, struct sfs_fs **fs);
int db_fs_unmount(struct db *db, struct sfs_fs *fs, int ret);
/* Raw descriptor bytes of group @grp inside its primary GDT block. */
int db_gd_locate(struct db *db, uint32_t grp, uint64_t *blkno, uint32_t *offset);

void db_print_fields(FILE *out, const struct sfs_field *tab, const void *base, const char *indent);
void db_hexdump(FILE *out, const void *buf, size_t len, uint64_t base);
int db_set_field(const struct sfs_field *fl, void *base, const char *value);

/* Commands. */
int db_cmd_sb(struct db *db, int argc, char **argv);
int db_cmd_geometry(struct db *db, int argc, char **argv);
int db_cmd_gd(struct db *db, int argc, char **argv);
int db_cmd_inode(struct db *db, int argc, char **argv);
int db_cmd_block(struct db *db, int argc, char **argv);
int db_cmd_hex(struct db *db, int argc, char **argv);
int db_cmd_type(struct db *db, int argc, char **argv);
int db_cmd_set_sb(struct db *db, int argc, char **argv);
int db_cmd_set_gd(struct db *db, int argc, char **argv);
int db_cmd_set_inode(struct db *db, int argc, char **argv);
int db_cmd_set_hdr(struct db *db, int argc, char **argv);
int db_cmd_set_self(struct db *db, int argc, char **argv);
int db_cmd_flip_bit(struct db *db, int argc, char **argv);
int db_cmd_break_csum(struct db *db, int argc, char **argv);
int db_cmd_zero(struct db *db, int argc, char **argv);
int db_cmd_extents(struct db *db, int argc, char **argv);
int db_cmd_set_extent(struct db *db, int argc, char **argv);
int db_cmd_set_ehdr(struct db *db, int argc, char **argv);
int db_cmd_create(struct db *db, int argc, char **argv);
int db_cmd_alloc(struct db *db, int argc, char **argv);
int db_cmd_write(struct db *db, int argc, char **argv);
int db_cmd_remove(struct db *db, int argc, char **argv);
int db_cmd_convert(struct db *db, int argc, char **argv);
int db_cmd_unlink(struct db *db, int argc, char **argv);
int db_cmd_verify(struct db *db, int argc, char **argv);
int db_cmd_stats(struct db *db, int argc, char **argv);

#endif
