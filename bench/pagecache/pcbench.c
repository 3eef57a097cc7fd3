/*
 * pcbench: the page cache through the library (issue 10).
 *
 *   pcbench [-d DIR] [-s MiB] [-p MiB] [-x] [-f FILES]
 *
 * Throughput: an image on DIR (O_DIRECT, io_uring), one file written
 * sequentially in 1 MiB and in 4 KiB writes (-s MiB, default 1024) then
 * fsync'd, the extents counted; read back cold (after a remount) in 1 MiB
 * reads.  Compare with build/bench/block/blkbench on the same DIR.
 *
 * Policies (-p MiB, default 512): an 8 MiB budget, a device emulated at
 * 20 MiB/s and at 200 MiB/s, the dirty limit at 90 % of the budget, one
 * writer in 64 KiB writes; for each throttle policy: total time, time
 * asleep in alloc/'s throttle and in the dirty limit, the writer's p99
 * write latency, and how the throttle waits ended (woken, timeouts,
 * computed).  -x skips the throughput part.
 *
 * Small files (-f FILES, default 0 = skip): FILES new files of 16 KiB
 * each, written with the background thread woken at its usual limits,
 * then a sync; files per second, and how often a writer waited for the
 * journal credits every inode with delayed pages holds (the cap is half
 * the log).  Run with -s 0 -p 0 for this part alone.  Not a test.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/geometry.h"
#include "fs/fs.h"
#include "fs/pagecache/pagecache.h"
#include "fs/super.h"
#include "mkfs/mkfs.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "pcbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static double now_s(void)
{
	return (double)mc_monotonic_ns() / 1e9;
}

static void make_image(const char *path, uint64_t bytes)
{
	struct mkfs_opts o;
	struct sfs_bdev *bdev;
	struct mkfs_result res;
	struct sfs_sb_info sbi;
	struct sfs_geo geo;
	char msg[256];
	int ret;

	memset(&o, 0, sizeof(o));
	o.image = path;
	o.geo.block_log = 12;
	o.geo.size = bytes;
	o.geo.journal_bytes = 64 << 20;
	o.quiet = true;
	if (sfs_geo_compute(&o.geo, &geo, msg, sizeof(msg))) {
		fprintf(stderr, "pcbench: %s\n", msg);
		exit(1);
	}
	unlink(path);
	if ((ret = sfs_bdev_open(path, SFS_BDEV_CREATE, NULL, &bdev)))
		die("create image", ret);
	if ((ret = mkfs_prepare(&o, &geo, &sbi)) ||
	    (ret = sfs_bdev_set_size(bdev, geo.block_count << geo.block_log)) ||
	    (ret = mkfs_write(&o, &sbi, bdev, &res)))
		die("mkfs", ret);
	sfs_bdev_close(bdev);
	sfs_sb_info_destroy(&sbi);
}

static struct sfs_fs *mount_image(const char *path, const char *opts)
{
	struct sfs_mount_opts o;
	struct sfs_fs *fs;
	char msg[256];
	int ret;

	sfs_mount_opts_default(&o);
	if (opts && sfs_mount_opts_parse(&o, opts, msg, sizeof(msg))) {
		fprintf(stderr, "pcbench: %s\n", msg);
		exit(1);
	}
	if ((ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg)))) {
		fprintf(stderr, "pcbench: mount: %s\n", msg);
		exit(1);
	}
	return fs;
}

static uint64_t new_file(struct sfs_fs *fs)
{
	struct sfs_cred cr = { .uid = 0, .gid = 0, .privileged = true };
	struct sfs_attr a;
	int ret;

	if ((ret = sfs_inode_create(fs, 2, S_IFREG | 0644, 0, &cr, &a)))
		die("create", ret);
	return a.ino;
}

static unsigned extents(struct sfs_fs *fs, uint64_t ino)
{
	static struct sfs_map m[4096];
	unsigned n;
	int ret;

	if ((ret = sfs_extent_map(fs, ino, 0, 1ull << 32, m, 4096, &n)))
		die("extent map", ret);
	return n;
}

static void throughput(const char *dir, uint64_t mib)
{
	static uint8_t big[1 << 20];
	char path[512];
	uint64_t ino, bytes = mib << 20;
	struct sfs_fs *fs;
	double t;

	snprintf(path, sizeof(path), "%s/pcbench-%d.img", dir, (int)getpid());
	make_image(path, bytes * 2 + (256ull << 20));
	memset(big, 0x3c, sizeof(big));
	for (size_t wsz = sizeof(big); wsz >= 4096; wsz = wsz == 4096 ? 0 : 4096) {
		fs = mount_image(path, NULL);
		ino = new_file(fs);
		t = now_s();
		for (uint64_t off = 0; off < bytes; off += wsz)
			if (sfs_write(fs, ino, big, wsz, off, 0, NULL) != (ssize_t)wsz)
				die("write", EIO);
		if (sfs_fsync(fs, ino, false))
			die("fsync", EIO);
		t = now_s() - t;
		printf("sequential write %4llu MiB in %7zu-byte writes + fsync: %8.1f MiB/s, "
		       "%u extents\n", (unsigned long long)mib, wsz, (double)mib / t,
		       extents(fs, ino));
		if (wsz == sizeof(big)) {
			/* cold read: a fresh mount has nothing cached */
			if (sfs_fs_unmount(fs))
				die("unmount", EIO);
			fs = mount_image(path, NULL);
			t = now_s();
			for (uint64_t off = 0; off < bytes; off += sizeof(big))
				if (sfs_read(fs, ino, big, sizeof(big), off) != (ssize_t)sizeof(big))
					die("read", EIO);
			t = now_s() - t;
			printf("sequential read  %4llu MiB in 1 MiB reads (cold):      %8.1f MiB/s\n",
			       (unsigned long long)mib, (double)mib / t);
		}
		if (sfs_fs_unmount(fs))
			die("unmount", EIO);
	}
	unlink(path);
}

