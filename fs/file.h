/*
 * The data path's view of a file: mapping logical blocks to physical ones
 * (map.c, ext4's map_blocks) and releasing blocks past a point
 * (truncate.c).  Issues 9 and 10 build the status cache, the truncate
 * family and the page cache on these.
 */
#ifndef SFS_FILE_H
#define SFS_FILE_H

#include "fs/inode.h"
#include "fs/trans.h"

/* sfs_map_blocks flags. */
#define SFS_MAPF_CREATE      0x01u  /* allocate a hole (needs a handle) */
#define SFS_MAPF_UNWRITTEN  0x02u  /* ... as an unwritten extent */
#define SFS_MAPF_NOFAIL      0x04u  /* no allocation may fail */
#define SFS_MAPF_PRIVILEGED  0x08u  /* may use the root reserve */
#define SFS_MAPF_RESERVED    0x10u  /* blocks were reserved (delayed allocation) */

enum sfs_map_state {
	SFS_MAPPED_HOLE,
	SFS_MAPPED_WRITTEN,
	SFS_MAPPED_UNWRITTEN,
};

struct sfs_mapping {
	uint32_t lblk;
	uint32_t len;                /* blocks from lblk in this state (a hole: up to the next extent) */
	uint64_t pblk;               /* 0 for a hole */
	enum sfs_map_state state;
	bool fresh;                  /* just allocated: its contents are whatever the disk had */
};

/*
 * Map up to @len blocks from @lblk: the extent or hole there.  With
 * SFS_MAPF_CREATE a hole is allocated (as close as possible after the
 * previous extent's blocks) and inserted, in @t; the inode's block count
 * follows.  Takes ip->data_sem (read, or write with CREATE).  Credits:
 * sfs_map_credits().  -ENOSPC, -ENOMEM, -EIO, -EUCLEAN.
 */
int sfs_map_blocks(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk, uint32_t len,
		   unsigned flags, struct sfs_mapping *m);
unsigned sfs_map_credits(struct sfs_inode_info *ip);

/* Remove every block from logical block @from on, in as many NOFAIL
 * transactions as it takes (truncate, freeing an inode). */
int sfs_truncate_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from);
/* Truncate down in two halves around the size change: record @ip on the
 * orphan list in the handle that logs the new size (NOFAIL handle;
 * SFS_ORPHAN_ADD_CREDITS more credits), then, after that handle stops,
 * sfs_truncate_finish removes the blocks from @from on and the record.
 * Caller holds ip->rwsem for writing. */
int sfs_truncate_orphan_add(struct sfs_trans *t, struct sfs_inode_info *ip);
int sfs_truncate_finish(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from);

/*
 * Shared by the data path's files (file.c, falloc.c, punch.c, zero.c,
 * collapse.c, insert_range.c, seek.c).  Callers hold ip->rwsem for
 * writing around every change below.
 */
/* One past the largest byte offset of a file (2^32 blocks). */
uint64_t sfs_file_max_bytes(const struct sfs_fs *fs);
/* A referenced regular file (-EISDIR, -EINVAL otherwise); @write checks
 * the filesystem is writable. */
int sfs_file_get(struct sfs_fs *fs, uint64_t ino, bool write, struct sfs_inode_info **out);
/* ENOSPC with blocks freed by the running transaction: force a commit and
 * say whether one more try may succeed (once per operation). */
bool sfs_file_retry_after_commit(struct sfs_fs *fs, int ret, int *tries);
/* Allocate the holes of blocks [lblk, end) (SFS_MAPF_* flags). */
int sfs_file_alloc_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t lblk,
			  uint64_t end, unsigned flags);
/* Raise the size to @new_size (never lowers it) and touch the times. */
int sfs_file_update(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t new_size,
		    unsigned touch);
/* Zero bytes [from, to) of one block, when it is written. */
int sfs_file_zero_in_block(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
			   uint64_t to);
/* Unmap and free blocks [first, end) (may fail on ENOMEM part-way, each
 * step consistent). */
int sfs_file_unmap_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t first,
			  uint64_t end);

/* The fallocate family, rwsem held for writing, arguments checked by
 * sfs_fallocate (falloc.c). */
int sfs_punch_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len);
int sfs_zero_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len,
		    bool keep_size, bool privileged);
int sfs_collapse_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len);
int sfs_insert_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len);

#endif
