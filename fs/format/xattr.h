/*
 * External xattr blocks (SFS_MAGIC_XATTR).  The format reserves the block
 * type, its header (owner = first owning inode) and a reference count; the
 * entry layout after byte 72 belongs to issue 8, which extends the
 * verifier.  The inline xattr area of an inode (inode_size - 256 bytes,
 * inline_xattr_len used) is likewise laid out by issue 8.
 */
#ifndef SFS_FORMAT_XATTR_H
#define SFS_FORMAT_XATTR_H

#include <stddef.h>
#include <stdint.h>

struct sfs_sb_info;

void sfs_xattr_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			  uint64_t owner);
int sfs_xattr_block_verify(const void *blk, size_t len, uint64_t blkno,
			   const struct sfs_sb_info *sbi);
/* Directory index blocks: reserved type, header checked (issue 8). */
int sfs_dirindex_block_verify(const void *blk, size_t len, uint64_t blkno,
			      const struct sfs_sb_info *sbi);

#endif
