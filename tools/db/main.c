/*
 * scopefs-db [-w] [-s BLOCK] [-o OPTS] IMAGE [COMMAND [ARGS...]]
 *
 * With a command, runs it and exits (0 on success, 1 on failure).  Without
 * one, reads commands from standard input, one per line ("help" lists
 * them).  Editing commands need -w, which is implied when a single editing
 * command is given on the command line.  The image lock is shared for
 * reading and exclusive for writing (fs/format/imagelock.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/imagelock.h"
#include "fs/format/io.h"
#include "fs/format/mount.h"
#include "tools/common/toolutil.h"
#include "tools/db/db.h"
#include "tools/db/range.h"
#include "tools/db/ns.h"

#define PROG "scopefs-db"

static int cmd_help(struct db *db, int argc, char **argv);

const struct db_cmd db_commands[] = {
	{ "sb", "[backup]", "show the superblock (or its backup)", false, db_cmd_sb },
	{ "geometry", "", "show where every structure lives", false, db_cmd_geometry },
	{ "gd", "[GROUP]", "show group descriptors (all, or one)", false, db_cmd_gd },
	{ "inode", "INO", "show an inode record and its extent root", false, db_cmd_inode },
	{ "block", "BLK", "show a block decoded by its type", false, db_cmd_block },
	{ "hex", "BLK", "hex dump of a block", false, db_cmd_hex },
	{ "type", "BLK", "what a block is, and whether it verifies", false, db_cmd_type },
	{ "set-sb", "[backup] FIELD VALUE [nocsum]", "set a superblock field", true, db_cmd_set_sb },
	{ "set-gd", "GROUP FIELD VALUE [nocsum]", "set a group descriptor field", true, db_cmd_set_gd },
	{ "set-inode", "INO FIELD VALUE [nocsum]", "set an inode field", true, db_cmd_set_inode },
	{ "set-hdr", "BLK FIELD VALUE [nocsum]", "set a metadata block header field", true,
	  db_cmd_set_hdr },
	{ "set-self", "BLK VALUE", "give a block a wrong self-address (checksum kept valid)", true,
	  db_cmd_set_self },
	{ "flip-bit", "block|inode GROUP BIT", "flip a bitmap bit (checksum kept valid)", true,
	  db_cmd_flip_bit },
	{ "break-csum", "BLK | inode INO", "corrupt a stored checksum", true, db_cmd_break_csum },
	{ "zero", "BLK", "overwrite a block with zeros", true, db_cmd_zero },
	{ "extents", "INO [tree]", "an inode's extent map (FIEMAP's view), or its whole tree", false,
	  db_cmd_extents },
	{ "set-extent", "root INO | BLK  INDEX FIELD VALUE [nocsum]",
	  "set a field of an extent or index entry (lblk len flags pblk child)", true,
	  db_cmd_set_extent },
	{ "set-ehdr", "root INO | BLK  FIELD VALUE [nocsum]",
	  "set an extent node header field (magic entries max depth)", true, db_cmd_set_ehdr },
	{ "create", "[MODE]", "library: create an unnamed inode (octal mode, default 100644)", true,
	  db_cmd_create },
	{ "alloc", "INO LBLK COUNT [unwritten]", "library: allocate blocks of a file", true,
	  db_cmd_alloc },
	{ "write", "INO OFFSET LENGTH [BYTE]", "library: write LENGTH bytes of BYTE at OFFSET", true,
	  db_cmd_write },
	{ "remove", "INO LBLK COUNT", "library: unmap and free blocks of a file", true,
	  db_cmd_remove },
	{ "convert", "INO LBLK COUNT", "library: mark unwritten blocks written", true,
	  db_cmd_convert },
	{ "unlink", "INO", "library: drop a link (the inode is freed at zero)", true, db_cmd_unlink },
	{ "verify", "INO", "library: check every extent tree invariant", true, db_cmd_verify },
	{ "stats", "", "library: mount and print the statistics", true, db_cmd_stats },
	DB_NS_COMMANDS
	DB_RANGE_COMMANDS
	{ "help", "", "this list", false, cmd_help },
	{ NULL, NULL, NULL, false, NULL },
};

static int cmd_help(struct db *db, int argc, char **argv)
{
	(void)db;
	(void)argc;
	(void)argv;
	for (const struct db_cmd *c = db_commands; c->name; c++)
		printf("  %-10s %-34s %s%s\n", c->name, c->args, c->help, c->writes ? " (-w)" : "");
	printf("Fields are named as in docs/format.md; \"nocsum\" leaves the checksum stale.\n"
	       "\"library\" commands mount the image through the filesystem library (-o gives\n"
	       "its mount options, e.g. -o fanout=4) and unmount it again.\n");
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: " PROG " [-w] [-s BLOCK] [-o OPTS] IMAGE [COMMAND [ARGS...]]\n"
		"Inspect or edit an unmounted scopefs image.  Without a COMMAND, commands\n"
		"are read from standard input.\n"
		"  -w        open for writing (editing commands)\n"
		"  -s BLOCK  use the superblock copy at BLOCK instead of the primary\n"
		"  -o OPTS   mount options for the library commands\n"
		"Commands:\n");
	cmd_help(NULL, 0, NULL);
}

int db_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

int db_need_sb(struct db *db)
{
	if (db->have_sb)
		return 0;
	return db_err("no valid superblock (primary or backup): only raw commands work");
}

int db_parse_u64(const char *s, uint64_t *v, const char *what)
{
	int ret = tu_parse_u64(s, v);

	if (ret)
		return db_err("%s: \"%s\" is not a number", what, s);
	return 0;
}

uint8_t *db_read_block(struct db *db, uint64_t blkno)
{
	const struct sfs_geo *g = &db->sbi.geo;
	uint8_t *buf;
	int ret;

	if (db_need_sb(db))
		return NULL;
	if (blkno >= g->block_count) {
		db_err("block %llu is past the end of the filesystem (%llu blocks)",
		       (unsigned long long)blkno, (unsigned long long)g->block_count);
		return NULL;
	}
	buf = sfs_io_alloc(g->block_size);
	if (!buf) {
		db_err("out of memory");
		return NULL;
	}
	ret = sfs_io_read_blocks(db->bdev, buf, g->block_log, blkno, 1);
	if (ret) {
		db_err("cannot read block %llu: %s", (unsigned long long)blkno, strerror(-ret));
		mc_free(buf);
		return NULL;
	}
	return buf;
}

int db_write_block(struct db *db, const void *buf, uint64_t blkno)
{
	int ret;

	if (!db->writable)
		return db_err("image opened read-only; use -w");
	ret = sfs_io_write_blocks(db->bdev, buf, db->sbi.geo.block_log, blkno, 1);
	if (!ret)
		ret = sfs_bdev_flush(db->bdev);
	if (ret)
		return db_err("cannot write block %llu: %s", (unsigned long long)blkno,
			      strerror(-ret));
	return 0;
}

int db_gd_locate(struct db *db, uint32_t grp, uint64_t *blkno, uint32_t *offset)
{
	const struct sfs_geo *g = &db->sbi.geo;

	if (db_need_sb(db))
		return -1;
	if (grp >= g->group_count)
		return db_err("group %u does not exist (%u groups)", grp, g->group_count);
	*blkno = 1 + grp / g->descs_per_block;
	*offset = SFS_HDR_SIZE + (grp % g->descs_per_block) * SFS_GD_SIZE;
	return 0;
}

/* Primary superblock if valid, else the -s copy or the probed backup. */
static void load_super(struct db *db, uint64_t sblock)
{
	struct sfs_super sb;
	char msg[256];
	int ret = -ENOENT;

	if (!sblock) {
		ret = sfs_sb_read_copy(db->bdev, 0, 0, &sb, msg, sizeof(msg));
		if (ret) {
			uint64_t blk;

			fprintf(stderr, PROG ": primary superblock: %s\n", msg);
			ret = sfs_sb_probe_backup(db->bdev, &sb, &blk, msg, sizeof(msg));
			if (!ret) {
				fprintf(stderr, PROG ": using the backup superblock at block %llu\n",
					(unsigned long long)blk);
				db->sb_source = blk;
			}
		}
	} else {
		for (uint32_t log = SFS_MIN_BLOCK_LOG; log <= SFS_MAX_BLOCK_LOG && ret; log++)
			ret = sfs_sb_read_copy(db->bdev, sblock, log, &sb, msg, sizeof(msg));
		db->sb_source = sblock;
	}
	if (ret) {
		fprintf(stderr, PROG ": %s\n", msg);
		return;
	}
	if (sfs_sb_info_init(&db->sbi, &sb, msg, sizeof(msg))) {
		fprintf(stderr, PROG ": %s\n", msg);
		sfs_sb_info_destroy(&db->sbi);
		return;
	}
	db->sbi.bdev = db->bdev;
	db->have_sb = true;
}

