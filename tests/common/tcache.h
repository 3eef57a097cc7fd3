/*
 * A reclaimable test cache: objects held until its shrinker frees them,
 * with counters of how and from where the shrinker was called.  Shared by
 * the alloc and journal tests.  Include after cmocka.h.
 *
 * Optional knobs, set after tcache_init:
 *   take_lock / try_lock  a lock the scan takes (blocking) or try-locks,
 *                         for the lock checker's tests;
 *   in_context            a predicate counted into calls_in_context on
 *                         every count and scan (the journal tests pass
 *                         "inside a journal handle").
 */
#ifndef TESTS_COMMON_TCACHE_H
#define TESTS_COMMON_TCACHE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "alloc/mc.h"

struct tcache {
	struct mc_shrinker sh;
	pthread_mutex_t lock;
	void **obj;
	size_t n, cap, objsize;
	_Atomic unsigned calls, direct_calls, bg_calls, calls_in_context;
	_Atomic unsigned fs_ctx_violations;   /* called without MC_FS/MC_IO though it needs it */
	mc_mutex_t *take_lock;
	mc_mutex_t *try_lock;
	bool (*in_context)(void);
};

static inline size_t tcache_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct tcache *c = s->priv;
	size_t n;

	c->calls++;
	if ((s->needs & MC_FS) && !(sc->flags & MC_FS))
		c->fs_ctx_violations++;
	if ((s->needs & MC_IO) && !(sc->flags & MC_IO))
		c->fs_ctx_violations++;
	if (sc->background)
		c->bg_calls++;
	else
		c->direct_calls++;
	if (c->in_context && c->in_context())
		c->calls_in_context++;
	pthread_mutex_lock(&c->lock);
	n = c->n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

static inline size_t tcache_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct tcache *c = s->priv;
	size_t freed = 0;

	if (c->in_context && c->in_context())
		c->calls_in_context++;
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
	assert_non_null(c->obj);
	c->objsize = objsize;
	c->sh.name = name;
	c->sh.needs = needs;
	c->sh.count = tcache_count;
	c->sh.scan = tcache_scan;
	c->sh.priv = c;
	assert_int_equal(mc_shrinker_register(&c->sh), 0);
}

/* Fill with NOWAIT allocations until the budget refuses (or @max). */
static inline size_t tcache_fill(struct tcache *c, size_t max)
{
	size_t added = 0;

	while (added < max) {
		void *p;

		pthread_mutex_lock(&c->lock);
		if (c->n == c->cap) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		pthread_mutex_unlock(&c->lock);
		p = mc_alloc_named("test.cache", c->objsize, MC_NOWAIT | MC_NOWARN);
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
	pthread_mutex_destroy(&c->lock);
}

#endif
