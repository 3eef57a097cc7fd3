/*
 * Shared by the block-layer tests: scratch images and data patterns.
 *
 * Images live in $SCOPEFS_TEST_DIR, else /var/tmp, else /tmp (a tmpfs
 * /tmp may refuse O_DIRECT on older kernels; /var/tmp is usually disk).
 */
#ifndef TESTS_BLOCK_HELPERS_H
#define TESTS_BLOCK_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"

struct scratch {
	char path[256];
	char log[300];
};

static inline const char *scratch_dir(void)
{
	const char *d = getenv("SCOPEFS_TEST_DIR");

	if (d && !access(d, W_OK))
		return d;
	if (!access("/var/tmp", W_OK))
		return "/var/tmp";
	return "/tmp";
}

/* A fresh zero-filled (sparse) image of @size bytes. */
static inline void scratch_make(struct scratch *s, uint64_t size)
{
	int fd;

	snprintf(s->path, sizeof(s->path), "%s/sfs-blk-XXXXXX", scratch_dir());
	fd = mkstemp(s->path);
	if (fd < 0 || ftruncate(fd, (off_t)size)) {
		perror("scratch image");
		abort();
	}
	close(fd);
	snprintf(s->log, sizeof(s->log), "%s.wlog", s->path);
}

static inline void scratch_drop(struct scratch *s)
{
	unlink(s->path);
	unlink(s->log);
}

/* Open with an option string; aborts the test on a parse error. */
static inline int open_opts(const struct scratch *s, const char *optstr, struct sfs_bdev **out)
{
	struct sfs_bdev_opts o = { 0 };
	char err[256];

	if (optstr && sfs_bdev_opts_parse(&o, optstr, err, sizeof(err))) {
		fprintf(stderr, "bad test options: %s\n", err);
		abort();
	}
	return sfs_bdev_open(s->path, 0, &o, out);
}

/* Block @blk, version @ver: every 8-byte word says which. */
static inline void pattern_fill(void *buf, size_t len, uint64_t blk, uint64_t ver)
{
	uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		w[i] = (blk << 32) ^ (ver << 16) ^ i;
}

static inline int pattern_check(const void *buf, size_t len, uint64_t blk, uint64_t ver)
{
	const uint64_t *w = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i] != ((blk << 32) ^ (ver << 16) ^ i))
			return 0;
	return 1;
}

static inline uint64_t test_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline int test_init_alloc(void **state)
{
	char err[256];

	(void)state;
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "mc_init: %s\n", err);
		return -1;
	}
	return 0;
}

#endif
