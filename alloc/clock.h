/*
 * The time source of reclaim throttling and the watchdog.  Injectable so
 * tests can assert on why a wait ended rather than on wall time.
 * The default is CLOCK_MONOTONIC with pthread timed waits.
 */
#ifndef MC_CLOCK_H
#define MC_CLOCK_H

#include <pthread.h>
#include <stdint.h>

struct mc_clock {
	uint64_t (*now_ns)(struct mc_clock *);
	/* Wait on @c (@m held) until signalled or now_ns() >= deadline.
	 * 0 = signalled (or spurious), ETIMEDOUT = deadline reached. */
	int (*wait)(struct mc_clock *, pthread_cond_t *c, pthread_mutex_t *m, uint64_t deadline);
};

void mc_clock_set(struct mc_clock *clk);   /* NULL restores the real clock */
uint64_t mc_now_ns(void);
uint64_t mc_monotonic_ns(void);            /* always the real clock */

#endif
