/*
 * The write log records every write that reached the image (offset,
 * length, data) and every flush with its epoch and the writes it covers;
 * failed and dropped writes are absent; damage is detected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"
#include "fs/block/buf_ops.h"
#include "fs/block/wlog.h"

#define BS 4096u

static struct sfs_bdev *open_logged(struct scratch *s, const char *extra)
{
	char opts[512];
	struct sfs_bdev *bdev;

	snprintf(opts, sizeof(opts), "wlog=%s%s%s", s->log, extra ? "," : "", extra ? extra : "");
	assert_int_equal(open_opts(s, opts, &bdev), 0);
	return bdev;
}

static void expect(struct sfs_wlog_reader *r, enum sfs_wlog_type type, uint64_t seq,
		   uint64_t epoch, struct sfs_wlog_rec *rec)
{
	assert_int_equal(sfs_wlog_reader_next(r, rec), 1);
	assert_int_equal(rec->type, type);
	assert_int_equal(rec->seq, seq);
	assert_int_equal(rec->epoch, epoch);
}

static void run_records_writes_and_epochs(const char *engine)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec rec;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(2 * BS, MC_KERNEL);

	scratch_make(&s, 64 * BS);
	bdev = open_logged(&s, engine);
	pattern_fill(buf, BS, 3, 1);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 3 * BS), 0);
	pattern_fill(buf, 2 * BS, 7, 1);
	assert_int_equal(sfs_bdev_write(bdev, buf, 2 * BS, 7 * BS), 0);
	assert_int_equal(sfs_bdev_flush(bdev), 0);
	assert_int_equal(sfs_bdev_log_mark(bdev, "after-first-flush"), 0);
	pattern_fill(buf, BS, 9, 2);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 9 * BS), 0);
	assert_int_equal(sfs_bdev_flush(bdev), 0);
	sfs_bdev_close(bdev);

	assert_int_equal(sfs_wlog_reader_open(s.log, &r), 0);
	assert_true(sfs_wlog_reader_align(r) >= 512);
	expect(r, SFS_WLOG_WRITE, 1, 0, &rec);
	assert_int_equal(rec.off, 3 * BS);
	assert_int_equal(rec.len, BS);
	assert_true(pattern_check(rec.data, BS, 3, 1));
	expect(r, SFS_WLOG_WRITE, 2, 0, &rec);
	assert_int_equal(rec.off, 7 * BS);
	assert_int_equal(rec.len, 2 * BS);
	assert_true(pattern_check(rec.data, 2 * BS, 7, 1));
	expect(r, SFS_WLOG_FLUSH, 3, 0, &rec);
	assert_int_equal(rec.covers, 2);
	expect(r, SFS_WLOG_MARK, 4, 1, &rec);
	assert_int_equal(rec.len, strlen("after-first-flush"));
	assert_memory_equal(rec.data, "after-first-flush", rec.len);
	expect(r, SFS_WLOG_WRITE, 5, 1, &rec);
	assert_int_equal(rec.off, 9 * BS);
	assert_true(pattern_check(rec.data, BS, 9, 2));
	expect(r, SFS_WLOG_FLUSH, 6, 1, &rec);
	assert_int_equal(rec.covers, 5);
	assert_int_equal(sfs_wlog_reader_next(r, &rec), 0);
	sfs_wlog_reader_close(r);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_records_writes_and_epochs_uring(void **st) { (void)st; run_records_writes_and_epochs("engine=uring"); }
static void test_records_writes_and_epochs_pread(void **st) { (void)st; run_records_writes_and_epochs("engine=psync"); }

static void vec_done(struct sfs_bio *bio)
{
	*(int *)bio->private = 1;
}

/* A vectored bio is logged as one record per segment, each at its own
 * offset with its own data. */
