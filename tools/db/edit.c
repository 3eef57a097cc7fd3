/*
 * Editing commands of scopefs-db: the corruption injector of the tests.
 *
 * Each edit changes exactly one thing.  By default the structure's
 * checksum is recomputed afterwards, so the edit is seen as what it is (a
 * wrong field, a wrong self-address, a flipped bit) rather than as a bad
 * checksum; "nocsum" leaves the old checksum, and break-csum corrupts only
 * the checksum.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/checksum.h"
#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/verify.h"
#include "tools/db/db.h"

/* "nocsum" as the last argument: consume it. */
static bool take_nocsum(int *argc, char **argv)
{
	if (*argc > 1 && !strcmp(argv[*argc - 1], "nocsum")) {
		(*argc)--;
		return true;
	}
	return false;
}

static bool is_super_block(const struct db *db, uint64_t blkno)
{
	return blkno == 0 || blkno == db->sbi.geo.backup_sb_block;
}

/* Recompute the checksum of whatever metadata block @blk is. */
static void restamp(struct db *db, uint8_t *blk, uint64_t blkno)
{
	const struct sfs_geo *g = &db->sbi.geo;

	if (is_super_block(db, blkno)) {
		sfs_put_le(blk + 8, 8, sfs_csum(blk, SFS_SB_SIZE, 8, 0));
		return;
	}
	if (sfs_btype_by_location(&db->sbi, blkno) == SFS_BT_ITABLE) {
		for (uint32_t i = 0; i < g->inodes_per_block; i++) {
			uint8_t *raw = blk + (size_t)i * g->inode_size;

			if (sfs_get_le(raw, 4) == SFS_MAGIC_INODE)
				sfs_inode_set_csum(raw, &db->sbi);
		}
		return;
	}
	sfs_hdr_set_csum(blk, g->block_size, db->sbi.csum_seed);
}

static int edit_fields(struct db *db, uint64_t blkno, uint32_t off, const struct sfs_field *tab,
		       const char *field, const char *value, bool nocsum, bool inode)
{
	const struct sfs_field *fl = sfs_field_find(tab, field);
	uint8_t *blk;
	int ret = -1;

	if (!fl)
		return db_err("no field \"%s\" (see docs/format.md or the show command)", field);
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	if (db_set_field(fl, blk + off, value))
		goto out;
	if (!nocsum) {
		if (inode)
			sfs_inode_set_csum(blk + off, &db->sbi);
		else
			restamp(db, blk, blkno);
	}
	ret = db_write_block(db, blk, blkno);
	if (!ret)
		printf("block %llu: %s set to %s%s\n", (unsigned long long)blkno, fl->name, value,
		       nocsum ? " (checksum left stale)" : "");
out:
	mc_free(blk);
	return ret;
}

int db_cmd_set_sb(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	uint64_t blkno = 0;

	if (db_need_sb(db))
		return -1;
	if (argc == 4 && !strcmp(argv[1], "backup")) {
		blkno = db->sbi.geo.backup_sb_block;
		argv++;
		argc--;
	}
	if (argc != 3)
		return db_err("usage: set-sb [backup] FIELD VALUE [nocsum]");
	return edit_fields(db, blkno, 0, sfs_super_fields, argv[1], argv[2], nocsum, false);
}

int db_cmd_set_gd(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	uint64_t grp, blkno;
	uint32_t off;

	if (argc != 4)
		return db_err("usage: set-gd GROUP FIELD VALUE [nocsum]");
	if (db_parse_u64(argv[1], &grp, "group") || grp > UINT32_MAX ||
	    db_gd_locate(db, (uint32_t)grp, &blkno, &off))
		return -1;
	return edit_fields(db, blkno, off, sfs_gd_fields, argv[2], argv[3], nocsum, false);
}

int db_cmd_set_inode(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	uint64_t ino, blkno;
	uint32_t off;

	if (db_need_sb(db))
		return -1;
	if (argc != 4)
		return db_err("usage: set-inode INO FIELD VALUE [nocsum]");
	if (db_parse_u64(argv[1], &ino, "inode"))
		return -1;
	if (!sfs_geo_ino_valid(&db->sbi.geo, ino))
		return db_err("inode %llu does not exist", (unsigned long long)ino);
	blkno = sfs_geo_ino_block(&db->sbi.geo, ino, &off);
	return edit_fields(db, blkno, off, sfs_inode_fields, argv[2], argv[3], nocsum, true);
}