int db_open(struct db *db)
{
	int ret;

	ret = sfs_image_lock(db->image, db->writable, &db->lock_fd);
	if (ret)
		return db_err(ret == -EBUSY ? "%s is in use (mounted or being checked)" : "%s: %s",
			      db->image, strerror(-ret));
	ret = sfs_bdev_open(db->image, db->writable ? 0 : SFS_BDEV_RDONLY, NULL, &db->bdev);
	if (ret) {
		sfs_image_unlock(db->lock_fd);
		db->lock_fd = -1;
		return db_err("cannot open %s: %s", db->image, strerror(-ret));
	}
	load_super(db, db->sblock);
	return 0;
}

void db_close(struct db *db)
{
	if (db->have_sb)
		sfs_sb_info_destroy(&db->sbi);
	db->have_sb = false;
	if (db->bdev)
		sfs_bdev_close(db->bdev);
	db->bdev = NULL;
	sfs_image_unlock(db->lock_fd);
	db->lock_fd = -1;
}

static int run(struct db *db, int argc, char **argv)
{
	for (const struct db_cmd *c = db_commands; c->name; c++) {
		if (strcmp(c->name, argv[0]))
			continue;
		if (c->writes && !db->writable)
			return db_err("%s edits the image: open it with -w", c->name);
		return c->fn(db, argc, argv) ? 1 : 0;
	}
	db_err("unknown command \"%s\" (try help)", argv[0]);
	return 1;
}

