/*
 * The buffer cache: references, LRU eviction by the shrinker (through
 * alloc/'s reclaim), verifiers on read and before write, invalidation,
 * journal-owned buffers never written home, read-ahead, 1/4/64 KiB blocks
 * (with and without the bounce path), write errors kept dirty.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "helpers.h"
#include "fs/block/buffer.h"

struct env {
	struct scratch s;
	struct sfs_bdev *bdev;
	struct sfs_bcache *c;
};

static void env_open(struct env *e, uint64_t size, const char *bdev_opts,
		     const struct sfs_bcache_opts *co)
{
	scratch_make(&e->s, size);
	assert_int_equal(open_opts(&e->s, bdev_opts, &e->bdev), 0);
	assert_int_equal(sfs_bcache_create(e->bdev, co, &e->c), 0);
}

static void env_close(struct env *e)
{
	sfs_bcache_destroy(e->c);
	sfs_bdev_close(e->bdev);
	scratch_drop(&e->s);
}

static struct sfs_bcache_stats stats_of(struct sfs_bcache *c)
{
	struct sfs_bcache_stats st;

	sfs_bcache_stats(c, &st);
	return st;
}

/* ---- a fake verifier: byte 0 = 0xC5 marks a "checksummed" block ---- */

struct fake_ctx {
	unsigned reads, writes;
	uint64_t refuse_write;          /* block whose prepare_write refuses */
};

static int fake_verify_read(const void *blk, size_t len, uint64_t blkno, void *ctx)
{
	struct fake_ctx *f = ctx;
	const uint8_t *p = blk;

	(void)len;
	(void)blkno;
	f->reads++;
	return p[0] == 0xC5 ? 0 : -EFSBADCRC;
}

static int fake_prepare_write(void *blk, size_t len, uint64_t blkno, void *ctx)
{
	struct fake_ctx *f = ctx;
	uint8_t *p = blk;

	(void)len;
	f->writes++;
	if (blkno == f->refuse_write)
		return -EFSCORRUPTED;
	p[0] = 0xC5;
	p[1] = (uint8_t)blkno;
	return 0;
}

static const struct sfs_buf_ops fake_ops = {
	.name = "fake",
	.verify_read = fake_verify_read,
	.prepare_write = fake_prepare_write,
};

/* New, dirty buffer for @blk filled with @byte from offset 2. */
static void dirty_block(struct sfs_bcache *c, uint64_t blk, const struct sfs_buf_ops *ops,
			uint8_t byte)
{
	struct sfs_buf *bh;

	assert_int_equal(sfs_buf_get(c, blk, ops, SFS_BUF_NEW, &bh), 0);
	sfs_buf_lock(bh);
	memset((uint8_t *)bh->data + 2, byte, bh->size - 2);
	sfs_buf_mark_dirty(bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
}

static uint8_t disk_byte(struct sfs_bdev *bdev, uint64_t off)
{
	uint8_t b = 0xee;

	assert_int_equal(sfs_bdev_read(bdev, &b, 1, off), 0);
	return b;
}

static void test_references_pin_buffers(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096 };
	struct sfs_buf *a, *b;
	struct env e;

	(void)st;
	env_open(&e, 1 << 20, NULL, &co);
	assert_int_equal(sfs_buf_get(e.c, 5, NULL, SFS_BUF_NEW, &a), 0);
	assert_true(sfs_buf_uptodate(a));
	b = sfs_buf_find(e.c, 5);
	assert_ptr_equal(a, b);
	assert_null(sfs_buf_find(e.c, 6));
	/* referenced: the shrinker cannot take it */
	assert_int_equal(stats_of(e.c).lru, 0);
	assert_int_equal(sfs_bcache_shrink(e.c, 100), 0);
	sfs_buf_release(b);
	assert_int_equal(sfs_bcache_shrink(e.c, 100), 0);
	assert_int_equal(stats_of(e.c).buffers, 1);
	sfs_buf_release(a);
	assert_int_equal(stats_of(e.c).lru, 1);
	/* second chance first (it was looked up), then gone */
	assert_int_equal(sfs_bcache_shrink(e.c, 1), 0);
	assert_int_equal(sfs_bcache_shrink(e.c, 1), 1);
	assert_int_equal(stats_of(e.c).buffers, 0);
	assert_null(sfs_buf_find(e.c, 5));
	env_close(&e);
}

