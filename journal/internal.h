/*
 * Private to journal/: the journal, transaction, journal-head and handle
 * structures shared by its files.
 *
 * Locks, outermost first (jbd2's order):
 *   checkpoint_mutex  one checkpointer at a time.  Never held while waiting
 *                     for a commit (the commit thread only try-locks it).
 *   state_lock        the journal's state: running/committing pointers,
 *                     transaction states and counters (updates,
 *                     outstanding), log head/used/tail, sequences, error.
 *   list_lock         journal heads (every field), transaction buffer,
 *                     ordered and checkpoint lists, the checkpoint
 *                     transaction list, the frozen reserve, revoke tables.
 *   (buffer cache lock, taken inside sfs_buf_* calls)
 *   sb_lock           the superblock buffer; a leaf: only superblock I/O
 *                     under it.
 *   logw.lock         staging-ring completions; a leaf, taken by end_io.
 * Nothing allocates under state_lock or list_lock: allocations happen
 * before the lock is taken and races are resolved after (a spare is freed).
 *
 * Only one transaction commits at a time (one commit thread), so a journal
 * head's transaction is either the running one, the committing one or
 * none.
 */
#ifndef JNL_INTERNAL_H
#define JNL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "alloc/list.h"

/* The life of a transaction. */
enum jnl_txn_state {
	JNL_T_RUNNING,       /* accepts handles */
	JNL_T_LOCKED,        /* commit began: no new handles; waiting for open ones to stop */
	JNL_T_FLUSH,         /* handles gone, log space taken; ordered data being written */
	JNL_T_COMMIT,        /* revoke, descriptor and copy blocks, then the commit block,
			      * being written */
	JNL_T_COMMITTED,     /* commit block durable; buffers move to the checkpoint list */
	JNL_T_CHECKPOINTED,  /* every buffer is home; its log space is released */
};

/* Per-transaction revoke records: a fixed hash, records allocated by the
 * revoking handle. */
#define JNL_REVOKE_BUCKETS 256u
struct jnl_revoke_rec {
	uint64_t blkno;
	struct jnl_revoke_rec *next;
};
struct jnl_revoke_table {
	struct jnl_revoke_rec *bucket[JNL_REVOKE_BUCKETS];
	unsigned count;
};

struct jnl_txn {
	struct jnl_journal *j;
	jnl_tid_t tid;
	/* state_lock */
	enum jnl_txn_state state;
	unsigned updates;            /* handles open in it */
	unsigned outstanding;        /* credits: buffers + revokes + what open handles may still use */
	uint64_t start_ns;
	uint64_t expires_ns;         /* commit by then (commit interval) */
	uint64_t log_start;          /* position of its first log block (set when locked) */
	uint32_t log_len;            /* log blocks, commit block included */
	/* list_lock */
	struct mc_list buffers;     /* heads with t == this */
	unsigned nr_buffers;         /* of which modified: copies to log */
	struct mc_list ordered;     /* struct jnl_inode */
	struct jnl_callback *cb_head, *cb_tail;
	struct jnl_revoke_table revokes;
	struct mc_list cp_list;     /* heads with cp_t == this */
	struct mc_list cp_link;     /* in journal->cp_txns */
};

/*
 * The journal's per-buffer state, hung off sfs_buf.jpriv (list_lock).
 * It holds a buffer reference while it exists; it exists while t, next_t
 * or cp_t is set.
 */
struct jnl_head {
	struct sfs_buf *bh;
	struct jnl_txn *t;           /* the running or committing transaction logging it */
	struct jnl_txn *next_t;      /* the running one, when t is committing */
	struct jnl_txn *cp_t;        /* newest committed transaction whose copy is not home */
	struct mc_list t_link;      /* in t->buffers */
	struct mc_list cp_link;     /* in cp_t->cp_list */
	void *frozen;                /* t's contents, copied before next_t changed them */
	bool frozen_reserved;        /* frozen came from the journal's reserve */
	bool modified;               /* dirtied in t */
	bool forgotten;              /* freed in t: drop it when t commits */
	bool next_modified, next_forgotten;   /* the same for next_t */
	bool captured;               /* the commit copied t's contents to the log */
};

struct jnl_handle {
	struct jnl_journal *j;
	struct jnl_txn *t;
	unsigned credits;            /* left */
	unsigned ref;                /* nesting depth */
	uint64_t nofail_levels;      /* bit n: nesting level n was started NOFAIL */
	mc_scope_t scope;            /* token of the NOFS scope taken by the outermost start */
	bool sync;
	bool failed;                 /* an operation met the abort */
	bool frozen_nomem;           /* a frozen copy could not be allocated:
				      * wait for captures for the rest of the handle */
	bool pooled;                 /* from j->rsv_handles (a reserved start) */
};

