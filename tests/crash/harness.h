/*
 * The crash harness: run a workload with the write log on, then rebuild
 * the image at every crash point the set asks for, recover it and judge it.
 */
#ifndef CRASH_HARNESS_H
#define CRASH_HARNESS_H

#include <stdbool.h>
#include <stdint.h>
#include "workload.h"

enum crash_set { CRASH_QUICK, CRASH_FULL };

struct crash_opts {
	enum crash_set set;
	unsigned seed;
	const char *dir;          /* scratch directory */
	long only_epoch;          /* -1 = all */
	uint64_t only_mask;       /* with only_epoch */
	int only_torn;            /* -1 none, else index in the subset to tear */
	bool keep;                /* keep the failing image */
	bool verbose;
	bool quiet;                /* print no FAIL lines (a family already showed one) */
};

struct crash_result {
	uint64_t runs, epochs, points, failures, writes, flushes;
	double seconds;
};

int crash_run(const struct crash_workload *wl, const struct crash_opts *o,
	      struct crash_result *res);

#endif
