/*
 * journal/: a jbd2-style write-ahead journal over the buffer cache.  This
 * header is what the filesystem (and mkfs, fsck, tests) call.  Errors are
 * negative errno; every call that can block says so.
 *
 * Life of a change.  A thread starts a handle with the number of metadata
 * blocks it may dirty (credits); for each block it calls
 * jnl_get_write_access() before changing it and jnl_dirty_metadata() after,
 * then stops the handle.  Handles join the running transaction; the commit
 * thread commits it (every commit_interval, when it reaches its size cap,
 * when someone waits for it, at close) by writing copies of its blocks to
 * the log, then a commit block.  Only then may the blocks go to their home
 * location (the buffer cache's writeback or a checkpoint writes them);
 * checkpointing releases log space.  After a crash, recovery replays the
 * committed transactions.
 *
 * Memory contexts (DESIGN.md "alloc/").  A handle holds a NOFS scope from
 * start to stop, so code under it allocates with plain MC_KERNEL.  A handle
 * started with JNL_NOFAIL makes every allocation done for it NOFAIL; only an
 * I/O error or an aborted journal can fail it.  The commit path uses memory
 * reserved at open (a staging ring for log writes, a frozen-copy reserve),
 * so a commit never waits for fresh memory: it is what frees memory.
 *
 * Data modes.  JNL_DATA_ORDERED (default): data the filesystem attaches to
 * a transaction (jnl_inode_add) reaches the device before the commit block,
 * and a flush separates log blocks and data from the commit block.  Cost per
 * fsync that needs a commit: two write round trips (log blocks + data, then
 * the commit block) and two flushes.  JNL_DATA_WRITEBACK: no ordered data;
 * the commit block goes out with the log blocks and a single flush follows;
 * recovery trusts the commit only if the whole-transaction checksum matches.
 * Cost: one write round trip and one flush.  An fsync whose changes are
 * already committed costs one flush in either mode (jnl_fsync).
 *
 * Rules for callers.
 *  - A handle belongs to its thread; start and stop on the same thread and
 *    restore any scope saved inside the handle before stopping it.
 *  - Start handles before taking buffer locks; call get_write_access
 *    without the buffer lock held, dirty_metadata with it held (the buffer
 *    cache's rule for sfs_buf_mark_dirty).
 *  - Free a journaled metadata block with jnl_forget(), never with
 *    sfs_bcache_invalidate(): the journal drops the buffer when the freeing
 *    transaction commits.  A freed block may be reused only after that
 *    commit (jnl_on_commit tells the block allocator).
 *  - Never wait for a commit while holding a handle (jnl_commit_tid and
 *    friends return -EDEADLK when asked to).
 */
#ifndef JNL_JOURNAL_H
#define JNL_JOURNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "alloc/list.h"

typedef uint64_t jnl_tid_t;

struct jnl_journal;
struct jnl_handle;
struct jnl_txn;

/* Where the journal lives. */
struct jnl_area {
	uint32_t block_size;       /* the filesystem's block size */
	uint64_t start;            /* first block of the area: the journal superblock */
	uint64_t blocks;           /* area length, superblock included (>= JNL_MIN_BLOCKS) */
	uint8_t uuid[16];          /* filesystem UUID, stamped into every journal block */
};

/* ---- formatting and recovery (mkfs, mount, fsck) ---- */

/* Write an empty journal superblock for @a (mkfs), then flush. */
int jnl_format_area(struct sfs_bdev *bdev, const struct jnl_area *a);

struct jnl_recovery_info {
	bool was_clean;            /* superblock said nothing to replay */
	bool torn;                 /* a transaction after the last good one was discarded */
	jnl_tid_t first_tid;       /* first transaction found in the log */
	jnl_tid_t end_tid;         /* first transaction not replayed */
	uint64_t transactions;     /* complete transactions found */
	uint64_t log_blocks;       /* log blocks they occupy */
	uint64_t copies;           /* block copies in them */
	uint64_t replayed;         /* copies written home */
	uint64_t revoked;          /* copies skipped because revoked */
	uint64_t revoke_records;
	int errno_;                /* the superblock's recorded error (positive), 0 = none */
};

#define JNL_RECOVER_CHECK 0x1u     /* scan and verify only; write nothing (fsck -n) */

