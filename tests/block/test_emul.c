/*
 * Device emulation: latency, bandwidth and stalls are measurably applied;
 * injected EIO (by block range and after N writes) reaches callers as
 * -EIO without touching the image; a power cut silently drops every write
 * after its point.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"

#define BS 4096u

static const char *const engines[] = { "engine=uring", "engine=psync" };

static uint64_t time_reads(struct sfs_bdev *bdev, unsigned n)
{
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);
	uint64_t t0 = test_now_ns();
	unsigned i;

	for (i = 0; i < n; i++)
		assert_int_equal(sfs_bdev_read(bdev, buf, BS, (uint64_t)i * BS), 0);
	mc_free(buf);
	return test_now_ns() - t0;
}

static void test_latency_is_applied(void **st)
{
	char opts[64];
	unsigned e;

	(void)st;
	for (e = 0; e < 2; e++) {
		struct sfs_bdev *fast, *slow;
		struct scratch s;
		uint64_t t_fast, t_slow;

		scratch_make(&s, 1 << 20);
		assert_int_equal(open_opts(&s, engines[e], &fast), 0);
		t_fast = time_reads(fast, 10);
		sfs_bdev_close(fast);
		snprintf(opts, sizeof(opts), "%s,latency=15ms", engines[e]);
		assert_int_equal(open_opts(&s, opts, &slow), 0);
		t_slow = time_reads(slow, 10);
		sfs_bdev_close(slow);
		print_message("%s: 10 reads %.1f ms, with latency=15ms %.1f ms\n", engines[e],
			      t_fast / 1e6, t_slow / 1e6);
		assert_true(t_slow >= 150000000ull);
		assert_true(t_slow > t_fast + 100000000ull);
		scratch_drop(&s);
	}
}

/* bw=1M: 256 KiB takes a quarter of a second, whichever way it is cut. */
static void test_bandwidth_cap(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(256 * 1024, MC_KERNEL);
	uint64_t t0, dt;

	(void)st;
	scratch_make(&s, 1 << 20);
	assert_int_equal(open_opts(&s, "bw=1M", &bdev), 0);
	t0 = test_now_ns();
	assert_int_equal(sfs_bdev_write(bdev, buf, 256 * 1024, 0), 0);
	dt = test_now_ns() - t0;
	print_message("256 KiB at bw=1M: %.1f ms\n", dt / 1e6);
	assert_true(dt >= 240000000ull);
	assert_true(dt < 2000000000ull);
	sfs_bdev_close(bdev);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_stalls(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint64_t dt;

	(void)st;
	scratch_make(&s, 1 << 20);
	/* 10 I/Os, a 100 ms stall every 5th: at least 200 ms */
	assert_int_equal(open_opts(&s, "stall=100ms,stall_every=5", &bdev), 0);
	dt = time_reads(bdev, 10);
	print_message("10 reads with stall=100ms every 5: %.1f ms\n", dt / 1e6);
	assert_true(dt >= 200000000ull);
	sfs_bdev_close(bdev);
	scratch_drop(&s);
}

static void run_eio_ranges(const char *engine)
{
	char opts[128];
	struct sfs_bdev_stats stats;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(4 * BS, MC_KERNEL);

	scratch_make(&s, 64 * BS);
	snprintf(opts, sizeof(opts), "%s,eio=10-11,eio=20", engine);
	assert_int_equal(open_opts(&s, opts, &bdev), 0);
	memset(buf, 0x5a, 4 * BS);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 9 * BS), 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 10 * BS), -EIO);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 11 * BS), -EIO);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 12 * BS), 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 20 * BS), -EIO);
	/* a multi-block request touching the range fails whole */
	assert_int_equal(sfs_bdev_read(bdev, buf, 4 * BS, 8 * BS), -EIO);
	memset(buf, 0x5a, BS);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 11 * BS), -EIO);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 12 * BS), 0);
	sfs_bdev_stats(bdev, &stats);
	assert_int_equal(stats.injected_eio, 5);
	sfs_bdev_close(bdev);

	/* the failed write never reached the image */
	assert_int_equal(open_opts(&s, engine, &bdev), 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 11 * BS), 0);
	assert_int_equal(buf[0], 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, BS, 12 * BS), 0);
	assert_int_equal(buf[0], 0x5a);
	sfs_bdev_close(bdev);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_eio_on_chosen_blocks_uring(void **st) { (void)st; run_eio_ranges(engines[0]); }
static void test_eio_on_chosen_blocks_pread(void **st) { (void)st; run_eio_ranges(engines[1]); }

