/*
 * The allocation slow path, direct reclaim and the background reclaimer.
 *
 * Slow path, in order: wake the background reclaimer; try the levels the
 * caller may use (min watermark; atomic reserve for MC_HIGH; reclaim
 * reserve in MEMALLOC, bounded by reserve_users_max); then loop: direct
 * reclaim through the shrinkers the effective flags allow, retry, decide
 * whether to fail (NORETRY, RETRY_MAYFAIL, default), kick writeback and
 * throttle.  NOFAIL never leaves the loop without memory; under reserve
 * policy `kernel` it reaches the reserves only once reclaim stopped making
 * progress, as the kernel's slow path does at its very end.
 */
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include "alloc/internal.h"

#define DEFAULT_RETRIES 16      /* the kernel's MAX_RECLAIM_RETRIES */

static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kick_idle = PTHREAD_COND_INITIALIZER;
static struct mc_wb_kicker *kickers;

void mc_writeback_kicker_register(struct mc_wb_kicker *k)
{
	pthread_mutex_lock(&kick_lock);
	k->active = 0;
	k->registered = 1;
	k->next = kickers;
	kickers = k;
	pthread_mutex_unlock(&kick_lock);
}

/* As for shrinkers: mark it dead, wait for its callbacks, then unlink it,
 * so a kick coming back from a callback can always follow k->next. */
