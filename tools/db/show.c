/* Read-only commands of scopefs-db (see db.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/jsb.h"
#include "fs/format/verify.h"
#include "tools/common/toolutil.h"
#include "tools/db/db.h"

static void print_verdict(int ret)
{
	if (ret)
		printf("verifier: FAILED (%s): %s\n", ret == -EFSBADCRC ? "bad checksum" : "corrupt",
		       sfs_verify_reason());
	else
		printf("verifier: ok\n");
}

int db_cmd_sb(struct db *db, int argc, char **argv)
{
	uint64_t blkno = 0;
	uint8_t *raw;
	char msg[256], feat[256];
	struct sfs_super sb;
	int ret;

	if (db_need_sb(db))
		return -1;
	if (argc > 1) {
		if (strcmp(argv[1], "backup"))
			return db_err("usage: sb [backup]");
		blkno = db->sbi.geo.backup_sb_block;
	}
	raw = db_read_block(db, blkno);
	if (!raw)
		return -1;
	printf("superblock at block %llu%s\n", (unsigned long long)blkno,
	       blkno == db->sb_source ? " (in use)" : "");
	db_print_fields(stdout, sfs_super_fields, raw, "  ");
	sfs_super_decode(&sb, raw);
	printf("  features             %s\n", sfs_super_features_str(&sb, feat, sizeof(feat)));
	ret = sfs_super_verify(raw, blkno, msg, sizeof(msg));
	if (ret)
		printf("verifier: FAILED: %s\n", msg);
	else
		printf("verifier: ok\n");
	mc_free(raw);
	return 0;
}

int db_cmd_geometry(struct db *db, int argc, char **argv)
{
	const struct sfs_geo *g = &db->sbi.geo;
	char a[32];

	(void)argc;
	(void)argv;
	if (db_need_sb(db))
		return -1;
	printf("block size          %u\n", g->block_size);
	printf("blocks              %llu (%s)\n", (unsigned long long)g->block_count,
	       tu_human(g->block_count << g->block_log, a, sizeof(a)));
	printf("superblock          0\n");
	printf("descriptors         1..%u (%u per block)\n", g->gdt_blocks, g->descs_per_block);
	if (g->journal_blocks)
		printf("journal             %llu..%llu (%llu blocks)\n",
		       (unsigned long long)g->journal_start,
		       (unsigned long long)(g->first_data_block - 1),
		       (unsigned long long)g->journal_blocks);
	else
		printf("journal             none\n");
	printf("groups              %u from block %llu, %u blocks and %u inodes each\n",
	       g->group_count, (unsigned long long)g->first_data_block, g->blocks_per_group,
	       g->inodes_per_group);
	printf("group layout        +0 block bitmap, +1 inode bitmap, +2..+%u inode table, data\n",
	       1 + g->itable_blocks);
	printf("last group          %u blocks\n", sfs_geo_group_blocks(g, g->group_count - 1));
	printf("inodes              %llu of %u bytes, %u per block\n",
	       (unsigned long long)g->inode_count, g->inode_size, g->inodes_per_block);
	printf("backup descriptors  %llu..%llu\n", (unsigned long long)g->backup_gdt_start,
	       (unsigned long long)(g->backup_sb_block - 1));
	printf("backup superblock   %llu\n", (unsigned long long)g->backup_sb_block);
	return 0;
}

static void print_gd(uint32_t grp, const uint8_t *raw)
{
	struct sfs_group_desc gd;

	sfs_gd_decode(&gd, raw);
	printf("group %u:%s%s%s\n", grp, (gd.flags & SFS_BG_BLOCK_UNINIT) ? " BLOCK_UNINIT" : "",
	       (gd.flags & SFS_BG_INODE_UNINIT) ? " INODE_UNINIT" : "",
	       (gd.flags & SFS_BG_ITABLE_ZEROED) ? " ITABLE_ZEROED" : "");
	db_print_fields(stdout, sfs_gd_fields, raw, "  ");
}

int db_cmd_gd(struct db *db, int argc, char **argv)
{
	const struct sfs_geo *g = &db->sbi.geo;
	uint64_t v, blkno, cur = UINT64_MAX;
	uint32_t first = 0, last, off;
	uint8_t *blk = NULL;

	if (db_need_sb(db))
		return -1;
	last = g->group_count - 1;
	if (argc > 1) {
		if (db_parse_u64(argv[1], &v, "group"))
			return -1;
		if (v >= g->group_count)
			return db_err("group %llu does not exist (%u groups)", (unsigned long long)v,
				      g->group_count);
		first = last = (uint32_t)v;
	}
	for (uint32_t grp = first; grp <= last; grp++) {
		if (db_gd_locate(db, grp, &blkno, &off))
			break;
		if (blkno != cur) {
			mc_free(blk);
			blk = db_read_block(db, blkno);
			if (!blk)
				return -1;
			cur = blkno;
			printf("descriptor block %llu: ", (unsigned long long)blkno);
			print_verdict(sfs_gdt_block_verify(blk, g->block_size, blkno, &db->sbi));
		}
		print_gd(grp, blk + off);
	}
	mc_free(blk);
	return 0;
}

/* @capacity bounds what is read whatever the (possibly damaged) header says. */
static void print_extent_node(const void *node, unsigned capacity, const char *indent)
{
	struct sfs_extent_header h;

	sfs_extent_header_decode(&h, node);
	if (h.max > capacity)
		h.max = (uint16_t)capacity;
	printf("%sextent node: magic 0x%04x, %u/%u entries, depth %u\n", indent, h.magic,
	       h.entries, h.max, h.depth);
	for (unsigned i = 0; i < h.entries && i < h.max; i++) {
		if (h.depth == 0) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			printf("%s  [%u] logical %u..%llu -> block %llu (%u blocks)%s\n", indent, i,
			       e.lblk, (unsigned long long)e.lblk + e.len - 1,
			       (unsigned long long)e.pblk, e.len,
			       (e.flags & SFS_EXTENT_FL_UNWRITTEN) ? " unwritten" : "");
		} else {
			struct sfs_extent_idx x;

			sfs_extent_idx_get(&x, node, i);
			printf("%s  [%u] logical %u.. -> node at block %llu\n", indent, i, x.lblk,
			       (unsigned long long)x.child);
		}
	}
}

