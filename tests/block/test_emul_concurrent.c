/*
 * The io_uring engine under several threads at once with device emulation
 * on: latency, a bandwidth cap, stalls and EIO injected on chosen blocks.
 *
 * The single-threaded emulation tests show each option works; this one
 * shows they stay correct when the delivery thread is shared: every bio
 * completes exactly once, the injected errors land on the bios that touch
 * the chosen blocks and on no other, what was written where no error was
 * injected reads back, and nothing hangs.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#define BS         4096u
#define THREADS    6
#define PER_THREAD 96u               /* blocks owned by each thread */
#define NR_BLOCKS  (THREADS * PER_THREAD)
#define ROUNDS     4
#define FLUSH_EVERY 16u              /* one flush bio per this many writes */
#define DEADLINE_S 60                /* a hang is anything slower than this */
#define BW_BYTES   (64ull << 20)     /* emulated bandwidth, bytes per second */

/*
 * Injected blocks: a few in every thread's region, some at a region's
 * edge so two-block bios straddle them.  Kept in one table so the test's
 * expectations and the option string cannot disagree.
 */
static const struct { unsigned first, last; } eio_ranges[] = {
	{ 5, 5 }, { 100, 103 }, { 191, 192 }, { 250, 250 },
	{ 333, 340 }, { 415, 415 }, { 479, 480 }, { 570, 575 },
};

struct cbio {
	struct sfs_bio bio;
	struct work *w;
	unsigned first, nblk;        /* blocks covered (0 for a flush) */
	int completions;             /* end_io calls seen */
	int error;                   /* as delivered */
	int host_errno;
};

struct work {
	struct sfs_bdev *bdev;
	unsigned id;
	mc_mutex_t lock;
	pthread_cond_t cond;
	unsigned left;               /* bios of the current batch still out */
	uint64_t deadline_ns;
	/* results, read by the main thread after join */
	int hung;
	int done;
	unsigned bad_count, bad_error, bad_data, bad_errno;
	unsigned injected_seen, flushes;
	uint64_t submitted, ended;   /* bios, end_io calls: equal once drained */
};

static int block_injected(unsigned blk)
{
	unsigned i;

	for (i = 0; i < sizeof(eio_ranges) / sizeof(eio_ranges[0]); i++)
		if (blk >= eio_ranges[i].first && blk <= eio_ranges[i].last)
			return 1;
	return 0;
}

static int range_injected(unsigned first, unsigned nblk)
{
	unsigned b;

	for (b = first; b < first + nblk; b++)
		if (block_injected(b))
			return 1;
	return 0;
}

static void cbio_end_io(struct sfs_bio *bio)
{
	struct cbio *c = (struct cbio *)bio;
	struct work *w = c->w;

	mc_mutex_lock(&w->lock);
	c->completions++;
	w->ended++;
	c->error = bio->error;
	c->host_errno = bio->host_errno;
	if (--w->left == 0)
		pthread_cond_broadcast(&w->cond);
	mc_mutex_unlock(&w->lock);
}

/* 0 when the batch is in, -ETIMEDOUT when the deadline passed first. */
static int wait_batch(struct work *w)
{
	int ret = 0;

	mc_mutex_lock(&w->lock);
	while (w->left && !ret)
		if (mc_cond_timedwait(&w->cond, &w->lock, w->deadline_ns) == ETIMEDOUT)
			ret = -ETIMEDOUT;
	mc_mutex_unlock(&w->lock);
	return ret;
}

static void check_once(struct work *w, struct cbio *c, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (c[i].completions != 1)
			w->bad_count++;
}

/*
 * Check one bio's outcome against the injection table: -EIO with no host
 * errno exactly when it touches an injected block (flushes never fail).
 */
static void check_error(struct work *w, const struct cbio *c)
{
	int want = c->nblk && range_injected(c->first, c->nblk) ? -EIO : 0;

	if (c->error != want)
		w->bad_error++;
	if (want && c->host_errno)
		w->bad_errno++;
	if (want)
		w->injected_seen++;
}

