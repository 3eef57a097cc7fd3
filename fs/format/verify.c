/*
 * The buf_ops table of every metadata block type, type identification and
 * the per-thread "why was this block refused" record.
 *
 * verify_read runs the type's verifier as is.  prepare_write first stamps
 * what the writer may legitimately leave stale (own block number, UUID,
 * checksum), then verifies, so a structurally broken block never reaches
 * the disk (XFS's write verifiers).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/bitmap.h"
#include "fs/format/checksum.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/jsb.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"

static __thread char verify_reason[256];

int sfs_verify_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(verify_reason, sizeof(verify_reason), fmt, ap);
	va_end(ap);
	return err;
}

const char *sfs_verify_reason(void)
{
	return verify_reason[0] ? verify_reason : "no verifier failure recorded";
}

/* ---- superblock ---------------------------------------------------- */
static int super_verify_read(const void *blk, size_t len, uint64_t blkno, void *ctx)
{
	const struct sfs_sb_info *sbi = ctx;
	char msg[200];
	int ret;

	if (len < SFS_SB_SIZE)
		return sfs_verify_fail(-EFSCORRUPTED, "superblock buffer of %zu bytes", len);
	ret = sfs_super_verify(blk, blkno, msg, sizeof(msg));
	if (ret)
		return sfs_verify_fail(ret == -EFSBADCRC ? ret : -EFSCORRUPTED, "%s", msg);
	if (sbi && memcmp(((const struct sfs_disk_super *)blk)->hdr.uuid, sbi->sb.uuid, 16))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "superblock at block %llu belongs to another filesystem",
				       (unsigned long long)blkno);
	return 0;
}

static int super_prepare_write(void *blk, size_t len, uint64_t blkno, void *ctx)
{
	struct sfs_disk_super *d = blk;

	if (len < SFS_SB_SIZE)
		return -EFSCORRUPTED;
	d->hdr.blkno = sfs_cpu_to_le64(blkno);
	d->hdr.owner = sfs_cpu_to_le64(blkno ? SFS_SB_OWNER_BACKUP : SFS_SB_OWNER_PRIMARY);
	d->hdr.csum = sfs_cpu_to_le64(sfs_csum(d, SFS_SB_SIZE,
					       offsetof(struct sfs_disk_hdr, csum), 0));
	return super_verify_read(blk, len, blkno, ctx);
}

/* ---- header-carrying blocks ---------------------------------------- */
#define HDR_OPS(kind, verify_fn)                                               \
	static int kind##_verify_read(const void *blk, size_t len, uint64_t blkno, \
				      void *ctx)                                   \
	{                                                                      \
		return verify_fn(blk, len, blkno, ctx);                        \
	}                                                                      \
	static int kind##_prepare_write(void *blk, size_t len, uint64_t blkno, \
					void *ctx)                             \
	{                                                                      \
		sfs_hdr_stamp(blk, len, blkno, ctx);                           \
		return verify_fn(blk, len, blkno, ctx);                        \
	}                                                                      \
	const struct sfs_buf_ops sfs_##kind##_buf_ops = {                      \
		.name = #kind,                                                 \
		.verify_read = kind##_verify_read,                             \
		.prepare_write = kind##_prepare_write,                         \
	}

HDR_OPS(gdt, sfs_gdt_block_verify);
HDR_OPS(bbitmap, sfs_bbitmap_verify);
HDR_OPS(ibitmap, sfs_ibitmap_verify);
HDR_OPS(extent, sfs_extent_block_verify);
HDR_OPS(dirleaf, sfs_dir_block_verify);
HDR_OPS(dirindex, sfs_dirindex_block_verify);
HDR_OPS(xattr, sfs_xattr_block_verify);
HDR_OPS(jsb, sfs_jsb_verify);

const struct sfs_buf_ops sfs_super_buf_ops = {
	.name = "super",
	.verify_read = super_verify_read,
	.prepare_write = super_prepare_write,
};

/* ---- inode table blocks: records checksum themselves ---------------- */
static int itable_verify_read(const void *blk, size_t len, uint64_t blkno, void *ctx)
{
	return sfs_itable_block_verify(blk, len, blkno, ctx);
}

