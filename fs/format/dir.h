/*
 * Directory entry blocks (SFS_MAGIC_DIRLEAF): the common header, then
 * variable-length records to the end of the block, ext4 style:
 *
 *   le64 ino (0 = unused record), le16 rec_len (multiple of 8, reaches the
 *   next record; the last reaches the end of the block), u8 name_len,
 *   u8 file_type (SFS_FT_*), name (not NUL-terminated), padding.
 *
 * The header owner is the directory's inode number.  The first block of a
 * directory starts with "." and "..".  Issue 8 adds the index blocks
 * (SFS_MAGIC_DIRINDEX) that make lookup O(log n); this is the leaf format
 * they point to.
 */
#ifndef SFS_FORMAT_DIR_H
#define SFS_FORMAT_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

struct sfs_sb_info;

struct sfs_dirent {
	uint64_t ino;
	uint16_t rec_len;
	uint8_t name_len;
	uint8_t file_type;
	const char *name;            /* points into the block */
	uint32_t offset;             /* of the record in the block */
};

static inline uint32_t sfs_dirent_size(unsigned name_len)
{
	return (SFS_DIRENT_HDR_SIZE + name_len + SFS_DIRENT_ALIGN - 1) & ~(SFS_DIRENT_ALIGN - 1);
}

/* An empty entry block for directory @owner: one unused record. */
void sfs_dir_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner);
/* Add an entry in the first record with room; -ENOSPC if none, -EINVAL for
 * a bad name. */
int sfs_dir_block_add(void *blk, size_t len, uint64_t ino, const char *name, unsigned name_len,
		      unsigned file_type);
/* Iterate: start with *off = 0; returns 1 with the next record (unused ones
 * included, ino 0), 0 at the end, -EFSCORRUPTED on a malformed record. */
int sfs_dir_block_next(const void *blk, size_t len, uint32_t *off, struct sfs_dirent *de);
/* Directory entry block verifier (buf_ops). */
int sfs_dir_block_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi);

#endif
