/*
 * Stall watchdog: a thread that looks, a few times per threshold, for any
 * allocation waiting in the slow path longer than the threshold and reports
 * it once with its site, flags, scopes and how long.  Under debug_abort a
 * stall fails the test run, so "NOFAIL" and "never hang" are both checked.
 */
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include "alloc/internal.h"

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv;
static pthread_t wd_thread;
static int wd_running, wd_stop;

void mc_wait_begin(struct mc_thread *t, const struct mc_site *site, mc_flags_t eff)
{
	t->wait_site = site;
	t->wait_flags = eff;
	t->wait_scope = t->scope;
	t->wait_reported = 0;
	atomic_store(&t->wait_start, mc_now_ns());
}

void mc_wait_end(struct mc_thread *t)
{
	uint64_t start = atomic_exchange(&t->wait_start, 0);
	uint64_t d = start ? mc_now_ns() - start : 0;
	uint64_t mx = atomic_load(&g.max_wait_ns);

	while (d > mx && !atomic_compare_exchange_weak(&g.max_wait_ns, &mx, d))
		;
}

struct stall {
	const struct mc_site *site;
	uint64_t tid, waited;
	mc_flags_t flags;
	unsigned scope;
};

/*
 * Collect stalled waits under the thread lock, report them after dropping
 * it: the report handler is the user's code and may allocate or take a
 * snapshot, both of which need the thread lock.
 */
static void scan(void)
{
	struct stall found[16];
	unsigned n = 0;
	uint64_t now = mc_now_ns(), stall = g.cfg.stall_ns;

	pthread_mutex_lock(&g.thread_lock);
	for (struct mc_thread *t = g.threads; t && n < 16; t = t->next) {
		uint64_t start = atomic_load(&t->wait_start);

		if (!start || now < start || now - start < stall || t->wait_reported)
			continue;
		t->wait_reported = 1;
		found[n++] = (struct stall){ t->wait_site, t->tid, now - start, t->wait_flags,
					     t->wait_scope };
	}
	pthread_mutex_unlock(&g.thread_lock);
	for (unsigned i = 0; i < n; i++) {
		char fl[96];
		atomic_fetch_add(&g.stalls, 1);
		mc_report(MC_REP_STALL, found[i].site,
			  "thread %llu waiting %.2f s for memory (flags %s, scope%s%s%s%s)",
			  (unsigned long long)found[i].tid, (double)found[i].waited / 1e9,
			  mc_flags_str(found[i].flags, fl, sizeof(fl)),
			  found[i].scope ? "" : " none",
			  found[i].scope & MC_SCOPE_NOFS ? " nofs" : "",
			  found[i].scope & MC_SCOPE_NOIO ? " noio" : "",
			  found[i].scope & MC_SCOPE_MEMALLOC ? " memalloc" : "");
	}
}

static void *wd_main(void *arg)
{
	(void)arg;
	mc_thread();          /* own state now, not in a report handler later */
	pthread_mutex_lock(&wd_lock);
	while (!wd_stop) {
		uint64_t period = g.cfg.stall_ns / 4;
		uint64_t dl = mc_monotonic_ns() + (period < 50000000ull ? 50000000ull : period);
		struct timespec ts = { .tv_sec = (time_t)(dl / 1000000000ull),
				       .tv_nsec = (long)(dl % 1000000000ull) };

		pthread_cond_timedwait(&wd_cv, &wd_lock, &ts);
		if (wd_stop)
			break;
		pthread_mutex_unlock(&wd_lock);
		scan();
		pthread_mutex_lock(&wd_lock);
	}
	pthread_mutex_unlock(&wd_lock);
	return NULL;
}

void mc_watchdog_start(void)
{
	pthread_mutex_lock(&wd_lock);
	if (!wd_running) {
		mc_cond_init(&wd_cv);
		wd_stop = 0;
		wd_running = pthread_create(&wd_thread, NULL, wd_main, NULL) == 0;
	}
	pthread_mutex_unlock(&wd_lock);
}

void mc_watchdog_stop(void)
{
	pthread_mutex_lock(&wd_lock);
	if (!wd_running) {
		pthread_mutex_unlock(&wd_lock);
		return;
	}
	wd_stop = 1;
	wd_running = 0;
	pthread_cond_signal(&wd_cv);
	pthread_mutex_unlock(&wd_lock);
	pthread_join(wd_thread, NULL);
}