/*
 * Each round writes the whole region as a mix of one- and two-block bios
 * with flushes in the same batch, waits, then reads every block back as
 * one batch.  ver[] tracks what each block should hold: a write that
 * failed leaves the previous version in place.
 */
static void *worker(void *arg)
{
	struct work *w = arg;
	unsigned base = w->id * PER_THREAD;
	size_t nb = PER_THREAD + PER_THREAD / FLUSH_EVERY + 1;
	uint8_t *data = mc_alloc((size_t)PER_THREAD * BS, MC_KERNEL);
	struct cbio *cb = mc_zalloc(nb * sizeof(*cb), MC_KERNEL);
	struct sfs_bio **ptrs = mc_zalloc(nb * sizeof(*ptrs), MC_KERNEL);
	unsigned *ver = mc_zalloc(PER_THREAD * sizeof(*ver), MC_KERNEL);
	unsigned r, i, n, k;

	for (r = 1; r <= ROUNDS; r++) {
		/* Shift the two-block pairing each round so each block is
		 * sometimes written alone, sometimes with a neighbour. */
		unsigned pair_from = r & 1;

		n = 0;
		for (i = 0; i < PER_THREAD; ) {
			unsigned nblk = (i >= pair_from && i + 1 < PER_THREAD && (i - pair_from) % 3 == 0) ? 2 : 1;

			for (k = 0; k < nblk; k++)
				pattern_fill(data + (size_t)(i + k) * BS, BS, base + i + k, r);
			cb[n] = (struct cbio){ .w = w, .first = base + i, .nblk = nblk };
			cb[n].bio = (struct sfs_bio){ .op = SFS_BIO_WRITE, .buf = data + (size_t)i * BS,
						      .len = nblk * BS, .off = (uint64_t)(base + i) * BS,
						      .end_io = cbio_end_io };
			ptrs[n] = &cb[n].bio;
			n++;
			i += nblk;
			if (n % FLUSH_EVERY == 0) {
				cb[n] = (struct cbio){ .w = w };
				cb[n].bio = (struct sfs_bio){ .op = SFS_BIO_FLUSH, .end_io = cbio_end_io };
				ptrs[n] = &cb[n].bio;
				n++;
			}
		}
		w->left = n;
		w->submitted += n;
		sfs_bdev_submit_batch(w->bdev, ptrs, n);
		if (wait_batch(w)) {
			w->hung = 1;
			return NULL;     /* bios still out: leak them, never free under I/O */
		}
		check_once(w, cb, n);
		for (i = 0; i < n; i++) {
			check_error(w, &cb[i]);
			if (!cb[i].nblk) {
				w->flushes++;
				continue;
			}
			if (!cb[i].error)
				for (k = 0; k < cb[i].nblk; k++)
					ver[cb[i].first - base + k] = r;
		}

		memset(data, 0, (size_t)PER_THREAD * BS);
		for (i = 0; i < PER_THREAD; i++) {
			cb[i] = (struct cbio){ .w = w, .first = base + i, .nblk = 1 };
			cb[i].bio = (struct sfs_bio){ .op = SFS_BIO_READ, .buf = data + (size_t)i * BS,
						      .len = BS, .off = (uint64_t)(base + i) * BS,
						      .end_io = cbio_end_io };
			ptrs[i] = &cb[i].bio;
		}
		w->left = PER_THREAD;
		w->submitted += PER_THREAD;
		sfs_bdev_submit_batch(w->bdev, ptrs, PER_THREAD);
		if (wait_batch(w)) {
			w->hung = 1;
			return NULL;
		}
		check_once(w, cb, PER_THREAD);
		for (i = 0; i < PER_THREAD; i++) {
			check_error(w, &cb[i]);
			if (cb[i].error)
				continue;
			/* Never written (ver 0) means still the zero-filled image. */
			if (ver[i] ? !pattern_check(data + (size_t)i * BS, BS, base + i, ver[i])
				   : data[(size_t)i * BS] != 0)
				w->bad_data++;
		}
	}
	mc_free(ver);
	mc_free(ptrs);
	mc_free(cb);
	mc_free(data);
	w->done = 1;
	return NULL;
}

