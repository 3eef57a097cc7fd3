/*
 * The filesystem's side of the journal: a transaction handle with the
 * rules fs/ follows around it.
 *
 *  - Every metadata change runs under a struct sfs_trans (jnl_start's NOFS
 *    scope is why fs/ allocates with plain MC_KERNEL).  SFS_TRANS_NOFAIL
 *    starts the handle JNL_NOFAIL (truncate, freeing an inode): no
 *    allocation made for it fails.
 *  - Two-phase changes.  A step first acquires everything that can fail
 *    (buffer reads, jnl write access -- the journal may have to allocate
 *    a head for the buffer --, blocks from the allocator, memory), then
 *    makes its changes, which can fail only on an I/O error or an aborted
 *    journal.  A step that fails with -ENOMEM or -ENOSPC therefore leaves
 *    nothing half done; the caller sees a consistent tree and bitmaps.
 *  - The journal copies buffers as they are, so a changed block's checksum
 *    is stamped before it is dirtied: sfs_trans_dirty() runs the block
 *    type's prepare_write (which also verifies it: a bug that corrupts a
 *    block is caught before it reaches the log).
 *  - Long operations (removing many extents) ask sfs_trans_ensure() for
 *    the credits of their next step: the handle is extended, or, when it
 *    is the outermost one, stopped and restarted (what is done so far
 *    commits on its own; each step leaves the filesystem consistent).
 */
#ifndef SFS_TRANS_H
#define SFS_TRANS_H

#include "fs/super.h"

#define SFS_TRANS_NOFAIL 0x1u

struct sfs_trans {
	struct sfs_fs *fs;
	struct jnl_handle *h;
	unsigned flags;
	bool nested;                /* joined a handle the caller already held */
	unsigned restarts;
	unsigned frees;             /* busy-block records added since the last commit point */
};

/*
 * Busy-block records (fs/bfree.c) an outermost handle may pin before
 * sfs_trans_ensure() commits its transaction: a long removal adds one per
 * extent freed, held in memory until that transaction commits, while its
 * metadata stays small enough for one transaction -- without a bound a
 * truncate of 10^5 extents under an 8 MiB budget waited (NOFAIL) for
 * memory only its own commit could give back.  2048 records are ~128 KiB.
 */
#define SFS_TRANS_FREES_MAX 2048u

int sfs_trans_start(struct sfs_fs *fs, unsigned credits, unsigned flags, struct sfs_trans *t);
/* Start from a journal reservation (jnl_start_reserved: no wait for log
 * space, no fresh memory for the handle); @rsv is consumed either way. */
int sfs_trans_start_reserved(struct sfs_fs *fs, struct jnl_rsv *rsv, unsigned flags,
			     struct sfs_trans *t);
/* Stops; returns the handle's error (-EIO when the journal aborted). */
int sfs_trans_stop(struct sfs_trans *t);
static inline bool sfs_trans_nofail(const struct sfs_trans *t)
{
	return t->flags & SFS_TRANS_NOFAIL;
}
/*
 * Make sure @credits are left.  Returns 0 (enough, nothing happened), 1
 * (the handle was restarted -- for credits, or after SFS_TRANS_FREES_MAX
 * frees, committing first: re-acquire write access, re-find paths), or
 * -errno.  A nested handle that cannot be extended gets -ENOSPC.  @drop, a
 * lock the caller holds for writing under the handle (an inode's
 * data_sem), is released around the restart: a new handle may wait for
 * the running transaction's handles, one of which may wait for that lock
 * (ext4 drops i_data_sem around journal restarts for the same reason).
 */
int sfs_trans_ensure(struct sfs_trans *t, unsigned credits, mc_rwlock_t *drop);

/*
 * A buffer for a block that gets new contents of type @ops (zero-filled,
 * uptodate).  The cache keeps the ops a buffer was first created with
 * (read-ahead may have guessed them from its neighbours); a new block's
 * type is the one its new owner says.
 */
int sfs_buf_new(struct sfs_fs *fs, uint64_t blk, const struct sfs_buf_ops *ops, bool nofail,
		struct sfs_buf **out);

/* jnl_get_write_access: call before changing @bh, without its lock. */
int sfs_trans_access(struct sfs_trans *t, struct sfs_buf *bh);
/* Stamp @bh's checksum (its ops' prepare_write) and dirty it in the
 * transaction; call with the buffer locked.  -EUCLEAN if the block no
 * longer verifies (a bug, reported), -EIO. */
int sfs_trans_dirty(struct sfs_trans *t, struct sfs_buf *bh);
/* Free a journaled metadata block (revoke it; the buffer goes at commit). */
int sfs_trans_forget(struct sfs_trans *t, struct sfs_buf *bh);
int sfs_trans_on_commit(struct sfs_trans *t, struct jnl_callback *cb);
jnl_tid_t sfs_trans_tid(const struct sfs_trans *t);

/* The superblock's counters changed: copy them into block 0 in this
 * transaction (one credit the first time). */
int sfs_trans_sb_prepare(struct sfs_trans *t);
int sfs_trans_sb_commit(struct sfs_trans *t);

/* Credits of a superblock + descriptor + bitmap update (one group). */
#define SFS_CREDITS_GROUP 3u

#endif
