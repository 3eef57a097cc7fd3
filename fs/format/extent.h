/*
 * Extent tree nodes, ext4 style: a 16-byte header then 16-byte entries.
 * The root (4 entries) sits in the inode; deeper nodes are blocks with the
 * common header (owner = the inode) followed by the same node layout, with
 * (block_size - 80) / 16 entries.  Depth 0 nodes hold extents (logical
 * start, length 1..32768, flags, physical start); deeper nodes hold index
 * entries (logical start, child block).  Issue 7 implements the tree; this
 * module defines and checks the nodes.
 */
#ifndef SFS_FORMAT_EXTENT_H
#define SFS_FORMAT_EXTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

struct sfs_sb_info;

struct sfs_extent_header {
	uint16_t magic;
	uint16_t entries;
	uint16_t max;
	uint16_t depth;
	uint32_t generation;
};

struct sfs_extent {
	uint32_t lblk;
	uint16_t len;
	uint16_t flags;
	uint64_t pblk;
};

struct sfs_extent_idx {
	uint32_t lblk;
	uint64_t child;
};

/* Node access; @node points at the node header (inode root or block + 64). */
void sfs_extent_header_decode(struct sfs_extent_header *h, const void *node);
void sfs_extent_header_encode(void *node, const struct sfs_extent_header *h);
void sfs_extent_get(struct sfs_extent *e, const void *node, unsigned i);
void sfs_extent_put(void *node, unsigned i, const struct sfs_extent *e);
void sfs_extent_idx_get(struct sfs_extent_idx *x, const void *node, unsigned i);
void sfs_extent_idx_put(void *node, unsigned i, const struct sfs_extent_idx *x);

/* Entries an extent block of this filesystem holds. */
static inline unsigned sfs_extent_block_capacity(uint32_t block_size)
{
	return (block_size - (unsigned)sizeof(struct sfs_disk_extent_block)) / 16u;
}

/* An empty depth-0 root inside an inode. */
void sfs_extent_root_init(void *root);
/* A new extent block at @blkno for inode @owner (header + empty node). */
void sfs_extent_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			   uint64_t owner, uint16_t depth);

/*
 * Check a node holding at most @capacity entries: magic, counts, depth,
 * entries sorted and non-overlapping, lengths within the format's limit,
 * physical blocks inside the filesystem (when @sbi is given).
 * 0 or -EFSCORRUPTED (reason via sfs_verify_reason).
 */
int sfs_extent_node_check(const void *node, unsigned capacity, const struct sfs_sb_info *sbi,
			  const char *where);
/* Extent block verifier (buf_ops). */
int sfs_extent_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi);

#endif
