/*
 * File data through the page cache (issue 10): sequences of write,
 * overwrite and write into a hole on one file /f (32 KiB of known data to
 * start), each followed by nothing, fsync, fdatasync or sfs_fs_sync
 * (syncfs) (then a MARK), on an image whose free blocks all hold a marker
 * pattern before mkfs.  `quick`: every single operation with each
 * persistence (12) and a fixed sample of 6 of the 144 pairs, fsck at a
 * seeded sample of the crash points; `full`: every sequence of 1-3
 * (1,884), fsck at every crash point.
 * Sequence number N is one sequence in both: `--workload data --seed N`.
 *
 * Oracle, after the mount's journal replay: no block of the file holds
 * the marker (stale data from a free block: what ordered mode prevents),
 * every block holds zeros or a version some step wrote at that offset,
 * and what the last acknowledged fsync / fdatasync / sync covered is there: the
 * size at least what it was then, and each block written by then holds
 * its last acknowledged version or a later one.
 *
 * data-unsafe runs the same with data=writeback (no ordered data: the
 * commit that maps a block may reach the device before the block's
 * data), and must find stale data.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "fskit.h"
#include "workload.h"

#define ROOT 2u
#define BS 4096u
#define KB 1024u
#define NB 32u                     /* model blocks: 128 KiB */
#define START_BYTES (32u * KB)
#define MAXLEN 3u
#define QUICK_PAIRS 6u
#define PAIR_STRIDE 29u            /* prime to 144 */
#define MARKER 0x5354414c45444154ull   /* "STALEDAT" */

enum persist { P_NONE, P_FSYNC, P_FDATASYNC, P_SYNC, P_COUNT };

struct op {
	const char *name;
	uint32_t off, len;         /* bytes, whole blocks */
};

static const struct op ops[] = {
	{ "append", 32 * KB, 16 * KB },     /* past the end: delayed, allocated at writeback */
	{ "overwrite", 4 * KB, 8 * KB },    /* in place: no journal */
	{ "hole", 80 * KB, 8 * KB },        /* a hole past the end, then more */
};
#define NOPS ((unsigned)(sizeof(ops) / sizeof(ops[0])))
#define CHOICES (NOPS * P_COUNT)

struct step {
	unsigned op, persist;
};

/* ---- block contents ---------------------------------------------------------- */

/* Generation 1: the starting data; step i writes generation i + 2. */
static void tok_fill(unsigned gen, unsigned blk, uint8_t *buf)
{
	uint32_t *w = (uint32_t *)buf;

	for (unsigned i = 0; i < BS / 4; i++)
		w[i] = (uint32_t)(gen << 24 | blk << 12 | i) ^ 0x0a000000u;
}

/* 0 zeros, the generation written at @blk, -1 the marker, -2 anything else. */
static int gen_of(const uint8_t *buf, unsigned blk)
{
	static uint8_t want[BS];
	const uint64_t *q = (const uint64_t *)buf;
	const uint32_t *w = (const uint32_t *)buf;
	unsigned gen;

	if (q[0] == MARKER)
		return -1;
	if (!w[0]) {
		for (unsigned i = 0; i < BS / 4; i++)
			if (w[i])
				return -2;
		return 0;
	}
	gen = (w[0] ^ 0x0a000000u) >> 24;
	tok_fill(gen, blk, want);
	return memcmp(want, buf, BS) ? -2 : (int)gen;
}

/* ---- sequences ------------------------------------------------------------------ */

/* fsck at every crash point in `full`, at a seeded one in
 * QUICK_FSCK_EVERY in `quick` (fskit_fsck_due: the CI time budget). */
#define QUICK_FSCK_EVERY 2u

static unsigned data_count(int full)
{
	unsigned one = fskit_seqs(CHOICES, 1);

	return full ? one + fskit_seqs(CHOICES, 2) + fskit_seqs(CHOICES, 3) : one + QUICK_PAIRS;
}

/* The twin only has to find stale data: the quick sequences are enough,
 * in `full` too (there with every crash state). */
static unsigned data_unsafe_count(int full)
{
	(void)full;
	return data_count(0);
}

