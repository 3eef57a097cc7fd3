/*
 * scopefs-alloc-demo: the allocation-context rules at work, in a few
 * seconds, with the statistics a user of scopefs reads.
 *
 * Four "filesystem" threads run transactions under a tight budget: each
 * transaction opens a NOFS scope (as a journal handle does), allocates
 * metadata into a cache that an FS shrinker can trim, dirties pages that a
 * simulated device writes back, and now and then runs a truncate-like step
 * whose allocation is NOFAIL.  Fault injection fails a share of the
 * metadata allocations (never the NOFAIL ones).  At the end the statistics
 * show where memory went, which shrinkers ran in which context, how reclaim
 * throttled, and that NOFAIL never touched a reserve.
 *
 * Usage: scopefs-alloc-demo [--json] [ALLOC_OPTIONS]
 *   e.g. scopefs-alloc-demo budget=8M,policy=congestion
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc/mc.h"
#include "simdev.h"

#define THREADS 4
#define SECONDS 3

struct meta_cache {
	mc_mutex_t lock;
	void **obj;
	size_t n, cap;
	struct mc_shrinker shrinker;
};

static struct meta_cache cache;
static struct simdev *dev;

/* The shrinker only try-locks: reclaim can be entered by a thread that
 * already holds the cache lock, so blocking here could deadlock. */
static size_t cache_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	(void)s;
	(void)sc;
	return __atomic_load_n(&cache.n, __ATOMIC_RELAXED);
}

static size_t cache_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	size_t freed = 0;

	(void)s;
	if (!mc_mutex_trylock(&cache.lock))
		return MC_SHRINK_STOP;
	while (cache.n && freed < sc->nr_to_scan) {
		mc_free(cache.obj[--cache.n]);
		freed++;
	}
	mc_mutex_unlock(&cache.lock);
	return freed;
}

static void cache_add(void *p)
{
	mc_mutex_lock(&cache.lock);
	if (cache.n < cache.cap) {
		cache.obj[cache.n++] = p;
		p = NULL;
	}
	mc_mutex_unlock(&cache.lock);
	mc_free(p);
}

static void *fs_thread(void *arg)
{
	uint64_t rng = 0x5eed + (uintptr_t)arg;
	uint64_t end = mc_monotonic_ns() + SECONDS * 1000000000ull;

	while (mc_monotonic_ns() < end) {
		rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
		mc_op_begin();
		/* A transaction: reclaim must not re-enter the filesystem. */
		mc_scope_t tok = mc_nofs_save();
		void *meta = mc_alloc_named("demo.metadata", 256 + rng % 3000, MC_KERNEL | MC_NOWARN);
		if (meta)
			cache_add(meta);
		void *page = mc_alloc_named("demo.dirty_page", 4096, MC_KERNEL | MC_NOWARN);
		if (page)
			simdev_queue(dev, page);
		if (rng % 16 == 0) {
			/* Truncate splitting an extent: may not fail (seed 000). */
			void *ext = mc_alloc_named("demo.truncate_split", 128, MC_KERNEL | MC_NOFAIL);
			mc_free(ext);
		}
		mc_nofs_restore(tok);
		mc_op_end();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct mc_config c;
	char err[256];
	int json = 0;
	const char *opts = "budget=16M";
	pthread_t t[THREADS];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = 1;
		else
			opts = argv[i];
	}
	mc_config_defaults(&c);
	if (mc_config_parse(&c, opts, err, sizeof(err)) || mc_init(&c, err, sizeof(err))) {
		fprintf(stderr, "scopefs-alloc-demo: %s\n", err);
		return 2;
	}
	if (mc_fault_set("demo.metadata:p=0.02,seed=7", err, sizeof(err))) {
		fprintf(stderr, "scopefs-alloc-demo: %s\n", err);
		return 2;
	}
	mc_mutex_init(&cache.lock, "demo.cache_lock");
	cache.cap = 1 << 16;
	cache.obj = mc_calloc(cache.cap, sizeof(void *), MC_KERNEL);
	cache.shrinker = (struct mc_shrinker){ .name = "demo-metadata", .needs = MC_FS,
					       .count = cache_count, .scan = cache_scan };
	mc_shrinker_register(&cache.shrinker);
	mc_set_io_flusher();
	dev = simdev_start(100.0 * 1048576, 0);

	fprintf(stderr, "scopefs-alloc-demo: %d threads, %d s, alloc options '%s', device 100 MiB/s\n",
		THREADS, SECONDS, opts);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, fs_thread, (void *)(intptr_t)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	simdev_stop(dev);
	mc_stats_print(stdout, json, 8);

	mc_shrinker_unregister(&cache.shrinker);
	while (cache.n)
		mc_free(cache.obj[--cache.n]);
	mc_free(cache.obj);
	mc_shutdown();
	if (mc_used_exact()) {
		fprintf(stderr, "scopefs-alloc-demo: %zu bytes still accounted\n", mc_used_exact());
		return 1;
	}
	return 0;
}