int db_cmd_inode(struct db *db, int argc, char **argv)
{
	const struct sfs_geo *g = &db->sbi.geo;
	struct sfs_inode in;
	uint64_t ino, blkno;
	uint32_t off;
	uint8_t *blk, *raw;

	if (db_need_sb(db))
		return -1;
	if (argc != 2)
		return db_err("usage: inode INO");
	if (db_parse_u64(argv[1], &ino, "inode"))
		return -1;
	if (!sfs_geo_ino_valid(g, ino))
		return db_err("inode %llu does not exist (1..%llu)", (unsigned long long)ino,
			      (unsigned long long)g->inode_count);
	blkno = sfs_geo_ino_block(g, ino, &off);
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	raw = blk + off;
	printf("inode %llu at block %llu offset %u\n", (unsigned long long)ino,
	       (unsigned long long)blkno, off);
	if (sfs_inode_slot_unused(raw)) {
		printf("  never used (zero magic)\n");
	} else {
		db_print_fields(stdout, sfs_inode_fields, raw, "  ");
		sfs_inode_decode(&in, raw);
		if (in.flags & SFS_INODE_FL_INLINE)
			printf("  inline data: \"%.*s\"\n", (int)(in.size < 80 ? in.size : 80),
			       (const char *)in.root);
		else
			print_extent_node(in.root, SFS_EXTENT_ROOT_ENTRIES, "  ");
		print_verdict(sfs_inode_verify(raw, ino, &db->sbi));
	}
	mc_free(blk);
	return 0;
}

static void show_bitmap(struct db *db, const uint8_t *blk, uint32_t grp, bool is_block)
{
	const struct sfs_geo *g = &db->sbi.geo;
	uint32_t nbits = is_block ? sfs_geo_group_blocks(g, grp) : g->inodes_per_group;
	const uint8_t *map = sfs_bitmap_cdata(blk);
	struct sfs_bitmap_summary s;
	int shown = 0;

	sfs_bitmap_summarise(map, nbits, &s);
	printf("  %u bits, %u free, largest free run %u, %u free runs\n", nbits, s.free, s.largest,
	       s.runs);
	printf("  in use:");
	for (uint32_t i = 0; i < nbits && shown < 16;) {
		uint32_t j = i;

		if (!sfs_bit_test(map, i)) {
			i++;
			continue;
		}
		while (j + 1 < nbits && sfs_bit_test(map, j + 1))
			j++;
		printf(" %u", i);
		if (j > i)
			printf("..%u", j);
		shown++;
		i = j + 1;
	}
	printf("%s\n", shown == 16 ? " ..." : "");
}

