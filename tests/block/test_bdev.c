/*
 * The block layer in each mode: io_uring+O_DIRECT, io_uring buffered,
 * pread+O_DIRECT, pread buffered — concurrent readers and writers that
 * verify every byte, batched async bios, flush ordering, bouncing of
 * unaligned synchronous calls, and error reporting.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#define BS        4096u
#define NR_BLOCKS 4096u              /* 16 MiB image */
#define WRITERS   3
#define READERS   2
#define ROUNDS    4
#define PER_WRITER 256u              /* blocks owned by each writer */
#define RO_FIRST  (WRITERS * PER_WRITER)  /* read-only region after theirs */
#define RO_COUNT  512u

static const char *const modes[] = {
	"engine=uring,cache=direct",
	"engine=uring,cache=buffered",
	"engine=psync,cache=direct",
	"engine=psync,cache=buffered",
};

struct rw_ctx {
	struct sfs_bdev *bdev;
	unsigned id;
	int failures;
};

struct batch {
	mc_mutex_t lock;
	pthread_cond_t cond;
	unsigned left;
	int errors;
};

static void batch_end_io(struct sfs_bio *bio)
{
	struct batch *b = bio->private;

	mc_mutex_lock(&b->lock);
	if (bio->error)
		b->errors++;
	if (--b->left == 0)
		pthread_cond_broadcast(&b->cond);
	mc_mutex_unlock(&b->lock);
}

static void batch_init(struct batch *b, unsigned n)
{
	mc_mutex_init(&b->lock, "test.batch");
	mc_cond_init(&b->cond);
	b->left = n;
	b->errors = 0;
}

static int batch_wait(struct batch *b)
{
	mc_mutex_lock(&b->lock);
	while (b->left)
		mc_cond_wait(&b->cond, &b->lock);
	mc_mutex_unlock(&b->lock);
	pthread_cond_destroy(&b->cond);
	mc_mutex_destroy(&b->lock);
	return b->errors;
}

/* A writer owns PER_WRITER blocks: each round rewrites them all in one
 * async batch, then reads them back one by one synchronously. */
static void *writer_main(void *arg)
{
	struct rw_ctx *c = arg;
	uint64_t first = (uint64_t)c->id * PER_WRITER;
	uint8_t *bufs = mc_alloc((size_t)PER_WRITER * BS, MC_KERNEL);
	uint8_t *rd = mc_alloc(BS, MC_KERNEL);
	struct sfs_bio *bios = mc_zalloc(PER_WRITER * sizeof(*bios), MC_KERNEL);
	struct sfs_bio **ptrs = mc_zalloc(PER_WRITER * sizeof(*ptrs), MC_KERNEL);
	unsigned r, i;

	for (r = 1; r <= ROUNDS; r++) {
		struct batch b;

		batch_init(&b, PER_WRITER);
		for (i = 0; i < PER_WRITER; i++) {
			pattern_fill(bufs + (size_t)i * BS, BS, first + i, r);
			bios[i] = (struct sfs_bio){ .op = SFS_BIO_WRITE, .buf = bufs + (size_t)i * BS,
						    .len = BS, .off = (first + i) * BS,
						    .end_io = batch_end_io, .private = &b };
			ptrs[i] = &bios[i];
		}
		sfs_bdev_submit_batch(c->bdev, ptrs, PER_WRITER);
		c->failures += batch_wait(&b);
		for (i = 0; i < PER_WRITER; i++) {
			if (sfs_bdev_read(c->bdev, rd, BS, (first + i) * BS) ||
			    !pattern_check(rd, BS, first + i, r))
				c->failures++;
		}
	}
	mc_free(ptrs);
	mc_free(bios);
	mc_free(rd);
	mc_free(bufs);
	return NULL;
}

/* Readers verify the read-only region, prepared before they start. */
static void *reader_main(void *arg)
{
	struct rw_ctx *c = arg;
	uint8_t *rd = mc_alloc(BS * 8, MC_KERNEL);
	unsigned seed = c->id, i;

	for (i = 0; i < 600; i++) {
		uint64_t blk = RO_FIRST + rand_r(&seed) % (RO_COUNT - 8);
		unsigned k;

		if (sfs_bdev_read(c->bdev, rd, BS * 8, blk * BS)) {
			c->failures++;
			continue;
		}
		for (k = 0; k < 8; k++)
			if (!pattern_check(rd + k * BS, BS, blk + k, 0))
				c->failures++;
	}
	mc_free(rd);
	return NULL;
}

