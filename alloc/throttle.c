/*
 * Writeback accounting and reclaim throttling.
 *
 * WRITEBACK waiters are woken from the completion path once more than
 * writeback_cluster pages per throttled thread completed since the first of
 * them began to wait (the kernel's __acct_reclaim_writeback).  NOPROGRESS
 * waiters are woken by frees.  `congestion` and `rate` never wake anyone:
 * that is the point of measuring them against `writeback`.
 */
#include <errno.h>
#include "alloc/internal.h"

static pthread_mutex_t tl = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wb_cv, np_cv, nobody_cv;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;

static _Atomic uint64_t wb_submitted, wb_completed, wb_kicks;
static _Atomic unsigned wb_waiters;
static uint64_t wb_start;                /* wb_completed when the first waiter came */
_Atomic unsigned mc_noprogress_waiters;
static _Atomic uint64_t np_freed;        /* bytes freed while someone waited */

/* completion rate: pages per second, smoothed; pages are counted
 * atomically, the rate is recomputed by whoever gets the trylock */
static pthread_mutex_t rate_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rate_t0, rate_mark, rate_pps;

static _Atomic uint64_t ev[MC_THROTTLE_NR][MC_WAIT_NR], ev_ns[MC_THROTTLE_NR];
static _Atomic uint64_t bg_sleeps;

uint64_t mc_background_sleeps(void)
{
	return atomic_load(&bg_sleeps);
}

static void init_cvs(void)
{
	mc_cond_init(&wb_cv);
	mc_cond_init(&np_cv);
	mc_cond_init(&nobody_cv);
}

void mc_throttle_init(void)
{
	pthread_once(&tl_once, init_cvs);
}

void mc_writeback_submitted(size_t pages)
{
	atomic_fetch_add_explicit(&wb_submitted, pages, memory_order_relaxed);
}

static void rate_update(uint64_t done)
{
	uint64_t now;

	if (pthread_mutex_trylock(&rate_lock))
		return; /* the completion path never waits for statistics */
	now = mc_now_ns();
	if (!rate_t0) {
		rate_t0 = now;
		rate_mark = done;
	} else if (now - rate_t0 >= 10000000ull) {
		uint64_t pps = (done - rate_mark) * 1000000000ull / (now - rate_t0);
		rate_pps = rate_pps ? (rate_pps * 7 + pps * 3) / 10 : pps;
		rate_t0 = now;
		rate_mark = done;
	}
	pthread_mutex_unlock(&rate_lock);
}

void mc_writeback_completed(size_t pages)
{
	uint64_t done = atomic_fetch_add(&wb_completed, pages) + pages;
	unsigned waiters = atomic_load(&wb_waiters);

	rate_update(done);
	/* Wake when a cluster per waiter completed, or when nothing is left
	 * under writeback (no more completions will come to count). */
	if (waiters &&
	    (done - __atomic_load_n(&wb_start, __ATOMIC_RELAXED) >
		     (uint64_t)g.cfg.writeback_cluster * waiters ||
	     done >= atomic_load(&wb_submitted))) {
		pthread_mutex_lock(&tl);
		pthread_cond_broadcast(&wb_cv);
		pthread_mutex_unlock(&tl);
	}
}

size_t mc_writeback_inflight(void)
{
	uint64_t s = atomic_load(&wb_submitted), c = atomic_load(&wb_completed);
	return s > c ? (size_t)(s - c) : 0;
}

uint64_t mc_writeback_rate(void)
{
	uint64_t r;

	pthread_mutex_lock(&rate_lock);
	r = rate_pps;
	pthread_mutex_unlock(&rate_lock);
	return r;
}

/*
 * A slow-path thread watches for frees from before its last charge attempt,
 * so a free landing between that attempt and the sleep is not missed.
 */
void mc_throttle_watch_begin(void)
{
	atomic_fetch_add(&mc_noprogress_waiters, 1);
}

uint64_t mc_throttle_mark(void)
{
	return atomic_load(&np_freed);
}

void mc_throttle_watch_end(void)
{
	atomic_fetch_sub(&mc_noprogress_waiters, 1);
}

void mc_throttle_note_free(size_t bytes)
{
	atomic_fetch_add(&np_freed, bytes);
	pthread_mutex_lock(&tl);
	pthread_cond_broadcast(&np_cv);
	pthread_mutex_unlock(&tl);
}

static enum mc_wait_end sleep_for(uint64_t ns, enum mc_wait_end end)
{
	struct mc_clock *clk = mc_clock_get();
	uint64_t dl = clk->now_ns(clk) + ns;

	pthread_mutex_lock(&tl);
	while (clk->wait(clk, &nobody_cv, &tl, dl) != ETIMEDOUT && clk->now_ns(clk) < dl)
		;
	pthread_mutex_unlock(&tl);
	return end;
}

/* Enough writeback completed since this waiter began? (tl held) */
static int writeback_done(uint64_t mine)
{
	/* Each waiter counts from its own start, so one arriving late does not
	 * return at once on completions that happened before it came. */
	return atomic_load(&wb_completed) - mine >
		       (uint64_t)g.cfg.writeback_cluster * atomic_load(&wb_waiters) ||
	       mc_writeback_inflight() == 0;
}

