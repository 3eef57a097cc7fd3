/*
 * alloc/ private state shared between its files.  Nothing outside alloc/
 * includes this.
 *
 * Lock order (outermost first): g.thread_lock > central[c].lock > span_lock;
 * throttle.lock, fault_lock, shrinker_lock and the reserve lock are leaves
 * with respect to the allocator locks (no allocation happens under them,
 * except shrinker callbacks which run without shrinker_lock held).
 */
#ifndef MC_INTERNAL_H
#define MC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include "alloc/mc.h"

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#ifdef MC_ASAN
#include <sanitizer/asan_interface.h>
#define mc_poison(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define mc_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define mc_poison(p, n)   ((void)(p), (void)(n))
#define mc_unpoison(p, n) ((void)(p), (void)(n))
#endif

/* ---- spans and size classes (span.c, slab.c, large.c) ---- */
#define SPAN_SHIFT   18
#define SPAN_SIZE    (1ul << SPAN_SHIFT)            /* 256 KiB, aligned */
#define SPAN_MASK    (~(SPAN_SIZE - 1))
#define SPAN_MAGIC   0x53504e31u                    /* small-object span */
#define LARGE_MAGIC  0x4c524731u                    /* large mapping */
#define SITE_FREE    0xffffu                        /* slot is not allocated */
#define NCLASSES     35
#define TC_MAX       64                             /* per-thread cache depth */
#define PAGE_SZ      4096ul

struct span {
	uint32_t magic;
	uint16_t cls;
	uint16_t on_partial;
	uint32_t nslots;
	uint32_t nfree;          /* slots whose bit is set (central owns them) */
	uint32_t data_off;
	uint32_t recip;          /* ceil(2^32 / size): slot = off * recip >> 32 */
	uint32_t size;
	uint32_t pad;
	struct span *next, *prev;
	uint64_t *bitmap;        /* 1 = free and owned by the central list */
	uint16_t *site;          /* site index of each allocated slot */
	/* large mappings only */
	size_t map_len;          /* whole mapping, header page included */
	size_t req;              /* requested bytes */
	uint32_t site_idx;
};

struct mc_class_info {
	uint32_t size, nslots, data_off, recip;
	uint32_t batch;          /* objects moved per refill / flush */
	uint32_t tc_max;         /* per-thread cache depth: at most 64 KiB per class */
};
extern struct mc_class_info mc_classes[NCLASSES];

static inline struct span *span_of(const void *p)
{
	return (struct span *)((uintptr_t)p & SPAN_MASK);
}
static inline uint32_t span_slot(const struct span *s, const void *p)
{
	uint64_t off = (uint64_t)((uintptr_t)p - (uintptr_t)s - s->data_off);
	return (uint32_t)((off * s->recip) >> 32);
}

int mc_size_class(size_t size);                    /* -1 if > MC_SMALL_MAX */
void mc_classes_init(void);
struct span *mc_span_get(void);                    /* a fresh SPAN_SIZE region */
void mc_span_put(struct span *s);                  /* empty span back to the cache */
void *mc_map_aligned(size_t len);                  /* SPAN-aligned anonymous mapping */
void mc_unmap(void *p, size_t len);

struct mc_tcache {
	uint32_t count;
	void *slot[TC_MAX];
};
int mc_slab_refill(struct mc_tcache *tc, int cls);  /* 0 or -ENOMEM (mapping refused) */
void mc_slab_flush(struct mc_tcache *tc, int cls, uint32_t n);
void *mc_large_alloc(size_t size, uint32_t site_idx);
size_t mc_large_charge(size_t size);                /* bytes charged for a large request */
size_t mc_large_free(struct span *s);               /* returns bytes released */

/* ---- per-thread state (thread.c) ---- */
#define MC_MAX_HELD     16
#define MC_MAX_MP_HELD  4

struct site_ctr {
	uint64_t calls;
	int64_t live;
	uint64_t inj_calls;      /* fault injection: calls since the rule set (count=thread) */
};

struct mc_thread {
	unsigned scope;          /* MC_SCOPE_* in force */
	unsigned scope_depth;
	int64_t delta;           /* accounted bytes not yet folded into g.used */
	unsigned fold_seq;       /* odd while a fold is moving delta into g.used */
	unsigned snap_seq;       /* snapshot scratch, under g.thread_lock */
	uint64_t allocs, frees;  /* single writer, read racily by snapshots */
	uint64_t freed_bytes;    /* bytes this thread has freed (reclaim progress) */
	struct site_ctr *sites;
	size_t nsites;
	struct mc_tcache tc[NCLASSES];
	/* lock checking */
	struct mc_lock_class *held[MC_MAX_HELD];
	unsigned nheld;
	unsigned in_reclaim;     /* depth of reclaim on this thread */
	unsigned reclaim_needs;  /* needs of the shrinker (or kick) running now */
	/* retry detector */
	uint64_t op_seq;
	unsigned op_depth;
	const struct mc_site *fail_site;
	uint64_t fail_op;
	int in_retry_helper;
	/* mempool elements held from the reserve */
	struct { void *pool; unsigned n; } mp[MC_MAX_MP_HELD];
	/* fault injection */
	unsigned inj_gen;
	uint64_t rng;
	/* reserve user slot held until MEMALLOC ends */
	int reserve_slot;
	/* watchdog: slow-path wait in progress */
	_Atomic uint64_t wait_start;
	const struct mc_site *wait_site;
	mc_flags_t wait_flags;
	unsigned wait_scope;
	int wait_reported;
	struct mc_thread *next, *prev;
	uint64_t tid;
};

