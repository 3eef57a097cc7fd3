/*
 * Mempools (the kernel's mempool_t): try a plain allocation that will not
 * reclaim, then the reserve, then — if allowed to sleep — one allocation
 * with full reclaim, then wait for an element to come back.  Elements taken
 * from the reserve are remembered with their owner so a thread that takes a
 * second one while holding one is reported.  Only reserve elements are
 * tracked: an element from a plain allocation does not stop the reserve
 * from refilling, so holding one cannot starve the waiter.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include "alloc/internal.h"

struct mc_mempool {
	const char *name;
	size_t elem_size;
	unsigned min_nr, curr;
	void **elems;
	pthread_mutex_t lock;
	pthread_cond_t wait;
	struct { void *p; uint64_t tid; } *out;   /* reserve elements in use */
	unsigned nout;
	uint64_t reserve_takes, waits;
};

/* Names waits for a returned element in stall reports. */
static struct mc_site mempool_wait_site
__attribute__((section("mc_sites"), used, aligned(16))) = {
	.name = "mempool.wait", .file = __FILE__, .func = "mc_mempool_alloc",
	.line = __LINE__, .inj_rule = -1 };

struct mc_mempool *mc_mempool_create(const char *name, unsigned min_nr, size_t elem_size)
{
	struct mc_mempool *mp = mc_zalloc(sizeof(*mp), MC_KERNEL);

	if (!mp)
		return NULL;
	mp->name = name;
	mp->elem_size = elem_size;
	mp->min_nr = min_nr;
	pthread_mutex_init(&mp->lock, NULL);
	mc_cond_init(&mp->wait);
	mp->elems = mc_calloc(min_nr ? min_nr : 1, sizeof(void *), MC_KERNEL);
	mp->out = mc_calloc(min_nr ? min_nr : 1, sizeof(*mp->out), MC_KERNEL);
	if (!mp->elems || !mp->out)
		goto fail;
	for (; mp->curr < min_nr; mp->curr++) {
		mp->elems[mp->curr] = mc_alloc_named("mempool.prealloc", elem_size, MC_KERNEL);
		if (!mp->elems[mp->curr])
			goto fail;
	}
	return mp;
fail:
	mc_mempool_destroy(mp);
	return NULL;
}

void mc_mempool_destroy(struct mc_mempool *mp)
{
	if (!mp)
		return;
	for (unsigned i = 0; i < mp->curr; i++)
		mc_free(mp->elems[i]);
	mc_free(mp->elems);
	mc_free(mp->out);
	pthread_cond_destroy(&mp->wait);
	pthread_mutex_destroy(&mp->lock);
	mc_free(mp);
}

/* Called with mp->lock held. */
static void check_double(struct mc_mempool *mp, struct mc_thread *t)
{
	for (unsigned i = 0; i < mp->nout; i++)
		if (mp->out[i].tid == t->tid) {
			mc_report(MC_REP_MEMPOOL_DOUBLE, NULL,
				  "mempool '%s': thread %llu takes a reserve element while holding "
				  "one it has not returned; the reserve can run dry waiting for it",
				  mp->name, (unsigned long long)t->tid);
			return;
		}
}

static void *take(struct mc_mempool *mp, struct mc_thread *t)
{
	void *p = mp->elems[--mp->curr];

	if (mp->nout < mp->min_nr) {
		mp->out[mp->nout].p = p;
		mp->out[mp->nout].tid = t->tid;
		mp->nout++;
	}
	mp->reserve_takes++;
	return p;
}

void *mc_mempool_alloc(struct mc_mempool *mp, mc_flags_t flags)
{
	struct mc_thread *t = mc_thread();
	mc_flags_t light = (flags & ~(MC_DIRECT_RECLAIM | MC_IO | MC_NOFAIL | MC_ZERO)) | MC_NOWARN;
	int tried_full = 0;
	void *p;

	/* The pool's own attempts are one sanctioned pattern, not an open-coded
	 * retry loop of the caller's: keep the detector off them. */
	t->in_retry_helper++;
	for (;;) {
		p = mc_alloc_named("mempool.elem", mp->elem_size, light);
		if (p)
			break;
		pthread_mutex_lock(&mp->lock);
		if (mp->curr) {
			check_double(mp, t);
			p = take(mp, t);
			pthread_mutex_unlock(&mp->lock);
			break;
		}
		if (!(flags & MC_DIRECT_RECLAIM)) {
			pthread_mutex_unlock(&mp->lock);
			t->in_retry_helper--;
			return NULL;
		}
		if (!tried_full) {
			pthread_mutex_unlock(&mp->lock);
			tried_full = 1;
			p = mc_alloc_named("mempool.elem_reclaim", mp->elem_size,
					   (flags & ~(MC_NOFAIL | MC_ZERO)) | MC_NORETRY | MC_NOWARN);
			if (p)
				break;
			continue;
		}
		/* Wait for an element to be returned; holding one now is the
		 * deadlock the report warns about. */
		check_double(mp, t);
		mp->waits++;
		uint64_t dl = mc_monotonic_ns() + 5000000000ull;
		struct timespec ts = { .tv_sec = (time_t)(dl / 1000000000ull),
				       .tv_nsec = (long)(dl % 1000000000ull) };
		mc_wait_begin(t, &mempool_wait_site, flags);   /* the watchdog sees it */
		pthread_cond_timedwait(&mp->wait, &mp->lock, &ts);
		mc_wait_end(t);
		pthread_mutex_unlock(&mp->lock);
	}
	t->in_retry_helper--;
	if (flags & MC_ZERO)
		memset(p, 0, mp->elem_size);
	return p;
}

void mc_mempool_free(struct mc_mempool *mp, void *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&mp->lock);
	for (unsigned i = 0; i < mp->nout; i++)
		if (mp->out[i].p == p) {
			mp->out[i] = mp->out[--mp->nout];
			break;
		}
	if (mp->curr < mp->min_nr) {
		mp->elems[mp->curr++] = p;
		pthread_cond_signal(&mp->wait);
		pthread_mutex_unlock(&mp->lock);
		return;
	}
	pthread_mutex_unlock(&mp->lock);
	mc_free(p);
}

unsigned mc_mempool_reserve_count(struct mc_mempool *mp)
{
	unsigned n;

	pthread_mutex_lock(&mp->lock);
	n = mp->curr;
	pthread_mutex_unlock(&mp->lock);
	return n;
}