static void small_files(const char *dir, uint64_t files)
{
	static uint8_t buf[16 << 10];
	struct sfs_pc_stats p0, p1;
	struct jnl_stats js;
	char path[512];
	struct sfs_fs *fs;
	double t;

	snprintf(path, sizeof(path), "%s/pcbench-small-%d.img", dir, (int)getpid());
	make_image(path, files * sizeof(buf) * 2 + (512ull << 20));
	fs = mount_image(path, NULL);
	memset(buf, 0x5c, sizeof(buf));
	sfs_pc_stats(fs, &p0);
	t = now_s();
	for (uint64_t i = 0; i < files; i++)
		if (sfs_write(fs, new_file(fs), buf, sizeof(buf), 0, 0, NULL) != (ssize_t)sizeof(buf))
			die("write", EIO);
	if (sfs_fs_sync(fs))
		die("sync", EIO);
	t = now_s() - t;
	sfs_pc_stats(fs, &p1);
	jnl_get_stats(fs->j, &js);
	printf("small files: %llu x 16 KiB + sync in %.2f s: %.0f files/s; writers waited for "
	       "journal credits %llu times (cap %llu log blocks), writeback handles %llu reserved, "
	       "%llu ordinary\n", (unsigned long long)files, t, (double)files / t,
	       (unsigned long long)(p1.jrsv_waits - p0.jrsv_waits), (unsigned long long)js.rsv_cap,
	       (unsigned long long)(p1.wb_rsv_starts - p0.wb_rsv_starts),
	       (unsigned long long)(p1.wb_plain_starts - p0.wb_plain_starts));
	if (getenv("PCBENCH_STATS")) {
		sfs_pc_print_stats(fs, stdout, 0);
		jnl_print_stats(fs->j, stdout, 0);
	}
	if (sfs_fs_unmount(fs))
		die("unmount", EIO);
	unlink(path);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void policy_run(const char *dir, uint64_t mib, const char *bw, enum mc_throttle_policy pol,
		       const char *name)
{
	static uint8_t buf[64 << 10];
	struct sfs_pc_tunables tun = { .dirty_ratio_pct = 90, .background_ratio_pct = 20,
				       .interval_ms = 200 };
	uint64_t n = (mib << 20) / sizeof(buf), *lat = malloc(n * sizeof(*lat)), ino;
	struct mc_config saved, c;
	struct mc_stats s0, s1;
	struct sfs_pc_stats ps;
	char path[512], opts[64], err[256];
	struct sfs_fs *fs;
	double t;

	mc_config_get(&saved);
	c = saved;
	c.budget = 8 << 20;
	c.wmark_min = c.wmark_low = c.wmark_high = 0;
	c.atomic_reserve = c.reclaim_reserve = 0;
	c.batch = 0;
	c.throttle_policy = pol;
	if (mc_configure(&c, err, sizeof(err))) {
		fprintf(stderr, "pcbench: %s\n", err);
		exit(1);
	}
	sfs_pc_tune(&tun);
	snprintf(path, sizeof(path), "%s/pcbench-pol-%d.img", dir, (int)getpid());
	make_image(path, (mib << 20) + (256ull << 20));
	snprintf(opts, sizeof(opts), "bdev=bw=%s", bw);
	fs = mount_image(path, opts);
	ino = new_file(fs);
	mc_stats_snapshot(&s0);
	t = now_s();
	for (uint64_t i = 0; i < n; i++) {
		uint64_t t0 = mc_monotonic_ns();

		ssize_t w = sfs_write(fs, ino, buf, sizeof(buf), i * sizeof(buf), 0, NULL);

		if (w != (ssize_t)sizeof(buf)) {
			if (getenv("PCBENCH_STATS"))
				mc_stats_print(stderr, 0, 400);
			die("write", w < 0 ? (int)w : EIO);
		}
		lat[i] = mc_monotonic_ns() - t0;
	}
	if (sfs_fsync(fs, ino, false))
		die("fsync", EIO);
	t = now_s() - t;
	mc_stats_snapshot(&s1);
	sfs_pc_stats(fs, &ps);
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%-10s bw %-4s %4llu MiB: %6.2f s total, asleep %6.2f s throttled + %5.2f s dirty "
	       "limit, p99 write %7.2f ms (max %7.2f), waits: woken %llu, timeouts %llu, "
	       "computed %llu; no clean page %llu times; stalls %llu\n",
	       name, bw, (unsigned long long)mib, t,
	       (double)(s1.throttle_ns[0] + s1.throttle_ns[1] - s0.throttle_ns[0] -
			s0.throttle_ns[1]) / 1e9, (double)ps.balance_ns / 1e9,
	       (double)lat[n * 99 / 100] / 1e6, (double)lat[n - 1] / 1e6,
	       (unsigned long long)(s1.throttle[0][MC_WAIT_WOKEN] + s1.throttle[1][MC_WAIT_WOKEN] -
				    s0.throttle[0][MC_WAIT_WOKEN] - s0.throttle[1][MC_WAIT_WOKEN]),
	       (unsigned long long)(s1.throttle[0][MC_WAIT_TIMEOUT] + s1.throttle[1][MC_WAIT_TIMEOUT] -
				    s0.throttle[0][MC_WAIT_TIMEOUT] - s0.throttle[1][MC_WAIT_TIMEOUT]),
	       (unsigned long long)(s1.throttle[0][MC_WAIT_COMPUTED] +
				    s1.throttle[1][MC_WAIT_COMPUTED] -
				    s0.throttle[0][MC_WAIT_COMPUTED] -
				    s0.throttle[1][MC_WAIT_COMPUTED]),
	       (unsigned long long)ps.shrink_no_clean, (unsigned long long)(s1.stalls - s0.stalls));
	fflush(stdout);
	if (sfs_fs_unmount(fs))
		die("unmount", EIO);
	unlink(path);
	free(lat);
	if (mc_configure(&saved, err, sizeof(err)))
		exit(1);
}

int main(int argc, char **argv)
{
	const char *dir = "/var/tmp";
	uint64_t mib = 1024, pmib = 512, files = 0;
	int opt, skip = 0;
	char err[256];

	while ((opt = getopt(argc, argv, "d:s:p:xf:")) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 's': mib = strtoull(optarg, NULL, 0); break;
		case 'p': pmib = strtoull(optarg, NULL, 0); break;
		case 'x': skip = 1; break;
		case 'f': files = strtoull(optarg, NULL, 0); break;
		default:
			fprintf(stderr, "usage: pcbench [-d DIR] [-s MiB] [-p MiB] [-x] [-f FILES]\n");
			return 2;
		}
	}
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "pcbench: %s\n", err);
		return 1;
	}
	if (!skip && mib)
		throughput(dir, mib);
	if (files)
		small_files(dir, files);
	if (!pmib)
		return 0;
	for (int b = 0; b < 2; b++) {
		const char *bw = b ? "200M" : "20M";

		policy_run(dir, pmib, bw, MC_POLICY_WRITEBACK, "writeback");
		policy_run(dir, pmib, bw, MC_POLICY_CONGESTION, "congestion");
		policy_run(dir, pmib, bw, MC_POLICY_RATE, "rate");
	}
	return 0;
}