extern __thread struct mc_thread *mc_self __attribute__((tls_model("initial-exec")));
struct mc_thread *mc_thread_init(void);
void mc_global_init_once(void);
static inline struct mc_thread *mc_thread(void)
{
	struct mc_thread *t = mc_self;
	return likely(t) ? t : mc_thread_init();
}
/* Fold a thread's byte delta into the global counter. */
void mc_fold(struct mc_thread *t);
/* Return every object in @t's caches to its span (t is the caller's). */
void mc_thread_drain(struct mc_thread *t);
/* Set the thread's delta to @d and fold it, without @d ever being visible
 * in the delta (which snapshots rely on staying within one batch). */
void mc_fold_delta(struct mc_thread *t, int64_t d);

/* ---- global state (budget.c) ---- */
struct mc_global {
	_Atomic int64_t used;            /* folded bytes */
	_Atomic int64_t peak;
	_Atomic size_t mapped, retained;
	struct mc_config cfg;            /* with derived values */
	size_t limit_low, limit_min, limit_atomic, limit_all;  /* used-bytes ceilings */
	size_t near;                     /* fold every change above this used level */
	size_t batch;                    /* per-thread batch in force (<= cfg.batch) */
	int limited;                     /* budget != 0 */
	pthread_mutex_t thread_lock;
	struct mc_thread *threads;
	unsigned nthreads;
	_Atomic unsigned reserve_users;
	/* counters */
	_Atomic uint64_t dead_allocs, dead_frees, failures, large_allocs;
	_Atomic uint64_t slowpath, nofail_calls, nofail_loops, injected, nofail_injected_loops;
	_Atomic uint64_t reclaim_direct, reclaim_background, reclaim_explicit, reclaim_freed;
	_Atomic uint64_t bg_wakeups;
	_Atomic uint64_t res_atomic, res_reclaim, res_kmin, res_knowmark, res_user_waits;
	_Atomic uint64_t stalls, max_wait_ns;
	_Atomic uint64_t reports[MC_REP_KINDS];
	int io_flusher, io_flusher_errno;
	int initialised;
	int threads_started;            /* mc_init() ran: reclaimer and watchdog */
};
extern struct mc_global g;

enum mc_level { LVL_LOW, LVL_MIN, LVL_ATOMIC, LVL_ALL };
/* Charge @bytes at @level if it fits: 1 = charged. Folds @t first. */
int mc_try_charge(struct mc_thread *t, size_t bytes, enum mc_level level);
void mc_uncharge(struct mc_thread *t, size_t bytes);
int mc_apply_config(const struct mc_config *cfg, char *err, size_t errlen);
/* Recompute batch and near for the current thread count (thread_lock held). */
void mc_budget_retune(void);

/* ---- sites, faults, checks ---- */
extern struct mc_site __start_mc_sites[] __attribute__((weak));
extern struct mc_site __stop_mc_sites[] __attribute__((weak));
extern _Atomic int mc_fault_active;
/* 1 = inject a failure into this call. */
int mc_fault_check(struct mc_thread *t, struct mc_site *site);
void mc_report(enum mc_report_kind kind, const struct mc_site *site, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void mc_check_locks_alloc(struct mc_thread *t, const struct mc_site *site, mc_flags_t eff);
void mc_site_fold_thread(struct mc_thread *t);

/* ---- reclaim (reclaim.c, throttle.c) ---- */
/* Slow path: charge @bytes or return 0 (caller fails). */
int mc_slowpath(struct mc_thread *t, struct mc_site *site, size_t bytes, mc_flags_t eff,
		unsigned forced_loops);
extern _Atomic unsigned mc_noprogress_waiters;
void mc_throttle_note_free(size_t bytes);
void mc_throttle_watch_begin(void);
uint64_t mc_throttle_mark(void);
void mc_throttle_watch_end(void);
enum mc_wait_end mc_throttle_wait(enum mc_throttle_reason reason, uint64_t mark, int background);
uint64_t mc_background_sleeps(void);
void mc_throttle_init(void);
void mc_reclaim_start_thread(void);
void mc_reclaim_stop_thread(void);
void mc_watchdog_start(void);
void mc_watchdog_stop(void);
void mc_wait_begin(struct mc_thread *t, const struct mc_site *site, mc_flags_t eff);
void mc_wait_end(struct mc_thread *t);
void mc_shrinkers_print(FILE *f, int json);
size_t mc_shrink_pass(mc_flags_t eff, size_t bytes_wanted, int background, int priority);
void mc_throttle_stats(uint64_t ev[MC_THROTTLE_NR][MC_WAIT_NR], uint64_t ns[MC_THROTTLE_NR],
		       uint64_t *sub, uint64_t *comp, uint64_t *kicks);

uint64_t mc_rng_next(uint64_t *state);
void mc_json_str(FILE *f, const char *s);
void mc_writeback_kicked(void);
struct mc_clock *mc_clock_get(void);

#endif
