/* The injectable clock behind throttling and the watchdog. */
#include <errno.h>
#include <time.h>
#include "alloc/internal.h"

uint64_t mc_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t real_now(struct mc_clock *c)
{
	(void)c;
	return mc_monotonic_ns();
}

static int real_wait(struct mc_clock *c, pthread_cond_t *cv, pthread_mutex_t *m, uint64_t dl)
{
	struct timespec ts = { .tv_sec = (time_t)(dl / 1000000000ull),
			       .tv_nsec = (long)(dl % 1000000000ull) };
	(void)c;
	return pthread_cond_timedwait(cv, m, &ts) == ETIMEDOUT ? ETIMEDOUT : 0;
}

static struct mc_clock real_clock = { real_now, real_wait };
static struct mc_clock *clk = &real_clock;

void mc_clock_set(struct mc_clock *c)
{
	__atomic_store_n(&clk, c ? c : &real_clock, __ATOMIC_RELEASE);
}

struct mc_clock *mc_clock_get(void)
{
	return __atomic_load_n(&clk, __ATOMIC_ACQUIRE);
}

uint64_t mc_now_ns(void)
{
	struct mc_clock *c = mc_clock_get();
	return c->now_ns(c);
}
