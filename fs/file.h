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

#endif
