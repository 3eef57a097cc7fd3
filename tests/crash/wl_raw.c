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
#include "kit.h"
#include "workload.h"

#define BLK KIT_BSZ
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

/* Version @op of @block, or which op's version a block holds (0 = zeros,
 * -1 = garbage or a version op never wrote there). */
static long version(const struct op *ops, const unsigned char *b, unsigned block)
{
	long v = kit_version(b, block);

	if (v > 0 && (v > (long)NOPS || block < ops[v - 1].block ||
		      block >= ops[v - 1].block + ops[v - 1].count))
		return -1;
	return v;
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	(void)seed;
	return kit_make_image(path, NBLK, err, errlen);
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
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (ret)
		goto out;
	for (unsigned k = 0; k < NOPS && !ret; k++) {
		for (unsigned i = 0; i < ops[k].count; i++)
			kit_fill(buf + i * BLK, ops[k].block + i, k + 1);
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
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (ret)
		goto out;
	ret = sfs_bdev_read(b, img, NBLK * BLK, 0);
	sfs_bdev_close(b);
	if (ret) {
		snprintf(err, errlen, "read: %s", strerror(-ret));
		goto out;
	}
	for (unsigned blk = 0; blk < NBLK; blk++) {
		long v = version(ops, img + (size_t)blk * BLK, blk);
		unsigned need = 0;
		for (unsigned k = 0; k < acked; k++)
			if (blk >= ops[k].block && blk < ops[k].block + ops[k].count)
				need = k + 1;
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
