/*
 * The mounted filesystem (struct sfs_fs) as the library's modules see it.
 * Front ends see only the opaque type of fs/fs.h.
 *
 * Life of a mount (enum sfs_fs_state): LIVE while everything works;
 * READONLY after an error under errors=remount-ro (or when mounted
 * read-only): modifying calls get -EROFS; SHUTDOWN after an error under
 * errors=shutdown or a journal abort: every call gets -EIO.
 *
 * The superblock lives in the buffer cache (block 0, held for the whole
 * mount) and is journaled like any metadata block: the free counts in it
 * change in the same transaction as the bitmaps and descriptors.  At mount
 * and at a clean unmount it is written home directly (needs_recovery set,
 * then cleared with the clean state), as ext4 does.
 *
 * Lock order (outermost first):
 *   inode rwsem -> journal handle -> inode data_sem -> group lock ->
 *   buffer lock -> inode attr_lock -> sbi->sb_lock, counters lock;
 *   pa_lock -> group held_lock; icache lock is taken alone.
 */
#ifndef SFS_SUPER_H
#define SFS_SUPER_H

#include <stdarg.h>
#include <stdatomic.h>

#include "alloc/mc.h"
#include "fs/block/buffer.h"
#include "fs/format/inode.h"
#include "fs/format/mount.h"
#include "fs/fs.h"
#include "journal/journal.h"

struct sfs_group_info;
struct sfs_inode_info;
struct sfs_ext_index;
struct sfs_trans;

#define SFS_EVICT_CREDITS 16u

enum sfs_fs_state {
	SFS_FS_LIVE,         /* reads and writes */
	SFS_FS_READONLY,     /* mounted read-only or degraded by errors=remount-ro */
	SFS_FS_SHUTDOWN,     /* errors=shutdown or an aborted journal: everything -EIO */
};

/* Counters for the statistics hook: relaxed atomics, exact at rest. */
struct sfs_fs_stats {
	_Atomic uint64_t alloc_calls, alloc_blocks, alloc_goal_hits, alloc_partial;
	_Atomic uint64_t alloc_enospc, alloc_groups_scanned, alloc_window_hits;
	_Atomic uint64_t alloc_window_discards, alloc_lazy_inits;
	_Atomic uint64_t free_calls, free_blocks, busy_released;
	_Atomic uint64_t inode_allocs, inode_frees, inode_reads, inode_writes;
	_Atomic uint64_t icache_hits, icache_misses, icache_shrunk;
	_Atomic uint64_t ext_lookups, ext_inserts, ext_merges, ext_splits, ext_grows;
	_Atomic uint64_t ext_shrinks, ext_removes, ext_converts, ext_node_frees;
	_Atomic uint64_t restarts, commit_retries, errors;
	_Atomic uint64_t orphans_finished;   /* by sfs_orphan_replay (the mount's included) */
};
#define SFS_STAT(fs, field, n) atomic_fetch_add_explicit(&(fs)->stats.field, (n), \
							  memory_order_relaxed)

/* Block counters (balloc.c); under cnt_lock. */
struct sfs_block_counts {
	uint64_t free;          /* on-disk free blocks (= superblock free_blocks) */
	uint64_t busy;          /* freed by uncommitted transactions: not yet reusable */
	uint64_t windows;       /* in preallocation windows (free on disk, stealable) */
	uint64_t dirty;         /* reserved for delayed allocation (issue 10) */
	uint64_t root_resv;     /* superblock reserved_blocks: privileged users only */
	uint64_t fs_resv;       /* kept for removals (truncate, unlink) on a full fs */
};

struct sfs_fs {
	struct sfs_sb_info *sbi;
	struct sfs_bdev *bdev;
	struct sfs_bcache *bc;
	struct jnl_journal *j;
	struct sfs_mount_opts opts;
	const char *path;
	uint32_t bsize, blog;
	_Atomic int state;                 /* enum sfs_fs_state */
	int errors;                        /* effective errors= policy */

	struct sfs_buf *sb_bh;             /* block 0, referenced for the whole mount */

	/* block allocator (balloc.c) */
	struct sfs_group_info *groups;     /* group_count entries */
	mc_spinlock_t cnt_lock;            /* protects counts */
	struct sfs_block_counts counts;
	_Atomic uint32_t last_group;       /* where goal-less allocations start */
	mc_mutex_t pa_lock;                /* preallocation windows (prealloc.c) */
	struct sfs_inode_info *pa_list;    /* inodes with a window, under pa_lock */

	/* inodes (icache.c, ialloc.c) */
	struct sfs_icache *icache;
	_Atomic uint32_t next_generation;  /* for never-used inode slots */
	uint64_t inodes_free;              /* = superblock free_inodes, under cnt_lock */

	/* extent tree debug cap (opts.extent_fanout, 0 = none) */
	unsigned ext_cap;

	/* the extent status cache of this mount (one LRU and shrinker for
	 * all its inodes' trees); created before the inode cache, destroyed
	 * after it */
	struct sfs_es_cache *es;
	/* the extent trees' index cache (extent_cache.c), same lifetime */
	struct sfs_ext_index *ext_index;

	/*
	 * Set by modules that hang things on inodes (the namespace: external
	 * xattr blocks, orphan slots).  sfs_inode_free calls it in its NOFAIL
	 * transaction once the inode's data and tree blocks are gone and
	 * before its record is cleared and its number freed; it has
	 * SFS_EVICT_CREDITS (sfs_trans_ensure for more) and must not fail on
	 * ENOMEM.  NULL = nothing to release.
	 */
	int (*evict)(struct sfs_trans *t, struct sfs_inode_info *ip);

	/* the file-data page cache and its writeback thread (pagecache.h) */
	struct sfs_pcache *pc;

	struct sfs_fs_stats stats;
};

/* ---- state and errors (super.c) ---- */

/* 0 if modifications are allowed, else -EROFS / -EIO. */
int sfs_fs_writable(struct sfs_fs *fs);
/* 0 if reads are allowed, else -EIO (shut down). */
int sfs_fs_readable(struct sfs_fs *fs);
/*
 * A runtime error found in metadata (corruption, I/O error): recorded in
 * the superblock's error fields (written at the next superblock update or
 * at unmount), counted, logged once per call, and the errors= policy
 * applied.  Returns @err for tail calls.
 */
int sfs_fs_error(struct sfs_fs *fs, int err, uint64_t ino, uint64_t blk, const char *func,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
#define SFS_ERROR(fs, err, ino, blk, ...) sfs_fs_error((fs), (err), (ino), (blk), __func__, __VA_ARGS__)

/* Buffer cache flags for a read on a path that must not fail on ENOMEM. */
static inline unsigned sfs_buf_flags(bool nofail)
{
	return nofail ? SFS_BUF_NOFAIL : 0;
}
static inline mc_flags_t sfs_gfp(bool nofail)
{
	return MC_KERNEL | (nofail ? MC_NOFAIL : 0);
}

/* sfs_buf_release that accepts NULL. */
static inline void sfs_brelse(struct sfs_buf *bh)
{
	if (bh)
		sfs_buf_release(bh);
}

/* Current time for inode timestamps. */
void sfs_now(struct sfs_timespec *ts);

#endif