static unsigned decode(unsigned id, struct step *s)
{
	unsigned len = 1;

	while (len < MAXLEN && id >= fskit_seqs(CHOICES, len)) {
		id -= fskit_seqs(CHOICES, len);
		len++;
	}
	if (len == 2)
		id = (unsigned)(((uint64_t)id * PAIR_STRIDE) % fskit_seqs(CHOICES, 2));
	for (unsigned i = 0; i < len; i++) {
		unsigned c = id % CHOICES;

		id /= CHOICES;
		s[i].op = c / P_COUNT;
		s[i].persist = c % P_COUNT;
	}
	return len;
}

static const char *describe(const struct step *s, unsigned len, char *buf, size_t n)
{
	static const char *const p[] = { "", "+fsync", "+fdatasync", "+sync" };
	size_t k = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < len && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s%s", i ? "; " : "", ops[s[i].op].name,
				      p[s[i].persist]);
	return buf;
}

/* ---- the file system --------------------------------------------------------------- */

/* Every block of the image holds the marker, then mkfs keeps what it
 * does not write (-K): the free blocks are stale data. */
static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	struct sfs_fs *fs;
	struct sfs_cred cr = { 0 };
	struct sfs_attr a;
	uint64_t *blk;
	uint8_t *buf;
	int fd, ret = 0;

	(void)seed;
	blk = malloc(BS);
	for (unsigned i = 0; i < BS / 8; i++)
		blk[i] = MARKER;
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	for (uint64_t b = 0; fd >= 0 && b < FSKIT_IMAGE_BYTES / BS; b++)
		if (pwrite(fd, blk, BS, (off_t)(b * BS)) != BS)
			ret = -EIO;
	if (fd < 0 || close(fd) || ret) {
		free(blk);
		snprintf(err, errlen, "marker fill failed");
		return -EIO;
	}
	free(blk);
	ret = fskit_mkfs(path, true, err, errlen);
	if (ret)
		return ret;
	ret = fskit_mount(path, "cache=buffered", 60000, false, &fs, err, errlen);
	if (ret)
		return ret;
	buf = malloc(START_BYTES);
	for (unsigned b = 0; b < START_BYTES / BS; b++)
		tok_fill(1, b, buf + (size_t)b * BS);
	ret = sfs_create(fs, ROOT, "f", 0644, 0, &cr, &a);
	if (!ret) {
		ssize_t n = sfs_write(fs, a.ino, buf, START_BYTES, 0, 0, &cr);

		ret = n == (ssize_t)START_BYTES ? 0 : n < 0 ? (int)n : -EIO;
	}
	free(buf);
	if (ret)
		snprintf(err, errlen, "starting file: %d", ret);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount");
		ret = -EIO;
	}
	return ret;
}

static int file_ino(struct sfs_fs *fs, uint64_t *ino, char *err, size_t errlen)
{
	struct sfs_attr a;
	int ret = sfs_lookup(fs, ROOT, "f", 0, &a);

	if (ret)
		snprintf(err, errlen, "lookup /f: %d", ret);
	*ino = a.ino;
	return ret;
}

static int run_common(const char *path, const char *opts, unsigned id, bool writeback, char *err,
		      size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s);
	struct sfs_cred cr = { .privileged = true };
	struct sfs_fs *fs;
	uint8_t *buf = malloc(16 * KB);
	uint64_t ino;
	char label[32];
	int ret;

	ret = fskit_mount(path, opts, 60000, writeback, &fs, err, errlen);
	if (ret) {
		free(buf);
		return ret;
	}
	ret = file_ino(fs, &ino, err, errlen);
	for (unsigned i = 0; i < len && !ret; i++) {
		const struct op *op = &ops[s[i].op];
		ssize_t n;

		for (unsigned b = 0; b < op->len / BS; b++)
			tok_fill(i + 2, op->off / BS + b, buf + (size_t)b * BS);
		n = sfs_write(fs, ino, buf, op->len, op->off, 0, &cr);
		if (n != (ssize_t)op->len) {
			snprintf(err, errlen, "step %u: write returned %zd", i + 1, n);
			ret = -EIO;
			break;
		}
		if (s[i].persist == P_NONE)
			continue;
		if (s[i].persist == P_SYNC)
			ret = sfs_fs_sync(fs);
		else
			ret = sfs_fsync(fs, ino, s[i].persist == P_FDATASYNC);
		if (ret) {
			snprintf(err, errlen, "step %u: fsync/sync: %d", i + 1, ret);
			break;
		}
		snprintf(label, sizeof(label), "ack %u", i + 1);
		sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
	}
	free(buf);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount failed");
		ret = -EIO;
	}
	return ret;
}