static void run_concurrent(const char *mode)
{
	struct rw_ctx ctx[WRITERS + READERS];
	pthread_t th[WRITERS + READERS];
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *ro;
	unsigned i;
	int ret;

	scratch_make(&s, (uint64_t)NR_BLOCKS * BS);
	ret = open_opts(&s, mode, &bdev);
	if (ret == -EINVAL && strstr(mode, "direct")) {
		scratch_drop(&s);
		/* Nothing was tested: say so, not a silent pass. */
		print_message("O_DIRECT refused in %s: %s not tested\n", scratch_dir(), mode);
		skip();
	}
	assert_int_equal(ret, 0);
	assert_int_equal(sfs_bdev_is_uring(bdev), !!strstr(mode, "uring"));
	assert_int_equal(sfs_bdev_is_direct(bdev), !!strstr(mode, "direct"));

	ro = mc_alloc((size_t)RO_COUNT * BS, MC_KERNEL);
	for (i = 0; i < RO_COUNT; i++)
		pattern_fill(ro + (size_t)i * BS, BS, RO_FIRST + i, 0);
	assert_int_equal(sfs_bdev_write(bdev, ro, (size_t)RO_COUNT * BS,
					(uint64_t)RO_FIRST * BS), 0);
	mc_free(ro);

	for (i = 0; i < WRITERS + READERS; i++) {
		ctx[i] = (struct rw_ctx){ .bdev = bdev, .id = i };
		pthread_create(&th[i], NULL, i < WRITERS ? writer_main : reader_main, &ctx[i]);
	}
	for (i = 0; i < WRITERS + READERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(ctx[i].failures, 0);
	}
	assert_int_equal(sfs_bdev_flush(bdev), 0);
	sfs_bdev_close(bdev);
	scratch_drop(&s);
}

static void test_concurrent_rw_uring_direct(void **st) { (void)st; run_concurrent(modes[0]); }
static void test_concurrent_rw_uring_buffered(void **st) { (void)st; run_concurrent(modes[1]); }
static void test_concurrent_rw_pread_direct(void **st) { (void)st; run_concurrent(modes[2]); }
static void test_concurrent_rw_pread_buffered(void **st) { (void)st; run_concurrent(modes[3]); }

/* Default open is io_uring + O_DIRECT with a real alignment. */
static void test_default_is_uring_direct(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	char desc[64];

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(sfs_bdev_open(s.path, 0, NULL, &bdev), 0);
	print_message("default mode: %s\n", sfs_bdev_describe(bdev, desc, sizeof(desc)));
	assert_true(sfs_bdev_is_uring(bdev));
	assert_true(sfs_bdev_is_direct(bdev));
	assert_true(sfs_bdev_align(bdev) >= 512 && sfs_bdev_align(bdev) <= 4096);
	assert_int_equal(sfs_bdev_size(bdev), 1 << 20);
	assert_int_equal(sfs_bdev_set_size(bdev, 2 << 20), 0);
	assert_int_equal(sfs_bdev_size(bdev), 2 << 20);
	sfs_bdev_close(bdev);
	scratch_drop(&s);
}

/* Unaligned synchronous calls on a strict (4096) O_DIRECT device bounce
 * and keep the neighbouring bytes. */
static void test_unaligned_sync_calls_bounce(void **st)
{
	struct sfs_bdev_stats stats;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *big = mc_alloc(3 * BS, MC_KERNEL), small[300];
	unsigned i;

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(open_opts(&s, "cache=direct,align=4096", &bdev), 0);
	assert_int_equal(sfs_bdev_align(bdev), 4096);
	memset(big, 0xaa, 3 * BS);
	assert_int_equal(sfs_bdev_write(bdev, big, 3 * BS, 0), 0);
	for (i = 0; i < sizeof(small); i++)
		small[i] = (uint8_t)i;
	/* straddles the first unit boundary */
	assert_int_equal(sfs_bdev_write(bdev, small, sizeof(small), BS - 100), 0);
	assert_int_equal(sfs_bdev_read(bdev, big, 3 * BS, 0), 0);
	for (i = 0; i < 3 * BS; i++) {
		uint8_t want = (i >= BS - 100 && i < BS + 200) ? (uint8_t)(i - (BS - 100)) : 0xaa;

		if (big[i] != want)
			fail_msg("byte %u is %#x, want %#x", i, big[i], want);
	}
	memset(small, 0, sizeof(small));
	assert_int_equal(sfs_bdev_read(bdev, small + 1, 17, BS - 100 + 5), 0);
	for (i = 0; i < 17; i++)
		assert_int_equal(small[1 + i], (uint8_t)(5 + i));
	sfs_bdev_stats(bdev, &stats);
	assert_true(stats.bounced >= 2);
	sfs_bdev_close(bdev);
	mc_free(big);
	scratch_drop(&s);
}

