/*
 * A crash-consistency workload: how to build its starting image, how to
 * run it with the write log on, and how to judge an image recovered from
 * any crash point of the run (the oracle).
 */
#ifndef CRASH_WORKLOAD_H
#define CRASH_WORKLOAD_H

#include <stddef.h>

struct crash_workload {
	const char *name;
	const char *what;                 /* one line for the listing */
	int expect_failures;              /* a deliberately unsafe variant */
	/* Create the starting image at @path. */
	int (*prepare)(const char *path, unsigned seed, char *err, size_t errlen);
	/* Run against @path; @bdev_opts carries the write log ("wlog=...").
	 * Log a MARK (sfs_bdev_log_mark) after each acknowledged durable point. */
	int (*run)(const char *path, const char *bdev_opts, unsigned seed, char *err,
		   size_t errlen);
	/* Recover and judge the image at @path; @mark is the last MARK the crash
	 * came after (NULL = none).  0 = consistent; else a reason in @err. */
	int (*check)(const char *path, const char *bdev_opts, const char *mark, unsigned seed,
		     char *err, size_t errlen);
	/* A family of generated workloads: how many seeds the set runs
	 * (seed = the sequence number); NULL = one run with the given seed. */
	unsigned (*count)(int full);
};

extern const struct crash_workload wl_raw, wl_raw_unsafe;
extern const struct crash_workload wl_journal, wl_journal_unsafe;
extern const struct crash_workload wl_ace, wl_ace_unsafe;
extern const struct crash_workload wl_trunc, wl_trunc_unsafe;   /* wl_trunc.c: the truncate family */
extern const struct crash_workload wl_data, wl_data_unsafe;     /* wl_data.c: file data, page cache */
extern const struct crash_workload wl_mix, wl_mix_unsafe;       /* wl_mix.c: namespace and data mixed */

#endif