/*
 * Three passes over the log, as jbd2: scan (find the last complete
 * transaction, verifying every block), revoke (collect revoke records),
 * replay (write every copy not revoked by its own or a later transaction).
 * Then flush, and mark the superblock clean.  Idempotent: a crash in the
 * middle replays again from the start.  Blocks: does synchronous I/O.
 * -EFSCORRUPTED / -EFSBADCRC: the superblock (or a tag) is not sane;
 * -EIO: the device failed.  @info may be NULL.
 */
int jnl_recover(struct sfs_bdev *bdev, const struct jnl_area *a, unsigned flags,
		struct jnl_recovery_info *info);

/* fsck, offline: the error recorded by an aborted run has been reported
 * (and copied to the filesystem superblock): clear it.  Returns the error
 * that was recorded (positive errno, 0 = none) or a negative errno. */
int jnl_clear_recorded_error(struct sfs_bdev *bdev, const struct jnl_area *a);

/* ---- open and close ---- */

enum jnl_data_mode { JNL_DATA_ORDERED = 0, JNL_DATA_WRITEBACK };

struct jnl_config {
	enum jnl_data_mode mode;
	uint32_t commit_interval_ms;   /* 0 = 5000 */
	uint32_t max_txn_blocks;       /* log blocks per transaction, 0 = a quarter of the log */
	uint32_t ring_blocks;          /* staging ring for log writes, 0 = 512 KiB (even, >= 4) */
	uint32_t frozen_reserve;       /* preallocated frozen copies, 0 = 16 */
	/* TEST ONLY: skip the flush that separates the log blocks and ordered
	 * data from the commit block.  Unsafe by construction; the crash
	 * harness uses it to prove that its checker can fail. */
	bool unsafe_no_preflush;
};

/*
 * Open the journal of @a over the buffer cache @c (whose block size must
 * equal a->block_size), recovering first if the log is not clean (cached
 * copies of replayed blocks are invalidated; @rinfo, if not NULL, receives
 * what recovery did).  Starts the commit thread.  A journal whose
 * superblock records an error opens in the error state (jnl_errno) and
 * refuses handles until jnl_clear_error().
 */
int jnl_open(struct sfs_bcache *c, const struct jnl_area *a, const struct jnl_config *cfg,
	     struct jnl_recovery_info *rinfo, struct jnl_journal **out);
/* Commit, checkpoint everything, mark the log clean, stop the commit
 * thread, free.  No handle may be open.  Returns the first error (an
 * aborted journal returns its error and writes nothing but its errno). */
int jnl_close(struct jnl_journal *j);

/* ---- handles ---- */

#define JNL_NOFAIL 0x1u            /* no allocation for this handle may fail */

/*
 * Start a handle for up to @credits block changes (dirtied buffers plus
 * revoke records).  Enters a NOFS allocation scope held until jnl_stop.
 * May block: for the running transaction to be switched, for log space
 * (a checkpoint), for memory.  A start on a thread that already holds a
 * handle of @j joins it and never blocks: @credits must fit in what the
 * outer handle has left (-ENOSPC otherwise).
 * -EROFS: the journal is aborted or in the error state; -ENOSPC: more
 * credits than a transaction may hold; -ENOMEM (never with JNL_NOFAIL);
 * -EINVAL: the thread holds a handle of another journal.
 */
int jnl_start(struct jnl_journal *j, unsigned credits, unsigned flags, struct jnl_handle **out);
/* Stop; the outermost stop restores the allocation scope.  -EIO if the
 * journal aborted while the handle was open (its changes are lost). */
int jnl_stop(struct jnl_handle *h);
/* Add credits without blocking: 0, or -EAGAIN (stop and start a new
 * handle), -EIO when aborted. */
int jnl_extend(struct jnl_handle *h, unsigned credits);
/* Make jnl_stop wait until the transaction has committed (O_SYNC). */
void jnl_handle_set_sync(struct jnl_handle *h);
/* The transaction this handle's changes belong to (for fsync). */
jnl_tid_t jnl_handle_tid(const struct jnl_handle *h);
/* Credits the handle has left. */
unsigned jnl_handle_credits(const struct jnl_handle *h);
/* The calling thread's handle, or NULL. */
struct jnl_handle *jnl_current(void);

