/*
 * scopefs-db's namespace commands: listing directories and resolving paths
 * on an unmounted image (raw reads, fs/namespace/offline.h, so damaged
 * directories can still be looked at), showing the index and the orphan
 * file, and the corruptions the namespace tests inject -- each edit
 * changes one field and, unless "nocsum" is given, restamps the block's
 * checksum so fsck sees the field, not a checksum error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/dir.h"
#include "fs/format/hdr.h"
#include "fs/format/orphan.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "fs/namespace/offline.h"
#include "tools/db/db.h"
#include "tools/db/ns.h"

static bool take_nocsum(int *argc, char **argv)
{
	if (*argc > 1 && !strcmp(argv[*argc - 1], "nocsum")) {
		(*argc)--;
		return true;
	}
	return false;
}

/* A directory given as an absolute path or an inode number. */
static int dir_arg(struct db *db, const char *s, uint64_t *ino)
{
	int ret;

	if (db_need_sb(db))
		return -1;
	if (s[0] != '/')
		return db_parse_u64(s, ino, "inode");
	ret = sfs_raw_resolve(db->bdev, &db->sbi, s, ino);
	if (ret)
		return db_err("%s: %s", s, strerror(-ret));
	return 0;
}

static int open_dir(struct db *db, const char *s, struct sfs_raw_dir *d)
{
	uint64_t ino;
	int ret;

	if (dir_arg(db, s, &ino))
		return -1;
	ret = sfs_raw_dir_open(db->bdev, &db->sbi, ino, d);
	if (ret)
		return db_err("directory %llu: %s", (unsigned long long)ino,
			      ret == -EFSCORRUPTED ? sfs_verify_reason() : strerror(-ret));
	return 0;
}

static int print_name(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		      uint32_t lblk)
{
	(void)ctx;
	printf("%016llx %10llu %u %6u  %.*s\n", (unsigned long long)e->key,
	       (unsigned long long)e->ino, e->ftype, lblk, (int)len, name);
	return 0;
}

int db_cmd_ls(struct db *db, int argc, char **argv)
{
	struct sfs_raw_dir d;
	struct sfs_dir_walk w;
	int ret;

	if (argc != 2)
		return db_err("usage: ls DIR (a path from / or an inode number)");
	if (open_dir(db, argv[1], &d))
		return -1;
	printf("%-16s %10s %s %6s  %s\n", "key", "inode", "t", "block", "name");
	ret = sfs_raw_dir_walk(&d, print_name, NULL, &w);
	if (ret)
		printf("(walk stopped: %s)\n", ret == -EUCLEAN ? w.why : strerror(-ret));
	else
		printf("%llu names, %u index levels, \"..\" = %llu, names recorded %llu\n",
		       (unsigned long long)w.names, w.depth, (unsigned long long)w.parent,
		       (unsigned long long)w.names_recorded);
	sfs_raw_dir_close(&d);
	return ret ? -1 : 0;
}

int db_cmd_path(struct db *db, int argc, char **argv)
{
	uint64_t ino;

	if (argc != 2 || argv[1][0] != '/')
		return db_err("usage: path /ABSOLUTE/PATH");
	if (dir_arg(db, argv[1], &ino))
		return -1;
	printf("%llu\n", (unsigned long long)ino);
	return 0;
}

/* Read, change, restamp and write a directory block. */
static int write_dir_block(struct db *db, uint8_t *blk, uint64_t pblk, bool nocsum)
{
	if (!nocsum)
		sfs_hdr_set_csum(blk, db->sbi.geo.block_size, db->sbi.csum_seed);
	return db_write_block(db, blk, pblk);
}

