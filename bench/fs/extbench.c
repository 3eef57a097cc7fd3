/*
 * extbench: the cost of extent lookup, insert and remove as a file's
 * extent tree grows (issue 7 asks: at 10^6 extents at most 3x the cost
 * at 10^3).
 *
 * For each size N the benchmark builds one file of N single-block
 * extents at even logical blocks (so they cannot merge), on a fresh
 * sparse image made with the library's mkfs code, then measures with the
 * tree warm in the buffer cache:
 *   lookup  sfs_ext_lookup of random logical blocks (mapped or not)
 *   insert  a block allocated and inserted into a random odd hole, each
 *           in its own journal handle (allocator, bitmaps, tree, journal)
 *   remove  a random single extent removed and its block freed, each in
 *           its own handle
 * Inserts and removes balance, so the size stays N.  Also the mapping
 * path of issue 9, sfs_es_map_lookup, with the extent status cache warm
 * (map+es) and bypassed (map-tree).  Times are per
 * operation, medians of the rounds.  Run the release build:
 *   build-rel/bench/fs/extbench [--sizes 1000,100000,1000000] [--ops 20000]
 *                               [--dir /var/tmp] [--fanout N]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/balloc.h"
#include "fs/block/bdev.h"
#include "fs/es/es_map.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/format/geometry.h"
#include "fs/inode.h"
#include "fs/super.h"
#include "mkfs/mkfs.h"

static unsigned rstate = 12345;
static unsigned lookups_per_round;   /* 0 = 4 x ops */

static uint32_t rnd(uint32_t n)
{
	rstate ^= rstate << 13;
	rstate ^= rstate >> 17;
	rstate ^= rstate << 5;
	return rstate % n;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "extbench: %s: %s\n", what, strerror(-err));
	exit(1);
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
	o.reserved_pct_x100 = 0;
	o.quiet = true;
	if (sfs_geo_compute(&o.geo, &geo, msg, sizeof(msg))) {
		fprintf(stderr, "extbench: %s\n", msg);
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

/* Insert [lblk] with a fresh block, inside @t. */
static void insert_one(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk, uint64_t goal)
{
	struct sfs_alloc_req req = { .lblk = lblk, .goal = goal, .len = 1 };
	struct sfs_extent e = { .lblk = lblk, .len = 1 };
	uint32_t got;
	int ret;

	if ((ret = sfs_inode_access(t, ip, false)) || (ret = sfs_balloc(t, &req, &e.pblk, &got)))
		die("allocate", ret);
	if ((ret = sfs_ext_insert(t, ip, &e, 0)))
		die("insert", ret);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.blocks++;
	mc_mutex_unlock(&ip->attr_lock);
	if ((ret = sfs_inode_commit(t, ip)))
		die("inode", ret);
}

struct result {
	uint64_t n;
	unsigned depth;
	uint64_t nodes;
	double lookup_ns, insert_ns, remove_ns, build_s;
	double map_cached_ns, map_bypass_ns;   /* sfs_es_map_lookup with / without the cache */
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run(const char *dir, uint64_t n, unsigned ops, const char *mopts, struct result *r)
{
	struct sfs_mount_opts o;
	struct sfs_fs *fs;
	struct sfs_inode_info *ip;
	struct sfs_attr a;
	struct sfs_ext_stats st;
	char path[512], msg[256];
	double t0, lk[5], in[5], rm[5];
	int ret;

	snprintf(path, sizeof(path), "%s/extbench-%d.img", dir, (int)getpid());
	/* n data blocks + tree + slack, at least 256 MiB. */
	make_image(path, ((n * 2 + 65536) * 4096) > (256ull << 20) ? (n * 2 + 65536) * 4096
								  : (256ull << 20));
	sfs_mount_opts_default(&o);
	if (mopts && sfs_mount_opts_parse(&o, mopts, msg, sizeof(msg)))
		die(msg, -EINVAL);
	if ((ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg)))) {
		fprintf(stderr, "extbench: mount: %s\n", msg);
		exit(1);
	}
	if ((ret = sfs_inode_create(fs, 2, 0100644, 0, NULL, &a)) || (ret = sfs_iget(fs, a.ino, &ip)))
		die("create", ret);

	/* Build: appends, many per handle. */
	t0 = now();
	mc_write_lock(&ip->data_sem);
	for (uint64_t i = 0; i < n;) {
		struct sfs_trans t;

		if ((ret = sfs_trans_start(fs, 64 * 8 + sfs_ext_credits(ip), 0, &t)))
			die("handle", ret);
		for (unsigned k = 0; k < 64 && i < n; k++, i++)
			insert_one(&t, ip, (uint32_t)(2 * i), 0);
		if ((ret = sfs_trans_stop(&t)))
			die("stop", ret);
	}
	mc_rw_unlock(&ip->data_sem);
	r->build_s = now() - t0;
	mc_read_lock(&ip->data_sem);
	if ((ret = sfs_ext_check(ip, &st, msg, sizeof(msg))))
		fprintf(stderr, "extbench: tree check: %s\n", msg);
	mc_rw_unlock(&ip->data_sem);
	r->n = n;
	r->depth = st.depth;
	r->nodes = st.nodes;

	/* The mapping path (issue 9): status cache in front of the tree, warm,
	 * against the same lookups straight to the tree (cache bypassed). */
	{
		unsigned nl = lookups_per_round ? lookups_per_round : 200000;
		struct sfs_es_extent ee;
		volatile int sink = 0;

		mc_read_lock(&ip->data_sem);
		for (int pass = 0; pass < 2; pass++) {      /* fill, then measure */
			rstate = 777;
			t0 = now();
			for (unsigned k = 0; k < nl; k++)
				sink += sfs_es_map_lookup(ip, rnd((uint32_t)(2 * n)), 0, &ee);
			r->map_cached_ns = (now() - t0) / nl * 1e9;
		}
		sfs_es_map_bypass(true);
		rstate = 777;
		t0 = now();
		for (unsigned k = 0; k < nl; k++)
			sink += sfs_es_map_lookup(ip, rnd((uint32_t)(2 * n)), 0, &ee);
		r->map_bypass_ns = (now() - t0) / nl * 1e9;
		sfs_es_map_bypass(false);
		mc_rw_unlock(&ip->data_sem);
		(void)sink;
	}

	/* At most half the holes: the size must stay about n. */
	if (ops > n / 2)
		ops = (unsigned)(n / 2);
	for (int round = 0; round < 5; round++) {
		uint32_t *holes = malloc(sizeof(uint32_t) * ops);
		struct sfs_extent e;
		volatile int sink = 0;

		/* lookups */
		mc_read_lock(&ip->data_sem);
		unsigned nl = lookups_per_round ? lookups_per_round : ops * 4;

		t0 = now();
		for (unsigned k = 0; k < nl; k++)
			sink += sfs_ext_lookup(ip, rnd((uint32_t)(2 * n)), 0, &e);
		lk[round] = (now() - t0) / nl * 1e9;
		mc_rw_unlock(&ip->data_sem);
		(void)sink;

		/* inserts into odd holes, one handle each */
		mc_write_lock(&ip->data_sem);
		t0 = now();
		for (unsigned k = 0; k < ops; k++) {
			struct sfs_trans t;
			uint32_t l;

			do
				l = 2 * rnd((uint32_t)n) + 1;
			while (sfs_ext_lookup(ip, l, 0, &e) == 1);
			holes[k] = l;
			if ((ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 8, 0, &t)))
				die("handle", ret);
			insert_one(&t, ip, l, 0);
			if ((ret = sfs_trans_stop(&t)))
				die("stop", ret);
		}
		in[round] = (now() - t0) / ops * 1e9;

		/* removals of what was inserted: random order, one handle each */
		for (unsigned k = ops; k > 1; k--) {
			uint32_t j = rnd(k), tmp = holes[k - 1];

			holes[k - 1] = holes[j];
			holes[j] = tmp;
		}
		t0 = now();
		for (unsigned k = 0; k < ops; k++) {
			struct sfs_trans t;
			uint64_t freed;

			if ((ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 8, 0, &t)))
				die("handle", ret);
			if ((ret = sfs_ext_remove(&t, ip, holes[k], (uint64_t)holes[k] + 1, 0, &freed)))
				die("remove", ret);
			if ((ret = sfs_trans_stop(&t)))
				die("stop", ret);
		}
		rm[round] = (now() - t0) / ops * 1e9;
		mc_rw_unlock(&ip->data_sem);
		free(holes);
	}
	qsort(lk, 5, sizeof(double), cmp_double);
	qsort(in, 5, sizeof(double), cmp_double);
	qsort(rm, 5, sizeof(double), cmp_double);
	r->lookup_ns = lk[2];
	r->insert_ns = in[2];
	r->remove_ns = rm[2];
	sfs_iput(ip);
	if ((ret = sfs_fs_unmount(fs)))
		die("unmount", ret);
	unlink(path);
}