/* ---- reserved credits (jbd2's reserved handles) ---- */

/*
 * A reservation holds log space for a handle of @credits that will start
 * later, in a context that must not wait: the page cache reserves when a
 * page is dirtied, and writeback starts its handle from the reservation.
 *  - jnl_reserve() counts jnl_log_need(credits) blocks against the log as
 *    if a transaction held them; normal starts see that much less room.
 *    It may wait for a checkpoint (log space) and for the cap on all
 *    reservations (half the log, and never so much that a full
 *    transaction could not fit beside them) to come down, unless
 *    JNL_RSV_TRY: then -EAGAIN.  -ENOSPC: more credits than a handle may
 *    have; -EDEADLK: it would wait while the thread holds a handle;
 *    -EROFS: aborted.  It needs no memory.
 *  - jnl_start_reserved() turns the reservation into a handle without
 *    waiting for log space and without fresh memory: the handle comes
 *    from a pool of the journal's (a mempool sized for the writeback
 *    threads), a new transaction from a spare one preallocated by the
 *    last jnl_reserve.  It may still wait while the running transaction
 *    is locked for commit (the commit thread needs nothing from us).  The
 *    reservation is consumed.  Not inside another handle (-EINVAL).
 *  - jnl_unreserve() gives the space back (truncate, punch, unlink of the
 *    dirty range that held it).
 * A struct jnl_rsv is the caller's (zeroed = nothing held) and is
 * protected by the caller's own locking.  Every reservation must be
 * consumed or given back before jnl_close.
 */
struct jnl_rsv {
	struct jnl_journal *j;
	unsigned credits;          /* 0: nothing held */
	unsigned blocks;           /* log blocks counted for it */
};
#define JNL_RSV_TRY 0x2u           /* jnl_reserve: never wait */
int jnl_reserve(struct jnl_journal *j, struct jnl_rsv *r, unsigned credits, unsigned flags);
int jnl_start_reserved(struct jnl_rsv *r, unsigned flags, struct jnl_handle **out);
void jnl_unreserve(struct jnl_rsv *r);
static inline bool jnl_rsv_held(const struct jnl_rsv *r)
{
	return r->credits != 0;
}

/* ---- metadata buffers ---- */

/*
 * Announce a change to @bh (uptodate, referenced by the caller, not locked
 * by the caller).  If the committing transaction is still to write @bh's
 * previous contents, a frozen copy of them is taken first so the caller
 * need not wait.  -EIO (aborted), -ENOMEM (never with JNL_NOFAIL).
 */
int jnl_get_write_access(struct jnl_handle *h, struct sfs_buf *bh);
/* The change is made (call with the buffer lock held): the buffer joins
 * the transaction and takes one credit the first time.  -ENOSPC when the
 * handle has no credit left, -EINVAL without write access, -EIO. */
int jnl_dirty_metadata(struct jnl_handle *h, struct sfs_buf *bh);
/* Block @blkno was freed: record a revoke (one credit) so that replay
 * never writes an older copy over whatever the block holds next. */
int jnl_revoke(struct jnl_handle *h, uint64_t blkno);
/* A journaled metadata block is freed: revoke it, drop its change from
 * the running transaction, and invalidate the buffer once this
 * transaction commits. */
int jnl_forget(struct jnl_handle *h, struct sfs_buf *bh);

/* ---- ordered data ---- */

struct jnl_inode;
struct jnl_inode_ops {
	/* Start writing the object's data in [start, end) (units are the
	 * filesystem's).  Called by the commit thread: must not start a
	 * handle or wait for a commit. */
	int (*submit)(struct jnl_inode *ji, uint64_t start, uint64_t end);
	/* Wait for what submit started; -EIO if any of it failed. */
	int (*wait)(struct jnl_inode *ji, uint64_t start, uint64_t end);
};

/* Embedded in the filesystem's inode (no allocation to attach it). */
struct jnl_inode {
	const struct jnl_inode_ops *ops;
	void *priv;
	/* private to the journal, under its list lock */
	struct jnl_txn *t, *next_t;
	uint64_t start, end, next_start, next_end;
	struct mc_list link;
	bool flushing;
};
void jnl_inode_init(struct jnl_inode *ji, const struct jnl_inode_ops *ops, void *priv);
/* Data in [start, end) must reach the device before this handle's
 * transaction commits (ordered mode; a no-op in writeback mode). */
