/*
 * jnlbench: what the journal costs, on a 4 KiB-block image through the
 * block layer (O_DIRECT + io_uring by default).
 *
 *   jnlbench [-d DIR] [-t SECONDS] [-o BDEV_OPTS] [-r RING_BLOCKS]
 *
 * sync-commit   one handle changing one block, then a forced commit
 *               (jnl_commit_tid), in a loop: synchronous commits per second,
 *               i.e. what an fsync that needs a commit costs.  Ordered mode
 *               (flush, commit block, flush) and writeback mode (one flush).
 * large-txn     transactions of 2,048 changed blocks each, committed one
 *               after another into a 256 MiB log that never needs a
 *               checkpoint: journal write throughput in MiB/s of log blocks.
 * sustained     transactions of 1,024 blocks into a 32 MiB log, four times
 *               its size, so checkpoints (home writes, tail updates) are in
 *               the figure.
 * Not a test; run it on a release build.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "journal/journal.h"

#define BS 4096u

struct env {
	char path[300];
	struct sfs_bdev *bdev;
	struct sfs_bcache *cache;
	struct jnl_journal *j;
	struct jnl_area area;
	uint64_t home_start;
};

static const char *dir = "/var/tmp";
static const char *bdev_opts;
static unsigned seconds = 5, ring;

static int die(const char *what, int err)
{
	fprintf(stderr, "jnlbench: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static void env_open(struct env *e, uint64_t jblocks, uint64_t home, enum jnl_data_mode mode)
{
	struct sfs_bcache_opts co = { .block_size = BS, .name = "jnlbench" };
	struct jnl_config cfg = { .mode = mode, .ring_blocks = ring };
	struct sfs_bdev_opts o = { 0 };
	char err[256];
	int fd, ret;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s/jnlbench-XXXXXX", dir);
	fd = mkstemp(e->path);
	if (fd < 0 || ftruncate(fd, (off_t)((2 + jblocks + home) * BS)))
		die("image", errno);
	close(fd);
	if (bdev_opts && sfs_bdev_opts_parse(&o, bdev_opts, err, sizeof(err))) {
		fprintf(stderr, "jnlbench: %s\n", err);
		exit(1);
	}
	ret = sfs_bdev_open(e->path, 0, &o, &e->bdev);
	if (ret)
		die("open", ret);
	e->area = (struct jnl_area){ .block_size = BS, .start = 1, .blocks = jblocks,
				     .uuid = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 } };
	e->home_start = 1 + jblocks;
	ret = jnl_format_area(e->bdev, &e->area);
	if (!ret)
		ret = sfs_bcache_create(e->bdev, &co, &e->cache);
	if (!ret)
		ret = jnl_open(e->cache, &e->area, &cfg, NULL, &e->j);
	if (ret)
		die("journal", ret);
}

static void env_close(struct env *e)
{
	int ret = jnl_close(e->j);

	if (ret)
		die("close", ret);
	sfs_bcache_destroy(e->cache);
	sfs_bdev_close(e->bdev);
	unlink(e->path);
}

static void change(struct env *e, struct jnl_handle *h, uint64_t b, uint64_t v)
{
	struct sfs_buf *bh;
	int ret;

	/* new blocks the first time, then the cached buffer */
	bh = sfs_buf_find(e->cache, e->home_start + b);
	ret = bh ? 0 : sfs_buf_get(e->cache, e->home_start + b, NULL, SFS_BUF_NEW, &bh);
	if (!ret)
		ret = jnl_get_write_access(h, bh);
	if (ret)
		die("write access", ret);
	sfs_buf_lock(bh);
	memset(bh->data, (int)(v & 0xff), 64);
	ret = jnl_dirty_metadata(h, bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	if (ret)
		die("dirty", ret);
}

