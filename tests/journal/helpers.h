/*
 * Shared by the journal tests: a scratch image holding a journal area and
 * a range of home blocks, opened through the block layer (O_DIRECT +
 * io_uring by default) and the buffer cache; block contents that say
 * which block and which version they are; allocation-budget fixtures.
 *
 * Image layout (4 KiB blocks): block 0 unused, the journal area from
 * block 1, the home blocks after it, one spare block at the end.
 * Images live in $SCOPEFS_TEST_DIR, else /var/tmp, else /tmp.
 */
#ifndef TESTS_JOURNAL_HELPERS_H
#define TESTS_JOURNAL_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "journal/format.h"
#include "journal/journal.h"
#include "tests/common/tcache.h"

#define J_BSIZE 4096u

struct jenv {
	char path[256];
	char wlog[300];
	struct jnl_area area;
	uint64_t home_start, home_blocks, nblocks;
	struct sfs_bdev *bdev;
	struct sfs_bcache *cache;
	struct jnl_journal *j;
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

/* A fresh image with a formatted journal of @jblocks and @home blocks. */
static inline void jenv_make(struct jenv *e, uint64_t jblocks, uint64_t home)
{
	struct sfs_bdev *bdev;
	int fd;

	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s/sfs-jnl-XXXXXX", scratch_dir());
	fd = mkstemp(e->path);
	assert_true(fd >= 0);
	e->nblocks = 1 + jblocks + home + 1;
	assert_int_equal(ftruncate(fd, (off_t)(e->nblocks * J_BSIZE)), 0);
	close(fd);
	snprintf(e->wlog, sizeof(e->wlog), "%s.wlog", e->path);
	e->area.block_size = J_BSIZE;
	e->area.start = 1;
	e->area.blocks = jblocks;
	for (int i = 0; i < 16; i++)
		e->area.uuid[i] = (uint8_t)(0xa0 + i * 7);
	e->home_start = 1 + jblocks;
	e->home_blocks = home;
	assert_int_equal(sfs_bdev_open(e->path, 0, NULL, &bdev), 0);
	assert_int_equal(jnl_format_area(bdev, &e->area), 0);
	sfs_bdev_close(bdev);
}

/* Open the device (with block-layer options, may be NULL) and a cache. */
static inline void jenv_open_dev(struct jenv *e, const char *opts)
{
	struct sfs_bcache_opts co = { .block_size = J_BSIZE, .name = "test_jnl_buffers" };
	struct sfs_bdev_opts o = { 0 };
	char err[256];

	if (opts && sfs_bdev_opts_parse(&o, opts, err, sizeof(err)))
		fail_msg("bad block options %s: %s", opts, err);
	assert_int_equal(sfs_bdev_open(e->path, 0, &o, &e->bdev), 0);
	assert_int_equal(sfs_bcache_create(e->bdev, &co, &e->cache), 0);
}

static inline void jenv_open(struct jenv *e, const char *opts, const struct jnl_config *cfg,
			     struct jnl_recovery_info *ri)
{
	jenv_open_dev(e, opts);
	assert_int_equal(jnl_open(e->cache, &e->area, cfg, ri, &e->j), 0);
}

/* Close the journal (returning its close status), the cache and the device. */
static inline int jenv_close(struct jenv *e)
{
	int ret = 0;

	if (e->j)
		ret = jnl_close(e->j);
	e->j = NULL;
	if (e->cache)
		sfs_bcache_destroy(e->cache);
	e->cache = NULL;
	if (e->bdev)
		sfs_bdev_close(e->bdev);
	e->bdev = NULL;
	return ret;
}

static inline void jenv_drop(struct jenv *e)
{
	jenv_close(e);
	unlink(e->path);
	unlink(e->wlog);
}

/* Home block @i of the image (absolute block number). */
static inline uint64_t home(const struct jenv *e, uint64_t i)
{
	return e->home_start + i;
}

/* Block @blk, version @ver: every 8-byte word says which; version 0 is a
 * zero block (the image as created). */
static inline void pattern_fill(void *buf, uint64_t blk, uint64_t ver)
{
	uint64_t *w = buf;

	if (!ver) {
		memset(buf, 0, J_BSIZE);
		return;
	}
	for (size_t i = 0; i < J_BSIZE / 8; i++)
		w[i] = (blk << 32) ^ (ver << 16) ^ i;
	/* a copy starting with a journal magic must survive escaping */
	if (ver % 7 == 3)
		w[0] = (w[0] & ~0xffffffffull) | JNL_MAGIC_DESC;
}

/* The version held in @buf for block @blk, or -1 if it is no version. */
static inline int64_t pattern_version(const void *buf, uint64_t blk)
{
	const uint64_t *w = buf;
	uint64_t tmp[J_BSIZE / 8], ver;
	size_t i;

	for (i = 0; i < J_BSIZE / 8 && !w[i]; i++)
		;
	if (i == J_BSIZE / 8)
		return 0;
	ver = ((w[1] ^ (blk << 32) ^ 1) >> 16);
	pattern_fill(tmp, blk, ver);
	return memcmp(tmp, buf, J_BSIZE) ? -1 : (int64_t)ver;
}

/* Change home block @i to version @ver under handle @h. */
static inline int jwrite(struct jenv *e, struct jnl_handle *h, uint64_t i, uint64_t ver)
{
	struct sfs_buf *bh;
	int ret;

	ret = sfs_buf_read(e->cache, home(e, i), NULL, 0, &bh);
	if (ret)
		return ret;
	ret = jnl_get_write_access(h, bh);
	if (!ret) {
		sfs_buf_lock(bh);
		pattern_fill(bh->data, home(e, i), ver);
		ret = jnl_dirty_metadata(h, bh);
		sfs_buf_unlock(bh);
	}
	sfs_buf_release(bh);
	return ret;
}

/* Version of home block @i on the device (synchronous read). */
static inline int64_t disk_version(struct sfs_bdev *bdev, const struct jenv *e, uint64_t i)
{
	static __thread uint8_t *buf;

	if (!buf)
		buf = aligned_alloc(4096, J_BSIZE);
	assert_int_equal(sfs_bdev_read(bdev, buf, J_BSIZE, home(e, i) * J_BSIZE), 0);
	return pattern_version(buf, home(e, i));
}

/* Reopen the device alone and run recovery. */
static inline int recover_image(struct jenv *e, unsigned flags, struct jnl_recovery_info *ri)
{
	struct sfs_bdev *bdev;
	int ret;

	assert_int_equal(sfs_bdev_open(e->path, 0, NULL, &bdev), 0);
	ret = jnl_recover(bdev, &e->area, flags, ri);
	sfs_bdev_close(bdev);
	return ret;
}

/* Versions of every home block on the image, into @out. */
static inline void image_versions(struct jenv *e, int64_t *out)
{
	struct sfs_bdev *bdev;

	assert_int_equal(sfs_bdev_open(e->path, 0, NULL, &bdev), 0);
	for (uint64_t i = 0; i < e->home_blocks; i++)
		out[i] = disk_version(bdev, e, i);
	sfs_bdev_close(bdev);
}

/*
 * Fill the log with committed transactions (version 1 of home blocks
 * *next, *next + 1, ... below @limit, recorded in @want) until only what
 * the reservations hold is left.  A transaction of k distinct blocks
 * takes k copies, one descriptor and a commit block, which is exactly
 * what a handle of k credits reserves; no remainder too small for one is
 * left.  Returns the stats at the end.
 */
static inline struct jnl_stats jfill_log(struct jenv *e, uint64_t *next, uint64_t limit,
					 int64_t *want)
{
	struct jnl_stats st;

	jnl_get_stats(e->j, &st);
	while (st.log_used + st.rsv_blocks < st.log_blocks) {
		uint64_t free_ = st.log_blocks - st.log_used - st.rsv_blocks;
		uint64_t k = st.max_txn_blocks - 2;
		struct jnl_handle *h;

		if (free_ < k + 2 || free_ - (k + 2) < 3)
			k = free_ - 2;
		assert_true(k >= 1 && *next + k <= limit);
		assert_int_equal(jnl_start(e->j, (unsigned)k, 0, &h), 0);
		for (uint64_t i = 0; i < k; i++, (*next)++) {
			assert_int_equal(jwrite(e, h, *next, 1), 0);
			want[*next] = 1;
		}
		assert_int_equal(jnl_stop(h), 0);
		assert_int_equal(jnl_force_commit(e->j), 0);
		jnl_get_stats(e->j, &st);
	}
	assert_int_equal(st.log_used + st.rsv_blocks, st.log_blocks);
	assert_int_equal(st.checkpoint_waits, 0);
	return st;
}

/* A thread starting a one-credit handle on a full log (it must
 * checkpoint first) and changing block @blk to @ver. */
struct full_starter {
	struct jenv *e;
	uint64_t blk, ver;
	_Atomic int done;
	int ret;
	pthread_t th;
	struct sfs_buf *pinned;      /* home block 0, locked: its checkpoint waits */
};

static inline void *start_on_full_log(void *arg)
{
	struct full_starter *s = arg;
	struct jnl_handle *h;

	s->ret = jnl_start(s->e->j, 1, 0, &h);
	if (!s->ret) {
		s->ret = jwrite(s->e, h, s->blk, s->ver);
		if (jnl_stop(h) && !s->ret)
			s->ret = -EIO;
	}
	s->done = 1;
	return NULL;
}

static inline uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static inline uint64_t now_ms(void)
{
	return mc_monotonic_ns() / 1000000ull;
}

/* On a log filled by jfill_log: lock home block 0 (it went home with the
 * oldest transaction, so its checkpoint cannot finish), start the thread,
 * and return once it waits for that checkpoint. */
static inline struct jnl_stats full_starter_begin(struct full_starter *s, struct jenv *e,
						  uint64_t blk, uint64_t ver)
{
	struct jnl_stats st;
	uint64_t t0;

	*s = (struct full_starter){ .e = e, .blk = blk, .ver = ver };
	assert_int_equal(sfs_buf_read(e->cache, home(e, 0), NULL, 0, &s->pinned), 0);
	sfs_buf_lock(s->pinned);
	assert_int_equal(pthread_create(&s->th, NULL, start_on_full_log, s), 0);
	t0 = now_ms();
	do {
		assert_true(now_ms() - t0 < 10000);
		usleep(1000);
		jnl_get_stats(e->j, &st);
	} while (!st.checkpoint_waits);
	return st;
}

/* Let the checkpoint finish; the thread's handle then completes. */
static inline void full_starter_end(struct full_starter *s)
{
	sfs_buf_unlock(s->pinned);
	sfs_buf_release(s->pinned);
	assert_int_equal(pthread_join(s->th, NULL), 0);
	assert_int_equal(s->ret, 0);
}

/* ---- the allocator: configuration, reports, a cache with a shrinker ---- */

static inline void setup_alloc(const char *opts)
{
	struct mc_config c;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.background_reclaim = 1;
	c.debug_abort = 1;
	if (getenv("SCOPEFS_ALLOC"))
		assert_int_equal(mc_config_parse(&c, getenv("SCOPEFS_ALLOC"), err, sizeof(err)), 0);
	if (opts)
		assert_int_equal(mc_config_parse(&c, opts, err, sizeof(err)), 0);
	if (mc_configure(&c, err, sizeof(err)))
		fail_msg("configure %s: %s", opts ? opts : "(defaults)", err);
}

static inline int suite_init(void **state)
{
	char err[256];

	(void)state;
	if (mc_init(NULL, err, sizeof(err))) {
		fprintf(stderr, "mc_init: %s\n", err);
		return -1;
	}
	return 0;
}

/* The reclaimable test cache (tests/common/tcache.h), counting calls made
 * from inside a journal handle into calls_in_context. */
static inline bool tcache_in_handle(void)
{
	return jnl_current() != NULL;
}

static inline void tcache_init_jnl(struct tcache *c, const char *name, mc_flags_t needs,
				   size_t objsize)
{
	tcache_init(c, name, needs, objsize);
	c->in_context = tcache_in_handle;
}

#endif