/* The staging ring: log writes of the commit thread. */
#define JNL_NCTL 4u
struct jnl_ctl {
	void *buf;
	struct sfs_bio bio;
	bool busy;                   /* logw.lock */
};
struct jnl_logw {
	uint8_t *ring;               /* nslots blocks: two halves, one filling, one in flight */
	uint64_t *slot_pos;          /* log position of each slot */
	struct sfs_bio *bios;        /* up to one per slot */
	struct sfs_bio **bio_ptrs;
	unsigned nslots, half;
	unsigned cur, fill;          /* half being filled, slots used in it */
	struct jnl_ctl ctl[JNL_NCTL];/* descriptor, revoke and commit blocks */
	uint64_t pos;                /* next position handed out */
	uint64_t written;            /* blocks submitted this commit */
	/* lock protects what completions change */
	mc_mutex_t lock;
	pthread_cond_t cond;
	unsigned pending[2];         /* bios of each half in flight */
	int err;                     /* first I/O error this commit */
};

struct jnl_raw_stats {
	uint64_t handles, nested_handles, nofail_handles;
	uint64_t commits, commits_interval, commits_size, commits_requested, commits_close;
	uint64_t copies_logged, revoke_records, log_blocks_written;
	uint64_t log_flushes, wraps;
	uint64_t frozen_copies, frozen_from_reserve, capture_waits;
	uint64_t checkpoint_waits, checkpoints, checkpoint_writes, checkpoint_forced_commits;
	uint64_t tail_updates, fsync_fast, fsync_commit, aborts;
	uint64_t rsv_taken, rsv_waits, rsv_refused, rsv_started, rsv_returned, rsv_txn_allocs;
	uint64_t commit_ns_total, commit_ns_max;
	uint64_t commit_hist[40];    /* commits by log2 of latency in µs */
};
#define JNL_STAT_ADD(j, field, n) __atomic_fetch_add(&(j)->st.field, (n), __ATOMIC_RELAXED)

/* Why the commit thread commits. */
enum jnl_commit_reason {
	JNL_WHY_INTERVAL,
	JNL_WHY_SIZE,
	JNL_WHY_REQUEST,             /* fsync, forced commit, checkpoint */
	JNL_WHY_CLOSE,
};

struct jnl_journal {
	struct sfs_bcache *cache;
	struct sfs_bdev *bdev;
	struct jnl_area area;
	struct jnl_config cfg;       /* defaults filled in */
	uint32_t bsize;
	unsigned bshift;
	uint64_t seed;               /* checksum seed from the UUID */
	uint64_t log_len;            /* positions in the circular log */
	unsigned tags_per_desc, revokes_per_block;
	unsigned max_txn;            /* log blocks a transaction may take */
	unsigned max_credits;        /* credits a handle may ask for */
	bool aligned;                /* blocks are DIO-aligned: async bios, else synchronous I/O */

	mc_mutex_t checkpoint_mutex;

	mc_mutex_t state_lock;
	pthread_cond_t wait_locked;  /* running transaction switched */
	pthread_cond_t wait_updates; /* a handle stopped */
	pthread_cond_t wait_commit;  /* wakes the commit thread */
	pthread_cond_t wait_done;    /* a commit became durable or finished */
	struct jnl_txn *running, *committing;
	jnl_tid_t next_tid;          /* of the next transaction created */
	jnl_tid_t commit_seq;        /* newest durable transaction */
	jnl_tid_t finished_seq;      /* newest transaction whose buffers are refiled */
	jnl_tid_t commit_request;    /* newest transaction someone waits for */
	enum jnl_commit_reason request_why;
	uint64_t head;               /* next log position */
	uint64_t used;               /* log blocks from the on-disk tail to head */
	uint64_t tail;               /* on-disk tail */
	jnl_tid_t tail_seq;
	/* reservations (reserve.c), under state_lock */
	uint64_t rsv_blocks;         /* log blocks they hold */
	uint64_t rsv_held;
	uint64_t rsv_cap;            /* most log blocks they may hold */
	pthread_cond_t wait_reserved;/* a reservation was consumed or given back */
	struct jnl_txn *spare_txn;   /* for a reserved start that must open one */
	struct mc_mempool *rsv_handles;
	int err;                     /* abort error (negative), 0 while healthy */
	uint32_t disk_errno;         /* error recorded by an earlier run, until cleared */
	bool stopping;

	mc_mutex_t list_lock;
	pthread_cond_t wait_capture; /* a copy was captured, or ordered data flushed */
	unsigned capture_waiters;
	struct mc_list cp_txns;     /* committed, not checkpointed, oldest first */
	uint64_t nr_cp;              /* heads on checkpoint lists */
	void **frozen_free;          /* the frozen reserve: free blocks */
	unsigned frozen_nfree;
	void *frozen_mem;

	mc_mutex_t sb_lock;
	void *sb_buf;
	struct jnl_sb sb;            /* as on disk */

	struct jnl_logw logw;        /* commit thread only */
	struct mc_shrinker shrinker; /* drops heads of buffers already home */
	pthread_t thread;
	bool thread_started;

	struct jnl_raw_stats st;
};

static inline bool jnl_aborted(struct jnl_journal *j)
{
	return __atomic_load_n(&j->err, __ATOMIC_ACQUIRE) != 0;
}

