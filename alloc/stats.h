/*
 * Statistics: one snapshot of every counter of alloc/, printable as text for
 * people and as JSON for tools, with the top call sites by live bytes.
 * Figures cover memory allocated through alloc/ only: the host kernel's page
 * cache (and FUSE's) is outside the budget.
 */
#ifndef MC_STATS_H
#define MC_STATS_H

#include <stdint.h>
#include <stdio.h>
#include "alloc/budget.h"
#include "alloc/report.h"
#include "alloc/throttle.h"

struct mc_stats {
	struct mc_budget_snap budget;
	uint64_t allocs, frees, failures, large_allocs;
	uint64_t slowpath, nofail_calls, nofail_loops, injected, nofail_injected_loops;
	uint64_t reclaim_direct, reclaim_background, reclaim_explicit;
	uint64_t reclaim_freed_bytes, background_wakeups, background_sleeps;
	uint64_t throttle[MC_THROTTLE_NR][MC_WAIT_NR];    /* events by reason and end */
	uint64_t throttle_ns[MC_THROTTLE_NR];             /* time asleep by reason */
	uint64_t wb_submitted, wb_completed, wb_inflight, wb_kicks;
	uint64_t reserve_atomic_uses, reserve_reclaim_uses, reserve_kernel_min_uses,
		 reserve_kernel_nowmark_uses, reserve_user_refusals;
	uint64_t stalls, max_wait_ns;
	uint64_t reports[MC_REP_KINDS];
	int io_flusher;                                   /* 1 set, 0 refused, -1 never tried */
	int io_flusher_errno;
};

void mc_stats_snapshot(struct mc_stats *out);
/* Print the snapshot; json = 1 for JSON.  top = number of sites by live bytes. */
void mc_stats_print(FILE *f, int json, unsigned top);

/* Per-shrinker lines are printed by mc_stats_print as well. */

#endif