struct order {
	mc_mutex_t lock;
	unsigned seq, writes_done_at_flush, writes_done;
	int flush_seen;
};

static void order_write_end(struct sfs_bio *bio)
{
	struct order *o = bio->private;

	mc_mutex_lock(&o->lock);
	o->writes_done++;
	o->seq++;
	mc_mutex_unlock(&o->lock);
}

static void order_flush_end(struct sfs_bio *bio)
{
	struct order *o = bio->private;

	mc_mutex_lock(&o->lock);
	o->writes_done_at_flush = o->writes_done;
	o->flush_seen = 1;
	mc_mutex_unlock(&o->lock);
}

/* A flush submitted behind slow writes completes only after all of them
 * were reaped — in every engine. */
static void run_flush_after_writes(const char *mode)
{
	struct sfs_bio bios[9], *ptrs[9];
	struct sfs_bdev_stats stats;
	struct order o = { 0 };
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(8 * BS, MC_KERNEL);
	unsigned i;

	scratch_make(&s, 1 << 20);
	assert_int_equal(open_opts(&s, mode, &bdev), 0);
	mc_mutex_init(&o.lock, "test.order");
	for (i = 0; i < 8; i++) {
		bios[i] = (struct sfs_bio){ .op = SFS_BIO_WRITE, .buf = buf + i * BS, .len = BS,
					    .off = i * BS, .end_io = order_write_end,
					    .private = &o };
		ptrs[i] = &bios[i];
	}
	bios[8] = (struct sfs_bio){ .op = SFS_BIO_FLUSH, .end_io = order_flush_end, .private = &o };
	ptrs[8] = &bios[8];
	sfs_bdev_submit_batch(bdev, ptrs, 9);
	sfs_bdev_drain(bdev);
	assert_true(o.flush_seen);
	assert_int_equal(o.writes_done_at_flush, 8);
	sfs_bdev_stats(bdev, &stats);
	assert_int_equal(stats.flushes_held, 1);
	assert_int_equal(stats.writes, 8);
	assert_int_equal(stats.flushes, 1);
	for (i = 0; i < 9; i++)
		assert_int_equal(bios[i].error, 0);
	sfs_bdev_close(bdev);
	mc_mutex_destroy(&o.lock);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_flush_after_covered_writes_uring(void **st)
{
	(void)st;
	run_flush_after_writes("engine=uring,latency=20ms,bw=2M");
}

static void test_flush_after_covered_writes_pread(void **st)
{
	(void)st;
	run_flush_after_writes("engine=psync,latency=20ms,bw=2M");
}

static void note_end(struct sfs_bio *bio)
{
	*(int *)bio->private = 1;
}

/* Vectored bios: scattered buffers for one device range, in each engine
 * and cache mode; a short transfer goes on segment by segment; an empty
 * segment, or a length that disagrees with the segments, is refused. */
#define VSEGS 8u
static void vec_bio(struct sfs_bio *bio, enum sfs_bio_op op, struct iovec *iov, uint8_t *bufs,
		    uint64_t blk, struct batch *b)
{
	for (unsigned k = 0; k < VSEGS; k++) {
		/* segments in reverse order of their buffers: nothing contiguous */
		iov[k].iov_base = bufs + (size_t)(VSEGS - 1 - k) * BS;
		iov[k].iov_len = BS;
	}
	*bio = (struct sfs_bio){ .op = op, .iov = iov, .nr_iov = VSEGS, .len = VSEGS * BS,
				 .off = blk * BS, .end_io = batch_end_io, .private = b };
}

static void run_vectored(const char *mode)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	struct sfs_bdev_stats st;
	struct sfs_bio bio[4], *ptrs[4];
	struct iovec iov[4][VSEGS];
	uint8_t *bufs = mc_alloc(4 * VSEGS * BS, MC_KERNEL), *rd = mc_alloc(BS, MC_KERNEL);
	struct batch b;
	int ret;

	scratch_make(&s, 40 * BS);
	ret = open_opts(&s, mode, &bdev);
	if (ret == -EINVAL && strstr(mode, "direct")) {
		scratch_drop(&s);
		mc_free(bufs);
		mc_free(rd);
		print_message("O_DIRECT refused in %s: %s not tested\n", scratch_dir(), mode);
		skip();
	}
	assert_int_equal(ret, 0);
	batch_init(&b, 4);
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *mine = bufs + (size_t)i * VSEGS * BS;
		vec_bio(&bio[i], SFS_BIO_WRITE, iov[i], mine, i * VSEGS, &b);
		for (unsigned k = 0; k < VSEGS; k++)
			pattern_fill(iov[i][k].iov_base, BS, i * VSEGS + k, 7);
		ptrs[i] = &bio[i];
	}
	sfs_bdev_submit_batch(bdev, ptrs, 4);
	assert_int_equal(batch_wait(&b), 0);
	for (unsigned blk = 0; blk < 4 * VSEGS; blk++) {
		assert_int_equal(sfs_bdev_read(bdev, rd, BS, (uint64_t)blk * BS), 0);
		assert_true(pattern_check(rd, BS, blk, 7));
	}
	/* read back vectored, and past the end: 40 blocks, 8 from block 36 */
	memset(bufs, 0, 2 * VSEGS * BS);
	batch_init(&b, 2);
	vec_bio(&bio[0], SFS_BIO_READ, iov[0], bufs, VSEGS, &b);
	vec_bio(&bio[1], SFS_BIO_READ, iov[1], bufs + VSEGS * BS, 36, &b);
	ptrs[0] = &bio[0];
	ptrs[1] = &bio[1];
	sfs_bdev_submit_batch(bdev, ptrs, 2);
	assert_int_equal(batch_wait(&b), 1);
	assert_int_equal(bio[0].error, 0);
	for (unsigned k = 0; k < VSEGS; k++)
		assert_true(pattern_check(iov[0][k].iov_base, BS, VSEGS + k, 7));
	assert_int_equal(bio[1].error, -EIO);
	assert_int_equal(bio[1].done, 4 * BS);        /* the part inside the image */
	/* malformed: an empty segment, then a length that disagrees */
	batch_init(&b, 2);
	vec_bio(&bio[0], SFS_BIO_WRITE, iov[0], bufs, 0, &b);
	iov[0][3].iov_len = 0;
	vec_bio(&bio[1], SFS_BIO_WRITE, iov[1], bufs + VSEGS * BS, 0, &b);
	bio[1].len -= BS;
	sfs_bdev_submit_batch(bdev, ptrs, 2);
	assert_int_equal(batch_wait(&b), 2);
	assert_int_equal(bio[0].error, -EINVAL);
	assert_int_equal(bio[1].error, -EINVAL);
	sfs_bdev_stats(bdev, &st);
	assert_int_equal(st.write_bytes, 4 * VSEGS * BS);
	sfs_bdev_close(bdev);
	scratch_drop(&s);
	mc_free(rd);
	mc_free(bufs);
}

