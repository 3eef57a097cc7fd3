/*
 * nsbench: the cost of creating, looking up and removing names in one
 * directory as it grows (issue 8 asks: per-operation rates within a
 * factor of 3 from 10^3 to 10^6 names), and fsck's time on the result.
 *
 * For each size N: a fresh sparse image (the library's mkfs code) with
 * room for the inodes; N names filled into the root directory (reported
 * too); then, at that size, K more names created, K random lookups of the
 * first N names, and the K new names removed -- each through the public
 * API, one operation one transaction, as a front end would call them.
 * The three measurements are repeated --rounds times (default 5) and the
 * medians printed.  At the size --fsck-at (default 100,000) the image is
 * unmounted and every --fsck tool given is run on it with -fn and timed.
 * --icache caps the inode cache (its hash table grows with what it holds);
 * --cpu measures process CPU time instead of wall-clock time.  Run the
 * release build:
 *   build-rel/bench/namespace/nsbench [--sizes 1000,100000,1000000]
 *       [--ops 20000] [--lookups N] [--rounds 5] [--icache N] [--cpu]
 *       [--dir /var/tmp] [--fsck PATH]... [--fsck-at N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/geometry.h"
#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "mkfs/mkfs.h"

#define ROOT 2u

static unsigned rstate = 12345;

static uint32_t rnd(uint32_t n)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 17;
	rstate ^= rstate << 5;
	return rstate % n;
}

/* --cpu: rates by the process's CPU time (every thread's, no waiting), for
 * a machine other work keeps busy; wall-clock time otherwise. */
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "nsbench: %s: %s\n", what, strerror(-err));
	exit(1);
}

