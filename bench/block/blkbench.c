/*
 * blkbench: 4 KiB throughput of the block layer, per mode.
 *
 *   blkbench [-d DIR] [-s MiB] [-t SECONDS] [-q DEPTH] [-b BLOCK] [-v SEGS]
 *
 * With -v, every bio is vectored: SEGS separately allocated buffers of
 * BLOCK bytes for SEGS consecutive blocks (what the page cache's
 * writeback of a run of pages submits); figures count bytes as usual.
 *
 * For io_uring and pread/pwrite, each with O_DIRECT and buffered, runs
 * sequential write, sequential read, random write and random read with
 * DEPTH bios in flight (each completion submits the next).  The image is
 * written fully first, and its host page cache dropped (fdatasync +
 * POSIX_FADV_DONTNEED) before every phase so buffered figures start cold.
 * Sequential phases stop after one pass over the image; write phases
 * include the final flush.  Not a test.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"

struct job;

struct slot {
	struct sfs_bio bio;
	struct iovec *iov;
	struct job *job;
	uint64_t rng;
};

struct job {
	struct sfs_bdev *bdev;
	uint32_t bs;
	uint64_t nblocks;
	enum sfs_bio_op op;
	int random;
	volatile int stop;
	uint64_t next;            /* next sequential block, atomic */
	uint64_t done, errors;    /* atomic */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Pick the next block for @s; 0 when the job is over. */
static int next_block(struct slot *s, uint64_t *blk)
{
	struct job *j = s->job;

	if (j->stop)
		return 0;
	if (j->random) {
		*blk = xorshift(&s->rng) % j->nblocks;
		return 1;
	}
	*blk = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
	return *blk < j->nblocks;
}

static void end_io(struct sfs_bio *bio)
{
	struct slot *s = bio->private;
	struct job *j = s->job;
	uint64_t blk;

	__atomic_fetch_add(bio->error ? &j->errors : &j->done, 1, __ATOMIC_RELAXED);
	if (!next_block(s, &blk))
		return;
	bio->off = blk * j->bs;
	sfs_bdev_submit(j->bdev, bio);
}

static void drop_host_cache(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	fdatasync(fd);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	close(fd);
}

/* A slot's buffer: one block, or @segs scattered ones. */
static void slot_buffers(struct slot *sl, uint32_t bs, unsigned segs)
{
	if (segs <= 1) {
		sl->bio.buf = mc_alloc(bs, MC_KERNEL);
		memset(sl->bio.buf, 0x5a, bs);
		return;
	}
	sl->iov = mc_alloc(segs * sizeof(*sl->iov), MC_KERNEL);
	for (unsigned k = 0; k < segs; k++) {
		sl->iov[k].iov_base = mc_alloc(bs, MC_KERNEL);
		sl->iov[k].iov_len = bs;
		memset(sl->iov[k].iov_base, 0x5a, bs);
	}
	sl->bio.iov = sl->iov;
	sl->bio.nr_iov = (uint16_t)segs;
	sl->bio.len = bs * segs;
}

static void slot_free(struct slot *sl, unsigned segs)
{
	mc_free(sl->bio.buf);
	for (unsigned k = 0; sl->iov && k < segs; k++)
		mc_free(sl->iov[k].iov_base);
	mc_free(sl->iov);
}