static void test_vectored_bios(void **st)
{
	(void)st;
	for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		run_vectored(modes[m]);
}

/* Malformed bios and reads past the end reach the caller as errors. */
static void test_errors_reach_caller(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(2 * BS, MC_KERNEL);
	int called = 0;
	struct sfs_bio bio = { .op = SFS_BIO_READ, .buf = buf + 512, .len = BS, .off = 0,
			       .end_io = note_end, .private = &called };

	(void)st;
	scratch_make(&s, 64 * BS);
	assert_int_equal(open_opts(&s, "cache=direct,align=4096", &bdev), 0);
	sfs_bdev_submit(bdev, &bio);
	sfs_bdev_drain(bdev);
	assert_true(called);
	assert_int_equal(bio.error, -EINVAL);
	/* past the end of the image */
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 100 * BS), -EIO);
	sfs_bdev_close(bdev);

	assert_int_equal(sfs_bdev_open(s.path, SFS_BDEV_RDONLY, NULL, &bdev), 0);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 0), -EROFS);
	sfs_bdev_close(bdev);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_exclusive_open(void **st)
{
	struct sfs_bdev *a, *b;
	struct scratch s;

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(sfs_bdev_open(s.path, SFS_BDEV_EXCL, NULL, &a), 0);
	assert_int_equal(sfs_bdev_open(s.path, SFS_BDEV_EXCL, NULL, &b), -EBUSY);
	sfs_bdev_close(a);
	assert_int_equal(sfs_bdev_open(s.path, SFS_BDEV_EXCL, NULL, &b), 0);
	sfs_bdev_close(b);
	scratch_drop(&s);
}