/* Anything freed since this waiter began? (tl held) */
static int memory_freed(uint64_t mark)
{
	return atomic_load(&np_freed) != mark;
}

/* Sleep on @cv (tl held) until done(mark) or the timeout. */
static enum mc_wait_end wait_for(pthread_cond_t *cv, int (*done)(uint64_t), uint64_t mark,
				 uint64_t timeout)
{
	struct mc_clock *clk = mc_clock_get();
	uint64_t dl = clk->now_ns(clk) + timeout;

	while (!done(mark))
		if (clk->wait(clk, cv, &tl, dl) == ETIMEDOUT || clk->now_ns(clk) >= dl)
			return done(mark) ? MC_WAIT_WOKEN : MC_WAIT_TIMEOUT;
	return MC_WAIT_WOKEN;
}

static enum mc_wait_end wait_writeback(uint64_t timeout)
{
	enum mc_wait_end end;
	uint64_t mine;

	pthread_mutex_lock(&tl);
	mine = atomic_load(&wb_completed);
	if (atomic_fetch_add(&wb_waiters, 1) == 0)
		__atomic_store_n(&wb_start, mine, __ATOMIC_RELAXED);
	end = wait_for(&wb_cv, writeback_done, mine, timeout);
	atomic_fetch_sub(&wb_waiters, 1);
	pthread_mutex_unlock(&tl);
	return end;
}

static enum mc_wait_end wait_frees(uint64_t mark, uint64_t timeout)
{
	enum mc_wait_end end;

	pthread_mutex_lock(&tl);
	atomic_fetch_add(&mc_noprogress_waiters, 1);
	end = wait_for(&np_cv, memory_freed, mark, timeout);
	atomic_fetch_sub(&mc_noprogress_waiters, 1);
	pthread_mutex_unlock(&tl);
	return end;
}

enum mc_wait_end mc_reclaim_throttle(enum mc_throttle_reason reason)
{
	return mc_throttle_wait(reason, atomic_load(&np_freed), 0);
}

/*
 * @mark: np_freed when the caller last looked (NOPROGRESS ends as soon as
 * anything was freed since).  @background: the reclaimer's own sleeps are
 * counted apart, so allocation throttling statistics stay comparable.
 */
enum mc_wait_end mc_throttle_wait(enum mc_throttle_reason reason, uint64_t mark, int background)
{
	const struct mc_config *c = &g.cfg;
	uint64_t t0 = mc_now_ns(), rate;
	size_t inflight = mc_writeback_inflight();
	enum mc_wait_end end;

	mc_throttle_init();
	switch (c->throttle_policy) {
	case MC_POLICY_CONGESTION:
		/* congestion_wait(): a fixed sleep, whatever completes meanwhile. */
		end = sleep_for(c->congestion_sleep_ns, MC_WAIT_TIMEOUT);
		break;
	case MC_POLICY_RATE:
		/* Dave Chinner's proposal: sleep as long as the measured cleaning
		 * rate says a cluster takes; nobody wakes us early. */
		rate = mc_writeback_rate();
		if (rate && inflight) {
			uint64_t ns = (uint64_t)c->writeback_cluster * 1000000000ull / rate;
			end = sleep_for(ns < c->throttle_timeout_ns ? ns : c->throttle_timeout_ns,
					MC_WAIT_COMPUTED);
		} else if (reason == MC_THROTTLE_WRITEBACK && !inflight) {
			end = MC_WAIT_NONE;
		} else {
			end = sleep_for(c->throttle_timeout_ns / 10, MC_WAIT_COMPUTED);
		}
		break;
	default:
		if (reason == MC_THROTTLE_WRITEBACK)
			end = inflight ? wait_writeback(c->throttle_timeout_ns) : MC_WAIT_NONE;
		else
			end = wait_frees(mark, c->throttle_timeout_ns);
		break;
	}
	if (background) {
		if (end != MC_WAIT_NONE)
			atomic_fetch_add(&bg_sleeps, 1);
		return end;
	}
	atomic_fetch_add(&ev[reason][end], 1);
	if (end != MC_WAIT_NONE)
		atomic_fetch_add(&ev_ns[reason], mc_now_ns() - t0);
	return end;
}

void mc_writeback_kicked(void)
{
	atomic_fetch_add(&wb_kicks, 1);
}

void mc_throttle_stats(uint64_t e[MC_THROTTLE_NR][MC_WAIT_NR], uint64_t ns[MC_THROTTLE_NR],
		       uint64_t *sub, uint64_t *comp, uint64_t *kicks)
{
	for (int r = 0; r < MC_THROTTLE_NR; r++) {
		for (int w = 0; w < MC_WAIT_NR; w++)
			e[r][w] = atomic_load(&ev[r][w]);
		ns[r] = atomic_load(&ev_ns[r]);
	}
	*sub = atomic_load(&wb_submitted);
	*comp = atomic_load(&wb_completed);
	*kicks = atomic_load(&wb_kicks);
}

const char *mc_throttle_reason_name(enum mc_throttle_reason r)
{
	return r == MC_THROTTLE_WRITEBACK ? "writeback" : "noprogress";
}

const char *mc_wait_end_name(enum mc_wait_end e)
{
	static const char *const n[MC_WAIT_NR] = { "none", "woken", "timeout", "computed" };
	return e < MC_WAIT_NR ? n[e] : "?";
}
