/*
 * bench/alloc_speed: cost of alloc+free through alloc/ (accounting, call-site
 * registry and fault-injection check all compiled in) against glibc
 * malloc+free, for 16..4096 bytes, 1 and 2 threads; then the resident
 * memory of a program holding N MiB through alloc/ against N.
 *
 * Usage: alloc_speed [--quick]   (release build: scripts/build)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"

#define BATCH 64

static unsigned rounds;

struct job {
	size_t size;
	int use_mc;
	pthread_barrier_t *bar;
	double ns;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	void *p[BATCH];

	pthread_barrier_wait(j->bar);
	uint64_t t0 = mc_monotonic_ns();
	for (unsigned r = 0; r < rounds; r++) {
		if (j->use_mc) {
			for (int i = 0; i < BATCH; i++)
				p[i] = mc_alloc_named("bench.speed", j->size, MC_KERNEL);
			for (int i = 0; i < BATCH; i++)
				mc_free(p[i]);
		} else {
			for (int i = 0; i < BATCH; i++)
				p[i] = malloc(j->size);
			/* keep the compiler from pairing malloc/free away */
			__asm__ volatile("" : : "r"(p) : "memory");
			for (int i = 0; i < BATCH; i++)
				free(p[i]);
		}
	}
	j->ns = (double)(mc_monotonic_ns() - t0) / ((double)rounds * BATCH);
	return NULL;
}

static double run(size_t size, int use_mc, int nthreads)
{
	pthread_t t[2];
	struct job j[2];
	pthread_barrier_t bar;
	double best = 1e9;

	for (int rep = 0; rep < 5; rep++) {
		double sum = 0;
		pthread_barrier_init(&bar, NULL, nthreads);
		for (int i = 0; i < nthreads; i++) {
			j[i] = (struct job){ size, use_mc, &bar, 0 };
			pthread_create(&t[i], NULL, worker, &j[i]);
		}
		for (int i = 0; i < nthreads; i++) {
			pthread_join(t[i], NULL);
			sum += j[i].ns;
		}
		pthread_barrier_destroy(&bar);
		if (sum / nthreads < best)
			best = sum / nthreads;
	}
	return best;
}

static size_t rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Hold @mib MiB in a mix of sizes; report resident growth. */
static void rss_case(size_t mib, int use_mc)
{
	size_t target = mib << 20, held = 0, n = 0, cap = 1 << 22;
	void **p = calloc(cap, sizeof(void *));
	uint64_t rng = 42;
	size_t before = rss_bytes();

	while (held < target && n < cap) {
		rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
		size_t sz = (rng % 10) < 7 ? 16 + rng % 1024 : (rng % 10) < 9 ? 4096 : 1 + rng % 65536;
		void *q = use_mc ? mc_alloc_named("bench.rss", sz, MC_KERNEL) : malloc(sz);
		memset(q, 1, sz);
		held += use_mc ? mc_usable_size(q) : sz;
		p[n++] = q;
	}
	size_t grown = rss_bytes() - before;
	printf("  %-6s held %4zu MiB (%zu objects): resident +%.1f MiB, overhead %+.1f%%\n",
	       use_mc ? "alloc/" : "malloc", mib, n, (double)grown / (1 << 20),
	       100.0 * ((double)grown - (double)target) / (double)target);
	for (size_t i = 0; i < n; i++)
		use_mc ? mc_free(p[i]) : free(p[i]);
	free(p);
	if (use_mc)
		printf("  after freeing all: resident %.1f MiB above the start (retained spans)\n",
		       ((double)rss_bytes() - (double)before) / (1 << 20));
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };
	char err[256];

	rounds = argc > 1 && !strcmp(argv[1], "--quick") ? 2000 : 40000;
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	mc_fault_set("bench.never_matches:always", err, sizeof(err));  /* injection armed */
	printf("alloc+free, ns per pair (best of 5; batches of %d; injection armed on another site)\n", BATCH);
	printf("  %6s %8s %10s %10s %7s\n", "size", "threads", "alloc/", "malloc", "ratio");
	for (int th = 1; th <= 2; th++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			double a = run(sizes[i], 1, th), m = run(sizes[i], 0, th);
			printf("  %6zu %8d %10.1f %10.1f %6.2fx\n", sizes[i], th, a, m, a / m);
		}
	mc_fault_set("", err, sizeof(err));
	printf("resident memory (the kernel's page cache is not involved)\n");
	for (size_t mib = 64; mib <= 256; mib *= 4) {
		rss_case(mib, 1);
		rss_case(mib, 0);
	}
	mc_shutdown();
	return 0;
}
