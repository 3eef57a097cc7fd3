/*
 * Inode allocation: the inode bitmaps and the descriptors' inode counts.
 *
 * Placement (ext4's, simplified Orlov): a file goes to its directory's
 * group when it has a free inode, else the next group that has one; a
 * directory goes to a group with at least the average number of free
 * inodes and the most free blocks, so directory trees spread out.  Within
 * a group the lowest free inode is taken, so the inode table's high-water
 * mark (itable_unused) only grows when needed.  A group never used since
 * mkfs (INODE_UNINIT) gets its bitmap written when its first inode is
 * taken.  Bitmap, descriptor and superblock change in one step of the
 * caller's transaction (SFS_CREDITS_GROUP credits), under the group lock
 * the block allocator uses too.
 *
 * Two phases: sfs_ialloc_prepare chooses the inode and acquires the
 * buffers, returning with the group lock held so that the caller can read
 * and take write access to the inode's table block; sfs_ialloc_commit
 * (or sfs_ialloc_abort) then releases it.
 */
#ifndef SFS_IALLOC_H
#define SFS_IALLOC_H

#include "fs/trans.h"

struct sfs_ialloc {
	uint32_t grp, idx;
	bool is_dir;
	bool fresh;                  /* bitmap built now (INODE_UNINIT) */
	struct sfs_buf *bmap, *gdt;
};

int sfs_ialloc_prepare(struct sfs_trans *t, uint64_t dir_ino, bool is_dir,
		       struct sfs_ialloc *a, uint64_t *ino);
int sfs_ialloc_commit(struct sfs_trans *t, struct sfs_ialloc *a);
void sfs_ialloc_abort(struct sfs_trans *t, struct sfs_ialloc *a);

/* Mark inode @ino free (bitmap, counts); the record is the caller's. */
int sfs_ifree(struct sfs_trans *t, uint64_t ino, bool is_dir, bool nofail);

#endif
