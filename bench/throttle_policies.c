/*
 * bench/throttle_policies: the three reclaim-throttle policies against a
 * simulated writeback device (seed 000: congestion_wait vs waiting for
 * writeback completions vs Dave Chinner's rate-predicted sleep).
 *
 * Four threads dirty 4 KiB pages (NOFAIL allocations, as writeback-bound
 * data must be) into the device's queue under a 16 MiB budget; the device
 * cleans pages at a fixed rate and frees them.  When the budget is full
 * reclaim finds only pages under writeback: it kicks the device and
 * throttles with the selected policy.
 *
 * Fixed parameters: congestion sleep 100 ms (HZ/10), throttle timeout
 * 100 ms, cluster 32 pages, budget 16 MiB, 4 writers; device rates 50 and
 * 500 MiB/s, plus a bursty device (500 MiB/s on average, completions
 * delivered in clumps every 50 ms).
 *
 * Usage: throttle_policies [--quick]
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"
#include "simdev.h"

#define WRITERS 4
#define PAGE 4096

static struct simdev *dev;
static size_t pages_per_writer;

struct writer {
	uint64_t *lat;
	size_t n;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	for (size_t i = 0; i < pages_per_writer; i++) {
		uint64_t t0 = mc_monotonic_ns();
		void *p = mc_alloc_named("bench.dirty_page", PAGE, MC_KERNEL | MC_NOFAIL);
		w->lat[w->n++] = mc_monotonic_ns() - t0;
		memset(p, 0x5a, 64);
		simdev_queue(dev, p);
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void run(const char *policy, double mibps, unsigned burst_ms, size_t total_mib)
{
	struct mc_config c;
	struct mc_stats a, b;
	struct writer w[WRITERS];
	pthread_t wt[WRITERS];
	char err[256], opts[256];

	snprintf(opts, sizeof(opts), "budget=16M,policy=%s,congestion_sleep=100ms,"
		 "throttle_timeout=100ms,cluster=32,stall=30s", policy);
	mc_config_defaults(&c);
	if (mc_config_parse(&c, opts, err, sizeof(err)) || mc_configure(&c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	pages_per_writer = total_mib * 256 / WRITERS;
	mc_stats_snapshot(&a);
	uint64_t t0 = mc_monotonic_ns();
	dev = simdev_start(mibps * 1048576.0, burst_ms);
	for (int i = 0; i < WRITERS; i++) {
		w[i].lat = calloc(pages_per_writer, sizeof(uint64_t));
		w[i].n = 0;
		pthread_create(&wt[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	simdev_stop(dev);
	double secs = (double)(mc_monotonic_ns() - t0) / 1e9;
	mc_stats_snapshot(&b);

	size_t n = pages_per_writer * WRITERS, k = 0;
	uint64_t *all = malloc(n * sizeof(uint64_t));
	for (int i = 0; i < WRITERS; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(uint64_t));
		k += w[i].n;
		free(w[i].lat);
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	uint64_t woken = 0, tmo = 0, comp = 0;
	double asleep = 0;
	for (int r = 0; r < MC_THROTTLE_NR; r++) {
		woken += b.throttle[r][MC_WAIT_WOKEN] - a.throttle[r][MC_WAIT_WOKEN];
		tmo += b.throttle[r][MC_WAIT_TIMEOUT] - a.throttle[r][MC_WAIT_TIMEOUT];
		comp += b.throttle[r][MC_WAIT_COMPUTED] - a.throttle[r][MC_WAIT_COMPUTED];
		asleep += (double)(b.throttle_ns[r] - a.throttle_ns[r]) / 1e9;
	}
	char dname[32];
	snprintf(dname, sizeof(dname), "%g MiB/s%s", mibps, burst_ms ? " bursty" : "");
	printf("%-18s %-10s %6zu %8.2f %9.2f %9.3f %9.3f %9.1f %7llu %7llu %7llu %6llu\n",
	       dname, policy, total_mib, secs, asleep / WRITERS, (double)all[n / 2] / 1e6,
	       (double)all[n * 99 / 100] / 1e6, (double)all[n - 1] / 1e6,
	       (unsigned long long)woken, (unsigned long long)tmo, (unsigned long long)comp,
	       (unsigned long long)(b.stalls - a.stalls));
	free(all);
}

int main(int argc, char **argv)
{
	static const char *const policies[] = { "writeback", "congestion", "rate" };
	int quick = argc > 1 && !strcmp(argv[1], "--quick");
	char err[256];

	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("4 writers, budget 16 MiB, congestion sleep 100 ms, throttle timeout 100 ms, cluster 32\n");
	printf("%-18s %-10s %6s %8s %9s %9s %9s %9s %7s %7s %7s %6s\n", "device", "policy", "MiB",
	       "total_s", "asleep_s", "p50_ms", "p99_ms", "max_ms", "woken", "timeout",
	       "computed", "stalls");
	struct { double rate; unsigned burst; size_t mib; } devs[] = {
		{ 50, 0, quick ? 48 : 128 }, { 500, 0, quick ? 128 : 512 }, { 500, 50, quick ? 128 : 512 },
	};
	for (size_t d = 0; d < sizeof(devs) / sizeof(devs[0]); d++)
		for (int p = 0; p < 3; p++)
			run(policies[p], devs[d].rate, devs[d].burst, devs[d].mib);
	mc_shutdown();
	return 0;
}