void mc_writeback_kicker_unregister(struct mc_wb_kicker *k)
{
	pthread_mutex_lock(&kick_lock);
	k->registered = 0;
	while (k->active)
		pthread_cond_wait(&kick_idle, &kick_lock);
	for (struct mc_wb_kicker **pp = &kickers; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	pthread_mutex_unlock(&kick_lock);
}

/*
 * Wake the writeback side of every filesystem.  Runs in reclaim context,
 * like the kernel waking the flushers from inside PF_MEMALLOC: the
 * callbacks' own allocations cannot recurse into reclaim, and any lock
 * they take is learned as taken in reclaim reachable from every context
 * (they run whatever the flags).
 */
static void kick_writeback(struct mc_thread *t, size_t bytes)
{
	size_t pages = (bytes + PAGE_SZ - 1) / PAGE_SZ;
	mc_scope_t tok;
	bool kicked = false;

	pthread_mutex_lock(&kick_lock);
	for (struct mc_wb_kicker *k = kickers; k; k = k->next) {
		if (!k->registered)
			continue;
		k->active++;
		pthread_mutex_unlock(&kick_lock);
		if (!kicked)
			mc_writeback_kicked();
		kicked = true;
		tok = mc_memalloc_save();
		t->in_reclaim++;
		t->reclaim_needs = 0;
		k->fn(k->arg, pages);
		t->in_reclaim--;
		mc_memalloc_restore(tok);
		pthread_mutex_lock(&kick_lock);
		if (--k->active == 0)
			pthread_cond_broadcast(&kick_idle);
	}
	pthread_mutex_unlock(&kick_lock);
}

struct progress {
	size_t bytes;   /* freed by this thread during the pass */
	size_t objs;    /* objects shrinkers reported freed */
};

static struct progress do_reclaim(struct mc_thread *t, size_t want, mc_flags_t eff, int bg)
{
	uint64_t before = t->freed_bytes;
	struct progress p = { 0, 0 };

	/* Our own cached free objects go back to their spans first: they are
	 * outside the budget already, but hold resident pages. */
	mc_thread_drain(t);
	for (int prio = 2; prio >= 0; prio--) {
		p.objs += mc_shrink_pass(eff, want, bg, prio);
		p.bytes = (size_t)(t->freed_bytes - before);
		if (p.bytes >= want)
			break;
	}
	/* Dirty data is never written from here: ask the writeback side. */
	if (p.bytes < want)
		kick_writeback(t, want - p.bytes);
	atomic_fetch_add(&g.reclaim_freed, p.bytes);
	return p;
}

size_t mc_reclaim(size_t bytes, mc_flags_t flags)
{
	struct mc_thread *t = mc_thread();

	if (t->scope & MC_SCOPE_MEMALLOC)
		return 0;                       /* never recurse into reclaim */
	atomic_fetch_add(&g.reclaim_explicit, 1);
	return do_reclaim(t, bytes, mc_effective_flags(flags | MC_DIRECT_RECLAIM), 0).bytes;
}

size_t mc_drop_caches(void)
{
	struct mc_thread *t = mc_thread();
	uint64_t before = t->freed_bytes;

	if (t->scope & MC_SCOPE_MEMALLOC)
		return 0;

	atomic_fetch_add(&g.reclaim_explicit, 1);
	mc_shrink_pass(mc_effective_flags(MC_KERNEL), (size_t)-1 / 2, 0, 0);
	return (size_t)(t->freed_bytes - before);
}

/*
 * The reclaim reserve admits at most reserve_users_max threads at once
 * (seed 004: reclaimers must not be starved of it).  A reclaiming thread
 * keeps its slot until its MEMALLOC scope ends; a NOFAIL caller under
 * policy `kernel` holds one for its dip only.
 */
static int take_reserve_slot(struct mc_thread *t)
{
	unsigned u = atomic_load(&g.reserve_users);

	if (t->reserve_slot)
		return 1;
	do {
		if (u >= g.cfg.reserve_users_max) {
			atomic_fetch_add(&g.res_user_waits, 1);
			return 0;
		}
	} while (!atomic_compare_exchange_weak(&g.reserve_users, &u, u + 1));
	t->reserve_slot = 1;
	return 1;
}

static void put_reserve_slot(struct mc_thread *t)
{
	if (t->reserve_slot && !(t->scope & MC_SCOPE_MEMALLOC)) {
		t->reserve_slot = 0;
		atomic_fetch_sub(&g.reserve_users, 1);
	}
}

/* Charge at the best level the caller may use; count reserve use. */
static int charge_level(struct mc_thread *t, size_t bytes, mc_flags_t eff)
{
	if (mc_try_charge(t, bytes, LVL_MIN))
		return 1;
	if ((eff & MC_HIGH) && mc_try_charge(t, bytes, LVL_ATOMIC)) {
		atomic_fetch_add(&g.res_atomic, 1);
		return 1;
	}
	if (!(t->scope & MC_SCOPE_MEMALLOC) || !take_reserve_slot(t))
		return 0;
	if (mc_try_charge(t, bytes, LVL_ALL)) {
		atomic_fetch_add(&g.res_reclaim, 1);
		return 1;
	}
	return 0;
}

static void count_nofail_loop(struct mc_site *site)
{
	__atomic_fetch_add(&site->nofail_loops, 1, __ATOMIC_RELAXED);
	atomic_fetch_add(&g.nofail_loops, 1);
}

int mc_slowpath(struct mc_thread *t, struct mc_site *site, size_t bytes, mc_flags_t eff,
		unsigned forced)
{
	int nofail = !!(eff & MC_NOFAIL);
	unsigned no_progress = 0, retries = 0;
	int ok = 0;

	atomic_fetch_add(&g.slowpath, 1);
	__atomic_fetch_add(&site->slowpath, 1, __ATOMIC_RELAXED);
	if (nofail)
		atomic_fetch_add(&g.nofail_calls, 1);
	if ((eff & MC_WAKE) && g.limited)
		mc_wake_background_reclaim();

	/* Injected on a NOFAIL call: go round the reclaim loop instead of
	 * failing.  No throttle sleep: the shortage is fictional. */
	for (; forced; forced--) {
		if ((eff & MC_DIRECT_RECLAIM) && !(t->scope & MC_SCOPE_MEMALLOC))
			do_reclaim(t, bytes, eff, 0);
		count_nofail_loop(site);
		atomic_fetch_add(&g.nofail_injected_loops, 1);
		sched_yield();
	}
	if (charge_level(t, bytes, eff))
		return 1;
	if (!nofail && (!(eff & MC_DIRECT_RECLAIM) || (t->scope & MC_SCOPE_MEMALLOC)))
		return 0;

	mc_wait_begin(t, site, eff);
	/* Watch frees from before each charge attempt to the sleep after it:
	 * a free in between ends the sleep at once instead of being missed. */
	mc_throttle_watch_begin();
	for (;;) {
		struct progress p = { 0, 0 };
		uint64_t t0, mark = mc_throttle_mark();
		enum mc_wait_end end;

		if ((eff & MC_DIRECT_RECLAIM) && !(t->scope & MC_SCOPE_MEMALLOC)) {
			atomic_fetch_add(&g.reclaim_direct, 1);
			p = do_reclaim(t, bytes > 64 * 1024 ? bytes : 64 * 1024, eff, 0);
		}
		if (charge_level(t, bytes, eff)) {
			ok = 1;
			break;
		}
		if ((eff & MC_NORETRY) && !nofail)
			break;
		no_progress = (p.bytes || p.objs) ? 0 : no_progress + 1;
		if (!nofail) {
			if (eff & MC_RETRY_MAYFAIL) {
				/* Retry while reclaim makes progress or writeback may. */
				if (no_progress && !mc_writeback_inflight())
					break;
				if (no_progress > 4)
					break;
			} else if (++retries > DEFAULT_RETRIES ||
				   (no_progress >= 2 && !mc_writeback_inflight())) {
				break;
			}
		} else if (g.cfg.reserve_policy == MC_RESERVE_KERNEL && no_progress >= 2) {
			/* The kernel's end of the slow path: the min-reserve step
			 * (the atomic reserve), then no watermarks at all. */
			if (mc_try_charge(t, bytes, LVL_ATOMIC)) {
				atomic_fetch_add(&g.res_kmin, 1);
				ok = 1;
				break;
			}
			if (take_reserve_slot(t)) {
				ok = mc_try_charge(t, bytes, LVL_ALL);
				put_reserve_slot(t);
				if (ok) {
					atomic_fetch_add(&g.res_knowmark, 1);
					break;
				}
			}
		}
		t0 = mc_now_ns();
		end = mc_throttle_wait(MC_THROTTLE_WRITEBACK, mark, 0);
		if (end == MC_WAIT_NONE)
			mc_throttle_wait(MC_THROTTLE_NOPROGRESS, mark, 0);
		__atomic_fetch_add(&site->throttled_ns, mc_now_ns() - t0, __ATOMIC_RELAXED);
		if (nofail)
			count_nofail_loop(site);
	}
	mc_throttle_watch_end();
	mc_wait_end(t);
	return ok;
}

/* ---- background reclaimer ---- */

static pthread_mutex_t bg_ctl = PTHREAD_MUTEX_INITIALIZER;  /* start/stop, held across join */
static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cv = PTHREAD_COND_INITIALIZER;
static pthread_t bg_thread;
static int bg_running, bg_stop;
static _Atomic int bg_pending;

void mc_wake_background_reclaim(void)
{
	if (!__atomic_load_n(&bg_running, __ATOMIC_RELAXED) || atomic_exchange(&bg_pending, 1))
		return;
	atomic_fetch_add(&g.bg_wakeups, 1);
	pthread_mutex_lock(&bg_lock);
	pthread_cond_signal(&bg_cv);
	pthread_mutex_unlock(&bg_lock);
}

static size_t above_high(void)
{
	size_t used = mc_used_exact(), target = g.cfg.budget - g.cfg.wmark_high;
	return g.limited && used > target ? used - target : 0;
}

static void *bg_main(void *arg)
{
	struct mc_thread *t = mc_thread();

	(void)arg;
	for (;;) {
		size_t want;

		pthread_mutex_lock(&bg_lock);
		while (!atomic_load(&bg_pending) && !bg_stop)
			pthread_cond_wait(&bg_cv, &bg_lock);
		pthread_mutex_unlock(&bg_lock);
		if (bg_stop)
			break;
		atomic_store(&bg_pending, 0);
		/* Reclaim back up to the high watermark, with every shrinker.
		 * Without progress it waits only for writeback in flight, and
		 * goes back to sleep when there is none, whatever the policy. */
		while (!bg_stop && (want = above_high())) {
			struct progress p = do_reclaim(t, want, MC_KERNEL, 1);

			atomic_fetch_add(&g.reclaim_background, 1);
			if (p.bytes || p.objs)
				continue;
			if (!mc_writeback_inflight() ||
			    mc_throttle_wait(MC_THROTTLE_WRITEBACK, mc_throttle_mark(), 1) ==
				    MC_WAIT_NONE)
				break;
		}
	}
	return NULL;
}

void mc_reclaim_start_thread(void)
{
	pthread_mutex_lock(&bg_ctl);
	if (!bg_running) {
		bg_stop = 0;
		if (pthread_create(&bg_thread, NULL, bg_main, NULL) == 0)
			__atomic_store_n(&bg_running, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&bg_ctl);
}

void mc_reclaim_stop_thread(void)
{
	pthread_mutex_lock(&bg_ctl);
	if (bg_running) {
		pthread_mutex_lock(&bg_lock);
		bg_stop = 1;
		__atomic_store_n(&bg_running, 0, __ATOMIC_RELAXED);
		pthread_cond_signal(&bg_cv);
		pthread_mutex_unlock(&bg_lock);
		pthread_join(bg_thread, NULL);
	}
	pthread_mutex_unlock(&bg_ctl);
}
