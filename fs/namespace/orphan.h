/*
 * The orphan file: inodes a crash must not leak (ondisk.h has the format;
 * ext4's orphan_file is the model).  An inode is recorded when it loses
 * its last link while it still has users or blocks to free (unlink, rmdir,
 * rename over a name), and when a truncate will span several transactions
 * (issue 9: sfs_orphan_add before the first step, sfs_orphan_del after
 * the last).  sfs_orphan_replay at mount finishes them.
 *
 * Why a file of slots and not ext4's classic chain through the inodes: an
 * inode can be freed by code that knows nothing of the list (the inode
 * cache's last reference, unmount releasing front-end holds), and freeing
 * a chained inode would cut the chain.  A slot instead stays valid exactly
 * as long as its inode is live with the recorded generation and flag
 * ORPHAN, which the freeing transaction itself ends -- and that
 * transaction clears the slot too (sfs_ns_evict below), whichever path
 * frees the inode.  A stale slot (from an image written before the hook,
 * or the inode's record rewritten under it) is harmless and swept; the
 * slot carries the inode's external xattr block, so a stale slot's block
 * belongs to the orphan file until the sweep frees it.
 *
 * Locking: the orphan lock (process-wide) serialises slot allocation and
 * the orphan file's growth; it is taken under a handle (never held across
 * a handle start), before any inode's data_sem.  Callers hold the inode's
 * rwsem.
 */
#ifndef SFS_NS_ORPHAN_H
#define SFS_NS_ORPHAN_H

#include "fs/inode.h"
#include "fs/trans.h"

/* Credits of sfs_orphan_add (the orphan file may be created or grown) and
 * of sfs_orphan_del. */
#define SFS_ORPHAN_ADD_CREDITS 48u
#define SFS_ORPHAN_DEL_CREDITS 2u

/* Record @ip (no-op if it is recorded already).  With a NOFAIL handle no
 * allocation fails; -ENOSPC when the orphan file must grow and cannot. */
int sfs_orphan_add(struct sfs_trans *t, struct sfs_inode_info *ip);
/*
 * The same in two phases, for a caller that must be able to record an
 * inode it has not made yet without failing then: prepare finds a free
 * slot (creating or growing the orphan file), takes write access to it and
 * holds the orphan lock; commit records @ip there (the caller holds write
 * access to @ip's record) and cannot fail but on I/O; abort lets go.
 */
struct sfs_orphan_ref {
	struct sfs_inode_info *of;   /* the orphan file */
	struct sfs_buf *bh;          /* the slot's block, write access taken */
	uint64_t slot;
	bool locked;
};
int sfs_orphan_prepare(struct sfs_trans *t, struct sfs_orphan_ref *r);
int sfs_orphan_commit(struct sfs_trans *t, struct sfs_orphan_ref *r, struct sfs_inode_info *ip);
void sfs_orphan_abort(struct sfs_orphan_ref *r);
/* Forget @ip's record (no-op if none, and while it has no link left: the
 * freeing path owns it then). */
int sfs_orphan_del(struct sfs_trans *t, struct sfs_inode_info *ip);
/* @ip is recorded and its external xattr block changed: keep the slot's
 * copy in step (called by the xattr code in the same transaction). */
int sfs_orphan_note_xattr(struct sfs_trans *t, struct sfs_inode_info *ip);
/*
 * Drop the caller's reference to a recorded inode without links.  When it
 * was the last user the inode is freed, and in the same transaction its
 * slot is cleared and its xattr block freed (sfs_ns_evict).  Blocks must
 * already be gone (sfs_ns_finish_unlinked).  Call without locks or a
 * handle.
 */
void sfs_orphan_reap(struct sfs_fs *fs, struct sfs_inode_info *ip);
/*
 * fs->evict (fs/super.h), set at mount: whatever frees an inode -- the
 * namespace, or the inode cache for an unlinked inode whose last hold
 * went -- frees its external xattr block and clears its orphan slot in
 * the freeing transaction, so nothing is left for the next mount's sweep.
 * It never fails: when the slot cannot be cleared (I/O) it is left to go
 * stale with the block, for the sweep.  The orphan lock is taken here.
 */
int sfs_ns_evict(struct sfs_trans *t, struct sfs_inode_info *ip);
/* Clear every stale slot (freeing the xattr blocks they keep).  Call
 * without locks or a handle. */
int sfs_orphan_sweep_stale(struct sfs_fs *fs);

#endif