static void test_vectored_write_logged_per_segment(void **st)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec rec;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_alloc(3 * BS, MC_KERNEL);
	struct iovec iov[3];
	int done = 0;
	struct sfs_bio bio = { .op = SFS_BIO_WRITE, .iov = iov, .nr_iov = 3, .len = 3 * BS,
			       .off = 10 * BS, .end_io = vec_done, .private = &done };

	(void)st;
	scratch_make(&s, 64 * BS);
	bdev = open_logged(&s, NULL);
	for (unsigned k = 0; k < 3; k++) {
		iov[k] = (struct iovec){ buf + (2 - k) * BS, BS };
		pattern_fill(iov[k].iov_base, BS, 10 + k, 4);
	}
	sfs_bdev_submit(bdev, &bio);
	sfs_bdev_drain(bdev);
	assert_true(done);
	assert_int_equal(bio.error, 0);
	sfs_bdev_close(bdev);

	assert_int_equal(sfs_wlog_reader_open(s.log, &r), 0);
	for (unsigned k = 0; k < 3; k++) {
		expect(r, SFS_WLOG_WRITE, 1 + k, 0, &rec);
		assert_int_equal(rec.off, (10 + k) * BS);
		assert_int_equal(rec.len, BS);
		assert_true(pattern_check(rec.data, BS, 10 + k, 4));
	}
	assert_int_equal(sfs_wlog_reader_next(r, &rec), 0);
	sfs_wlog_reader_close(r);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_failed_and_dropped_writes_not_logged(void **st)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec rec;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(BS, MC_KERNEL);
	unsigned writes = 0, i;

	(void)st;
	scratch_make(&s, 64 * BS);
	bdev = open_logged(&s, "eio=1,cut_after=4");
	for (i = 0; i < 6; i++)
		assert_int_equal(sfs_bdev_write(bdev, buf, BS, (uint64_t)i * BS), i == 1 ? -EIO : 0);
	assert_int_equal(sfs_bdev_flush(bdev), 0);   /* after the cut: dropped, not logged */
	sfs_bdev_close(bdev);

	assert_int_equal(sfs_wlog_reader_open(s.log, &r), 0);
	while (sfs_wlog_reader_next(r, &rec) == 1) {
		assert_int_equal(rec.type, SFS_WLOG_WRITE);
		assert_true(rec.off != BS);
		writes++;
	}
	assert_int_equal(writes, 3);   /* writes 1, 3, 4; 2 failed, 5 and 6 dropped */
	sfs_wlog_reader_close(r);
	mc_free(buf);
	scratch_drop(&s);
}

static void test_damaged_log_detected(void **st)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec rec;
	struct sfs_bdev *bdev;
	struct scratch s;
	uint8_t *buf = mc_zalloc(BS, MC_KERNEL), byte;
	int fd;

	(void)st;
	scratch_make(&s, 64 * BS);
	bdev = open_logged(&s, NULL);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, 0), 0);
	assert_int_equal(sfs_bdev_write(bdev, buf, BS, BS), 0);
	sfs_bdev_close(bdev);

	/* flip a data byte of the second record */
	fd = open(s.log, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, SFS_WLOG_HDR_SIZE + 2 * SFS_WLOG_REC_SIZE + BS + 10), 1);
	byte ^= 0xff;
	assert_int_equal(pwrite(fd, &byte, 1, SFS_WLOG_HDR_SIZE + 2 * SFS_WLOG_REC_SIZE + BS + 10), 1);
	assert_int_equal(sfs_wlog_reader_open(s.log, &r), 0);
	assert_int_equal(sfs_wlog_reader_next(r, &rec), 1);
	assert_int_equal(sfs_wlog_reader_next(r, &rec), -EFSCORRUPTED);
	sfs_wlog_reader_close(r);

	/* a torn tail */
	assert_int_equal(ftruncate(fd, SFS_WLOG_HDR_SIZE + SFS_WLOG_REC_SIZE + BS + 20), 0);
	assert_int_equal(sfs_wlog_reader_open(s.log, &r), 0);
	assert_int_equal(sfs_wlog_reader_next(r, &rec), 1);
	assert_int_equal(sfs_wlog_reader_next(r, &rec), -EFSCORRUPTED);
	sfs_wlog_reader_close(r);

	/* not a log */
	assert_int_equal(pwrite(fd, "garbage!", 8, 0), 8);
	close(fd);
	assert_int_equal(sfs_wlog_reader_open(s.log, &r), -EFSCORRUPTED);
	mc_free(buf);
	scratch_drop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_records_writes_and_epochs_uring),
		cmocka_unit_test(test_records_writes_and_epochs_pread),
		cmocka_unit_test(test_vectored_write_logged_per_segment),
		cmocka_unit_test(test_failed_and_dropped_writes_not_logged),
		cmocka_unit_test(test_damaged_log_detected),
	};

	return cmocka_run_group_tests(tests, test_init_alloc, NULL);
}