static void show_dir(const uint8_t *blk, uint32_t len)
{
	struct sfs_dirent de;
	uint32_t off = 0;
	int ret;

	while ((ret = sfs_dir_block_next(blk, len, &off, &de)) > 0) {
		if (!de.ino)
			continue;
		printf("  %-8llu type %u  %.*s\n", (unsigned long long)de.ino, de.file_type,
		       de.name_len, de.name);
	}
	if (ret < 0)
		printf("  malformed record at offset %u\n", off ? off : SFS_HDR_SIZE);
}

int db_cmd_block(struct db *db, int argc, char **argv)
{
	const struct sfs_geo *g = &db->sbi.geo;
	enum sfs_btype t;
	uint64_t blkno, first;
	uint32_t grp = 0;
	uint8_t *blk;
	int ret = 0;

	if (argc != 2)
		return db_err("usage: block BLK");
	if (db_parse_u64(argv[1], &blkno, "block"))
		return -1;
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	t = sfs_btype_by_location(&db->sbi, blkno);
	if (t == SFS_BT_DATA && sfs_btype_by_magic(blk) != SFS_BT_UNKNOWN)
		t = sfs_btype_by_magic(blk);
	sfs_geo_block_group(g, blkno, &grp, NULL);
	printf("block %llu: %s\n", (unsigned long long)blkno, sfs_btype_name(t));
	switch (t) {
	case SFS_BT_SUPER:
		mc_free(blk);
		return db_cmd_sb(db, blkno ? 2 : 1, (char *[]){ "sb", "backup" });
	case SFS_BT_ITABLE:
		sfs_geo_itable_first_ino(g, blkno, &first);
		for (uint32_t i = 0; i < g->inodes_per_block; i++) {
			const uint8_t *raw = blk + (size_t)i * g->inode_size;
			struct sfs_inode in;

			if (sfs_inode_slot_unused(raw)) {
				printf("  inode %llu: never used\n", (unsigned long long)(first + i));
				continue;
			}
			sfs_inode_decode(&in, raw);
			printf("  inode %llu: mode 0%o, %u links, %llu bytes, generation %u, %s\n",
			       (unsigned long long)(first + i), in.mode, in.nlink,
			       (unsigned long long)in.size, in.generation,
			       sfs_inode_verify(raw, first + i, &db->sbi) ? sfs_verify_reason() : "ok");
		}
		break;
	case SFS_BT_UNKNOWN:
	case SFS_BT_DATA:
	case SFS_BT_JOURNAL:
		db_hexdump(stdout, blk, g->block_size, 0);
		goto out;
	default:
		db_print_fields(stdout, t == SFS_BT_JSB ? sfs_jsb_fields : sfs_hdr_fields, blk, "  ");
		if (t == SFS_BT_BBITMAP || t == SFS_BT_IBITMAP)
			show_bitmap(db, blk, grp, t == SFS_BT_BBITMAP);
		else if (t == SFS_BT_EXTENT)
			print_extent_node(blk + SFS_HDR_SIZE, sfs_extent_block_capacity(g->block_size), "  ");
		else if (t == SFS_BT_DIRLEAF)
			show_dir(blk, g->block_size);
		else if (t == SFS_BT_GDT)
			printf("  (use \"gd\" to list the descriptors)\n");
		break;
	}
	ret = sfs_btype_ops(t)->verify_read(blk, g->block_size, blkno, &db->sbi);
	print_verdict(ret);
out:
	mc_free(blk);
	return 0;
}

int db_cmd_hex(struct db *db, int argc, char **argv)
{
	uint64_t blkno;
	uint8_t *blk;

	if (argc != 2)
		return db_err("usage: hex BLK");
	if (db_parse_u64(argv[1], &blkno, "block"))
		return -1;
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	db_hexdump(stdout, blk, db->sbi.geo.block_size, blkno << db->sbi.geo.block_log);
	mc_free(blk);
	return 0;
}

int db_cmd_type(struct db *db, int argc, char **argv)
{
	const struct sfs_buf_ops *ops;
	enum sfs_btype t, m;
	uint64_t blkno;
	uint8_t *blk;

	if (argc != 2)
		return db_err("usage: type BLK");
	if (db_parse_u64(argv[1], &blkno, "block"))
		return -1;
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	t = sfs_btype_by_location(&db->sbi, blkno);
	m = sfs_btype_by_magic(blk);
	if (t == SFS_BT_DATA && m != SFS_BT_UNKNOWN)
		t = m;
	printf("block %llu: %s", (unsigned long long)blkno, sfs_btype_name(t));
	ops = sfs_btype_ops(t);
	if (ops) {
		printf(", ");
		print_verdict(ops->verify_read(blk, db->sbi.geo.block_size, blkno, &db->sbi));
	} else {
		printf("\n");
	}
	mc_free(blk);
	return 0;
}
