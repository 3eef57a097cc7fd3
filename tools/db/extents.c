/*
 * Extent trees in scopefs-db, read raw (a damaged tree is shown, not
 * refused): an inode's extent map -- what FIEMAP would say, which cannot
 * cross FUSE -- or its whole tree node by node; and editing one field of
 * an extent entry or node header, the corruption injector fsck's extent
 * checks are tested with.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/extent.h"
#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/verify.h"
#include "tools/db/db.h"

/* Entry fields (offsets inside a 16-byte entry), leaf and index. */
static const struct sfs_field extent_fields[] = {
	{ "lblk", 0, 4, SFS_FK_UINT }, { "len", 4, 2, SFS_FK_UINT },
	{ "flags", 6, 2, SFS_FK_HEX }, { "pblk", 8, 8, SFS_FK_UINT },
	{ "child", 8, 8, SFS_FK_UINT }, { NULL, 0, 0, 0 }
};

struct tree_print {
	struct db *db;
	bool tree;                   /* every node, or only the extents */
	uint64_t extents, blocks, nodes;
	unsigned max_depth;
};

static void print_node(struct tree_print *tp, const uint8_t *node, unsigned capacity,
		       uint64_t blk, unsigned level)
{
	struct sfs_extent_header h;
	char indent[40];

	sfs_extent_header_decode(&h, node);
	snprintf(indent, sizeof(indent), "%*s", (int)(2 * level + 2), "");
	if (tp->tree)
		printf("%s%s: depth %u, %u/%u entries%s\n", indent,
		       blk ? "node" : "root", h.depth, h.entries, h.max,
		       h.magic != SFS_EXTENT_HDR_MAGIC ? " (bad magic)" : "");
	if (blk && tp->tree)
		printf("%s  at block %llu\n", indent, (unsigned long long)blk);
	if (h.depth > tp->max_depth)
		tp->max_depth = h.depth;
	for (unsigned i = 0; i < h.entries && i < capacity; i++) {
		if (h.depth == 0) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			printf("%s%8u..%-8llu -> %llu..%llu (%u blocks)%s\n", tp->tree ? indent : "  ",
			       e.lblk, (unsigned long long)e.lblk + e.len - 1,
			       (unsigned long long)e.pblk, (unsigned long long)e.pblk + e.len - 1, e.len,
			       (e.flags & SFS_EXTENT_FL_UNWRITTEN) ? " unwritten" : "");
			tp->extents++;
			tp->blocks += e.len;
		} else {
			struct sfs_extent_idx x;
			uint8_t *child;

			sfs_extent_idx_get(&x, node, i);
			if (tp->tree)
				printf("%s[%u] from %u -> block %llu\n", indent, i, x.lblk,
				       (unsigned long long)x.child);
			if (level > SFS_EXTENT_MAX_DEPTH) {
				printf("%s(deeper than the format allows: not followed)\n", indent);
				continue;
			}
			child = db_read_block(tp->db, x.child);
			if (!child)
				continue;
			tp->nodes++;
			print_node(tp, child + SFS_HDR_SIZE,
				   sfs_extent_block_capacity(tp->db->sbi.geo.block_size), x.child,
				   level + 1);
			mc_free(child);
		}
	}
}

int db_cmd_extents(struct db *db, int argc, char **argv)
{
	struct tree_print tp = { .db = db };
	struct sfs_inode in;
	uint64_t ino, blkno;
	uint32_t off;
	uint8_t *blk;

	if (db_need_sb(db))
		return -1;
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "tree")))
		return db_err("usage: extents INO [tree]");
	if (db_parse_u64(argv[1], &ino, "inode"))
		return -1;
	if (!sfs_geo_ino_valid(&db->sbi.geo, ino))
		return db_err("inode %llu does not exist", (unsigned long long)ino);
	tp.tree = argc == 3;
	blkno = sfs_geo_ino_block(&db->sbi.geo, ino, &off);
	blk = db_read_block(db, blkno);
	if (!blk)
		return -1;
	sfs_inode_decode(&in, blk + off);
	mc_free(blk);
	if (in.flags & SFS_INODE_FL_INLINE) {
		printf("inode %llu keeps its data inline (no extents)\n", (unsigned long long)ino);
		return 0;
	}
	printf("inode %llu: size %llu, %llu blocks owned\n", (unsigned long long)ino,
	       (unsigned long long)in.size, (unsigned long long)in.blocks);
	if (!tp.tree)
		printf("  %8s..%-8s -> %s\n", "logical", "last", "physical");
	print_node(&tp, in.root, SFS_EXTENT_ROOT_ENTRIES, 0, 0);
	printf("%llu extents, %llu blocks mapped, depth %u, %llu tree blocks\n",
	       (unsigned long long)tp.extents, (unsigned long long)tp.blocks, tp.max_depth,
	       (unsigned long long)tp.nodes);
	return 0;
}

/*
 * The node named by "root INO" or "BLK" at argv[1..]: *blk (raw, the
 * caller frees), *node_off inside it, and for the root *ino_off (the
 * record, to restamp).  Returns the number of arguments used, or -1.
 */
