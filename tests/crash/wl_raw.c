/*
 * The raw-device workload: the harness checking itself.  300 operations
 * each write 1-3 consecutive blocks of a 1 MiB device with a self-checking
 * pattern; every few operations a flush, then a MARK "op K" saying every
 * operation up to K is durable.  Oracle: every block holds zeros or a
 * whole, valid version written to that block, no older than the last
 * acknowledged write to it.  The unsafe variant logs the MARK before the
 * flush, so the harness must find crash points that break the oracle.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "workload.h"

#define BLK 4096u
#define NBLK 256u
#define NOPS 300u

struct op {
	unsigned block, count;
	int flush_after;
};

static void gen_ops(unsigned seed, struct op *ops)
{
	uint64_t r = seed * 2654435761u + 1;
	for (unsigned k = 0; k < NOPS; k++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		ops[k].count = 1 + (unsigned)(r >> 60) % 3;
		ops[k].block = (unsigned)(r >> 33) % (NBLK - ops[k].count);
		ops[k].flush_after = (r >> 20) % 4 == 0;
	}
}

static void fill(unsigned char *b, unsigned op, unsigned block)
{
	uint64_t x = (uint64_t)op << 32 | block;
	memcpy(b, &x, 8);
	for (unsigned i = 8; i < BLK; i++)
		b[i] = (unsigned char)(op * 31 + block * 7 + i);
}

/* 0 = zeros, >0 = the op whose version this is, -1 = garbage. */
static long version(const unsigned char *b, unsigned block)
{
	unsigned char want[BLK];
	uint64_t x;
	unsigned i;

	for (i = 0; i < BLK && !b[i]; i++)
		;
	if (i == BLK)
		return 0;
	memcpy(&x, b, 8);
	if ((x & 0xffffffffu) != block || (x >> 32) == 0 || (x >> 32) > NOPS)
		return -1;
	fill(want, (unsigned)(x >> 32), block);
	return memcmp(want, b, BLK) ? -1 : (long)(x >> 32);
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	(void)seed;
	if (fd < 0 || ftruncate(fd, (off_t)NBLK * BLK)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static int open_dev(const char *path, const char *opts, struct sfs_bdev **b, char *err,
		    size_t errlen)
{
	struct sfs_bdev_opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	ret = sfs_bdev_opts_parse(&o, opts, err, errlen);
	if (!ret)
		ret = sfs_bdev_open(path, 0, &o, b);
	if (ret && !err[0])
		snprintf(err, errlen, "open %s: %s", path, strerror(-ret));
	return ret;
}

static int run_common(const char *path, const char *opts, unsigned seed, int unsafe, char *err,
		      size_t errlen)
{
	static struct op ops[NOPS];
	unsigned char *buf = mc_alloc(3 * BLK, MC_KERNEL);
	struct sfs_bdev *b;
	char label[32];
	int ret;

	gen_ops(seed, ops);
	ret = open_dev(path, opts, &b, err, errlen);
	if (ret)
		goto out;
	for (unsigned k = 0; k < NOPS && !ret; k++) {
		for (unsigned i = 0; i < ops[k].count; i++)
			fill(buf + i * BLK, k + 1, ops[k].block + i);
		ret = sfs_bdev_write(b, buf, ops[k].count * BLK, (uint64_t)ops[k].block * BLK);
		if (ret || !ops[k].flush_after)
			continue;
		snprintf(label, sizeof(label), "op %u", k + 1);
		if (unsafe)
			sfs_bdev_log_mark(b, label);   /* acknowledged too early */
		ret = sfs_bdev_flush(b);
		if (!unsafe)
			sfs_bdev_log_mark(b, label);
	}
	sfs_bdev_close(b);
	if (ret)
		snprintf(err, errlen, "I/O: %s", strerror(-ret));
out:
	mc_free(buf);
	return ret;
}

static int run_safe(const char *path, const char *opts, unsigned seed, char *err, size_t errlen)
{
	return run_common(path, opts, seed, 0, err, errlen);
}

static int run_unsafe(const char *path, const char *opts, unsigned seed, char *err, size_t errlen)
{
	return run_common(path, opts, seed, 1, err, errlen);
}

static int check(const char *path, const char *opts, const char *mark, unsigned seed, char *err,
		 size_t errlen)
{
	static struct op ops[NOPS];
	unsigned char *img = mc_alloc(NBLK * BLK, MC_KERNEL);
	unsigned acked = 0;
	struct sfs_bdev *b;
	int ret;

	gen_ops(seed, ops);
	if (mark)
		sscanf(mark, "op %u", &acked);
	ret = open_dev(path, opts, &b, err, errlen);
	if (ret)
		goto out;
	ret = sfs_bdev_read(b, img, NBLK * BLK, 0);
	sfs_bdev_close(b);
	if (ret) {
		snprintf(err, errlen, "read: %s", strerror(-ret));
		goto out;
	}
	for (unsigned blk = 0; blk < NBLK; blk++) {
		long v = version(img + (size_t)blk * BLK, blk);
		unsigned need = 0;
		for (unsigned k = 0; k < acked; k++)
			if (blk >= ops[k].block && blk < ops[k].block + ops[k].count)
				need = k + 1;
		if (v > 0 && !(blk >= ops[v - 1].block && blk < ops[v - 1].block + ops[v - 1].count))
			v = -1;         /* a version op v never wrote here */
		if (v < 0) {
			snprintf(err, errlen, "block %u holds garbage", blk);
			ret = -1;
			break;
		}
		if ((unsigned long)v < need) {
			snprintf(err, errlen, "block %u is at op %ld, but op %u was acknowledged "
				 "durable", blk, v, need);
			ret = -1;
			break;
		}
	}
out:
	mc_free(img);
	return ret;
}

const struct crash_workload wl_raw = {
	.name = "raw", .what = "300 raw block writes with flushes (the harness checking itself)",
	.prepare = prepare, .run = run_safe, .check = check,
};

const struct crash_workload wl_raw_unsafe = {
	.name = "raw-unsafe", .what = "raw, acknowledging before the flush: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_unsafe, .check = check,
};