static void test_eio_only_for_chosen_op(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(1024, MC_KERNEL);

	(void)st;
	scratch_make(&s, 64 * 1024);
	assert_int_equal(open_opts(&s, "eio=3,eio_bs=1K,eio_op=write,cache=buffered", &bdev), 0);
	assert_int_equal(sfs_bdev_read(bdev, buf, 1024, 3 * 1024), 0);
	assert_int_equal(sfs_bdev_write(bdev, buf, 1024, 3 * 1024), -EIO);
	assert_int_equal(sfs_bdev_write(bdev, buf, 1024, 4 * 1024), 0);
	sfs_bdev_close(bdev);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_eio_after_n_writes(void **st)
{
	unsigned e, i;

	(void)st;
	for (e = 0; e < 2; e++) {
		struct sfs_bdev *bdev;
		struct scratch s;
		uint8_t *buf = mc_zalloc(BS, MC_KERNEL);
		char opts[64];

		scratch_make(&s, 64 * BS);
		snprintf(opts, sizeof(opts), "%s,eio_after=3", engines[e]);
		assert_int_equal(open_opts(&s, opts, &bdev), 0);
		for (i = 0; i < 6; i++)
			assert_int_equal(sfs_bdev_write(bdev, buf, BS, i * BS), i < 3 ? 0 : -EIO);
		/* reads are not affected */
		assert_int_equal(sfs_bdev_read(bdev, buf, BS, 0), 0);
		sfs_bdev_close(bdev);
		mc_free(buf);
		scratch_drop(&s);
	}
}

/* From a fresh open: blocks below @kept hold version 1, the rest of the
 * first @n blocks never got it. */
static void check_landed(const struct scratch *s, unsigned n, unsigned kept)
{
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);
	struct sfs_bdev *bdev;
	unsigned i;

	assert_int_equal(open_opts(s, NULL, &bdev), 0);
	for (i = 0; i < n; i++) {
		assert_int_equal(sfs_bdev_read(bdev, buf, BS, (uint64_t)i * BS), 0);
		if (i < kept)
			assert_true(pattern_check(buf, BS, i, 1));
		else
			assert_true(pattern_check(buf, BS, i, 0) || buf[0] == 0);
	}
	sfs_bdev_close(bdev);
	mc_free(buf);
}

static void test_power_cut_after_nth_write(void **st)
{
	struct sfs_bdev_stats stats;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);
	unsigned i;

	(void)st;
	scratch_make(&s, 64 * BS);
	assert_int_equal(open_opts(&s, "cut_after=4", &bdev), 0);
	for (i = 0; i < 10; i++) {
		pattern_fill(buf, BS, i, 1);
		/* silently: every write reports success */
		assert_int_equal(sfs_bdev_write(bdev, buf, BS, (uint64_t)i * BS), 0);
	}
	assert_int_equal(sfs_bdev_flush(bdev), 0);
	assert_true(sfs_bdev_is_cut(bdev));
	sfs_bdev_stats(bdev, &stats);
	assert_int_equal(stats.dropped_writes, 6);
	sfs_bdev_close(bdev);
	check_landed(&s, 10, 4);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_power_cut_after_chosen_flush(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);
	unsigned i;

	(void)st;
	scratch_make(&s, 64 * BS);
	assert_int_equal(open_opts(&s, "engine=psync,cut_flush=2", &bdev), 0);
	/* flush 1 after block 0, flush 2 after blocks 1-2, then 3-5 are lost */
	for (i = 0; i < 6; i++) {
		pattern_fill(buf, BS, i, 1);
		assert_int_equal(sfs_bdev_write(bdev, buf, BS, (uint64_t)i * BS), 0);
		if (i == 0 || i == 2)
			assert_int_equal(sfs_bdev_flush(bdev), 0);
		assert_int_equal(sfs_bdev_is_cut(bdev), i >= 2);
	}
	sfs_bdev_close(bdev);
	check_landed(&s, 6, 3);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_power_cut_by_call(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(BS, MC_KERNEL);
	unsigned i;

	(void)st;
	scratch_make(&s, 64 * BS);
	assert_int_equal(open_opts(&s, NULL, &bdev), 0);
	for (i = 0; i < 5; i++) {
		if (i == 2)
			sfs_bdev_power_cut(bdev);
		pattern_fill(buf, BS, i, 1);
		assert_int_equal(sfs_bdev_write(bdev, buf, BS, (uint64_t)i * BS), 0);
	}
	sfs_bdev_close(bdev);
	check_landed(&s, 5, 2);
	mc_free(buf);
	scratch_drop(&s);
}

static void count_end(struct sfs_bio *bio)
{
	__atomic_fetch_add((int *)bio->private, 1, __ATOMIC_RELAXED);
}

/* Writes are reported to alloc/ as writeback from submission until they
 * are reaped (delayed here by the emulated latency). */
static void test_writeback_reported_to_alloc(void **st)
{
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(8 * BS, MC_KERNEL);
	struct sfs_bio bio = { .op = SFS_BIO_WRITE, .buf = buf, .len = 8 * BS, .off = 0,
			       .end_io = count_end };
	size_t before;
	int done = 0;

	(void)st;
	bio.private = &done;
	scratch_make(&s, 1 << 20);
	assert_int_equal(open_opts(&s, "latency=100ms", &bdev), 0);
	before = mc_writeback_inflight();
	sfs_bdev_submit(bdev, &bio);
	assert_true(mc_writeback_inflight() >= before + 8);
	assert_int_equal(__atomic_load_n(&done, __ATOMIC_RELAXED), 0);
	sfs_bdev_drain(bdev);
	assert_int_equal(done, 1);
	assert_int_equal(mc_writeback_inflight(), before);
	sfs_bdev_close(bdev);
	mc_free(buf);
	scratch_drop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_latency_is_applied),
		cmocka_unit_test(test_bandwidth_cap),
		cmocka_unit_test(test_stalls),
		cmocka_unit_test(test_eio_on_chosen_blocks_uring),
		cmocka_unit_test(test_eio_on_chosen_blocks_pread),
		cmocka_unit_test(test_eio_only_for_chosen_op),
		cmocka_unit_test(test_eio_after_n_writes),
		cmocka_unit_test(test_power_cut_after_nth_write),
		cmocka_unit_test(test_power_cut_after_chosen_flush),
		cmocka_unit_test(test_power_cut_by_call),
		cmocka_unit_test(test_writeback_reported_to_alloc),
	};

	return cmocka_run_group_tests(tests, test_init_alloc, NULL);
}