int db_cmd_set_hdr(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv);
	uint64_t blkno;

	if (argc != 4)
		return db_err("usage: set-hdr BLK FIELD VALUE [nocsum]");
	if (db_parse_u64(argv[1], &blkno, "block") || db_need_sb(db))
		return -1;
	if (sfs_btype_by_location(&db->sbi, blkno) == SFS_BT_ITABLE)
		return db_err("block %llu is an inode table block: it has no header (use set-inode)",
			      (unsigned long long)blkno);
	return edit_fields(db, blkno, 0, sfs_hdr_fields, argv[2], argv[3], nocsum, false);
}

int db_cmd_set_self(struct db *db, int argc, char **argv)
{
	if (argc != 3)
		return db_err("usage: set-self BLK VALUE");
	return db_cmd_set_hdr(db, 4, (char *[]){ argv[0], argv[1], "blkno", argv[2], NULL });
}

int db_cmd_flip_bit(struct db *db, int argc, char **argv)
{
	const struct sfs_geo *g;
	struct sfs_group_desc gd;
	uint64_t grp, bit, gdblk, blkno;
	uint32_t off, nbits;
	uint8_t *blk;
	bool is_block;
	int ret;

	if (argc != 4 || (strcmp(argv[1], "block") && strcmp(argv[1], "inode")))
		return db_err("usage: flip-bit block|inode GROUP BIT");
	is_block = !strcmp(argv[1], "block");
	if (db_parse_u64(argv[2], &grp, "group") || db_parse_u64(argv[3], &bit, "bit") ||
	    grp > UINT32_MAX || db_gd_locate(db, (uint32_t)grp, &gdblk, &off))
		return -1;
	g = &db->sbi.geo;
	blk = db_read_block(db, gdblk);
	if (!blk)
		return -1;
	sfs_gd_decode(&gd, blk + off);
	mc_free(blk);
	if (gd.flags & (is_block ? SFS_BG_BLOCK_UNINIT : SFS_BG_INODE_UNINIT))
		return db_err("group %llu's %s bitmap is uninitialised (implied, not on disk)",
			      (unsigned long long)grp, argv[1]);
	nbits = is_block ? sfs_geo_group_blocks(g, (uint32_t)grp) : g->inodes_per_group;
	if (bit >= nbits)
		return db_err("bit %llu is outside the group's %u bits", (unsigned long long)bit, nbits);
	blkno = is_block ? sfs_geo_block_bitmap(g, (uint32_t)grp)
			 : sfs_geo_inode_bitmap(g, (uint32_t)grp);
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	sfs_bit_flip(sfs_bitmap_data(blk), (uint32_t)bit);
	restamp(db, blk, blkno);
	ret = db_write_block(db, blk, blkno);
	if (!ret)
		printf("group %llu %s bitmap (block %llu): bit %llu is now %s\n",
		       (unsigned long long)grp, argv[1], (unsigned long long)blkno,
		       (unsigned long long)bit,
		       sfs_bit_test(sfs_bitmap_data(blk), (uint32_t)bit) ? "set" : "clear");
	mc_free(blk);
	return ret;
}

int db_cmd_break_csum(struct db *db, int argc, char **argv)
{
	uint64_t blkno, ino = 0;
	uint32_t off = 0;
	uint8_t *blk;
	int ret;

	if (db_need_sb(db))
		return -1;
	if (argc == 3 && !strcmp(argv[1], "inode")) {
		if (db_parse_u64(argv[2], &ino, "inode"))
			return -1;
		if (!sfs_geo_ino_valid(&db->sbi.geo, ino))
			return db_err("inode %llu does not exist", (unsigned long long)ino);
		blkno = sfs_geo_ino_block(&db->sbi.geo, ino, &off);
	} else if (argc == 2) {
		if (db_parse_u64(argv[1], &blkno, "block"))
			return -1;
		if (sfs_btype_by_location(&db->sbi, blkno) == SFS_BT_ITABLE)
			return db_err("block %llu holds inodes: use break-csum inode INO",
				      (unsigned long long)blkno);
	} else {
		return db_err("usage: break-csum BLK | break-csum inode INO");
	}
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	/* Every checksum in the format sits at byte 8 of its structure. */
	blk[off + 8] ^= 0x5a;
	ret = db_write_block(db, blk, blkno);
	if (!ret)
		printf("%s %llu: checksum corrupted\n", ino ? "inode" : "block",
		       (unsigned long long)(ino ? ino : blkno));
	mc_free(blk);
	return ret;
}

int db_cmd_zero(struct db *db, int argc, char **argv)
{
	uint64_t blkno;
	uint8_t *blk;
	int ret;

	if (argc != 2)
		return db_err("usage: zero BLK");
	if (db_parse_u64(argv[1], &blkno, "block"))
		return -1;
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	memset(blk, 0, db->sbi.geo.block_size);
	ret = db_write_block(db, blk, blkno);
	if (!ret)
		printf("block %llu zeroed\n", (unsigned long long)blkno);
	mc_free(blk);
	return ret;
}
