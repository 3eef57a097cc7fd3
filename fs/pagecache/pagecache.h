/*
 * The file-data page cache: write-behind, delayed allocation, writeback
 * through io_uring, all inside alloc/'s budget (issue 10).
 *
 * Contract.
 *  - One page per filesystem block, indexed per inode.  A page is READING
 *    (being filled), CLEAN (matches the device), DIRTY (newer than the
 *    device) or WRITEBACK (its write is in flight); clean pages are freed
 *    by the cache's shrinker (released), dirty ones only after writeback.
 *  - A write dirties pages.  A page over a hole is "delayed": one block is
 *    reserved for it (sfs_blocks_reserve) when it is dirtied, plus a few
 *    blocks per inode for the extent-tree blocks its writeout may need,
 *    and the status cache records the range SFS_ES_DELAYED.  A write that
 *    cannot reserve gets -ENOSPC then; writeback never does.  Blocks are
 *    allocated at writeback, a run of dirty pages at a time, so a file
 *    written in order gets long extents.
 *  - Journal credits: an inode whose dirty pages need a handle at writeback
 *    (to map delayed pages, to convert unwritten blocks) holds a journal
 *    reservation for one writeback step, taken by the writer before it
 *    dirties them (it may wait for log space then, never later).  The
 *    step's handle starts from it: no wait for log space, no fresh memory.
 *    Writeback re-arms it without waiting; it is given back when the inode
 *    has nothing dirty (written, truncated, punched, unlinked).
 *  - Writeback (the thread, fsync, sync, the range operations) submits up
 *    to SFS_PC_BATCH pages per io_uring batch; its bios come from a mempool
 *    and its journal handle is NOFAIL, so it makes progress with no clean
 *    memory left.  Ordered mode: the handle that maps fresh blocks attaches
 *    the inode (jnl_inode_add) and the commit waits for that data.
 *  - Dirty limits: above background_ratio of the budget the thread is
 *    woken; above dirty_ratio a writer sleeps in proportion to the measured
 *    writeback rate (balance_dirty_pages).  Direct reclaim kicks the thread
 *    (mc_writeback_kicker_register, one per mount) and throttles in alloc/ with its policy.
 *  - Pages are indexed by inode number, not by the in-memory inode: the
 *    inode cache may drop an inode with dirty pages; writeback takes its
 *    own reference for a batch (and releases the ordered-data link before
 *    dropping it).  Freeing an inode truncates it to 0, which drops its
 *    pages and returns their reservations.
 *
 * Locking: one cache lock (never held across I/O, allocation or a journal
 * handle; the shrinker only try-locks it); per inode a writeback mutex
 * serialising writeouts of that inode.  Callers of the range operations
 * hold the inode's rwsem for writing.
 */
#ifndef SFS_PAGECACHE_H
#define SFS_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct sfs_fs;
struct sfs_inode_info;
struct sfs_cred;

#define SFS_PC_BATCH 256u          /* pages per writeback batch (one io_uring submission) */

/* Process-wide tunables (tests and the benchmark change them). */
struct sfs_pc_tunables {
	unsigned dirty_ratio_pct;       /* writers throttled above this % of the budget; 0 = 20 */
	unsigned background_ratio_pct;  /* the thread starts above this %; 0 = 10 */
	unsigned readahead_pages;       /* 0 = 32 */
	unsigned md_reserve;            /* tree blocks reserved per inode with delayed pages; 0 = 2 */
	uint64_t dirty_min_bytes;       /* floor of the dirty limit when unlimited; 0 = 64 MiB */
	unsigned interval_ms;           /* periodic writeback; 0 = 1000 */
};
void sfs_pc_tune(const struct sfs_pc_tunables *t);

/* Mount / unmount (super.c): create the cache and start its thread;
 * write everything back and stop. */
int sfs_pc_init(struct sfs_fs *fs);
int sfs_pc_sync_all(struct sfs_fs *fs);
void sfs_pc_stop_thread(struct sfs_fs *fs);
void sfs_pc_destroy(struct sfs_fs *fs);

/* The data path (file.c).  Caller holds ip->rwsem (read for read, write
 * for write); @size is the file size.  Return bytes or -errno. */
ssize_t sfs_pc_read(struct sfs_fs *fs, struct sfs_inode_info *ip, void *buf, size_t len,
		    uint64_t off);
/* Copy @len bytes at @off into the cache, reserving what writeout needs.
 * Bytes copied (short on ENOSPC / ENOMEM part-way) or -errno. */
ssize_t sfs_pc_write(struct sfs_fs *fs, struct sfs_inode_info *ip, const void *buf, size_t len,
		     uint64_t off, bool privileged);
/* After a write dirtied @pages (no locks of ours held): throttle. */
void sfs_pc_balance(struct sfs_fs *fs, size_t pages);

/* Write back the inode's dirty pages in blocks [from, end) and wait;
 * the first writeback error since the last call. */
int sfs_pc_writeback_range(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
			   uint64_t end);
/* fsync: write back and wait, then commit what is needed and flush. */
int sfs_pc_fsync(struct sfs_fs *fs, struct sfs_inode_info *ip, bool datasync);
/* Drop the cached pages of blocks [from, end): waits for their writeback,
 * discards dirty data, returns delayed reservations (truncate, punch...). */
void sfs_pc_drop_range(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
		       uint64_t end);
/* Zero bytes [from, to) of one block if it is cached (dirtying it): 1,
 * else 0 (the caller zeroes the device copy). */
int sfs_pc_zero_in_block(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
			 uint64_t to);

/* Blocks of inode @ino reserved for delayed pages (st_blocks adds them). */
uint64_t sfs_pc_delayed_blocks(struct sfs_fs *fs, uint64_t ino);

struct sfs_pc_stats {
	uint64_t pages, clean, dirty, writeback, delayed;   /* now */
	uint64_t reserved_md;                               /* now: tree blocks reserved */
	uint64_t jrsv;                                      /* now: inodes holding journal credits */
	uint64_t jrsv_waits, jrsv_misses;   /* writers that waited for credits; steps without */
	uint64_t wb_rsv_starts, wb_plain_starts;   /* writeback handles from a reservation / not */
	uint64_t reads, read_pages, ra_pages, hits;
	uint64_t writes, dirtied, wb_batches, wb_pages, wb_allocs, wb_errors;
	uint64_t bios;               /* device requests, reads and writes (runs merged) */
	uint64_t shrunk, shrink_no_clean;   /* reclaim found no clean page while data was dirty */
	uint64_t balance_sleeps, balance_ns, discarded;
	uint64_t kicks, thread_rounds;
	uint64_t dirty_limit, bg_limit;     /* pages */
};
void sfs_pc_stats(struct sfs_fs *fs, struct sfs_pc_stats *out);
void sfs_pc_print_stats(struct sfs_fs *fs, FILE *f, int json);

#endif
