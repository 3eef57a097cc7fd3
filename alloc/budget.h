/*
 * Memory budget, watermarks and reserves.
 *
 * The library charges every allocation (size-class bytes) against one
 * budget.  Free memory = budget - used.  Levels of free memory, from the
 * top: high (background reclaim stops), low (fast path refuses; background
 * reclaim wakes), min (ordinary allocations refuse).  Below min sit two
 * separate reserves (seed 004): the atomic reserve, usable by MC_HIGH, and
 * under it the reclaim reserve, usable only by a thread in MEMALLOC context
 * (and, under reserve policy `kernel`, by NOFAIL at the very end of its slow
 * path).  The reclaim reserve admits at most reserve_users_max threads at
 * once; the atomic reserve is bounded by its size only (its users do not
 * stay: each dip is one allocation).
 *
 * Accounting uses per-thread batched counters: the global figure drifts from
 * the exact one by at most (threads x batch) bytes, and is exact on
 * mc_budget_snapshot().  The batch in force shrinks with the thread count
 * so that threads x batch fits between the low and min watermarks, and near
 * the low watermark a thread folds every change: the fast path can never
 * carry usage past min, however many threads run.
 */
#ifndef MC_BUDGET_H
#define MC_BUDGET_H

#include <stddef.h>
#include <stdint.h>

enum mc_reserve_policy {
	MC_RESERVE_NONE,   /* NOFAIL never touches reserves (default) */
	MC_RESERVE_KERNEL, /* NOFAIL: min-reserve step, then no watermarks, at the end of the slow path */
};

enum mc_throttle_policy {
	MC_POLICY_WRITEBACK,  /* sleep until writeback completions / frees, or timeout */
	MC_POLICY_CONGESTION, /* fixed sleep, as congestion_wait() behaved */
	MC_POLICY_RATE,       /* sleep what the measured completion rate predicts */
};

struct mc_config {
	size_t budget;             /* bytes; 0 = unlimited */
	size_t wmark_min;          /* 0 = derived: 2% of budget (>= both reserves) */
	size_t wmark_low;          /* 0 = derived: min + budget/32 */
	size_t wmark_high;         /* 0 = derived: low + budget/32 */
	size_t atomic_reserve;     /* 0 = derived: 1% of budget */
	size_t reclaim_reserve;    /* 0 = derived: 1% of budget */
	unsigned reserve_users_max;/* concurrent reserve users, 0 = 4 */
	size_t batch;              /* per-thread accounting batch, 0 = budget/256 in [1K, 256K] */
	enum mc_reserve_policy reserve_policy;
	enum mc_throttle_policy throttle_policy;
	uint64_t throttle_timeout_ns;   /* 0 = 100 ms (HZ/10) */
	uint64_t congestion_sleep_ns;   /* 0 = 100 ms */
	unsigned writeback_cluster;     /* pages per throttled thread, 0 = 32 */
	uint64_t stall_ns;              /* watchdog threshold, 0 = 10 s */
	unsigned nofail_fault_loops;    /* loops forced by injection on NOFAIL, 0 = 3 */
	size_t nofail_warn_size;        /* warn on NOFAIL above, 0 = 64 KiB */
	int background_reclaim;         /* start the reclaimer thread: 1 (default) / -1 no */
	int debug_abort;                /* abort on a debug-check report */
	int debug_retry;                /* open-coded retry detector: 1 on, -1 off (default on) */
};

/* Defaults: unlimited budget, background reclaim on, policy writeback. */
void mc_config_defaults(struct mc_config *cfg);
/*
 * Parse "budget=64M,policy=writeback,reserve=none,..." into @cfg (fields not
 * named keep their value).  On error returns -EINVAL and writes a message
 * naming the offending key and value into @err.
 */
int mc_config_parse(struct mc_config *cfg, const char *opts, char *err, size_t errlen);
/* Apply a configuration (may be called again at run time). -EINVAL + @err if inconsistent. */
int mc_configure(const struct mc_config *cfg, char *err, size_t errlen);
/* Current configuration with derived values filled in. */
void mc_config_get(struct mc_config *out);
/* Parse a size like 4096, 64K, 1.5M, 2G. -EINVAL on garbage or overflow. */
int mc_parse_size(const char *s, size_t *out);

struct mc_budget_snap {
	size_t budget, used, used_approx, max_drift;
	size_t wmark_min, wmark_low, wmark_high;
	size_t atomic_reserve, reclaim_reserve;
	size_t peak_used;
	size_t mapped_bytes;      /* spans + large mappings currently mapped */
	size_t retained_bytes;    /* empty spans kept resident for reuse (<= 2 MiB) */
	unsigned threads;
};
void mc_budget_snapshot(struct mc_budget_snap *out);
/* Exact bytes in use (sums all threads). */
size_t mc_used_exact(void);
/* Cheap approximate bytes in use. */
size_t mc_used_approx(void);

#endif
