/*
 * Inode records: host-order mirror, encode/decode, verifier.
 *
 * An inode record is self-describing on its own: magic, its own inode
 * number, its generation and a checksum over the whole record (core and
 * inline xattr area) seeded with the filesystem's csum_seed, so a record
 * copied to the wrong slot, left over from an older incarnation, or from
 * another filesystem is refused.  A record whose magic is zero has never
 * been used (inode tables are zero after mkfs or lazy init).  A freed
 * inode keeps its record with mode 0, so the generation survives and is
 * bumped on reuse.
 */
#ifndef SFS_FORMAT_INODE_H
#define SFS_FORMAT_INODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

struct sfs_sb_info;

struct sfs_timespec {
	int64_t sec;
	uint32_t nsec;
};

struct sfs_inode {
	uint64_t ino;
	uint16_t mode;               /* 0 = free */
	uint16_t core_size;
	uint32_t generation;
	uint32_t flags;
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint32_t inline_xattr_len;
	uint64_t size;
	uint64_t blocks;
	struct sfs_timespec atime, mtime, ctime, btime;
	uint32_t rdev_major;
	uint32_t rdev_minor;
	uint64_t xattr_block;
	uint64_t orphan_next;
	uint64_t version;
	uint8_t root[SFS_INODE_INLINE_MAX]; /* extent root or inline data, raw */
};

void sfs_inode_decode(struct sfs_inode *ino, const void *raw);
/* Encode the core into @raw (inode_size bytes; the inline xattr area past
 * the core is left as it is) and stamp the checksum. */
void sfs_inode_encode(void *raw, const struct sfs_inode *ino, const struct sfs_sb_info *sbi);
/* Recompute the checksum of a record (after editing raw bytes). */
void sfs_inode_set_csum(void *raw, const struct sfs_sb_info *sbi);
uint64_t sfs_inode_compute_csum(const void *raw, const struct sfs_sb_info *sbi);

/* Never-used slot: magic zero. */
bool sfs_inode_slot_unused(const void *raw);
/* Valid record of a live inode (mode != 0); call after verify. */
bool sfs_inode_raw_in_use(const void *raw);

/* Check the record expected to be inode @ino.  0, -EFSBADCRC or
 * -EFSCORRUPTED (reason via sfs_verify_reason). */
int sfs_inode_verify(const void *raw, uint64_t ino, const struct sfs_sb_info *sbi);
/* Inode table block verifier (buf_ops): every slot either never used or a
 * valid record of the inode number its position gives.  Slots holding
 * neither zero nor the inode magic are tolerated here because a table that
 * was not zeroed (no ITABLE_ZEROED) may hold stale bytes past the group's
 * high-water mark; sfs_inode_verify refuses them when they are read as
 * inodes. */
int sfs_itable_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi);

/* Linux file type of a mode; 0 if invalid. */
unsigned sfs_mode_to_ftype(uint16_t mode);

#endif
