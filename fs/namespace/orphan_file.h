/*
 * The orphan file's internals, shared by orphan.c (recording) and
 * orphan_replay.c (finishing and sweeping); orphan.h is the contract for
 * everyone else.  The orphan lock (process-wide) covers slot allocation,
 * slot changes and the file's growth; it is taken under a handle, never
 * held across a handle start, before any inode's data_sem.
 */
#ifndef SFS_NS_ORPHAN_FILE_H
#define SFS_NS_ORPHAN_FILE_H

#include "fs/inode.h"
#include "fs/trans.h"

void sfs_orphan_lock(void);
void sfs_orphan_unlock(void);
/* The orphan file, referenced; created (in @t) when @t is given and the
 * superblock names none.  -ENOENT without @t and without a file. */
int sfs_orphan_file(struct sfs_trans *t, struct sfs_fs *fs, struct sfs_inode_info **out);
/* The orphan file if there is one (-ENOENT), referenced; @nofail under a
 * NOFAIL handle: reading its inode in cannot fail on ENOMEM. */
int sfs_orphan_file_get(struct sfs_fs *fs, bool nofail, struct sfs_inode_info **out);
uint32_t sfs_orphan_nblocks(struct sfs_inode_info *of);
/* Block @lblk of the orphan file, verified. */
int sfs_orphan_bread(struct sfs_inode_info *of, uint32_t lblk, bool nofail, struct sfs_buf **out);
/* A new block at its end, free slots, write access taken. */
int sfs_orphan_grow(struct sfs_trans *t, struct sfs_inode_info *of, struct sfs_buf **out,
		    uint32_t *lblk);
/* Clear slot @slot if it still names (@ino, @gen) -- any inode when @ino is
 * 0 -- and is stale, freeing the xattr block it keeps.  Lock held, in @t. */
int sfs_orphan_clear_if_stale(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
			      uint64_t ino, uint32_t gen);
/* Clear slot @slot if it names (@ino, @gen), whose inode @t is freeing
 * (its xattr block too, by the caller).  Lock held, in @t. */
int sfs_orphan_clear_freed(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
			   uint64_t ino, uint32_t gen);

#endif
