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
 * (map+es) and bypassed (map-tree), alternating, five rounds each.  Times
 * are per operation, medians of the rounds; --cpu measures the thread's
 * CPU time instead of the wall clock (steadier on a shared machine).
 *
 * --truncate adds, per size, the issue-9 truncate figures: a file of N
 * single-block extents (alternately unwritten, every other block) truncated
 * to zero through sfs_setattr, its blocks mapped once before (status
 * cache and tree blocks cached), once with no budget and once inside an
 * 8 MiB budget (background reclaim on), with alloc/'s counters: NOFAIL
 * loops, reclaim passes, time throttled.  Run the release build:
 *   build-rel/bench/fs/extbench [--sizes 1000,100000,1000000] [--ops 20000]
 *        [--lookups N] [--cpu] [--truncate] [--dir /var/tmp] [--opts MOUNTOPTS]
 */
#include <errno.h>
#include <pthread.h>
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
#include "fs/fs.h"
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

static clockid_t clk = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
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
	double es_hit;                         /* of the cached lookups, hits */
	uint64_t es_nodes;                     /* extents the status cache held */
	uint64_t es_leaves;                    /* in this many leaves */
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
	 * against the same lookups straight to the tree (cache bypassed),
	 * alternating so both see the same machine. */
	{
		unsigned nl = lookups_per_round ? lookups_per_round : 200000;
		struct sfs_es_extent ee;
		volatile int sink = 0;
		double es[5], tr[5];

		struct sfs_es_stats s0, s1;

		mc_read_lock(&ip->data_sem);
		for (uint32_t b = 0; b < 2 * n; b++)        /* fill the whole cache */
			sink += sfs_es_map_lookup(ip, b, 0, &ee);
		sfs_es_stats(fs->es, &s0);
		for (int round = 0; round < 5; round++) {
			rstate = 777 + round;
			t0 = now();
			for (unsigned k = 0; k < nl; k++)
				sink += sfs_es_map_lookup(ip, rnd((uint32_t)(2 * n)), 0, &ee);
			es[round] = (now() - t0) / nl * 1e9;
			sfs_es_map_bypass(true);
			rstate = 777 + round;
			t0 = now();
			for (unsigned k = 0; k < nl; k++)
				sink += sfs_es_map_lookup(ip, rnd((uint32_t)(2 * n)), 0, &ee);
			tr[round] = (now() - t0) / nl * 1e9;
			sfs_es_map_bypass(false);
		}
		mc_rw_unlock(&ip->data_sem);
		(void)sink;
		/* A cache that could not hold the file is measured missing. */
		sfs_es_stats(fs->es, &s1);
		r->es_hit = s1.lookups > s0.lookups ?
			    (double)(s1.hits - s0.hits) / (double)(s1.lookups - s0.lookups) : 0;
		r->es_nodes = s1.nodes;
		r->es_leaves = s1.leaves;
		qsort(es, 5, sizeof(double), cmp_double);
		qsort(tr, 5, sizeof(double), cmp_double);
		r->map_cached_ns = es[2];
		r->map_bypass_ns = tr[2];
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

/* A truncate still running after 10 s: alloc/'s statistics, once, to see
 * where the memory is. */
static volatile int trunc_done;

static void *trunc_watch(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100 && !trunc_done; i++)
		usleep(100000);
	if (!trunc_done) {
		fprintf(stderr, "extbench: truncate still running after 10 s:\n");
		mc_stats_print(stderr, 0, 12);
	}
	return NULL;
}

/*
 * Truncate a file of @n single-block extents (alternately unwritten,
 * every other block) to zero, inside @budget bytes (0 = none): time, and
 * alloc/'s NOFAIL loops, reclaim passes and time throttled over it.
 */
