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
#include "tests/common/tcache.h"

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

/* ---- a cache with a shrinker: tests/common/tcache.h ---- */

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