int jnl_inode_add(struct jnl_handle *h, struct jnl_inode *ji, uint64_t start, uint64_t end);
/* Before the inode goes away: waits while a commit is writing its data. */
void jnl_inode_release(struct jnl_journal *j, struct jnl_inode *ji);

/* ---- commit callbacks ---- */

/*
 * Run once the handle's transaction has committed (err 0), or was
 * discarded by an abort (err < 0).  The block allocator frees blocks this
 * way: a block freed by a transaction becomes reusable only once that
 * transaction is durable.  Runs on the commit thread without journal
 * locks; must not start a handle or wait for a commit.  @cb is the
 * caller's memory until fn runs.
 */
struct jnl_callback {
	void (*fn)(struct jnl_callback *cb, jnl_tid_t tid, int err);
	struct jnl_callback *next;     /* private */
};
int jnl_on_commit(struct jnl_handle *h, struct jnl_callback *cb);

/* ---- commit, fsync, flush ---- */

/* 1 if transaction @tid is durable. */
bool jnl_tid_committed(struct jnl_journal *j, jnl_tid_t tid);
/* Commit everything up to @tid and wait.  0, -EIO, -EDEADLK (the caller
 * holds a handle of that transaction). */
int jnl_commit_tid(struct jnl_journal *j, jnl_tid_t tid);
/* fsync of an object last changed in @tid: if @tid is already committed
 * only a device flush (the fast path), else a commit. */
int jnl_fsync(struct jnl_journal *j, jnl_tid_t tid);
/* Commit the running transaction (if any) and wait. */
int jnl_force_commit(struct jnl_journal *j);
/* Commit, then checkpoint everything: the log is empty afterwards. */
int jnl_flush(struct jnl_journal *j);

/* ---- errors ---- */

/* Abort: no transaction commits any more, handles fail (-EIO; new ones
 * -EROFS), and @err (negative) is recorded in the journal superblock. */
void jnl_abort(struct jnl_journal *j, int err);
/* 0, the abort error, or the error recorded on disk by an earlier run. */
int jnl_errno(struct jnl_journal *j);
/* The filesystem has recorded the on-disk error (errors= policy): clear
 * it.  -EROFS if the journal aborted in this run. */
int jnl_clear_error(struct jnl_journal *j);

/* ---- statistics ---- */

struct jnl_stats {
	uint64_t handles, nested_handles, nofail_handles;
	uint64_t commits, commits_interval, commits_size, commits_requested, commits_close;
	uint64_t copies_logged, revoke_records, log_blocks_written, bytes_logged;
	uint64_t log_flushes, wraps;
	uint64_t frozen_copies, frozen_from_reserve, capture_waits;
	uint64_t checkpoint_waits, checkpoints, checkpoint_writes, checkpoint_forced_commits;
	uint64_t tail_updates;
	/* reservations: taken, of them waited (space or cap), refused (TRY),
	 * started as handles, given back; reserved starts that found no spare
	 * transaction and allocated one */
	uint64_t rsv_taken, rsv_waits, rsv_refused, rsv_started, rsv_returned, rsv_txn_allocs;
	uint64_t fsync_fast, fsync_commit;
	uint64_t commit_ns_total, commit_ns_max;
	uint64_t commit_ns_p50, commit_ns_p99;   /* from a log2 histogram: upper bounds */
	uint64_t aborts;
	/* now */
	uint64_t log_blocks, log_used, max_txn_blocks;
	uint64_t log_head, log_tail;   /* positions: next write, on-disk tail */
	uint64_t checkpoint_buffers;   /* buffers pinned on checkpoint lists */
	uint64_t rsv_held, rsv_blocks, rsv_cap;   /* reservations held, their log blocks, the cap */
	jnl_tid_t running_tid, committed_tid, tail_tid;
	int errno_;
};
void jnl_get_stats(struct jnl_journal *j, struct jnl_stats *out);
/* Text for people, or JSON (json = 1). */
void jnl_print_stats(struct jnl_journal *j, FILE *f, int json);

#endif
