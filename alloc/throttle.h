/*
 * Reclaim throttling (the kernel's reclaim_throttle, seed 000).
 *
 * WRITEBACK: reclaim met pages under writeback.  Policy `writeback` sleeps
 * until more than writeback_cluster pages completed since this wait began
 * (woken from the completion path) or the timeout, and never sleeps when
 * nothing is under writeback.  NOPROGRESS: reclaim freed nothing; sleep until
 * memory is freed (woken by frees) or the timeout.
 * Policy `congestion` sleeps a fixed time whatever happens (congestion_wait);
 * policy `rate` sleeps the time the measured completion rate predicts for
 * the cluster to complete, capped by the timeout, with no wake-ups.
 */
#ifndef MC_THROTTLE_H
#define MC_THROTTLE_H

#include <stdint.h>

enum mc_throttle_reason { MC_THROTTLE_WRITEBACK, MC_THROTTLE_NOPROGRESS, MC_THROTTLE_NR };
enum mc_wait_end {
	MC_WAIT_NONE,      /* did not sleep */
	MC_WAIT_WOKEN,     /* woken by completions or frees */
	MC_WAIT_TIMEOUT,   /* timeout reached */
	MC_WAIT_COMPUTED,  /* slept the computed (rate) or fixed (congestion) time */
	MC_WAIT_NR
};

enum mc_wait_end mc_reclaim_throttle(enum mc_throttle_reason reason);
const char *mc_throttle_reason_name(enum mc_throttle_reason r);
const char *mc_wait_end_name(enum mc_wait_end e);
/* Measured writeback completion rate, pages per second (0 = unknown). */
uint64_t mc_writeback_rate(void);

#endif