static void sync_commits(enum jnl_data_mode mode)
{
	struct env e;
	uint64_t n = 0, t0, dt, v = 0;
	struct jnl_stats st;

	env_open(&e, 8192, 1024, mode);
	t0 = mc_monotonic_ns();
	do {
		struct jnl_handle *h;
		jnl_tid_t tid;
		int ret = jnl_start(e.j, 1, 0, &h);

		if (ret)
			die("start", ret);
		change(&e, h, v % 1024, v);
		v++;
		tid = jnl_handle_tid(h);
		jnl_stop(h);
		ret = jnl_commit_tid(e.j, tid);
		if (ret)
			die("commit", ret);
		n++;
		dt = mc_monotonic_ns() - t0;
	} while (dt < seconds * 1000000000ull);
	jnl_get_stats(e.j, &st);
	printf("sync-commit  %-9s  %8.0f commits/s  (%llu commits, %.0f us each; "
	       "commit latency p50 <%llu us p99 <%llu us; %.2f flushes/commit)\n",
	       mode == JNL_DATA_ORDERED ? "ordered" : "writeback", (double)n * 1e9 / (double)dt,
	       (unsigned long long)n, (double)dt / 1000.0 / (double)n,
	       (unsigned long long)(st.commit_ns_p50 / 1000),
	       (unsigned long long)(st.commit_ns_p99 / 1000),
	       (double)st.log_flushes / (double)(st.commits ? st.commits : 1));
	env_close(&e);
}

static void large_txns(const char *name, uint64_t jblocks, unsigned per_txn,
		       uint64_t total_blocks)
{
	const unsigned home = 8192;
	struct jnl_stats st;
	struct env e;
	uint64_t t0, dt, logged = 0, v = 0;

	env_open(&e, jblocks, home, JNL_DATA_ORDERED);
	t0 = mc_monotonic_ns();
	while (logged < total_blocks) {
		struct jnl_handle *h;
		jnl_tid_t tid;
		int ret = jnl_start(e.j, per_txn, 0, &h);

		if (ret)
			die("start", ret);
		for (unsigned i = 0; i < per_txn; i++)
			change(&e, h, (v * per_txn + i) % home, v);
		v++;
		tid = jnl_handle_tid(h);
		jnl_stop(h);
		ret = jnl_commit_tid(e.j, tid);
		if (ret)
			die("commit", ret);
		jnl_get_stats(e.j, &st);
		logged = st.log_blocks_written;
	}
	dt = mc_monotonic_ns() - t0;
	jnl_get_stats(e.j, &st);
	printf("%-12s %7.1f MiB/s of log  (%llu MiB in %.2f s, %llu commits, %llu checkpoint waits, "
	       "%llu blocks written home)\n",
	       name, (double)st.bytes_logged / 1048576.0 / ((double)dt / 1e9),
	       (unsigned long long)(st.bytes_logged >> 20), (double)dt / 1e9,
	       (unsigned long long)st.commits, (unsigned long long)st.checkpoint_waits,
	       (unsigned long long)st.checkpoint_writes);
	env_close(&e);
}

int main(int argc, char **argv)
{
	char err[256], desc[128];
	int c;

	while ((c = getopt(argc, argv, "d:t:o:r:")) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 't': seconds = (unsigned)atoi(optarg); break;
		case 'o': bdev_opts = optarg; break;
		case 'r': ring = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: jnlbench [-d DIR] [-t SECONDS] [-o BDEV_OPTS] "
				"[-r RING_BLOCKS]\n");
			return 2;
		}
	}
	if (mc_init(NULL, err, sizeof(err)))
		return fprintf(stderr, "jnlbench: %s\n", err), 1;
	{
		struct env e;

		env_open(&e, 64, 8, JNL_DATA_ORDERED);
		printf("device: %s, 4 KiB blocks, staging ring %u blocks\n",
		       sfs_bdev_describe(e.bdev, desc, sizeof(desc)), ring ? ring : 128);
		env_close(&e);
	}
	sync_commits(JNL_DATA_ORDERED);
	sync_commits(JNL_DATA_WRITEBACK);
	large_txns("large-txn", 65536, 2048, 256 * 256);   /* 256 MiB through a 256 MiB log */
	large_txns("sustained", 8192, 1024, 4 * 8192);     /* 128 MiB through a 32 MiB log */
	mc_shutdown();
	return 0;
}
