/*
 * The block allocator.
 *
 * On disk: one bitmap per group and, in its descriptor, the free count and
 * the free-space summary (largest free run, number of free runs), kept
 * exact with every change so a search skips any group whose largest run is
 * too short without reading its bitmap.  Groups never touched since mkfs
 * (BLOCK_UNINIT) have an implied bitmap, written the first time the
 * allocator takes a block there.  Every change is journaled together with
 * the descriptor and the superblock's free count.
 *
 * In memory, per group, a "held" map of blocks that are free on disk but
 * not to be handed out:
 *   busy      freed by a transaction that has not committed: a crash would
 *             bring back the old owner, so the block is reusable only once
 *             that transaction is durable (the journal's commit callback
 *             clears the bits);
 *   window    an inode's preallocation window (prealloc.c): the blocks
 *             after its last allocation, kept for its next one so that a
 *             file written sequentially -- even beside other writers --
 *             stays in one run.  Windows live only in memory (nothing to
 *             clean after a crash) and are given up when space runs short.
 *
 * Allocation: the goal (the physical block after the inode's previous
 * extent) if free, else the first free run long enough after it in its
 * group, else the next group whose summary promises such a run; when no
 * run is long enough, the longest one found (the caller asks again for
 * the rest).  Space left for a request = free - busy - delayed
 * reservations - the root reserve (unless privileged) - a small filesystem
 * reserve (unless SFS_ALLOC_USE_RESERVE): what lets unlink and truncate,
 * which may have to split an extent, still work on a full filesystem.
 *
 * Locking: a group's lock covers its bitmaps, its descriptor and the
 * descriptor's encoding in the GDT block (ialloc.c takes the same lock);
 * held_lock covers the held map only and is the one lock the commit
 * callback takes, so a commit never waits for an allocator.  Counters are
 * under fs->cnt_lock.
 */
#ifndef SFS_BALLOC_H
#define SFS_BALLOC_H

#include "fs/super.h"
#include "fs/trans.h"

struct sfs_inode_info;

struct sfs_group_info {
	mc_mutex_t lock;             /* bitmaps and descriptor of this group */
	mc_spinlock_t held_lock;     /* held, held_count */
	uint8_t *held;               /* busy and window blocks; NULL when none */
	uint32_t held_count;
	uint32_t busy_count;         /* of which busy */
};

/* Allocation flags. */
#define SFS_ALLOC_NOFAIL      0x01u  /* memory and reads may not fail (truncate paths) */
#define SFS_ALLOC_USE_RESERVE 0x02u  /* may use the filesystem reserve (removals) */
#define SFS_ALLOC_PRIVILEGED  0x04u  /* may use the root reserve */
#define SFS_ALLOC_METADATA    0x08u  /* tree block: no preallocation window */
#define SFS_ALLOC_RESERVED    0x10u  /* consumes a delayed-allocation reservation */

struct sfs_alloc_req {
	struct sfs_inode_info *ip;   /* owner (preallocation window), or NULL */
	uint32_t lblk;               /* logical block the blocks are for */
	uint64_t goal;               /* physical block wanted first; 0 = none */
	uint32_t len;                /* blocks wanted, 1 .. SFS_MAX_EXTENT_LEN */
	unsigned flags;
};

int sfs_balloc_init(struct sfs_fs *fs);
/* After the journal is closed: every busy block was released. */
void sfs_balloc_destroy(struct sfs_fs *fs);

/*
 * Allocate up to req->len contiguous blocks: *pblk and *got (>= 1).
 * Journaled in @t (SFS_CREDITS_GROUP credits).  -ENOSPC when the space
 * left for this request is zero; -ENOMEM, -EIO, -EUCLEAN.  Nothing is
 * changed on failure.
 */
int sfs_balloc(struct sfs_trans *t, const struct sfs_alloc_req *req, uint64_t *pblk,
	       uint32_t *got);

/*
 * Free blocks [pblk, pblk + len) (one group), in two phases so that a
 * caller can acquire everything before changing anything:
 * sfs_bfree_prepare reads the bitmap, takes write access to the bitmap,
 * descriptor and superblock blocks and the busy record (always NOFAIL:
 * freeing is what makes progress), and checks the blocks are allocated
 * (-EUCLEAN, reported, if not); sfs_bfree_commit clears them (they stay
 * busy until @t's transaction commits).  sfs_bfree_abort drops a prepared
 * free.  @nofail: the reads may not fail on ENOMEM.
 */