static int repl(struct db *db)
{
	char line[1024];
	int status = 0;
	bool tty = isatty(STDIN_FILENO);

	for (;;) {
		char *argv[16];
		int argc = 0;

		if (tty) {
			printf(PROG "> ");
			fflush(stdout);
		}
		if (!fgets(line, sizeof(line), stdin))
			break;
		for (char *tok = strtok(line, " \t\r\n"); tok && argc < 16;
		     tok = strtok(NULL, " \t\r\n"))
			argv[argc++] = tok;
		if (!argc || argv[0][0] == '#')
			continue;
		if (!strcmp(argv[0], "quit") || !strcmp(argv[0], "q"))
			break;
		status |= run(db, argc, argv);
		fflush(stdout);
	}
	return status;
}

int main(int argc, char **argv)
{
	struct db db = { .lock_fd = -1 };
	int c, status = 1;

	opterr = 0;
	while ((c = getopt(argc, argv, "+ws:o:h")) != -1) {
		switch (c) {
		case 'w':
			db.writable = true;
			break;
		case 's':
			if (tu_parse_u64(optarg, &db.sblock) || !db.sblock) {
				db_err("-s %s: not a block number", optarg);
				return 1;
			}
			break;
		case 'o':
			db.mount_opts = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			db_err("unknown option -%c", optopt);
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		db_err("no IMAGE given");
		usage(stderr);
		return 1;
	}
	db.image = argv[optind++];
	if (optind < argc) {
		for (const struct db_cmd *cmd = db_commands; cmd->name; cmd++)
			if (!strcmp(cmd->name, argv[optind]) && cmd->writes)
				db.writable = true;
	}
	if (db_open(&db))
		return 1;
	status = optind < argc ? run(&db, argc - optind, argv + optind) : repl(&db);
	db_close(&db);
	return status;
}