int db_cmd_set_dirent(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	struct sfs_raw_dirent r;
	struct sfs_disk_dirent *d;
	struct sfs_raw_dir dir;
	uint8_t *blk;
	uint64_t v;
	int ret = -1;

	if (argc != 5)
		return db_err("usage: set-dirent DIR NAME ino|type|key|rec_len|name_len VALUE [nocsum]");
	if (db_parse_u64(argv[4], &v, "value") || open_dir(db, argv[1], &dir))
		return -1;
	if (sfs_raw_dir_find(&dir, argv[2], (unsigned)strlen(argv[2]), &r)) {
		sfs_raw_dir_close(&dir);
		return db_err("no \"%s\" in that directory", argv[2]);
	}
	sfs_raw_dir_close(&dir);
	blk = db_read_block(db, r.pblk);
	if (!blk)
		return -1;
	d = (struct sfs_disk_dirent *)(blk + r.offset);
	if (!strcmp(argv[3], "ino"))
		d->ino = sfs_cpu_to_le64(v);
	else if (!strcmp(argv[3], "type"))
		d->file_type = (uint8_t)v;
	else if (!strcmp(argv[3], "key"))
		d->key = sfs_cpu_to_le64(v);
	else if (!strcmp(argv[3], "rec_len"))
		d->rec_len = sfs_cpu_to_le16((uint16_t)v);
	else if (!strcmp(argv[3], "name_len"))
		d->name_len = (uint8_t)v;
	else
		goto bad;
	ret = write_dir_block(db, blk, r.pblk, nocsum);
	mc_free(blk);
	return ret;
bad:
	mc_free(blk);
	return db_err("unknown field %s", argv[3]);
}

int db_cmd_dirindex(struct db *db, int argc, char **argv)
{
	struct sfs_dirindex_hdr h;
	struct sfs_raw_dir d;
	uint64_t lblk = 0, pblk;
	uint8_t *blk;

	if (argc < 2 || argc > 3 || (argc == 3 && db_parse_u64(argv[2], &lblk, "block")))
		return db_err("usage: dirindex DIR [LBLK]");
	if (open_dir(db, argv[1], &d))
		return -1;
	pblk = sfs_raw_map_lookup(&d.map, (uint32_t)lblk);
	sfs_raw_dir_close(&d);
	if (!pblk)
		return db_err("block %llu of the directory is not mapped", (unsigned long long)lblk);
	blk = db_read_block(db, pblk);
	if (!blk)
		return -1;
	if (sfs_hdr_magic(blk) != SFS_MAGIC_DIRINDEX) {
		mc_free(blk);
		return db_err("block %llu (%llu) is not an index block", (unsigned long long)lblk,
			      (unsigned long long)pblk);
	}
	sfs_dirindex_hdr_get(&h, blk);
	printf("index block %llu (%llu): level %u, %u of %u entries, flags %#x, parent %llu, names %llu\n",
	       (unsigned long long)lblk, (unsigned long long)pblk, h.level, h.count, h.limit, h.flags,
	       (unsigned long long)h.parent, (unsigned long long)h.names);
	for (unsigned i = 0; i < h.count && i < h.limit; i++)
		printf("  %4u  key %016llx  -> block %u\n", i,
		       (unsigned long long)sfs_dirindex_key(blk, i), sfs_dirindex_lblk(blk, i));
	mc_free(blk);
	return 0;
}

