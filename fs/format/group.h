/*
 * Group descriptors and the descriptor table (GDT) blocks.
 *
 * A descriptor records where its group's bitmaps and inode table are (the
 * geometry fixes them; the descriptor repeats them so a damaged geometry is
 * detectable), the free-space summary (free blocks, the longest free run and
 * the number of free runs, so an allocator can skip groups that cannot hold
 * a request without reading their bitmaps), and the lazy-initialisation
 * state:
 *
 *   BLOCK_UNINIT   the block bitmap was never written; its content is
 *                  implied: the group's own metadata in use, the rest free
 *                  (sfs_group_implied_free / bitmap.h build it).
 *   INODE_UNINIT   the inode bitmap was never written; every inode free.
 *   ITABLE_ZEROED  the whole inode table is known to read as zeros.  Without
 *                  it only the first inodes_per_group - itable_unused
 *                  records may be read; the rest may hold stale bytes.
 *
 * Later (background) completion: a lazy-init thread walks the groups
 * without ITABLE_ZEROED, writes zeros over their inode tables at a bounded
 * rate, and journals the descriptor with the flag set; bitmaps of an
 * uninitialised group are materialised (written, flag cleared) by the
 * allocator the first time it allocates in the group.
 */
#ifndef SFS_FORMAT_GROUP_H
#define SFS_FORMAT_GROUP_H

#include <stddef.h>
#include <stdint.h>

struct sfs_sb_info;

struct sfs_group_desc {
	uint64_t block_bitmap;
	uint64_t inode_bitmap;
	uint64_t inode_table;
	uint32_t free_blocks;
	uint32_t free_inodes;
	uint32_t used_dirs;
	uint32_t itable_unused;
	uint32_t largest_free;
	uint32_t free_runs;
	uint16_t flags;
};

void sfs_gd_decode(struct sfs_group_desc *gd, const void *raw);
void sfs_gd_encode(void *raw, const struct sfs_group_desc *gd);

/* Check one descriptor of group @grp against the geometry; 0 or
 * -EFSCORRUPTED with the reason in @why. */
int sfs_gd_check(const struct sfs_sb_info *sbi, uint32_t grp, const struct sfs_group_desc *gd,
		 char *why, size_t whylen);

/* The descriptor of a group nobody has touched yet (mkfs, fsck rebuild). */
void sfs_gd_init_uninit(const struct sfs_sb_info *sbi, uint32_t grp, struct sfs_group_desc *gd);

/* GDT block @index (0 .. gdt_blocks-1) of the table, placed at @blkno:
 * header (owner = first group described) and descriptors from gd[]. */
void sfs_gdt_block_build(void *blk, const struct sfs_sb_info *sbi, uint32_t index,
			 uint64_t blkno, const struct sfs_group_desc *gd);
/* Which GDT block @blkno is (primary or backup); -1 if neither. */
int64_t sfs_gdt_block_index(const struct sfs_sb_info *sbi, uint64_t blkno);
/* Decode descriptors of GDT block @index into gd[] (no checks). */
void sfs_gdt_block_decode(const void *blk, const struct sfs_sb_info *sbi, uint32_t index,
			  struct sfs_group_desc *gd);
/* Verifier for a GDT block (buf_ops contract). */
int sfs_gdt_block_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi);

#endif