int main(int argc, char **argv)
{
	uint64_t sizes[8] = { 1000, 100000, 1000000 };
	unsigned nsizes = 3, ops = 20000;
	const char *dir = "/var/tmp", *mopts = NULL;
	struct result r[8];
	char err[256];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
			char *s = argv[++i];

			nsizes = 0;
			while (*s && nsizes < 8) {
				sizes[nsizes++] = strtoull(s, &s, 0);
				if (*s == ',')
					s++;
			}
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--lookups") && i + 1 < argc) {
			lookups_per_round = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--opts") && i + 1 < argc) {
			mopts = argv[++i];
		} else {
			fprintf(stderr, "usage: extbench [--sizes N,N,..] [--ops N] [--lookups N] [--dir DIR] "
				"[--opts MOUNTOPTS]\n");
			return 2;
		}
	}
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "extbench: %s\n", err);
		return 1;
	}
	printf("%10s %5s %8s %10s %10s %10s %8s %12s %12s\n", "extents", "depth", "tree blk",
	       "lookup ns", "insert ns", "remove ns", "build s", "map+es ns", "map-tree ns");
	for (unsigned i = 0; i < nsizes; i++) {
		run(dir, sizes[i], ops, mopts, &r[i]);
		printf("%10llu %5u %8llu %10.0f %10.0f %10.0f %8.2f %12.0f %12.0f\n",
		       (unsigned long long)r[i].n, r[i].depth, (unsigned long long)r[i].nodes,
		       r[i].lookup_ns, r[i].insert_ns, r[i].remove_ns, r[i].build_s,
		       r[i].map_cached_ns, r[i].map_bypass_ns);
		fflush(stdout);
	}
	if (nsizes > 1)
		printf("largest / smallest: lookup %.2fx, insert %.2fx, remove %.2fx\n",
		       r[nsizes - 1].lookup_ns / r[0].lookup_ns, r[nsizes - 1].insert_ns / r[0].insert_ns,
		       r[nsizes - 1].remove_ns / r[0].remove_ns);
	mc_shutdown();
	return 0;
}