static int run(const char *path, const char *opts, unsigned id, char *err, size_t errlen)
{
	return run_common(path, opts, id, false, err, errlen);
}

static int run_unordered(const char *path, const char *opts, unsigned id, char *err,
			 size_t errlen)
{
	return run_common(path, opts, id, true, err, errlen);
}

static int check(const char *path, const char *opts, const char *mark, unsigned id, char *err,
		 size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s), acked = 0, nb;
	/* per block: generations written by any step; the last acknowledged one */
	unsigned written[NB] = { 0 }, need[NB] = { 0 };
	uint64_t acked_size = START_BYTES, size = START_BYTES;
	uint8_t *buf = NULL;
	struct sfs_attr a;
	struct sfs_fs *fs;
	uint64_t ino;
	char seq[256];
	ssize_t got;
	int ret;

	if (mark)
		sscanf(mark, "ack %u", &acked);
	describe(s, len, seq, sizeof(seq));
	for (unsigned b = 0; b < START_BYTES / BS; b++) {
		written[b] |= 1u << 1;
		need[b] = 1;
	}
	for (unsigned i = 0; i < len; i++) {
		const struct op *op = &ops[s[i].op];

		for (unsigned b = op->off / BS; b < (op->off + op->len) / BS; b++) {
			written[b] |= 1u << (i + 2);
			if (i < acked)
				need[b] = i + 2;
		}
		if (size < (uint64_t)op->off + op->len)
			size = (uint64_t)op->off + op->len;
		if (i < acked)
			acked_size = size;
	}
	ret = fskit_mount(path, opts, 60000, false, &fs, err, errlen);
	if (ret)
		return ret;
	ret = file_ino(fs, &ino, err, errlen);
	if (!ret)
		ret = sfs_getattr(fs, ino, &a);
	if (ret)
		goto unmount;
	ret = -1;
	if (a.size < acked_size || a.size > (uint64_t)NB * BS || a.size % BS) {
		snprintf(err, errlen, "[%s] size %llu (acknowledged %llu)", seq,
			 (unsigned long long)a.size, (unsigned long long)acked_size);
		goto unmount;
	}
	nb = (unsigned)(a.size / BS);
	buf = malloc((size_t)NB * BS);
	got = sfs_read(fs, ino, buf, (size_t)NB * BS, 0);
	if (got != (ssize_t)a.size) {
		snprintf(err, errlen, "[%s] read %zd bytes of a %llu-byte file", seq, got,
			 (unsigned long long)a.size);
		goto unmount;
	}
	for (unsigned b = 0; b < nb; b++) {
		int g = gen_of(buf + (size_t)b * BS, b);

		if (g == -1) {
			snprintf(err, errlen, "[%s] block %u holds stale data (the marker of a "
				 "free block)", seq, b);
			goto unmount;
		}
		if (g == -2 || (g > 0 && !(written[b] & (1u << g)))) {
			snprintf(err, errlen, "[%s] block %u holds what was never written there",
				 seq, b);
			goto unmount;
		}
		if (need[b] && (unsigned)g < need[b]) {
			snprintf(err, errlen, "[%s] block %u: version %d, acknowledged %u", seq, b,
				 g, need[b]);
			goto unmount;
		}
	}
	ret = 0;
unmount:
	free(buf);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "[%s] unmount after recovery failed", seq);
		ret = -1;
	}
	if (!ret && fskit_fsck_due(QUICK_FSCK_EVERY))
		ret = fskit_fsck(path, "data", err, errlen);
	return ret;
}

const struct crash_workload wl_data = {
	.name = "data",
	.what = "file data through the page cache (append, overwrite, write into a hole) with "
		"fsync / fdatasync; free blocks hold a marker: no stale data in ordered mode",
	.prepare = prepare, .run = run, .check = check, .count = data_count,
};

const struct crash_workload wl_data_unsafe = {
	.name = "data-unsafe",
	.what = "data with data=writeback (no ordered data): must find stale data",
	.expect_failures = 1, .prepare = prepare, .run = run_unordered, .check = check,
	.count = data_unsafe_count,
};
