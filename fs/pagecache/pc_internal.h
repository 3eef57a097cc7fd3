/*
 * Shared between the page cache's files: the page, the per-inode index
 * (struct pc_map) and the cache of a mount (struct sfs_pcache).
 */
#ifndef SFS_PC_INTERNAL_H
#define SFS_PC_INTERNAL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "fs/block/bdev.h"
#include "fs/inode.h"
#include "journal/journal.h"
#include "fs/pagecache/pagecache.h"

enum pc_state { PG_READING, PG_CLEAN, PG_DIRTY, PG_WRITEBACK };

struct pc_list {
	struct pc_list *prev, *next;
};

struct pc_page {
	uint32_t idx;                 /* logical block */
	uint8_t state;                /* enum pc_state */
	bool delayed;                 /* no block yet: holds one reserved block */
	uint8_t *data;                /* one block, aligned for O_DIRECT */
	struct pc_map *map;
	struct pc_page *hnext;        /* map hash chain */
	struct pc_list link;          /* map->dirty (DIRTY) or pc->lru (CLEAN) */
};

struct pc_map {
	uint64_t ino;
	struct pc_map *hnext;         /* cache hash chain */
	struct pc_page **hash;
	uint32_t nbuckets;            /* power of two */
	uint64_t nr_pages, nr_dirty, nr_wb, nr_delayed;
	uint32_t md_resv;             /* tree blocks reserved for the delayed pages' writeout */
	struct jnl_rsv jrsv;          /* journal credits for its next writeback step (credits.c) */
	struct pc_list dirty;         /* DIRTY pages */
	struct pc_list dlink;         /* pc->dirty_maps while nr_dirty > 0 */
	unsigned users;               /* writeback in progress on it: not freed */
	int error;                    /* writeback error not yet reported by fsync */
	uint32_t ra_next;             /* read-ahead: the block a sequential read asks next */
	uint64_t ord_started, ord_done; /* batches that mapped fresh blocks / of them completed */
	mc_mutex_t wb_lock;           /* one writeout of this inode at a time */
};

struct sfs_pcache {
	struct sfs_fs *fs;
	mc_mutex_t lock;
	pthread_cond_t cond;          /* page state changed (READING / WRITEBACK ended) */
	struct pc_map **hash;
	uint32_t nbuckets;
	struct pc_list lru;           /* CLEAN pages, head = most recent */
	struct pc_list dirty_maps;
	uint64_t nr_pages, nr_clean, nr_dirty, nr_wb, nr_delayed, nr_md;
	uint64_t nr_jrsv;             /* maps holding a journal reservation */
	atomic_uint rsv_waiters;      /* writers waiting for one: writeback does not re-arm */
	bool rsv_drain;               /* the thread writes back until nr_jrsv <= rsv_drain_to */
	uint64_t rsv_drain_to;
	struct mc_shrinker shrinker;
	struct mc_mempool *wb_pool;   /* struct pc_batch for writeback */
	pthread_t thread;
	bool thread_started;
	atomic_bool stop;
	sem_t kick;                   /* wakes the thread without a lock */
	struct mc_wb_kicker kicker;   /* reclaim's way to it (one per mount) */
	atomic_uint_fast64_t kick_pages;
	pthread_cond_t balance;       /* writers waiting under the dirty limit */
	struct {
		_Atomic uint64_t reads, read_pages, ra_pages, hits, writes, dirtied;
		_Atomic uint64_t wb_batches, wb_pages, wb_allocs, wb_errors, shrunk;
		_Atomic uint64_t shrink_no_clean, balance_sleeps, balance_ns, discarded;
		_Atomic uint64_t kicks, thread_rounds, bios;
		_Atomic uint64_t jrsv_waits, jrsv_misses, wb_rsv_starts, wb_plain_starts;
	} st;
};

#define PC_STAT(pc, f, n) atomic_fetch_add_explicit(&(pc)->st.f, (n), memory_order_relaxed)

/* One writeback (or read) batch: bios and their pages (mempool element). */
struct pc_batch {
	unsigned nr;
	atomic_uint left;
	atomic_int error;
	sem_t done;
	struct sfs_bio bio[SFS_PC_BATCH];
	struct iovec iov[SFS_PC_BATCH];  /* pc_batch_run: pages merged into vectored bios */
	struct pc_page *pg[SFS_PC_BATCH];
	bool fresh[SFS_PC_BATCH];     /* block allocated for this write (ordered) */
	bool unwritten[SFS_PC_BATCH]; /* block is unwritten: convert after the write */
	unsigned mapped;              /* pages given a block */
	bool ordered_counted;         /* counted in map->ord_started */
};