int db_cmd_set_dirindex(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	struct sfs_dirindex_hdr h;
	struct sfs_raw_dir d;
	uint64_t lblk, pblk, v, idx = 0;
	uint8_t *blk;
	int ret;

	if ((argc != 5 && argc != 6) || db_parse_u64(argv[2], &lblk, "block") ||
	    db_parse_u64(argv[4], &v, "value") ||
	    (argc == 6 && db_parse_u64(argv[5], &idx, "entry")))
		return db_err("usage: set-dirindex DIR LBLK parent|names|level|count|key|lblk VALUE [ENTRY] [nocsum]");
	if (open_dir(db, argv[1], &d))
		return -1;
	pblk = sfs_raw_map_lookup(&d.map, (uint32_t)lblk);
	sfs_raw_dir_close(&d);
	blk = pblk ? db_read_block(db, pblk) : NULL;
	if (!blk)
		return db_err("block %llu of the directory is not mapped", (unsigned long long)lblk);
	sfs_dirindex_hdr_get(&h, blk);
	if (!strcmp(argv[3], "parent"))
		h.parent = v;
	else if (!strcmp(argv[3], "names"))
		h.names = v;
	else if (!strcmp(argv[3], "level"))
		h.level = (uint16_t)v;
	else if (!strcmp(argv[3], "count"))
		h.count = (uint16_t)v;
	if (!strcmp(argv[3], "key") || !strcmp(argv[3], "lblk")) {
		if (idx >= h.limit) {
			mc_free(blk);
			return db_err("entry %llu is past the node's capacity", (unsigned long long)idx);
		}
		if (argv[3][0] == 'k')
			sfs_dirindex_set(blk, (unsigned)idx, v, sfs_dirindex_lblk(blk, (unsigned)idx));
		else
			sfs_dirindex_set(blk, (unsigned)idx, sfs_dirindex_key(blk, (unsigned)idx),
					 (uint32_t)v);
	} else {
		sfs_dirindex_hdr_put(blk, &h);
	}
	ret = write_dir_block(db, blk, pblk, nocsum);
	mc_free(blk);
	return ret;
}

/* The orphan file's blocks, one at a time; @fn returns non-zero to stop. */
static int each_orphan_block(struct db *db,
			     int (*fn)(struct db *db, uint8_t *blk, uint32_t lblk, uint64_t pblk,
				       void *arg),
			     void *arg)
{
	struct sfs_raw_map map;
	struct sfs_inode in;
	uint32_t nblocks;
	int ret;

	if (db_need_sb(db))
		return -1;
	if (!db->sbi.sb.orphan_head)
		return db_err("no orphan file");
	ret = sfs_raw_inode(db->bdev, &db->sbi, db->sbi.sb.orphan_head, &in, NULL);
	if (!ret)
		ret = sfs_raw_extents(db->bdev, &db->sbi, &in, &map);
	if (ret)
		return db_err("orphan file %llu: %s", (unsigned long long)db->sbi.sb.orphan_head,
			      strerror(-ret));
	nblocks = (uint32_t)(in.size >> db->sbi.geo.block_log);
	ret = 0;
	for (uint32_t l = 0; l < nblocks && !ret; l++) {
		uint64_t pblk = sfs_raw_map_lookup(&map, l);
		uint8_t *blk = pblk ? db_read_block(db, pblk) : NULL;

		if (!blk)
			continue;
		ret = fn(db, blk, l, pblk, arg);
		mc_free(blk);
	}
	sfs_raw_map_free(&map);
	return ret < 0 ? -1 : 0;
}

static int show_orphans(struct db *db, uint8_t *blk, uint32_t lblk, uint64_t pblk, void *arg)
{
	unsigned per = sfs_orphan_slots(db->sbi.geo.block_size);

	(void)arg;
	if (sfs_orphan_block_verify(blk, db->sbi.geo.block_size, pblk, &db->sbi))
		printf("block %u (%llu): %s\n", lblk, (unsigned long long)pblk, sfs_verify_reason());
	for (unsigned i = 0; i < per; i++) {
		struct sfs_orphan_slot s;

		sfs_orphan_slot_get(&s, blk, i);
		if (s.ino)
			printf("slot %6llu: inode %llu generation %u xattr block %llu\n",
			       (unsigned long long)lblk * per + i, (unsigned long long)s.ino,
			       s.generation, (unsigned long long)s.xattr_block);
	}
	return 0;
}

int db_cmd_orphans(struct db *db, int argc, char **argv)
{
	(void)argv;
	if (argc != 1)
		return db_err("usage: orphans");
	return each_orphan_block(db, show_orphans, NULL);
}