static void test_create_flag(void **st)
{
	struct sfs_bdev *bdev;
	char path[300];

	(void)st;
	snprintf(path, sizeof(path), "%s/sfs-blk-create-%d", scratch_dir(), (int)getpid());
	unlink(path);
	assert_int_equal(sfs_bdev_open(path, 0, NULL, &bdev), -ENOENT);
	assert_int_equal(sfs_bdev_open(path, SFS_BDEV_CREATE, NULL, &bdev), 0);
	assert_int_equal(sfs_bdev_size(bdev), 0);
	sfs_bdev_close(bdev);
	unlink(path);
}

/* io_uring_queue_init refusing (here: an impossible ring size) falls back
 * to the pread workers, unless io_uring was demanded. */
static void test_pread_fallback_when_uring_unavailable(void **st)
{
	struct sfs_bdev_opts o = { .queue_depth = 1u << 20 };
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(sfs_bdev_open(s.path, 0, &o, &bdev), 0);
	assert_false(sfs_bdev_is_uring(bdev));
	pattern_fill(buf, BS, 1, 1);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, BS), 0);
	memset(buf, 0, BS);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, BS), 0);
	assert_true(pattern_check(buf, BS, 1, 1));
	sfs_bdev_close(bdev);
	o.engine = SFS_ENGINE_URING;
	assert_true(sfs_bdev_open(s.path, 0, &o, &bdev) < 0);
	mc_free(buf);
	scratch_drop(&s);
}

/* A DIO alignment alloc/'s buffers cannot meet counts as a refusal of
 * O_DIRECT: buffered mode (one log line), or -EINVAL if direct was demanded. */
static void test_buffered_fallback_when_direct_refused(void **st)
{
	struct sfs_bdev_opts o = { .align = 8192 };
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(sfs_bdev_open(s.path, 0, &o, &bdev), 0);
	assert_false(sfs_bdev_is_direct(bdev));
	assert_int_equal(sfs_bdev_align(bdev), 1);
	pattern_fill(buf, BS, 2, 1);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 2 * BS), 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 2 * BS), 0);
	assert_true(pattern_check(buf, BS, 2, 1));
	sfs_bdev_close(bdev);
	o.cache = SFS_CACHE_DIRECT;
	assert_int_equal(sfs_bdev_open(s.path, 0, &o, &bdev), -EINVAL);
	mc_free(buf);
	scratch_drop(&s);
}

/*
 * A bio the kernel never completes (hang_every sends every 4th read or
 * write to a pipe that never becomes ready) is cancelled after io_timeout
 * and redone with pread/pwrite: every byte still arrives, a batch of them
 * together is found in one scan, and the wait is about the timeout.  On a
 * loaded host a real read, write or flush of the image may outlast the
 * timeout too: it is cancelled like the others (or, already running,
 * completes on its own), so the counts are at least the hung ones.
 */
#define HANG_TIMEOUT_MS 100
static void test_stuck_bios_cancelled_and_redone(void **st)
{
	enum { N = 32 };
	uint8_t *bufs = mc_alloc((size_t)N * BS, MC_KERNEL), *rd = mc_alloc(BS, MC_KERNEL);
	struct sfs_bio bios[N], *ptrs[N];
	struct sfs_bdev_stats stats;
	struct sfs_bdev *bdev;
	struct scratch s;
	struct batch b;
	uint64_t t0, waited;
	unsigned i;

	(void)st;
	scratch_make(&s, (uint64_t)N * BS);
	assert_int_equal(open_opts(&s, "engine=uring,cache=buffered,io_timeout=100ms,hang_every=4",
				   &bdev), 0);
	batch_init(&b, N);
	for (i = 0; i < N; i++) {
		pattern_fill(bufs + (size_t)i * BS, BS, i, 1);
		bios[i] = (struct sfs_bio){ .op = SFS_BIO_WRITE, .buf = bufs + (size_t)i * BS,
					    .len = BS, .off = (uint64_t)i * BS,
					    .end_io = batch_end_io, .private = &b };
		ptrs[i] = &bios[i];
	}
	t0 = mc_monotonic_ns();
	sfs_bdev_submit_batch(bdev, ptrs, N);
	assert_int_equal(batch_wait(&b), 0);
	waited = mc_monotonic_ns() - t0;
	assert_true(waited >= HANG_TIMEOUT_MS * 1000000ull);
	sfs_bdev_stats(bdev, &stats);
	assert_true(stats.sync_redos >= N / 4 && stats.sync_redos <= stats.timeouts);
	assert_int_equal(sfs_bdev_flush(bdev), 0);
	for (i = 0; i < N; i++) {
		assert_int_equal(sfs_bdev_read(bdev, rd, BS, (uint64_t)i * BS), 0);
		assert_true(pattern_check(rd, BS, i, 1));
	}
	sfs_bdev_stats(bdev, &stats);
	assert_true(stats.sync_redos >= N / 2 && stats.sync_redos <= stats.timeouts);
	print_message("%llu of %llu timed-out bios redone (%u hung on purpose); the batch with "
		      "%u waited %llu ms (timeout %u ms)\n", (unsigned long long)stats.sync_redos,
		      (unsigned long long)stats.timeouts, N / 2, N / 4,
		      (unsigned long long)(waited / 1000000), HANG_TIMEOUT_MS);
	sfs_bdev_close(bdev);
	/* Only io_uring can have a request the kernel holds on to. */
	assert_int_equal(open_opts(&s, "engine=psync,hang_every=4", &bdev), -EINVAL);
	scratch_drop(&s);
	mc_free(bufs);
	mc_free(rd);
}