static void run(const char *cache)
{
	char opts[512];
	struct work *w = mc_zalloc(THREADS * sizeof(*w), MC_KERNEL);
	pthread_t th[THREADS];
	struct sfs_bdev_stats stats;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint64_t start, deadline, moved, injected = 0;
	size_t len;
	unsigned i;
	int ret;

	len = (size_t)snprintf(opts, sizeof(opts),
			       "engine=uring,cache=%s,latency=300us,bw=%llu,stall=2ms,stall_every=64,eio_op=rw",
			       cache, (unsigned long long)BW_BYTES);
	for (i = 0; i < sizeof(eio_ranges) / sizeof(eio_ranges[0]); i++)
		len += (size_t)snprintf(opts + len, sizeof(opts) - len, ",eio=%u-%u",
					eio_ranges[i].first, eio_ranges[i].last);
	assert_true(len < sizeof(opts));

	scratch_make(&s, (uint64_t)NR_BLOCKS * BS);
	ret = open_opts(&s, opts, &bdev);
	if (ret == -EINVAL && !strcmp(cache, "direct")) {
		scratch_drop(&s);
		print_message("O_DIRECT refused on %s: io_uring+O_DIRECT not tested\n", scratch_dir());
		skip();
	}
	assert_int_equal(ret, 0);
	assert_true(sfs_bdev_is_uring(bdev));

	start = test_now_ns();
	deadline = start + DEADLINE_S * 1000000000ull;
	for (i = 0; i < THREADS; i++) {
		w[i] = (struct work){ .bdev = bdev, .id = i, .deadline_ns = deadline };
		mc_mutex_init(&w[i].lock, "test.emulconc");
		mc_cond_init(&w[i].cond);
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		/* w and the bdev stay allocated: bios are still out. */
		if (w[i].hung)
			fail_msg("thread %u: batch not complete after %d s (hang)", i, DEADLINE_S);
		assert_true(w[i].done);
		if (w[i].bad_count || w[i].bad_error || w[i].bad_errno || w[i].bad_data)
			fail_msg("thread %u: %u bios not completed exactly once, %u with the wrong "
				 "error, %u injected with a host errno, %u blocks with wrong data",
				 i, w[i].bad_count, w[i].bad_error, w[i].bad_errno, w[i].bad_data);
		assert_true(w[i].flushes > 0);
		injected += w[i].injected_seen;
	}
	/* Every thread's region holds injected blocks, so errors were hit. */
	assert_true(injected >= THREADS);
	/* No late second completion once everything has drained. */
	sfs_bdev_drain(bdev);
	for (i = 0; i < THREADS; i++) {
		uint64_t ended;

		mc_mutex_lock(&w[i].lock);
		ended = w[i].ended;
		mc_mutex_unlock(&w[i].lock);
		assert_int_equal(ended, w[i].submitted);
		pthread_cond_destroy(&w[i].cond);
		mc_mutex_destroy(&w[i].lock);
	}
	sfs_bdev_stats(bdev, &stats);
	assert_int_equal(stats.injected_eio, injected);
	assert_int_equal(stats.errors, injected);
	/* The bandwidth cap is one device clock for every thread: the run
	 * cannot beat it (10% slack for how the clock starts). */
	moved = stats.read_bytes + stats.write_bytes;
	assert_true(test_now_ns() - start >= moved * 1000000000ull / BW_BYTES * 9 / 10);
	sfs_bdev_close(bdev);
	mc_free(w);
	scratch_drop(&s);
}

static void test_uring_direct_emulated_concurrent(void **st) { (void)st; run("direct"); }
static void test_uring_buffered_emulated_concurrent(void **st) { (void)st; run("buffered"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uring_direct_emulated_concurrent),
		cmocka_unit_test(test_uring_buffered_emulated_concurrent),
	};

	return cmocka_run_group_tests(tests, test_init_alloc, NULL);
}
