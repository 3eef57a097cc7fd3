/*
 * Verifiers: one struct sfs_buf_ops per metadata block type (the buffer
 * cache runs verify_read after every read and prepare_write before every
 * write; fs/block/buf_ops.h), a way to tell a block's type, and the reason
 * the last verifier on this thread refused a block.
 *
 * ctx is always the filesystem's struct sfs_sb_info (mount.h).
 */
#ifndef SFS_FORMAT_VERIFY_H
#define SFS_FORMAT_VERIFY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/block/buf_ops.h"

struct sfs_sb_info;

enum sfs_btype {
	SFS_BT_UNKNOWN,
	SFS_BT_SUPER,       /* block 0 and the backup */
	SFS_BT_GDT,
	SFS_BT_BBITMAP,
	SFS_BT_IBITMAP,
	SFS_BT_ITABLE,
	SFS_BT_EXTENT,
	SFS_BT_DIRLEAF,
	SFS_BT_DIRINDEX,
	SFS_BT_XATTR,
	SFS_BT_JSB,
	SFS_BT_JOURNAL,     /* log blocks after the journal superblock */
	SFS_BT_DATA,        /* anything in a group's data area without a known magic */
	SFS_BT_COUNT
};

extern const struct sfs_buf_ops sfs_super_buf_ops;
extern const struct sfs_buf_ops sfs_gdt_buf_ops;
extern const struct sfs_buf_ops sfs_bbitmap_buf_ops;
extern const struct sfs_buf_ops sfs_ibitmap_buf_ops;
extern const struct sfs_buf_ops sfs_itable_buf_ops;
extern const struct sfs_buf_ops sfs_extent_buf_ops;
extern const struct sfs_buf_ops sfs_dirleaf_buf_ops;
extern const struct sfs_buf_ops sfs_dirindex_buf_ops;
extern const struct sfs_buf_ops sfs_xattr_buf_ops;
extern const struct sfs_buf_ops sfs_jsb_buf_ops;

const char *sfs_btype_name(enum sfs_btype t);
/* Ops for a type; NULL for raw blocks (journal log, data). */
const struct sfs_buf_ops *sfs_btype_ops(enum sfs_btype t);
/* The type geometry assigns to @blkno (superblocks, GDT, bitmaps, inode
 * tables, journal); SFS_BT_DATA for the data area, UNKNOWN outside. */
enum sfs_btype sfs_btype_by_location(const struct sfs_sb_info *sbi, uint64_t blkno);
/* The type a block's magic claims (data-area blocks); UNKNOWN if none. */
enum sfs_btype sfs_btype_by_magic(const void *blk);

/* Record why a verifier refused a block; returns @err for tail calls. */
int sfs_verify_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The reason recorded by the last failing verifier on this thread. */
const char *sfs_verify_reason(void);

#endif
