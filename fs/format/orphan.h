/*
 * Orphan file blocks (SFS_MAGIC_ORPHAN; ondisk.h has the layout and the
 * rules for valid and stale slots).  The orphan file is inode
 * SFS_ORPHAN_INO, an ordinary extent-mapped file whose every block is one
 * of these; fsck and the library share the verifier through its buf_ops.
 */
#ifndef SFS_FORMAT_ORPHAN_H
#define SFS_FORMAT_ORPHAN_H

#include <stddef.h>
#include <stdint.h>

#include "fs/block/buf_ops.h"
#include "fs/format/ondisk.h"

struct sfs_sb_info;

struct sfs_orphan_slot {
	uint64_t ino;                /* 0 = free */
	uint32_t generation;
	uint64_t xattr_block;
};

static inline unsigned sfs_orphan_slots(uint32_t block_size)
{
	return (block_size - (unsigned)sizeof(struct sfs_disk_orphan_block)) /
	       (unsigned)sizeof(struct sfs_disk_orphan_slot);
}
/* A block of free slots. */
void sfs_orphan_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno);
void sfs_orphan_slot_get(struct sfs_orphan_slot *s, const void *blk, unsigned i);
void sfs_orphan_slot_put(void *blk, unsigned i, const struct sfs_orphan_slot *s);
/* Verifier: self-description (owner SFS_ORPHAN_INO), capacity, slots that
 * name inodes outside the reserved range, free slots all zero. */
int sfs_orphan_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi);
extern const struct sfs_buf_ops sfs_orphan_buf_ops;

#endif