/* index.c */
extern struct sfs_pc_tunables pc_tun;
static inline void pc_list_init(struct pc_list *l) { l->prev = l->next = l; }
static inline bool pc_list_empty(const struct pc_list *l) { return l->next == l; }
static inline void pc_list_del(struct pc_list *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
	pc_list_init(e);
}
static inline void pc_list_add(struct pc_list *head, struct pc_list *e)
{
	e->next = head->next;
	e->prev = head;
	head->next->prev = e;
	head->next = e;
}
static inline void pc_list_add_tail(struct pc_list *head, struct pc_list *e)
{
	pc_list_add(head->prev, e);
}
#define pc_entry(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct sfs_pcache *pc_of(struct sfs_fs *fs);
static inline uint32_t pc_md_reserve(void)
{
	return pc_tun.md_reserve ? pc_tun.md_reserve : 2;
}
/* Under pc->lock. */
struct pc_map *pc_map_find(struct sfs_pcache *pc, uint64_t ino);
struct pc_page *pc_page_find(struct pc_map *m, uint32_t idx);
/* Insert a prepared map / page (allocated outside the lock). */
void pc_map_insert(struct sfs_pcache *pc, struct pc_map *m);
void pc_page_insert(struct sfs_pcache *pc, struct pc_map *m, struct pc_page *pg);
/* Unhash and free a page that is CLEAN or being discarded (lock held;
 * counters of its state already dropped by the caller for DIRTY). */
void pc_page_remove(struct sfs_pcache *pc, struct pc_page *pg);
/* Free a map with no pages, no users and no inode reference. */
void pc_map_maybe_free(struct sfs_pcache *pc, struct pc_map *m);
/* Outside the lock. */
struct pc_map *pc_map_alloc(struct sfs_inode_info *ip);
void pc_map_free(struct pc_map *m);
/* @nofail: a write's page (it loops in the allocator, throttled on
 * writeback, rather than fail a write while dirty data is being cleaned;
 * the dirty limit keeps that bounded). */
struct pc_page *pc_page_alloc(struct sfs_fs *fs, uint32_t idx, bool nofail);
void pc_page_free(struct pc_page *pg);
/* The map of @ip, created if absent (-ENOMEM).  Lock not held. */
int pc_map_get(struct sfs_pcache *pc, struct sfs_inode_info *ip, struct pc_map **out);
/* State changes (lock held). */
void pc_set_dirty(struct sfs_pcache *pc, struct pc_page *pg);   /* from CLEAN/new */
void pc_set_clean(struct sfs_pcache *pc, struct pc_page *pg);   /* from READING/WRITEBACK */
/* Writeback's reference on the inode of @m (found by number: the map
 * outlives the in-memory inode). */
int pc_inode_get(struct sfs_pcache *pc, struct pc_map *m, struct sfs_inode_info **out);

/* writeback.c */
/* Write back up to @max dirty pages of @m in [from, end) (one batch);
 * returns pages written (0 = nothing dirty there) or -errno. */
long pc_writeback_map(struct sfs_pcache *pc, struct pc_map *m, uint64_t from, uint64_t end,
		      unsigned max);
int pc_writeback_all(struct sfs_pcache *pc, struct pc_map *m, uint64_t from, uint64_t end);
extern const struct jnl_inode_ops pc_ordered_ops;
int pc_batch_run(struct sfs_fs *fs, struct pc_batch *b);
int pc_index_init(struct sfs_pcache *pc);
void pc_index_destroy(struct sfs_pcache *pc);
void pc_batch_end_io(struct sfs_bio *bio);

/* credits.c: the journal reservation of a map (see there) */
unsigned pc_wb_credits(struct sfs_inode_info *ip);
/* Arm @m's reservation if it has none.  @wait: a writer, before dirtying
 * (waits for log space or the cap, kicking writeback); else writeback
 * (never waits; only while @m has dirty pages).  0 (armed, or going
 * without when the journal cannot reserve) or -EROFS. */
int pc_jrsv_get(struct sfs_pcache *pc, struct pc_map *m, struct sfs_inode_info *ip, bool wait);
/* Writeback: take it out for a step; put back what the step did not use. */
void pc_jrsv_take(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *out);
void pc_jrsv_put(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *r);
/* Nothing dirty left: give it back (the _locked form hands it to the
 * caller, to jnl_unreserve after dropping pc->lock). */
void pc_jrsv_drop_idle(struct sfs_pcache *pc, struct pc_map *m);
void pc_jrsv_drop_idle_locked(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *out);
/* Unmount: give every reservation back. */
void pc_jrsv_release_all(struct sfs_pcache *pc);

/* thread.c */
void pc_kick(struct sfs_pcache *pc);
uint64_t pc_dirty_limit(bool background);
void pc_wake_balance(struct sfs_pcache *pc);

#endif