static void run_truncate(const char *dir, uint64_t n, size_t budget, const char *mopts)
{
	struct sfs_mount_opts o;
	struct sfs_setattr sa = { .valid = SFS_SET_SIZE };
	struct mc_config cfg, old;
	struct mc_stats a, b;
	struct sfs_fs *fs;
	struct sfs_inode_info *ip;
	struct sfs_attr at;
	char path[512], msg[256];
	uint64_t ino, thr = 0;
	struct timespec w0, w1;
	pthread_t watch;
	double t;
	int ret;

	snprintf(path, sizeof(path), "%s/extbench-trunc-%d.img", dir, (int)getpid());
	make_image(path, ((n * 2 + 65536) * 4096) > (256ull << 20) ? (n * 2 + 65536) * 4096
								  : (256ull << 20));
	sfs_mount_opts_default(&o);
	if (mopts && sfs_mount_opts_parse(&o, mopts, msg, sizeof(msg)))
		die(msg, -EINVAL);
	if ((ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg)))) {
		fprintf(stderr, "extbench: mount: %s\n", msg);
		exit(1);
	}
	if ((ret = sfs_inode_create(fs, 2, 0100644, 0, NULL, &at)))
		die("create", ret);
	ino = at.ino;
	if ((ret = sfs_iget(fs, ino, &ip)))
		die("iget", ret);
	mc_write_lock(&ip->data_sem);
	for (uint64_t i = 0; i < n;) {
		struct sfs_trans tr;

		if ((ret = sfs_trans_start(fs, 64 * 8 + sfs_ext_credits(ip), 0, &tr)))
			die("handle", ret);
		for (unsigned k = 0; k < 64 && i < n; k++, i++)
			insert_one(&tr, ip, (uint32_t)(2 * i), 0);
		if ((ret = sfs_trans_stop(&tr)))
			die("stop", ret);
	}
	/* In use: every block mapped once, so the status cache and the tree
	 * blocks are cached and the budget has something to reclaim. */
	for (uint32_t blk = 0; blk < 2 * n; blk++) {
		struct sfs_es_extent ee;

		if ((ret = sfs_es_map_lookup(ip, blk, 0, &ee)))
			die("map", ret);
	}
	mc_rw_unlock(&ip->data_sem);
	sfs_iput(ip);
	sa.size = 2 * n * 4096;
	if ((ret = sfs_setattr(fs, ino, &sa, NULL, NULL)) || (ret = sfs_fs_sync(fs)) ||
	    (ret = sfs_inode_hold(fs, ino)))
		die("size", ret);

	mc_config_get(&old);
	cfg = old;
	cfg.budget = budget;
	if (mc_configure(&cfg, msg, sizeof(msg))) {
		fprintf(stderr, "extbench: budget: %s\n", msg);
		exit(1);
	}
	mc_stats_snapshot(&a);
	sa.size = 0;
	/* The wall clock even with --cpu: the journal's and the reclaimer's
	 * threads work for the truncate too. */
	trunc_done = 0;
	if (pthread_create(&watch, NULL, trunc_watch, NULL))
		die("thread", -EAGAIN);
	clock_gettime(CLOCK_MONOTONIC, &w0);
	ret = sfs_setattr(fs, ino, &sa, NULL, NULL);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	trunc_done = 1;
	pthread_join(watch, NULL);
	t = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
	mc_stats_snapshot(&b);
	if (ret)
		die("truncate", ret);
	if (mc_configure(&old, msg, sizeof(msg)))
		fprintf(stderr, "extbench: budget back: %s\n", msg);
	for (int i = 0; i < MC_THROTTLE_NR; i++)
		thr += b.throttle_ns[i] - a.throttle_ns[i];
	printf("truncate %8llu extents  budget %-9s %8.3f s  NOFAIL loops %llu (+%llu injected)  "
	       "reclaim direct %llu background %llu  throttled %.3f s  stalls %llu\n",
	       (unsigned long long)n, budget ? "8 MiB" : "none", t,
	       (unsigned long long)(b.nofail_loops - a.nofail_loops),
	       (unsigned long long)(b.nofail_injected_loops - a.nofail_injected_loops),
	       (unsigned long long)(b.reclaim_direct - a.reclaim_direct),
	       (unsigned long long)(b.reclaim_background - a.reclaim_background),
	       (double)thr / 1e9, (unsigned long long)(b.stalls - a.stalls));
	fflush(stdout);
	if ((ret = sfs_inode_release(fs, ino)) || (ret = sfs_fs_unmount(fs)))
		die("unmount", ret);
	unlink(path);
}

int main(int argc, char **argv)
{
	uint64_t sizes[8] = { 1000, 100000, 1000000 };
	unsigned nsizes = 3, ops = 20000;
	const char *dir = "/var/tmp", *mopts = NULL;
	bool trunc = false;
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
		} else if (!strcmp(argv[i], "--cpu")) {
			clk = CLOCK_THREAD_CPUTIME_ID;
		} else if (!strcmp(argv[i], "--truncate")) {
			trunc = true;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--opts") && i + 1 < argc) {
			mopts = argv[++i];
		} else {
			fprintf(stderr, "usage: extbench [--sizes N,N,..] [--ops N] [--lookups N] [--cpu] "
				"[--truncate] [--dir DIR] [--opts MOUNTOPTS]\n");
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
	for (unsigned i = 0; i < nsizes; i++)
		printf("lookups per second at %llu extents: %.2f M with the status cache "
		       "(%.1f%% hits, %llu cached extents in %llu leaves), %.2f M through the tree\n",
		       (unsigned long long)r[i].n, 1e3 / r[i].map_cached_ns, 100 * r[i].es_hit,
		       (unsigned long long)r[i].es_nodes, (unsigned long long)r[i].es_leaves,
		       1e3 / r[i].map_bypass_ns);
	for (unsigned i = 0; trunc && i < nsizes; i++) {
		run_truncate(dir, sizes[i], 0, mopts);
		run_truncate(dir, sizes[i], 8u << 20, mopts);
	}
	if (nsizes > 1)
		printf("largest / smallest: lookup %.2fx, insert %.2fx, remove %.2fx\n",
		       r[nsizes - 1].lookup_ns / r[0].lookup_ns, r[nsizes - 1].insert_ns / r[0].insert_ns,
		       r[nsizes - 1].remove_ns / r[0].remove_ns);
	mc_shutdown();
	return 0;
}