struct slot_edit {
	uint64_t slot, value;
	const char *field;
	bool nocsum, done;
};

static int edit_slot(struct db *db, uint8_t *blk, uint32_t lblk, uint64_t pblk, void *arg)
{
	struct slot_edit *x = arg;
	unsigned per = sfs_orphan_slots(db->sbi.geo.block_size);
	uint8_t *p;

	if (x->slot / per != lblk)
		return 0;
	x->done = true;
	/* Raw: sfs_orphan_slot_put would tidy a free slot's other fields. */
	p = blk + sizeof(struct sfs_disk_orphan_block) +
	    (x->slot % per) * sizeof(struct sfs_disk_orphan_slot);
	if (!strcmp(x->field, "ino"))
		sfs_put_le(p, 8, x->value);
	else if (!strcmp(x->field, "generation"))
		sfs_put_le(p + 8, 4, x->value);
	else if (!strcmp(x->field, "xattr_block"))
		sfs_put_le(p + 16, 8, x->value);
	else
		return db_err("unknown field %s", x->field);
	if (!x->nocsum)
		sfs_hdr_set_csum(blk, db->sbi.geo.block_size, db->sbi.csum_seed);
	return db_write_block(db, blk, pblk) ? -1 : 1;
}

int db_cmd_set_orphan(struct db *db, int argc, char **argv)
{
	struct slot_edit x = { .nocsum = take_nocsum(&argc, argv) };

	if (argc != 4 || db_parse_u64(argv[1], &x.slot, "slot") ||
	    db_parse_u64(argv[3], &x.value, "value"))
		return db_err("usage: set-orphan SLOT ino|generation|xattr_block VALUE [nocsum]");
	x.field = argv[2];
	if (each_orphan_block(db, edit_slot, &x))
		return -1;
	return x.done ? 0 : db_err("slot %llu is past the orphan file", (unsigned long long)x.slot);
}

static void print_area(const uint8_t *area, size_t len, long count, const char *where)
{
	struct sfs_xattr_rec r;
	uint32_t off = 0;
	long n = 0;
	int ret = 0;

	while ((count < 0 || n < count) && (ret = sfs_xattr_next(area, len, &off, &r)) > 0) {
		printf("%-6s %s%.*s = %u bytes\n", where, sfs_xattr_prefix(r.index), (int)r.name_len,
		       r.name, r.value_len);
		n++;
	}
	if (ret < 0)
		printf("%-6s (malformed record at offset %u)\n", where, off);
}

int db_cmd_xattrs(struct db *db, int argc, char **argv)
{
	uint8_t *raw, *blk = NULL;
	struct sfs_inode in;
	uint64_t ino;
	int ret;

	if (argc != 2 || db_parse_u64(argv[1], &ino, "inode") || db_need_sb(db))
		return db_err("usage: xattrs INO");
	raw = mc_alloc(db->sbi.geo.inode_size, MC_KERNEL);
	if (!raw)
		return db_err("out of memory");
	ret = sfs_raw_inode(db->bdev, &db->sbi, ino, &in, raw);
	if (ret) {
		mc_free(raw);
		return db_err("inode %llu: %s", (unsigned long long)ino, strerror(-ret));
	}
	printf("inline: %u bytes; block %llu\n", in.inline_xattr_len,
	       (unsigned long long)in.xattr_block);
	if (in.inline_xattr_len <= db->sbi.geo.inode_size - SFS_INODE_CORE_SIZE)
		print_area(raw + SFS_INODE_CORE_SIZE, in.inline_xattr_len, -1, "inline");
	if (in.xattr_block)
		blk = db_read_block(db, in.xattr_block);
	if (blk)
		print_area(blk + SFS_XATTR_BLOCK_BODY, db->sbi.geo.block_size - SFS_XATTR_BLOCK_BODY,
			   sfs_xattr_block_entries(blk), "block");
	mc_free(blk);
	mc_free(raw);
	return 0;
}