static inline mc_flags_t jnl_handle_gfp(const struct jnl_handle *h)
{
	return MC_KERNEL | (h->nofail_levels ? MC_NOFAIL : 0);
}

static inline uint64_t jnl_log_next(const struct jnl_journal *j, uint64_t pos)
{
	return pos + 1 == j->area.blocks ? JNL_FIRST : pos + 1;
}

static inline uint64_t jnl_log_advance(const struct jnl_journal *j, uint64_t pos, uint64_t n)
{
	return JNL_FIRST + (pos - JNL_FIRST + n) % j->log_len;
}

/* Log blocks a transaction of @credits changes may need: every change a
 * copy (a revoke record needs less), a descriptor per tags_per_desc, and
 * the commit block. */
static inline uint64_t jnl_log_need(const struct jnl_journal *j, uint64_t credits)
{
	return credits + (credits + j->tags_per_desc - 1) / j->tags_per_desc + 1;
}

/* Log blocks the running transaction (with @credits more) and the
 * reservations need beyond what is used: room exists if this fits in
 * log_len (state_lock held). */
static inline bool jnl_log_room(const struct jnl_journal *j, uint64_t need)
{
	return j->used + j->rsv_blocks + need <= j->log_len;
}

/* reserve.c */
int jnl_rsv_init(struct jnl_journal *j);
void jnl_rsv_destroy(struct jnl_journal *j);
/* A reserved start consumed @r (state_lock held). */
void jnl_rsv_consumed_locked(struct jnl_journal *j, struct jnl_rsv *r);

/* transaction.c */
struct jnl_txn *jnl_txn_alloc(struct jnl_journal *j, mc_flags_t gfp);
void jnl_txn_free(struct jnl_txn *t);
/* Detach a head with nothing left to do; list_lock held.  It is queued on
 * @dead (through t_link) to be released by jnl_heads_release without the lock. */
void jnl_head_detach(struct jnl_head *jh, struct mc_list *dead);
void jnl_heads_release(struct mc_list *dead);
void jnl_cp_add(struct jnl_txn *t, struct jnl_head *jh);
void jnl_cp_remove(struct jnl_head *jh);

/* frozen.c: list_lock held for take/put of reserve blocks */
void *jnl_frozen_take_reserve(struct jnl_journal *j);
void jnl_frozen_put(struct jnl_journal *j, void *p, bool reserved);
int jnl_frozen_init(struct jnl_journal *j);
void jnl_frozen_destroy(struct jnl_journal *j);

/* revoke.c */
bool jnl_revoke_insert(struct jnl_revoke_table *rt, struct jnl_revoke_rec *rec);
bool jnl_revoke_cancel(struct jnl_revoke_table *rt, uint64_t blkno, struct jnl_revoke_rec **out);
void jnl_revoke_free_all(struct jnl_revoke_table *rt);
/* Write the revoke blocks of @t (commit thread); returns the chained checksum. */
uint64_t jnl_revoke_write(struct jnl_journal *j, struct jnl_txn *t, uint64_t txn_csum);

/* logw.c: the staging ring (commit thread) */
int jnl_logw_init(struct jnl_journal *j);
void jnl_logw_destroy(struct jnl_journal *j);
void jnl_logw_begin(struct jnl_journal *j, uint64_t pos);
uint64_t jnl_logw_next_pos(struct jnl_journal *j);
void *jnl_logw_slot(struct jnl_journal *j, uint64_t pos);
struct jnl_ctl *jnl_logw_ctl_get(struct jnl_journal *j);
void jnl_logw_ctl_submit(struct jnl_journal *j, struct jnl_ctl *ctl, uint64_t pos);
int jnl_logw_wait(struct jnl_journal *j);
int jnl_dev_flush(struct jnl_journal *j);

/* commit.c */
void *jnl_commit_thread(void *arg);
void jnl_request_commit_locked(struct jnl_journal *j, jnl_tid_t tid, enum jnl_commit_reason why);
/* Wait until @tid is durable (finished = 0) or refiled (finished = 1). */
int jnl_wait_tid_locked(struct jnl_journal *j, jnl_tid_t tid, bool finished);

/* checkpoint.c */
int jnl_wait_for_space(struct jnl_journal *j);
int jnl_checkpoint_all(struct jnl_journal *j);
void jnl_checkpoint_clean(struct jnl_journal *j);
int jnl_checkpoint_shrinker_register(struct jnl_journal *j);
/* Release every head and checkpoint transaction without writing (close). */
void jnl_checkpoint_destroy(struct jnl_journal *j);

/* journal.c: write the superblock with a new tail, or a new error, and flush */
int jnl_sb_set_tail(struct jnl_journal *j, uint64_t start, jnl_tid_t seq);
int jnl_sb_set_errno(struct jnl_journal *j, uint32_t errno_);

/* recovery.c, with a cache whose copies of replayed blocks are invalidated */
int jnl_recover_cache(struct sfs_bdev *bdev, const struct jnl_area *a, unsigned flags,
		      struct sfs_bcache *cache, struct jnl_recovery_info *info);

#endif