/* alloc/'s reclaim calls our shrinker: clean unreferenced buffers go,
 * dirty, referenced and journal-owned ones stay — also inside a NOFS scope,
 * since the shrinker needs no FS context. */
static void test_shrinker_frees_only_clean_unreferenced(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096 };
	struct sfs_buf *held, *jbh, *bh;
	struct env e;
	mc_scope_t tok;
	size_t freed;
	unsigned i;

	(void)st;
	env_open(&e, 4 << 20, NULL, &co);
	/* every other block: a sequential scan would add read-ahead buffers */
	for (i = 0; i < 100; i++) {
		assert_int_equal(sfs_buf_read(e.c, 2 * i, NULL, 0, &bh), 0);
		sfs_buf_release(bh);
	}
	for (i = 1000; i < 1010; i++)
		dirty_block(e.c, i, NULL, 1);
	assert_int_equal(sfs_buf_read(e.c, 4, NULL, 0, &held), 0);
	assert_int_equal(sfs_buf_get(e.c, 200, NULL, SFS_BUF_NEW, &jbh), 0);
	sfs_buf_lock(jbh);
	sfs_buf_set_journal(jbh);
	sfs_buf_unlock(jbh);
	sfs_buf_release(jbh);
	assert_int_equal(stats_of(e.c).buffers, 111);

	tok = mc_nofs_save();
	freed = mc_reclaim(40 * 4096, MC_KERNEL);
	mc_nofs_restore(tok);
	assert_true(freed >= 40 * 4096);
	assert_true(stats_of(e.c).buffers <= 111 - 40);

	for (i = 300; i < 320; i++) {
		assert_int_equal(sfs_buf_read(e.c, 2 * i, NULL, 0, &bh), 0);
		sfs_buf_release(bh);
	}
	freed = mc_drop_caches();
	assert_true(freed >= 20 * 4096);
	/* 10 dirty + 1 held + 1 journal-owned are all that is left */
	assert_int_equal(stats_of(e.c).buffers, 12);
	assert_non_null(bh = sfs_buf_find(e.c, 200));
	sfs_buf_release(bh);
	sfs_buf_release(held);
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	mc_drop_caches();
	assert_int_equal(stats_of(e.c).buffers, 1);   /* the journal-owned one */
	env_close(&e);
}

/* With a memory cap the least recently used clean buffer goes first. */
static void test_lru_evicts_coldest_first(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096, .max_bytes = 8 * 4096 };
	struct sfs_buf *bh;
	struct env e;
	unsigned i;

	(void)st;
	env_open(&e, 1 << 20, NULL, &co);
	for (i = 0; i < 8; i++) {
		assert_int_equal(sfs_buf_read(e.c, i * 3, NULL, 0, &bh), 0);
		sfs_buf_release(bh);
	}
	assert_non_null(bh = sfs_buf_find(e.c, 0));   /* 0 becomes the most recent */
	sfs_buf_release(bh);
	assert_int_equal(sfs_buf_read(e.c, 100, NULL, 0, &bh), 0);
	sfs_buf_release(bh);
	assert_int_equal(stats_of(e.c).buffers, 8);
	assert_null(sfs_buf_find(e.c, 3));            /* the coldest */
	assert_non_null(bh = sfs_buf_find(e.c, 0));
	sfs_buf_release(bh);
	env_close(&e);
}