static int locate_node(struct db *db, int argc, char **argv, uint8_t **blk, uint64_t *blkno,
		       uint32_t *node_off, bool *is_root, uint32_t *rec_off)
{
	uint64_t v;

	if (argc >= 3 && !strcmp(argv[1], "root")) {
		if (db_parse_u64(argv[2], &v, "inode"))
			return -1;
		if (!sfs_geo_ino_valid(&db->sbi.geo, v))
			return db_err("inode %llu does not exist", (unsigned long long)v);
		*blkno = sfs_geo_ino_block(&db->sbi.geo, v, rec_off);
		*node_off = *rec_off + (uint32_t)offsetof(struct sfs_disk_inode, u);
		*is_root = true;
		*blk = db_read_block(db, *blkno);
		return *blk ? 2 : -1;
	}
	if (argc < 2 || db_parse_u64(argv[1], &v, "block"))
		return -1;
	*blkno = v;
	*node_off = SFS_HDR_SIZE;
	*is_root = false;
	*blk = db_read_block(db, *blkno);
	if (*blk && sfs_hdr_magic(*blk) != SFS_MAGIC_EXTENT)
		printf("note: block %llu is not an extent block (editing it anyway)\n",
		       (unsigned long long)v);
	return *blk ? 1 : -1;
}

static int finish_edit(struct db *db, uint8_t *blk, uint64_t blkno, bool is_root,
		       uint32_t rec_off, bool nocsum, const char *what, const char *value)
{
	int ret;

	if (!nocsum) {
		if (is_root)
			sfs_inode_set_csum(blk + rec_off, &db->sbi);
		else
			sfs_hdr_set_csum(blk, db->sbi.geo.block_size, db->sbi.csum_seed);
	}
	ret = db_write_block(db, blk, blkno);
	if (!ret)
		printf("block %llu: %s set to %s%s\n", (unsigned long long)blkno, what, value,
		       nocsum ? " (checksum left stale)" : "");
	mc_free(blk);
	return ret;
}

static bool take_nocsum(int *argc, char **argv)
{
	if (*argc > 1 && !strcmp(argv[*argc - 1], "nocsum")) {
		(*argc)--;
		return true;
	}
	return false;
}

int db_cmd_set_extent(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv), is_root;
	const struct sfs_field *fl;
	uint32_t node_off, rec_off = 0;
	uint64_t blkno, index;
	struct sfs_extent_header h;
	uint8_t *blk;
	unsigned cap;
	int used;

	if (db_need_sb(db))
		return -1;
	used = locate_node(db, argc, argv, &blk, &blkno, &node_off, &is_root, &rec_off);
	if (used < 0)
		return -1;
	argc -= used;
	argv += used;
	if (argc != 4) {
		mc_free(blk);
		return db_err("usage: set-extent root INO | BLK  INDEX FIELD VALUE [nocsum]");
	}
	cap = is_root ? SFS_EXTENT_ROOT_ENTRIES : sfs_extent_block_capacity(db->sbi.geo.block_size);
	fl = sfs_field_find(extent_fields, argv[2]);
	if (db_parse_u64(argv[1], &index, "index") || !fl) {
		mc_free(blk);
		return fl ? -1 : db_err("no entry field \"%s\" (lblk len flags pblk child)", argv[2]);
	}
	if (index >= cap) {
		mc_free(blk);
		return db_err("entry %llu is past the node's capacity %u", (unsigned long long)index, cap);
	}
	sfs_extent_header_decode(&h, blk + node_off);
	if (index >= h.entries)
		printf("note: entry %llu is past the node's %u valid entries\n",
		       (unsigned long long)index, h.entries);
	if (db_set_field(fl, blk + node_off + 16 + index * 16, argv[3])) {
		mc_free(blk);
		return -1;
	}
	return finish_edit(db, blk, blkno, is_root, rec_off, nocsum, fl->name, argv[3]);
}

int db_cmd_set_ehdr(struct db *db, int argc, char **argv)
{
	bool nocsum = take_nocsum(&argc, argv), is_root;
	const struct sfs_field *fl;
	uint32_t node_off, rec_off = 0;
	uint64_t blkno;
	uint8_t *blk;
	int used;

	if (db_need_sb(db))
		return -1;
	used = locate_node(db, argc, argv, &blk, &blkno, &node_off, &is_root, &rec_off);
	if (used < 0)
		return -1;
	argc -= used;
	argv += used;
	if (argc != 3) {
		mc_free(blk);
		return db_err("usage: set-ehdr root INO | BLK  FIELD VALUE [nocsum]");
	}
	fl = sfs_field_find(sfs_extent_hdr_fields, argv[1]);
	if (!fl) {
		mc_free(blk);
		return db_err("no header field \"%s\" (magic entries max depth generation)", argv[1]);
	}
	if (db_set_field(fl, blk + node_off, argv[2])) {
		mc_free(blk);
		return -1;
	}
	return finish_edit(db, blk, blkno, is_root, rec_off, nocsum, fl->name, argv[2]);
}