struct sfs_bfree;
int sfs_bfree_prepare(struct sfs_trans *t, uint64_t pblk, uint32_t len, bool nofail,
		      struct sfs_bfree **out);
int sfs_bfree_commit(struct sfs_trans *t, struct sfs_bfree *f);
void sfs_bfree_abort(struct sfs_bfree *f);
/* Both phases (SFS_CREDITS_GROUP credits). */
int sfs_bfree(struct sfs_trans *t, uint64_t pblk, uint32_t len, bool nofail);

/* Delayed allocation (issue 10): reserve @n blocks now, allocate them
 * later with SFS_ALLOC_RESERVED.  -ENOSPC.  */
int sfs_blocks_reserve(struct sfs_fs *fs, uint64_t n, unsigned flags);
void sfs_blocks_unreserve(struct sfs_fs *fs, uint64_t n);

void sfs_balloc_counts(struct sfs_fs *fs, struct sfs_block_counts *out);
/* Blocks a request with @flags could get now (the ENOSPC arithmetic). */
uint64_t sfs_balloc_available(struct sfs_fs *fs, unsigned flags);
/* Busy blocks exist: committing the journal would free space. */
bool sfs_balloc_commit_would_help(struct sfs_fs *fs);

/* ---- shared with ialloc.c and prealloc.c ---- */

/* Write access to the GDT block holding group @grp's descriptor (the
 * reference is the caller's, released with sfs_buf_release). */
int sfs_group_gdt_get(struct sfs_trans *t, uint32_t grp, bool nofail, struct sfs_buf **out);
/* Encode gd[grp] into that block and dirty it (group lock held). */
int sfs_group_gdt_commit(struct sfs_trans *t, uint32_t grp, struct sfs_buf *bh);
/* Mark [idx, idx + len) held, allocating the group's map if it has none
 * (-ENOMEM only without @nofail); clear them (the map is freed when the
 * group holds nothing any more). */
int sfs_group_hold(struct sfs_fs *fs, uint32_t grp, uint32_t idx, uint32_t len, bool nofail);
void sfs_group_unhold(struct sfs_fs *fs, uint32_t grp, uint32_t idx, uint32_t len);
/* Length of the run of blocks free on disk and not held from @idx (at
 * most @max); the bitmap buffer is the caller's (group lock held). */
uint32_t sfs_group_free_run_at(struct sfs_fs *fs, uint32_t grp, const uint8_t *map,
			       uint32_t idx, uint32_t max);
/* The group's block bitmap buffer (group lock held): read, or, while the
 * group is BLOCK_UNINIT, built from its implied content (*fresh = true:
 * whoever allocates there logs the whole block and clears the flag). */
int sfs_group_bitmap(struct sfs_fs *fs, uint32_t grp, bool nofail, struct sfs_buf **out,
		     bool *fresh);
/* The descriptor summary after blocks [idx, idx + len) of @map were just
 * taken (@taken) or freed; @map is the bitmap after the change. */
void sfs_group_summary_update(struct sfs_fs *fs, uint32_t grp, const uint8_t *map,
			      uint32_t idx, uint32_t len, bool taken);

/* ---- preallocation windows (prealloc.c) ---- */

/* Blocks of @ip's window for logical block @lblk: up to @len from its
 * start, taken out of the window but still held (the caller allocates
 * them on disk, then unholds them; or unholds them to give them back).
 * Returns the count (0 = no window for @lblk; a window for another block
 * is discarded) and the first block in *pblk. */
uint32_t sfs_pa_take(struct sfs_fs *fs, struct sfs_inode_info *ip, uint32_t lblk,
		     uint32_t len, uint64_t *pblk);
/* Open a window after an allocation that ended at @pblk for logical
 * @lblk (group lock held, @map the group's bitmap). */
void sfs_pa_open(struct sfs_fs *fs, struct sfs_inode_info *ip, uint32_t grp, const uint8_t *map,
		 uint32_t lblk, uint64_t pblk);
void sfs_pa_discard(struct sfs_fs *fs, struct sfs_inode_info *ip);
/* Give up every window; returns the blocks released. */
uint64_t sfs_pa_discard_all(struct sfs_fs *fs);

#endif