static void test_verifier_runs_on_read_and_before_write(void **st)
{
	struct fake_ctx f = { .refuse_write = 77 };
	struct sfs_bcache_opts co = { .block_size = 4096, .verifier_ctx = &f };
	struct sfs_buf *bh;
	struct env e;

	(void)st;
	env_open(&e, 1 << 20, NULL, &co);
	/* an unstamped block on disk fails verification and is not kept */
	assert_int_equal(sfs_buf_read(e.c, 4, &fake_ops, 0, &bh), -EFSBADCRC);
	assert_int_equal(f.reads, 1);
	assert_int_equal(stats_of(e.c).verify_failures, 1);

	dirty_block(e.c, 4, &fake_ops, 0x42);
	assert_int_equal(f.writes, 0);
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	assert_int_equal(f.writes, 1);
	assert_int_equal(disk_byte(e.bdev, 4 * 4096), 0xC5);   /* stamped before the write */
	assert_int_equal(disk_byte(e.bdev, 4 * 4096 + 1), 4);

	/* cached and verified: no second verification ... */
	assert_int_equal(sfs_buf_read(e.c, 4, &fake_ops, 0, &bh), 0);
	sfs_buf_release(bh);
	assert_int_equal(f.reads, 1);
	/* ... but every read from disk is verified */
	mc_drop_caches();
	assert_int_equal(sfs_buf_read(e.c, 4, &fake_ops, 0, &bh), 0);
	assert_int_equal(((uint8_t *)bh->data)[100], 0x42);
	sfs_buf_release(bh);
	assert_int_equal(f.reads, 2);

	/* a refused prepare_write stops the write and is reported by sync */
	dirty_block(e.c, 77, &fake_ops, 0x42);
	assert_int_equal(sfs_bcache_sync(e.c), -EFSCORRUPTED);
	assert_int_equal(disk_byte(e.bdev, 77 * 4096 + 100), 0);
	assert_non_null(bh = sfs_buf_find(e.c, 77));
	assert_true(sfs_buf_dirty(bh));
	sfs_buf_release(bh);
	sfs_bcache_invalidate(e.c, 77, 1);
	env_close(&e);
}

static void test_invalidated_block_never_written(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096 };
	struct sfs_buf *held;
	struct env e;

	(void)st;
	env_open(&e, 1 << 20, NULL, &co);
	dirty_block(e.c, 20, NULL, 0x11);
	dirty_block(e.c, 21, NULL, 0x22);
	assert_int_equal(sfs_buf_get(e.c, 22, NULL, SFS_BUF_NEW, &held), 0);
	sfs_buf_lock(held);
	memset(held->data, 0x33, held->size);
	sfs_buf_mark_dirty(held);
	sfs_buf_unlock(held);

	sfs_bcache_invalidate(e.c, 20, 3);
	assert_null(sfs_buf_find(e.c, 20));
	assert_null(sfs_buf_find(e.c, 22));
	assert_true(sfs_buf_stale(held));
	assert_false(sfs_buf_dirty(held));
	sfs_buf_mark_dirty(held);      /* too late: the block is gone */
	assert_false(sfs_buf_dirty(held));
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	assert_int_equal(disk_byte(e.bdev, 20 * 4096 + 5), 0);
	assert_int_equal(disk_byte(e.bdev, 21 * 4096 + 5), 0);
	assert_int_equal(disk_byte(e.bdev, 22 * 4096 + 5), 0);
	assert_int_equal(stats_of(e.c).invalidated, 3);
	sfs_buf_release(held);         /* frees it */
	assert_int_equal(stats_of(e.c).buffers, 0);
	env_close(&e);
}

static void test_journal_owned_never_written_home(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096 };
	struct sfs_buf *bh;
	struct env e;

	(void)st;
	env_open(&e, 1 << 20, NULL, &co);
	assert_int_equal(sfs_buf_get(e.c, 30, NULL, SFS_BUF_NEW, &bh), 0);
	sfs_buf_lock(bh);
	sfs_buf_set_journal(bh);
	memset(bh->data, 0x77, bh->size);
	sfs_buf_mark_dirty(bh);
	sfs_buf_unlock(bh);

	assert_int_equal(sfs_bcache_writeback(e.c, 100, true), 0);
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	assert_int_equal(sfs_buf_write(bh), -EBUSY);
	mc_drop_caches();
	assert_true(sfs_buf_dirty(bh));
	assert_int_equal(disk_byte(e.bdev, 30 * 4096 + 9), 0);
	assert_true(stats_of(e.c).journal_skips >= 3);

	/* the transaction committed: now it may go home */
	sfs_buf_lock(bh);
	sfs_buf_clear_journal(bh);
	sfs_buf_unlock(bh);
	assert_int_equal(sfs_buf_write(bh), 0);
	assert_false(sfs_buf_dirty(bh));
	assert_int_equal(disk_byte(e.bdev, 30 * 4096 + 9), 0x77);
	sfs_buf_release(bh);
	env_close(&e);
}