static double run(struct sfs_bdev *bdev, const char *path, uint32_t bs, unsigned segs,
		  uint64_t nblocks, enum sfs_bio_op op, int random, unsigned depth, double secs,
		  uint64_t *ios)
{
	struct job j = { .bdev = bdev, .bs = bs, .nblocks = nblocks, .op = op, .random = random };
	struct slot *slots = mc_zalloc(depth * sizeof(*slots), MC_KERNEL);
	uint64_t t0, deadline;
	unsigned i;

	drop_host_cache(path);
	for (i = 0; i < depth; i++) {
		slots[i].job = &j;
		slots[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		slots[i].bio = (struct sfs_bio){ .op = op, .len = bs, .end_io = end_io,
						 .private = &slots[i] };
		slot_buffers(&slots[i], bs / segs, segs);
	}
	t0 = now_ns();
	deadline = t0 + (uint64_t)(secs * 1e9);
	for (i = 0; i < depth; i++) {
		uint64_t blk;

		if (!next_block(&slots[i], &blk))
			break;
		slots[i].bio.off = blk * bs;
		sfs_bdev_submit(bdev, &slots[i].bio);
	}
	while (now_ns() < deadline &&
	       (random || __atomic_load_n(&j.next, __ATOMIC_RELAXED) < nblocks))
		usleep(2000);
	j.stop = 1;
	sfs_bdev_drain(bdev);
	/* writes count as done once durable: buffered ones are not before */
	if (op == SFS_BIO_WRITE)
		sfs_bdev_flush(bdev);
	t0 = now_ns() - t0;
	for (i = 0; i < depth; i++)
		slot_free(&slots[i], segs);
	mc_free(slots);
	if (j.errors)
		fprintf(stderr, "blkbench: %llu I/O errors\n", (unsigned long long)j.errors);
	*ios = j.done;
	return (double)j.done * bs / (1024.0 * 1024.0) / (t0 / 1e9);
}

int main(int argc, char **argv)
{
	static const char *const modes[] = {
		"engine=uring,cache=direct", "engine=uring,cache=buffered",
		"engine=psync,cache=direct", "engine=psync,cache=buffered",
	};
	static const struct { const char *name; enum sfs_bio_op op; int random; } pats[] = {
		{ "seq-write", SFS_BIO_WRITE, 0 }, { "seq-read", SFS_BIO_READ, 0 },
		{ "rand-write", SFS_BIO_WRITE, 1 }, { "rand-read", SFS_BIO_READ, 1 },
	};
	const char *dir = "/var/tmp";
	unsigned mib = 256, depth = 32, bs = 4096, segs = 1, unit, m, p;
	double secs = 2;
	char path[512], err[256], desc[64];
	int c;

	while ((c = getopt(argc, argv, "d:s:t:q:b:v:")) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 's': mib = (unsigned)atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		case 'q': depth = (unsigned)atoi(optarg); break;
		case 'b': bs = (unsigned)atoi(optarg); break;
		case 'v': segs = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: %s [-d DIR] [-s MiB] [-t SECONDS] [-q DEPTH] [-b BLOCK] "
				"[-v SEGS]\n", argv[0]);
			return 2;
		}
	}
	if (!mib || !depth || !bs || (bs & 511) || secs <= 0 || !segs || segs > 1024) {
		fprintf(stderr, "blkbench: bad arguments\n");
		return 2;
	}
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "blkbench: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/blkbench-%d.img", dir, (int)getpid());
	unit = bs * segs;
	printf("image %s, %u MiB, block %u, %u per bio%s, depth %u, %.1f s per phase\n", path, mib,
	       bs, segs, segs > 1 ? " (vectored)" : "", depth, secs);
	printf("%-28s %-11s %10s %10s\n", "mode", "pattern", "MiB/s", "IOPS");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		struct sfs_bdev_opts o = { 0 };
		struct sfs_bdev *bdev;
		uint64_t nblocks = (uint64_t)mib * 1024 * 1024 / unit;
		int ret;

		sfs_bdev_opts_parse(&o, modes[m], err, sizeof(err));
		o.queue_depth = depth;
		ret = sfs_bdev_open(path, SFS_BDEV_CREATE, &o, &bdev);
		if (!ret)
			ret = sfs_bdev_set_size(bdev, nblocks * unit);
		if (ret) {
			fprintf(stderr, "blkbench: %s: %s\n", modes[m], strerror(-ret));
			continue;
		}
		for (p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
			uint64_t ios;
			double mbs = run(bdev, path, unit, segs, nblocks, pats[p].op,
					 pats[p].random, depth, secs, &ios);

			printf("%-28s %-11s %10.1f %10.0f\n",
			       sfs_bdev_describe(bdev, desc, sizeof(desc)), pats[p].name, mbs,
			       mbs * 1024 * 1024 / unit);
			fflush(stdout);
		}
		sfs_bdev_close(bdev);
	}
	unlink(path);
	return 0;
}