static void test_option_string(void **st)
{
	struct sfs_bdev_opts o = { 0 };
	char err[256] = "";

	(void)st;
	assert_int_equal(sfs_bdev_opts_parse(&o, "engine=psync,cache=buffered,latency=2ms,"
					     "bw=20M,eio=100-110,eio=7,eio_after=5,stall=1s,"
					     "stall_every=9,cut_flush=3,qd=64,wlog=/x/y,"
					     "io_timeout=2s,hang_every=7", err,
					     sizeof(err)), 0);
	assert_int_equal(o.engine, SFS_ENGINE_PSYNC);
	assert_int_equal(o.cache, SFS_CACHE_BUFFERED);
	assert_int_equal(o.emul.latency_ns, 2000000);
	assert_int_equal(o.emul.bw_bytes, 20 << 20);
	assert_int_equal(o.emul.nr_eio, 2);
	assert_int_equal(o.emul.eio[0].first, 100);
	assert_int_equal(o.emul.eio[0].last, 110);
	assert_int_equal(o.emul.eio[1].first, 7);
	assert_int_equal(o.emul.eio[1].last, 7);
	assert_int_equal(o.emul.eio_after, 5);
	assert_int_equal(o.emul.stall_ns, 1000000000ull);
	assert_int_equal(o.emul.stall_every, 9);
	assert_int_equal(o.emul.cut_flush, 3);
	assert_int_equal(o.queue_depth, 64);
	assert_string_equal(o.wlog, "/x/y");
	assert_int_equal(o.io_timeout_ns, 2000000000ull);
	assert_int_equal(o.hang_every, 7);

	{
		static const char *const bad[] = {
			"latency=5", "latency=-1ms", "bw=fast", "eio=9-3", "eio=x",
			"engine=spdk", "nosuchkey=1", "latency", "align=3000", "qd=0",
			"eio_after=0", "cut_after=-2", "io_timeout=1ms", "hang_every=0",
		};
		struct sfs_bdev_opts before = o;
		unsigned i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			err[0] = '\0';
			assert_int_equal(sfs_bdev_opts_parse(&o, bad[i], err, sizeof(err)), -EINVAL);
			assert_true(strlen(err) > 0);
			assert_memory_equal(&o, &before, sizeof(o));
		}
		assert_int_equal(sfs_bdev_opts_parse(&o, "latency=5", err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "latency=5"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_uring_direct),
		cmocka_unit_test(test_concurrent_rw_uring_direct),
		cmocka_unit_test(test_concurrent_rw_uring_buffered),
		cmocka_unit_test(test_concurrent_rw_pread_direct),
		cmocka_unit_test(test_concurrent_rw_pread_buffered),
		cmocka_unit_test(test_unaligned_sync_calls_bounce),
		cmocka_unit_test(test_flush_after_covered_writes_uring),
		cmocka_unit_test(test_flush_after_covered_writes_pread),
		cmocka_unit_test(test_vectored_bios),
		cmocka_unit_test(test_errors_reach_caller),
		cmocka_unit_test(test_exclusive_open),
		cmocka_unit_test(test_create_flag),
		cmocka_unit_test(test_pread_fallback_when_uring_unavailable),
		cmocka_unit_test(test_buffered_fallback_when_direct_refused),
		cmocka_unit_test(test_stuck_bios_cancelled_and_redone),
		cmocka_unit_test(test_option_string),
	};

	return cmocka_run_group_tests(tests, test_init_alloc, NULL);
}