static void test_readahead_for_sequential_scan(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096, .ra_max = 16 };
	struct sfs_bcache_stats s1;
	struct sfs_bdev_stats bs0, bs1;
	struct sfs_buf *bh;
	struct env e;
	unsigned i;

	(void)st;
	env_open(&e, 4 << 20, NULL, &co);
	/* random reads: no read-ahead */
	for (i = 0; i < 8; i++) {
		assert_int_equal(sfs_buf_read(e.c, (i * 37) % 200, NULL, 0, &bh), 0);
		sfs_buf_release(bh);
	}
	assert_int_equal(stats_of(e.c).ra_issued, 0);

	/* a sequential scan: most blocks were read ahead in batches */
	sfs_bdev_stats(e.bdev, &bs0);
	for (i = 0; i < 128; i++) {
		assert_int_equal(sfs_buf_read(e.c, 400 + i, NULL, 0, &bh), 0);
		sfs_buf_release(bh);
	}
	sfs_bdev_drain(e.bdev);
	sfs_bdev_stats(e.bdev, &bs1);
	s1 = stats_of(e.c);
	print_message("scan of 128 blocks: %llu read ahead, %llu hits, %llu bios\n",
		      (unsigned long long)s1.ra_issued, (unsigned long long)s1.ra_hits,
		      (unsigned long long)(bs1.reads - bs0.reads));
	assert_true(s1.ra_issued >= 100);
	assert_true(s1.ra_hits >= 100);

	/* explicit read-ahead: never waits, and the blocks arrive uptodate */
	sfs_bcache_readahead(e.c, 700, 16, NULL);
	sfs_bdev_drain(e.bdev);
	for (i = 0; i < 16; i++) {
		assert_non_null(bh = sfs_buf_find(e.c, 700 + i));
		assert_true(sfs_buf_uptodate(bh));
		sfs_buf_release(bh);
	}
	env_close(&e);
}

/* Write through one cache, read back through a fresh one and the raw bdev. */
static void run_block_size(uint32_t bs, const char *bdev_opts, bool expect_bounce)
{
	struct sfs_bcache_opts co = { .block_size = bs };
	struct sfs_bdev_stats bst;
	struct sfs_buf *bh;
	struct env e;
	unsigned i;

	env_open(&e, (uint64_t)bs * 64, bdev_opts, &co);
	for (i = 0; i < 32; i++) {
		assert_int_equal(sfs_buf_get(e.c, i, NULL, SFS_BUF_NEW, &bh), 0);
		sfs_buf_lock(bh);
		pattern_fill(bh->data, bs, i, 9);
		sfs_buf_mark_dirty(bh);
		sfs_buf_unlock(bh);
		sfs_buf_release(bh);
	}
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	sfs_bcache_destroy(e.c);
	assert_int_equal(sfs_bcache_create(e.bdev, &co, &e.c), 0);
	for (i = 0; i < 32; i++) {
		assert_int_equal(sfs_buf_read(e.c, i, NULL, 0, &bh), 0);
		assert_true(pattern_check(bh->data, bs, i, 9));
		sfs_buf_release(bh);
	}
	sfs_bdev_stats(e.bdev, &bst);
	assert_int_equal(bst.bounced > 0, expect_bounce);
	env_close(&e);
}

static void test_block_size_1k(void **st) { (void)st; run_block_size(1024, "cache=direct,align=512", false); }
static void test_block_size_1k_strict_alignment(void **st) { (void)st; run_block_size(1024, "cache=direct,align=4096", true); }
static void test_block_size_4k(void **st) { (void)st; run_block_size(4096, NULL, false); }
static void test_block_size_64k(void **st) { (void)st; run_block_size(65536, NULL, false); }
static void test_block_size_1k_buffered(void **st) { (void)st; run_block_size(1024, "cache=buffered", false); }

