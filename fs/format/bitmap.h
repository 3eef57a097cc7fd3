/*
 * Allocation bitmap blocks (block bitmap and inode bitmap of a group).
 *
 * After the 64-byte header, bit i (byte i / 8, bit i % 8, LSB first) is
 * block i of the group, respectively inode i + 1 of the group.  Bits past
 * the group's size up to the end of the block are padding and always set,
 * so a search for a clear bit never runs off the group (ext4's habit).
 * The header owner is the group number.
 */
#ifndef SFS_FORMAT_BITMAP_H
#define SFS_FORMAT_BITMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

struct sfs_sb_info;

static inline uint8_t *sfs_bitmap_data(void *blk)
{
	return (uint8_t *)blk + SFS_HDR_SIZE;
}

static inline const uint8_t *sfs_bitmap_cdata(const void *blk)
{
	return (const uint8_t *)blk + SFS_HDR_SIZE;
}

static inline bool sfs_bit_test(const uint8_t *map, uint32_t i)
{
	return (map[i >> 3] >> (i & 7)) & 1;
}

static inline void sfs_bit_set(uint8_t *map, uint32_t i)
{
	map[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static inline void sfs_bit_clear(uint8_t *map, uint32_t i)
{
	map[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

static inline void sfs_bit_flip(uint8_t *map, uint32_t i)
{
	map[i >> 3] ^= (uint8_t)(1u << (i & 7));
}

/* Number of meaningful bits in group @grp's block / inode bitmap. */
uint32_t sfs_bbitmap_nbits(const struct sfs_sb_info *sbi, uint32_t grp);
uint32_t sfs_ibitmap_nbits(const struct sfs_sb_info *sbi);

/* A fresh bitmap block: header, all meaningful bits clear, padding set. */
void sfs_bitmap_init(void *blk, const struct sfs_sb_info *sbi, uint32_t magic, uint32_t grp);
/* The block bitmap an uninitialised group implies: its own bitmaps and
 * inode table in use, everything else free. */
void sfs_bbitmap_build_implied(void *blk, const struct sfs_sb_info *sbi, uint32_t grp);
/* Finish a bitmap for writing: stamp header and checksum. */
void sfs_bitmap_finish(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno);

/* Free-space summary of the first @nbits bits. */
struct sfs_bitmap_summary {
	uint32_t free;               /* clear bits */
	uint32_t largest;            /* longest run of clear bits */
	uint32_t runs;               /* maximal runs of clear bits */
};
void sfs_bitmap_summarise(const uint8_t *map, uint32_t nbits, struct sfs_bitmap_summary *s);

/* Verifiers (buf_ops contract): header with owner = the group whose bitmap
 * lives at @blkno, padding bits set, and for block bitmaps the group's own
 * metadata marked in use. */
int sfs_bbitmap_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi);
int sfs_ibitmap_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi);

#endif