static int itable_prepare_write(void *blk, size_t len, uint64_t blkno, void *ctx)
{
	const struct sfs_sb_info *sbi = ctx;
	uint8_t *p = blk;

	for (uint32_t i = 0; i < sbi->geo.inodes_per_block && len == sbi->geo.block_size; i++) {
		uint8_t *raw = p + (size_t)i * sbi->geo.inode_size;

		if (sfs_le32_to_cpu(((struct sfs_disk_inode *)raw)->magic) == SFS_MAGIC_INODE)
			sfs_inode_set_csum(raw, sbi);
	}
	return sfs_itable_block_verify(blk, len, blkno, ctx);
}

const struct sfs_buf_ops sfs_itable_buf_ops = {
	.name = "itable",
	.verify_read = itable_verify_read,
	.prepare_write = itable_prepare_write,
};

/* ---- types ----------------------------------------------------------- */
static const struct {
	const char *name;
	const struct sfs_buf_ops *ops;
	uint32_t magic;
} btypes[SFS_BT_COUNT] = {
	[SFS_BT_UNKNOWN]  = { "unknown", NULL, 0 },
	[SFS_BT_SUPER]    = { "superblock", &sfs_super_buf_ops, SFS_MAGIC_SB },
	[SFS_BT_GDT]      = { "group descriptors", &sfs_gdt_buf_ops, SFS_MAGIC_GDT },
	[SFS_BT_BBITMAP]  = { "block bitmap", &sfs_bbitmap_buf_ops, SFS_MAGIC_BBITMAP },
	[SFS_BT_IBITMAP]  = { "inode bitmap", &sfs_ibitmap_buf_ops, SFS_MAGIC_IBITMAP },
	[SFS_BT_ITABLE]   = { "inode table", &sfs_itable_buf_ops, 0 },
	[SFS_BT_EXTENT]   = { "extent block", &sfs_extent_buf_ops, SFS_MAGIC_EXTENT },
	[SFS_BT_DIRLEAF]  = { "directory block", &sfs_dirleaf_buf_ops, SFS_MAGIC_DIRLEAF },
	[SFS_BT_DIRINDEX] = { "directory index", &sfs_dirindex_buf_ops, SFS_MAGIC_DIRINDEX },
	[SFS_BT_XATTR]    = { "xattr block", &sfs_xattr_buf_ops, SFS_MAGIC_XATTR },
	[SFS_BT_JSB]      = { "journal superblock", &sfs_jsb_buf_ops, SFS_MAGIC_JSB },
	[SFS_BT_JOURNAL]  = { "journal log", NULL, 0 },
	[SFS_BT_DATA]     = { "data", NULL, 0 },
};

const char *sfs_btype_name(enum sfs_btype t)
{
	return t < SFS_BT_COUNT ? btypes[t].name : "invalid";
}

const struct sfs_buf_ops *sfs_btype_ops(enum sfs_btype t)
{
	return t < SFS_BT_COUNT ? btypes[t].ops : NULL;
}

enum sfs_btype sfs_btype_by_location(const struct sfs_sb_info *sbi, uint64_t blkno)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t idx;

	if (blkno >= g->block_count)
		return SFS_BT_UNKNOWN;
	if (blkno == 0 || blkno == g->backup_sb_block)
		return SFS_BT_SUPER;
	if (sfs_gdt_block_index(sbi, blkno) >= 0)
		return SFS_BT_GDT;
	if (g->journal_blocks && blkno >= g->journal_start && blkno < g->first_data_block)
		return blkno == g->journal_start ? SFS_BT_JSB : SFS_BT_JOURNAL;
	if (!sfs_geo_block_group(g, blkno, NULL, &idx))
		return SFS_BT_UNKNOWN;
	if (idx == 0)
		return SFS_BT_BBITMAP;
	if (idx == 1)
		return SFS_BT_IBITMAP;
	if (idx < sfs_geo_group_overhead(g))
		return SFS_BT_ITABLE;
	return SFS_BT_DATA;
}

enum sfs_btype sfs_btype_by_magic(const void *blk)
{
	uint32_t m = sfs_hdr_magic(blk);

	for (int t = 1; t < SFS_BT_COUNT; t++)
		if (btypes[t].magic && btypes[t].magic == m)
			return (enum sfs_btype)t;
	return SFS_BT_UNKNOWN;
}