static void test_write_error_kept_dirty_and_reported(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096 };
	struct sfs_buf *bh;
	struct env e;

	(void)st;
	env_open(&e, 1 << 20, "eio=5,eio_op=write", &co);
	dirty_block(e.c, 5, NULL, 0x99);
	dirty_block(e.c, 6, NULL, 0x99);
	assert_int_equal(sfs_bcache_sync(e.c), -EIO);
	assert_non_null(bh = sfs_buf_find(e.c, 5));
	assert_true(sfs_buf_dirty(bh));
	sfs_buf_release(bh);
	assert_int_equal(disk_byte(e.bdev, 6 * 4096 + 3), 0x99);
	assert_int_equal(sfs_bcache_sync(e.c), -EIO);   /* still failing */
	assert_int_equal(stats_of(e.c).write_errors, 2);
	sfs_bcache_invalidate(e.c, 5, 1);
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	env_close(&e);
}

/* Readers, writers, writeback and the shrinker at once (ASan/TSan food). */
struct stress {
	struct sfs_bcache *c;
	unsigned id;
	int errors;
};

static void *stress_main(void *arg)
{
	struct stress *s = arg;
	unsigned seed = s->id * 7919u + 1, i;

	for (i = 0; i < 3000; i++) {
		uint64_t blk = rand_r(&seed) % 256;
		struct sfs_buf *bh;

		switch (rand_r(&seed) % 8) {
		case 0:
			sfs_bcache_writeback(s->c, 16, false);
			break;
		case 1:
			sfs_bcache_shrink(s->c, 32);
			break;
		case 2:
		case 3:
			if (sfs_buf_get(s->c, blk, NULL, 0, &bh)) {
				s->errors++;
				break;
			}
			sfs_buf_lock(bh);
			memset(bh->data, (int)(blk & 0xff), bh->size);
			sfs_buf_mark_dirty(bh);
			sfs_buf_unlock(bh);
			sfs_buf_release(bh);
			break;
		default:
			if (sfs_buf_read(s->c, blk, NULL, 0, &bh)) {
				s->errors++;
				break;
			}
			sfs_buf_lock(bh);
			if (((uint8_t *)bh->data)[bh->size - 1] != 0 &&
			    ((uint8_t *)bh->data)[bh->size - 1] != (uint8_t)blk)
				s->errors++;
			sfs_buf_unlock(bh);
			sfs_buf_release(bh);
		}
	}
	return NULL;
}

static void test_concurrent_use(void **st)
{
	struct sfs_bcache_opts co = { .block_size = 4096, .max_bytes = 64 * 4096 };
	struct stress s[4];
	pthread_t th[4];
	struct env e;
	unsigned i;

	(void)st;
	env_open(&e, 256 * 4096, NULL, &co);
	for (i = 0; i < 4; i++) {
		s[i] = (struct stress){ .c = e.c, .id = i };
		pthread_create(&th[i], NULL, stress_main, &s[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].errors, 0);
	}
	assert_int_equal(sfs_bcache_sync(e.c), 0);
	assert_int_equal(stats_of(e.c).dirty, 0);
	env_close(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_references_pin_buffers),
		cmocka_unit_test(test_shrinker_frees_only_clean_unreferenced),
		cmocka_unit_test(test_lru_evicts_coldest_first),
		cmocka_unit_test(test_verifier_runs_on_read_and_before_write),
		cmocka_unit_test(test_invalidated_block_never_written),
		cmocka_unit_test(test_journal_owned_never_written_home),
		cmocka_unit_test(test_readahead_for_sequential_scan),
		cmocka_unit_test(test_block_size_1k),
		cmocka_unit_test(test_block_size_1k_strict_alignment),
		cmocka_unit_test(test_block_size_4k),
		cmocka_unit_test(test_block_size_64k),
		cmocka_unit_test(test_block_size_1k_buffered),
		cmocka_unit_test(test_write_error_kept_dirty_and_reported),
		cmocka_unit_test(test_concurrent_use),
	};

	return cmocka_run_group_tests(tests, test_init_alloc, NULL);
}