static void make(const char *path, uint64_t inodes)
{
	struct mkfs_opts o;
	struct mkfs_result res;
	struct sfs_sb_info sbi;
	struct sfs_geo geo;
	struct sfs_bdev *bdev;
	char msg[256];
	int ret;

	memset(&o, 0, sizeof(o));
	o.image = path;
	/* Inode tables (512 bytes each), directory blocks, journal, slack;
	 * and enough groups of 128 MiB for the inodes (32,256 per group). */
	o.geo.size = (inodes * 512 * 5 / 4 + inodes * 96 + (256ull << 20)) & ~4095ull;
	if (o.geo.size < (inodes / 30000 + 2) * (128ull << 20))
		o.geo.size = (inodes / 30000 + 2) * (128ull << 20);
	o.geo.inode_count = inodes;
	o.geo.journal_bytes = 64 << 20;
	o.quiet = true;
	unlink(path);
	ret = sfs_geo_compute(&o.geo, &geo, msg, sizeof(msg));
	if (ret) {
		fprintf(stderr, "nsbench: geometry: %s\n", msg);
		exit(1);
	}
	ret = sfs_bdev_open(path, SFS_BDEV_CREATE, NULL, &bdev);
	if (!ret)
		ret = mkfs_prepare(&o, &geo, &sbi);
	if (!ret)
		ret = sfs_bdev_set_size(bdev, geo.block_count << geo.block_log);
	if (!ret)
		ret = mkfs_write(&o, &sbi, bdev, &res);
	if (ret)
		die("mkfs", ret);
	sfs_bdev_close(bdev);
	sfs_sb_info_destroy(&sbi);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void name(char *buf, char tag, unsigned i)
{
	snprintf(buf, 32, "%c-%09u", tag, i);
}

static double run_fsck(const char *tool, const char *path, int *status)
{
	double t0;
	pid_t pid;

	fflush(stdout);
	t0 = wall();
	pid = fork();

	if (!pid) {
		freopen("/dev/null", "w", stdout);
		execl(tool, tool, "-fn", path, (char *)NULL);
		_exit(127);
	}
	waitpid(pid, status, 0);
	return wall() - t0;
}

int main(int argc, char **argv)
{
	unsigned sizes[8] = { 1000, 100000, 1000000 }, nsizes = 3, ops = 20000;
	const char *dir = "/var/tmp", *fsck[4];
	unsigned nfsck = 0, fsck_at = 100000;
	size_t icache = 0;
	unsigned lookups = 0;   /* 0 = as many as --ops */
	unsigned rounds = 5;
	char err[256], path[512];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *s = argv[++i];

			nsizes = 0;
			for (char *t = strtok(s, ","); t && nsizes < 8; t = strtok(NULL, ","))
				sizes[nsizes++] = (unsigned)strtoul(t, NULL, 0);
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--fsck") && i + 1 < argc && nfsck < 4) {
			fsck[nfsck++] = argv[++i];
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) {
			rounds = (unsigned)strtoul(argv[++i], NULL, 0);
			if (rounds < 1 || rounds > 15)
				rounds = 5;
		} else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) {
			lookups = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--icache") && i + 1 < argc) {
			icache = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--cpu")) {
			clock_id = CLOCK_PROCESS_CPUTIME_ID;
		} else if (!strcmp(argv[i], "--fsck-at") && i + 1 < argc) {
			fsck_at = (unsigned)strtoul(argv[++i], NULL, 0);
		} else {
			fprintf(stderr, "usage: nsbench [--sizes N,N,...] [--ops K] [--lookups N] "
				"[--rounds R] [--icache N] [--cpu] [--dir DIR] [--fsck PATH]... "
				"[--fsck-at N]\n");
			return 2;
		}
	}
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "nsbench: %s\n", err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/nsbench-%d.img", dir, (int)getpid());
	printf("%10s %12s %12s %12s %12s   (operations per second, one directory)\n", "names",
	       "fill", "create", "lookup", "unlink");
	for (unsigned s = 0; s < nsizes; s++) {
		unsigned n = sizes[s], k = ops < n ? ops : n;
		struct sfs_mount_opts o;
		struct sfs_fs *fs;
		struct sfs_attr a;
		double t0, fill, cr, lk, ul, rc[15], rl[15], ru[15];
		char nm[32], msg[256];
		int ret;

		make(path, (uint64_t)n + k + 4096);
		sfs_mount_opts_default(&o);
		o.inode_cache = icache;
		ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg));
		if (ret)
			die(msg, ret);
		t0 = now();
		for (unsigned i = 0; i < n; i++) {
			name(nm, 'f', i);
			ret = sfs_mknod(fs, ROOT, nm, S_IFREG | 0644, 0, 0, NULL, &a);
			if (ret)
				die("fill", ret);
		}
		fill = n / (now() - t0);
		for (unsigned r = 0; r < rounds; r++) {
			t0 = now();
			for (unsigned i = 0; i < k; i++) {
				name(nm, 'n', i);
				ret = sfs_mknod(fs, ROOT, nm, S_IFREG | 0644, 0, 0, NULL, &a);
				if (ret)
					die("create", ret);
			}
			rc[r] = k / (now() - t0);
			t0 = now();
			for (unsigned i = 0; i < (lookups ? lookups : k); i++) {
				name(nm, 'f', rnd(n));
				ret = sfs_lookup(fs, ROOT, nm, 0, &a);
				if (ret)
					die("lookup", ret);
			}
			rl[r] = (lookups ? lookups : k) / (now() - t0);
			t0 = now();
			for (unsigned i = 0; i < k; i++) {
				name(nm, 'n', i);
				ret = sfs_unlink(fs, ROOT, nm);
				if (ret)
					die("unlink", ret);
			}
			ru[r] = k / (now() - t0);
		}
		cr = median(rc, rounds);
		lk = median(rl, rounds);
		ul = median(ru, rounds);
		printf("%10u %12.0f %12.0f %12.0f %12.0f\n", n, fill, cr, lk, ul);
		fflush(stdout);
		ret = sfs_fs_unmount(fs);
		if (ret)
			die("unmount", ret);
		if (n == fsck_at) {
			for (unsigned i = 0; i < nfsck; i++) {
				int status;
				double t = run_fsck(fsck[i], path, &status);

				printf("  fsck %s -fn on %u files: %.2f s (exit %d)\n", fsck[i], n, t,
				       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			}
		}
		unlink(path);
	}
	mc_shutdown();
	return 0;
}
