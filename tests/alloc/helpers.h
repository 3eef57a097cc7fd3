/*
 * Shared fixtures of the alloc suite: a report catcher, a budget hog and a
 * test cache with a shrinker that records the context it was called in.
 */
#ifndef TEST_ALLOC_HELPERS_H
#define TEST_ALLOC_HELPERS_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pthread.h>
#include "alloc/mc.h"

/* ---- reports ---- */
struct catcher {
	unsigned expect_mask;              /* kinds consumed (and counted) */
	_Atomic unsigned n[MC_REP_KINDS];
	char last[MC_REP_KINDS][512];
	const struct mc_site *last_site[MC_REP_KINDS];
};
extern struct catcher catcher;
static inline int catch_report(enum mc_report_kind k, const struct mc_site *s, const char *msg,
			       void *arg)
{
	struct catcher *c = arg;
	if (!(c->expect_mask & (1u << k)))
		return 0;       /* unexpected: let debug_abort fail the test */
	c->n[k]++;
	snprintf(c->last[k], sizeof(c->last[k]), "%s", msg);
	c->last_site[k] = s;
	return 1;
}
static inline void catch_start(unsigned mask)
{
	memset(&catcher, 0, sizeof(catcher));
	catcher.expect_mask = mask;
	mc_set_report_handler(catch_report, &catcher);
}
static inline void catch_stop(void)
{
	mc_set_report_handler(NULL, NULL);
}
#define KIND(k) (1u << (k))

/* ---- configuration ---- */
static inline void setup_budget(const char *opts)
{
	struct mc_config c;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.background_reclaim = 1;
	c.debug_abort = 1;
	/* The suite's environment (stall threshold...) first, then the test's. */
	if (getenv("SCOPEFS_ALLOC"))
		assert_int_equal(mc_config_parse(&c, getenv("SCOPEFS_ALLOC"), err, sizeof(err)), 0);
	if (opts)
		assert_int_equal(mc_config_parse(&c, opts, err, sizeof(err)), 0);
	if (mc_configure(&c, err, sizeof(err)))
		fail_msg("configure %s: %s", opts ? opts : "(defaults)", err);
}

/* ---- hog: fills the budget with NOWAIT allocations (never reclaims) ---- */
struct hog {	/* zero-initialise before the first hog_fill */
	void **p;
	size_t n, cap;
};
static inline void hog_fill(struct hog *h, size_t chunk)
{
	if (!h->p) {
		h->cap = 1 << 16;
		h->n = 0;
		h->p = calloc(h->cap, sizeof(void *));
	}
	while (h->n < h->cap) {
		void *p = mc_alloc_named("test.hog", chunk, MC_NOWAIT | MC_NOWARN);
		if (!p)
			break;
		h->p[h->n++] = p;
	}
}
static inline void hog_release(struct hog *h, size_t n)
{
	while (n-- && h->n)
		mc_free(h->p[--h->n]);
}
static inline void hog_free(struct hog *h)
{
	hog_release(h, h->n);
	free(h->p);
	h->p = NULL;
}

/* A thread that releases @n of the hog's chunks after @delay_ms. */
struct freer { struct hog *h; unsigned delay_ms; size_t n; };
static inline void *delayed_free(void *arg)
{
	struct freer *f = arg;
	usleep(f->delay_ms * 1000);
	hog_release(f->h, f->n);
	return NULL;
}

/* ---- a cache with a shrinker ---- */
struct tcache {
	struct mc_shrinker sh;
	pthread_mutex_t lock;
	void **obj;
	size_t n, cap, objsize;
	_Atomic unsigned direct_calls, bg_calls;
	_Atomic unsigned fs_ctx_violations;   /* called without MC_FS though it needs it */
	mc_mutex_t *take_lock;                /* taken (blocking) inside scan */
	mc_mutex_t *try_lock;                 /* try-locked inside scan */
};
static inline size_t tcache_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct tcache *c = s->priv;
	size_t n;
	if ((s->needs & MC_FS) && !(sc->flags & MC_FS))
		c->fs_ctx_violations++;
	if ((s->needs & MC_IO) && !(sc->flags & MC_IO))
		c->fs_ctx_violations++;
	if (sc->background)
		c->bg_calls++;
	else
		c->direct_calls++;
	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}
static inline size_t tcache_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct tcache *c = s->priv;
	size_t freed = 0;
	if (c->take_lock) {
		mc_mutex_lock(c->take_lock);
		mc_mutex_unlock(c->take_lock);
	}
	if (c->try_lock && mc_mutex_trylock(c->try_lock))
		mc_mutex_unlock(c->try_lock);
	pthread_mutex_lock(&c->lock);
	while (c->n && freed < sc->nr_to_scan) {
		mc_free(c->obj[--c->n]);
		freed++;
	}
	pthread_mutex_unlock(&c->lock);
	return freed;
}
static inline void tcache_init(struct tcache *c, const char *name, mc_flags_t needs, size_t objsize)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->cap = 1 << 16;
	c->obj = calloc(c->cap, sizeof(void *));
	c->objsize = objsize;
	c->sh.name = name;
	c->sh.needs = needs;
	c->sh.count = tcache_count;
	c->sh.scan = tcache_scan;
	c->sh.priv = c;
	assert_int_equal(mc_shrinker_register(&c->sh), 0);
}
/* Fill the cache with NOWAIT allocations until the budget says no (or @max). */
static inline size_t tcache_fill(struct tcache *c, size_t max)
{
	size_t added = 0;
	while (added < max && c->n < c->cap) {
		void *p = mc_alloc_named("test.cache", c->objsize, MC_NOWAIT | MC_NOWARN);
		if (!p)
			break;
		pthread_mutex_lock(&c->lock);
		c->obj[c->n++] = p;
		pthread_mutex_unlock(&c->lock);
		added++;
	}
	return added;
}
static inline void tcache_destroy(struct tcache *c)
{
	mc_shrinker_unregister(&c->sh);
	while (c->n)
		mc_free(c->obj[--c->n]);
	free(c->obj);
}

static inline uint64_t test_rng(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline uint64_t now_ms(void)
{
	return mc_monotonic_ns() / 1000000ull;
}

/* Every alloc test program: init with the suite's environment, run, stop. */
static inline int run_alloc_tests(const struct CMUnitTest *tests, size_t n, const char *name)
{
	char err[256];
	int r;

	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", name, err);
		return 1;
	}
	r = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	mc_shutdown();
	return r;
}
#define RUN_ALLOC_TESTS(t) run_alloc_tests((t), sizeof(t) / sizeof((t)[0]), __FILE__)

#endif
