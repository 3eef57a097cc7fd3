/*
 * scopefs-crash: crash-consistency checking in the manner of dm-log-writes
 * and CrashMonkey.  Runs workloads with the block layer's write log on,
 * then rebuilds, recovers and judges the image at every crash point the
 * set selects: each flush boundary and, inside each epoch, subsets of the
 * writes not yet flushed (all of them in `full` for epochs of up to 8
 * writes, seeded samples otherwise), some with a torn multi-block write.
 *
 * Usage: scopefs-crash [quick|full] [--workload NAME] [--seed N]
 *                      [--only EPOCH:VARIANT] [--keep] [--dir DIR] [-v] [--list]
 * Exit: 0 when every safe workload passed and every deliberately unsafe
 * one was caught; 1 otherwise; 2 on usage errors.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"
#include "fskit.h"
#include "harness.h"

extern const struct crash_workload wl_ns, wl_ns_unsafe;   /* wl_ns.c: the namespace */

static const struct crash_workload *const workloads[] = {
	&wl_raw, &wl_raw_unsafe, &wl_journal, &wl_journal_unsafe, &wl_ace,
	&wl_ace_unsafe, &wl_ns, &wl_ns_unsafe, &wl_trunc, &wl_trunc_unsafe, &wl_data,
	&wl_data_unsafe, &wl_mix, &wl_mix_unsafe,
};
#define NWL (sizeof(workloads) / sizeof(workloads[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: scopefs-crash [quick|full] [--workload NAME] [--seed N] "
		"[--only EPOCH:VARIANT] [--keep] [--dir DIR] [-v] [--list]\n");
}

static const char *default_dir(void)
{
	const char *d = getenv("SCOPEFS_CRASH_DIR");
	if (d)
		return d;
	return access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/var/tmp";
}

/* One run, or every member of a generated family (seed = its number). */
static int run_family(const struct crash_workload *wl, const struct crash_opts *o,
		      int seed_given, struct crash_result *total)
{
	struct crash_opts one = *o;
	/* Asked even for one seed: a family sets itself up for the set. */
	unsigned n = wl->count ? wl->count(o->set == CRASH_FULL) : 1;

	if (seed_given)
		n = 1;

	memset(total, 0, sizeof(*total));
	for (unsigned s = 0; s < n; s++) {
		struct crash_result r;

		if (wl->count && !seed_given)
			one.seed = s;
		if (crash_run(wl, &one, &r))
			return -1;
		/* For an unsafe family one example shows the checker can fail. */
		if (wl->expect_failures && r.failures)
			one.quiet = true;
		total->epochs += r.epochs;
		total->points += r.points;
		total->failures += r.failures;
		total->writes += r.writes;
		total->flushes += r.flushes;
		total->seconds += r.seconds;
	}
	total->runs = n;
	return 0;
}

int main(int argc, char **argv)
{
	struct crash_opts o = { .set = CRASH_QUICK, .seed = 1, .only_epoch = -1, .only_torn = -1 };
	const char *only_wl = NULL;
	int seed_given = 0;
	uint64_t points = 0, failures = 0, runs = 0;
	int bad = 0;
	char err[256];

	/* A sanitizer abort must not swallow the lines already printed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	o.dir = default_dir();
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "quick")) {
			o.set = CRASH_QUICK;
		} else if (!strcmp(a, "full")) {
			o.set = CRASH_FULL;
		} else if (!strcmp(a, "--workload") && i + 1 < argc) {
			only_wl = argv[++i];
		} else if (!strcmp(a, "--seed") && i + 1 < argc) {
			o.seed = (unsigned)strtoul(argv[++i], NULL, 0);
			seed_given = 1;
		} else if (!strcmp(a, "--dir") && i + 1 < argc) {
			o.dir = argv[++i];
		} else if (!strcmp(a, "--only") && i + 1 < argc) {
			unsigned long long e, v;
			if (sscanf(argv[++i], "%llu:%llu", &e, &v) != 2) {
				fprintf(stderr, "scopefs-crash: --only takes EPOCH:VARIANT\n");
				return 2;
			}
			o.only_epoch = (long)e;
			o.only_mask = v;
		} else if (!strcmp(a, "--keep")) {
			o.keep = true;
		} else if (!strcmp(a, "-v")) {
			o.verbose = true;
		} else if (!strcmp(a, "--list")) {
			for (size_t w = 0; w < NWL; w++)
				printf("%-16s %s\n", workloads[w]->name, workloads[w]->what);
			return 0;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "scopefs-crash: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "scopefs-crash: %s\n", err);
		return 2;
	}
	for (size_t w = 0; w < NWL; w++) {
		const struct crash_workload *wl = workloads[w];
		struct crash_result r;
		uint64_t p0, f0, p1, f1;
		char fsck[96] = "";

		if (only_wl && strcmp(only_wl, wl->name))
			continue;
		runs++;
		/* One crash point rebuilt by hand always gets fsck: the sample
		 * would not pick the same points again. */
		fskit_fsck_plan(o.set == CRASH_FULL || o.only_epoch >= 0,
				wl->expect_failures && o.set == CRASH_QUICK && o.only_epoch < 0,
				o.seed);
		fskit_fsck_counts(&p0, &f0);
		if (run_family(wl, &o, seed_given, &r)) {
			printf("%-16s ERROR: the workload could not run\n", wl->name);
			bad = 1;
			continue;
		}
		fskit_fsck_counts(&p1, &f1);
		if (p1 > p0 && f1 == f0)
			snprintf(fsck, sizeof(fsck), ", no fsck");
		else if (p1 > p0)
			snprintf(fsck, sizeof(fsck), ", fsck on %llu of %llu passing%s",
				 (unsigned long long)(f1 - f0), (unsigned long long)(p1 - p0),
				 f1 - f0 < p1 - p0 ? " (seeded sample)" : "");
		points += r.points;
		failures += wl->expect_failures ? 0 : r.failures;
		int ok = wl->expect_failures ? r.failures > 0 : r.failures == 0;
		printf("%-16s %s: %llu run%s, %llu writes, %llu flushes, %llu epochs, %llu crash "
		       "points, %llu failures%s%s (%.1f s)\n", wl->name,
		       o.set == CRASH_FULL ? "full" : "quick", (unsigned long long)r.runs,
		       r.runs == 1 ? "" : "s",
		       (unsigned long long)r.writes, (unsigned long long)r.flushes,
		       (unsigned long long)r.epochs, (unsigned long long)r.points,
		       (unsigned long long)r.failures, fsck,
		       wl->expect_failures ? (ok ? " (expected: the checker can fail)" :
					      " -- EXPECTED FAILURES, NONE FOUND") : "",
		       r.seconds);
		bad |= !ok;
	}
	if (only_wl && !runs) {
		fprintf(stderr, "scopefs-crash: no workload named '%s' (--list)\n", only_wl);
		return 2;
	}
	printf("total: %llu workloads run, %llu crash points checked, %llu failures\n",
	       (unsigned long long)runs, (unsigned long long)points,
	       (unsigned long long)failures);
	mc_shutdown();
	return bad;
}
