/*
 * Crash consistency: what recovery makes of an image cut off at any point.
 *
 * Each test runs committed transactions against a real image, "crashes"
 * (the block layer's power cut drops every later write, or the image is
 * rebuilt from the write log as it stood at a flush), recovers, and
 * compares every home block with the state after some prefix of the
 * committed transactions.
 */
#include "helpers.h"

#include "fs/block/wlog.h"

#define QUIET_CFG { .commit_interval_ms = 600000 }

/* One transaction writing version @k to 1..@maxb random home blocks; it
 * is committed before returning.  @cur tracks the expected state. */
static jnl_tid_t run_txn(struct jenv *e, uint64_t *rng, unsigned k, unsigned maxb, int64_t *cur)
{
	unsigned n = 1 + (unsigned)(rng_next(rng) % maxb);
	struct jnl_handle *h;
	jnl_tid_t tid;

	assert_int_equal(jnl_start(e->j, n, 0, &h), 0);
	for (unsigned i = 0; i < n; i++) {
		uint64_t b = rng_next(rng) % e->home_blocks;

		assert_int_equal(jwrite(e, h, b, k), 0);
		cur[b] = k;
	}
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e->j, tid), 0);
	return tid;
}

static void power_cut_replays_committed(uint64_t jblocks)
{
	const struct jnl_config cfg = QUIET_CFG;
	int64_t cur[64] = { 0 }, expect[64], got[64];
	struct jnl_recovery_info ri;
	uint64_t rng = 42 + jblocks;
	struct jnl_stats st;
	struct jenv e;

	jenv_make(&e, jblocks, 64);
	jenv_open(&e, NULL, &cfg, NULL);
	for (unsigned k = 1; k <= 30; k++)
		run_txn(&e, &rng, k, 8, cur);
	memcpy(expect, cur, sizeof(cur));
	jnl_get_stats(e.j, &st);
	sfs_bdev_power_cut(e.bdev);
	/* committed as far as the journal can tell, but never reach the disk */
	for (unsigned k = 31; k <= 34; k++)
		run_txn(&e, &rng, k, 8, cur);
	jenv_close(&e);

	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_false(ri.was_clean);
	assert_true(ri.transactions >= 1);
	image_versions(&e, got);
	assert_memory_equal(got, expect, sizeof(expect));
	/* a second open finds a clean log */
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_true(ri.was_clean);
	if (jblocks < 100)
		assert_true(st.tail_updates > 0);   /* the small log was checkpointed */
	jenv_drop(&e);
}

static void test_commit_then_power_cut_replays_exactly_the_committed(void **state)
{
	(void)state;
	power_cut_replays_committed(256);   /* everything still in the log */
	power_cut_replays_committed(48);    /* checkpointed and wrapped on the way */
}

/* Position (relative) of the commit block of @tid, found by its header. */
static uint64_t find_commit(struct jenv *e, jnl_tid_t tid, uint32_t magic, unsigned nth)
{
	uint8_t *buf = aligned_alloc(4096, J_BSIZE);
	uint64_t found = 0;
	int fd = open(e->path, O_RDONLY);

	assert_true(fd >= 0);
	for (uint64_t p = JNL_FIRST; p < e->area.blocks && !found; p++) {
		assert_int_equal(pread(fd, buf, J_BSIZE, (off_t)((e->area.start + p) * J_BSIZE)),
				 J_BSIZE);
		if (jnl_hdr_magic(buf) == magic &&
		    jnl_le64_to_cpu(((struct jnl_disk_hdr *)buf)->seq) == tid && nth-- == 0)
			found = p;
	}
	close(fd);
	free(buf);
	assert_true(found != 0);
	return found;
}

static void patch_image(struct jenv *e, uint64_t blk, size_t off, const void *data, size_t len)
{
	int fd = open(e->path, O_RDWR);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, data, len, (off_t)(blk * J_BSIZE + off)), (ssize_t)len);
	close(fd);
}

enum tear { TEAR_FLIP, TEAR_HALF, TEAR_COPY };

static void torn_second_transaction(enum tear how, enum jnl_data_mode mode)
{
	struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info ri;
	struct jnl_handle *h;
	jnl_tid_t tid2;
	uint8_t stale[2048], bad = 0x5a;
	uint64_t pos;
	struct jenv e;

	cfg.mode = mode;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	assert_int_equal(jwrite(&e, h, 1, 1), 0);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 1, 2), 0);
	assert_int_equal(jwrite(&e, h, 2, 2), 0);
	tid2 = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e.j, tid2), 0);
	sfs_bdev_power_cut(e.bdev);
	jenv_close(&e);

	pos = find_commit(&e, tid2, JNL_MAGIC_COMMIT, 0);
	if (how == TEAR_FLIP)
		patch_image(&e, e.area.start + pos, 2000, &bad, 1);
	else if (how == TEAR_HALF)   /* the second half still holds what was there */
		patch_image(&e, e.area.start + pos, 2048, memset(stale, 0xee, sizeof(stale)),
			    sizeof(stale));
	else   /* the second copy after T2's descriptor */
		patch_image(&e, e.area.start + find_commit(&e, tid2, JNL_MAGIC_DESC, 0) + 2, 100,
			    &bad, 1);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_int_equal(ri.transactions, 1);
	assert_true(ri.torn);
	{
		int64_t got[8];

		image_versions(&e, got);
		assert_int_equal(got[0], 1);
		assert_int_equal(got[1], 1);   /* T2's copy is not replayed */
		assert_int_equal(got[2], 0);
	}
	jenv_drop(&e);
}

static void test_torn_commit_discards_its_transaction(void **state)
{
	(void)state;
	torn_second_transaction(TEAR_FLIP, JNL_DATA_ORDERED);
	torn_second_transaction(TEAR_HALF, JNL_DATA_ORDERED);
	/* writeback: a commit block that reached the disk before a copy */
	torn_second_transaction(TEAR_COPY, JNL_DATA_WRITEBACK);
}

struct cb_probe {
	struct jnl_callback cb;
	struct jnl_journal *j;
	int calls, err;
	bool committed_when_called;
};

static void probe_fn(struct jnl_callback *cb, jnl_tid_t tid, int err)
{
	struct cb_probe *p = (struct cb_probe *)cb;

	p->calls++;
	p->err = err;
	p->committed_when_called = jnl_tid_committed(p->j, tid);
}

enum reuse { FREE_ONLY, FREE_AND_REUSE_AS_METADATA, NO_REVOKE };

static void freed_block_then_crash(enum reuse mode)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct cb_probe probe = { .cb.fn = probe_fn };
	struct jnl_recovery_info ri;
	struct jnl_handle *h;
	struct sfs_buf *bh;
	uint8_t *data = aligned_alloc(4096, J_BSIZE);
	int64_t got[8];
	struct jenv e;

	jenv_make(&e, 128, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	probe.j = e.j;
	/* T1: block 3 is metadata, version 1 */
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 3, 1), 0);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	/* T2: block 3 is freed; the allocator learns when it may reuse it */
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	if (mode != NO_REVOKE) {
		assert_int_equal(sfs_buf_read(e.cache, home(&e, 3), NULL, 0, &bh), 0);
		assert_int_equal(jnl_forget(h, bh), 0);
		sfs_buf_release(bh);
	}
	assert_int_equal(jnl_on_commit(h, &probe.cb), 0);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(probe.calls, 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	assert_int_equal(probe.calls, 1);
	assert_int_equal(probe.err, 0);
	assert_true(probe.committed_when_called);
	/* the freed block is reused for file data, written in place */
	pattern_fill(data, home(&e, 3), 99);
	assert_int_equal(sfs_bdev_write(e.bdev, data, J_BSIZE, home(&e, 3) * J_BSIZE), 0);
	if (mode == FREE_AND_REUSE_AS_METADATA) {
		/* ...or later as metadata again, logged by T3 */
		assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
		assert_int_equal(sfs_buf_get(e.cache, home(&e, 3), NULL, SFS_BUF_NEW, &bh), 0);
		assert_int_equal(jnl_get_write_access(h, bh), 0);
		sfs_buf_lock(bh);
		pattern_fill(bh->data, home(&e, 3), 3);
		assert_int_equal(jnl_dirty_metadata(h, bh), 0);
		sfs_buf_unlock(bh);
		sfs_buf_release(bh);
		assert_int_equal(jnl_stop(h), 0);
		assert_int_equal(jnl_force_commit(e.j), 0);
	}
	sfs_bdev_power_cut(e.bdev);
	jenv_close(&e);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	image_versions(&e, got);
	if (mode == FREE_ONLY) {
		assert_int_equal(got[3], 99);     /* the revoke kept T1's copy away */
		assert_int_equal(ri.revoked, 1);
	} else if (mode == FREE_AND_REUSE_AS_METADATA) {
		assert_int_equal(got[3], 3);      /* a newer transaction is replayed */
	} else {
		assert_int_equal(got[3], 1);      /* without a revoke, replay clobbers the data */
	}
	free(data);
	jenv_drop(&e);
}

static void test_revoke_prevents_replay_over_newer_data(void **state)
{
	(void)state;
	freed_block_then_crash(FREE_ONLY);
	freed_block_then_crash(FREE_AND_REUSE_AS_METADATA);
	freed_block_then_crash(NO_REVOKE);   /* the control: the test can fail */
}

static void test_wrap_around_log_replays(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	int64_t cur[16] = { 0 }, expect[16], got[16];
	struct jnl_recovery_info ri;
	uint64_t rng = 7;
	struct jnl_stats st;
	struct jenv e;
	unsigned k;

	(void)state;
	jenv_make(&e, 32, 16);    /* 31 log blocks, transactions up to 7 */
	jenv_open(&e, NULL, &cfg, NULL);
	for (k = 1; k < 400; k++) {
		run_txn(&e, &rng, k, 4, cur);
		jnl_get_stats(e.j, &st);
		/* the live log runs over the end of the area and back */
		if (k > 20 && st.log_tail > st.log_head && st.log_used > 8)
			break;
	}
	assert_true(k < 400);
	assert_true(st.wraps > 0);
	memcpy(expect, cur, sizeof(cur));
	sfs_bdev_power_cut(e.bdev);
	jenv_close(&e);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_true(ri.transactions >= 2);
	image_versions(&e, got);
	assert_memory_equal(got, expect, sizeof(expect));
	jenv_drop(&e);
}

static uint8_t *read_image(struct jenv *e)
{
	size_t len = e->nblocks * J_BSIZE;
	uint8_t *buf = malloc(len);
	int fd = open(e->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, 0), (ssize_t)len);
	close(fd);
	return buf;
}

static void test_replay_twice_gives_the_same_image(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info r1, r2;
	int64_t cur[32] = { 0 };
	uint8_t *crashed, *once, *twice;
	uint64_t rng = 99;
	struct jenv e;

	(void)state;
	jenv_make(&e, 128, 32);
	jenv_open(&e, NULL, &cfg, NULL);
	for (unsigned k = 1; k <= 15; k++)
		run_txn(&e, &rng, k, 6, cur);
	sfs_bdev_power_cut(e.bdev);
	jenv_close(&e);
	crashed = read_image(&e);
	assert_int_equal(recover_image(&e, 0, &r1), 0);
	once = read_image(&e);
	/* a crash after the replay but before the superblock said clean */
	patch_image(&e, e.area.start, 0, crashed + e.area.start * J_BSIZE, J_BSIZE);
	assert_int_equal(recover_image(&e, 0, &r2), 0);
	twice = read_image(&e);
	assert_int_equal(r1.transactions, r2.transactions);
	assert_true(r1.replayed > 0);
	assert_int_equal(r1.replayed, r2.replayed);
	assert_memory_equal(once, twice, e.nblocks * J_BSIZE);
	free(crashed);
	free(once);
	free(twice);
	jenv_drop(&e);
}

/* ---- crash at every flush of a recorded run ---- */

struct rec {
	enum sfs_wlog_type type;
	uint64_t seq, off, covers;
	uint32_t len;
	uint8_t *data;
	unsigned mark;               /* MARK: commit number */
};

static struct rec *load_wlog(const char *path, size_t *nr)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec wr;
	struct rec *v = NULL;
	size_t n = 0, cap = 0;
	int ret;

	assert_int_equal(sfs_wlog_reader_open(path, &r), 0);
	while ((ret = sfs_wlog_reader_next(r, &wr)) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			v = realloc(v, cap * sizeof(*v));
		}
		v[n] = (struct rec){ .type = wr.type, .seq = wr.seq, .off = wr.off,
				     .covers = wr.covers, .len = wr.len };
		if (wr.type == SFS_WLOG_WRITE) {
			v[n].data = malloc(wr.len);
			memcpy(v[n].data, wr.data, wr.len);
		} else if (wr.type == SFS_WLOG_MARK) {
			char label[32] = { 0 };

			memcpy(label, wr.data, wr.len < 31 ? wr.len : 31);
			v[n].mark = (unsigned)strtoul(label, NULL, 10);
		}
		n++;
	}
	assert_int_equal(ret, 0);
	sfs_wlog_reader_close(r);
	*nr = n;
	return v;
}

/* Write @img out, recover it, and check it is the state after commit k
 * for some k >= @kmin. */
static void check_crash_image(struct jenv *e, const uint8_t *img, const int64_t *states,
			      unsigned K, unsigned kmin)
{
	int fd = open(e->path, O_RDWR);
	int64_t got[64];
	unsigned k;

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, img, e->nblocks * J_BSIZE, 0), (ssize_t)(e->nblocks * J_BSIZE));
	close(fd);
	assert_int_equal(recover_image(e, 0, NULL), 0);
	image_versions(e, got);
	for (k = kmin; k <= K; k++)
		if (!memcmp(got, states + (size_t)k * e->home_blocks,
			    e->home_blocks * sizeof(int64_t)))
			break;
	if (k > K) {
		for (uint64_t i = 0; i < e->home_blocks; i++)
			fprintf(stderr, "block %llu: %lld (after commit %u: %lld)\n",
				(unsigned long long)i, (long long)got[i], kmin,
				(long long)states[(size_t)kmin * e->home_blocks + i]);
		fail_msg("recovered image matches no committed prefix >= %u", kmin);
	}
}

static void crash_at_every_flush(enum jnl_data_mode mode)
{
	enum { K = 40, HOME = 24 };
	struct jnl_config cfg = QUIET_CFG;
	int64_t cur[HOME] = { 0 }, states[(K + 1) * HOME];
	size_t nrec, len, points = 0;
	uint8_t *base, *img;
	uint64_t rng = 1234 + mode;
	struct rec *r;
	char opts[400];
	struct jenv e;

	cfg.mode = mode;
	jenv_make(&e, 48, HOME);
	base = read_image(&e);
	len = e.nblocks * J_BSIZE;
	snprintf(opts, sizeof(opts), "wlog=%s", e.wlog);
	jenv_open(&e, opts, &cfg, NULL);
	memset(states, 0, sizeof(states));
	for (unsigned k = 1; k <= K; k++) {
		char label[16];

		run_txn(&e, &rng, k, 5, cur);
		memcpy(states + (size_t)k * HOME, cur, sizeof(cur));
		snprintf(label, sizeof(label), "%u", k);
		assert_int_equal(sfs_bdev_log_mark(e.bdev, label), 0);
	}
	assert_int_equal(jenv_close(&e), 0);

	r = load_wlog(e.wlog, &nrec);
	img = malloc(len);
	for (size_t f = 0; f < nrec; f++) {
		size_t nf, i;
		unsigned kmin = 0;
		uint64_t next_covers = UINT64_MAX;

		if (r[f].type != SFS_WLOG_FLUSH)
			continue;
		/* commits acknowledged before the next flush were made durable
		 * by this one at the latest */
		for (nf = f + 1; nf < nrec && r[nf].type != SFS_WLOG_FLUSH; nf++)
			;
		if (nf < nrec)
			next_covers = r[nf].covers;
		for (i = 0; i < nf && i < nrec; i++)
			if (r[i].type == SFS_WLOG_MARK)
				kmin = r[i].mark;
		for (int variant = 0; variant < 3; variant++) {
			memcpy(img, base, len);
			for (i = 0; i < nrec; i++) {
				if (r[i].type != SFS_WLOG_WRITE)
					continue;
				if (r[i].seq > r[f].covers) {
					/* in flight at the crash: variant 0 loses all,
					 * the others a random subset */
					if (!variant || r[i].seq > next_covers)
						continue;
					if (rng_next(&rng) & 1)
						continue;
				}
				memcpy(img + r[i].off, r[i].data, r[i].len);
			}
			check_crash_image(&e, img, states, K, kmin);
			points++;
		}
	}
	assert_true(points > 2 * K);
	for (size_t i = 0; i < nrec; i++)
		free(r[i].data);
	free(r);
	free(img);
	free(base);
	jenv_drop(&e);
}

static void test_crash_at_every_flush_recovers_a_committed_prefix(void **state)
{
	(void)state;
	crash_at_every_flush(JNL_DATA_ORDERED);
}

static void test_crash_at_every_flush_writeback_single_flush(void **state)
{
	(void)state;
	crash_at_every_flush(JNL_DATA_WRITEBACK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_then_power_cut_replays_exactly_the_committed),
		cmocka_unit_test(test_torn_commit_discards_its_transaction),
		cmocka_unit_test(test_revoke_prevents_replay_over_newer_data),
		cmocka_unit_test(test_wrap_around_log_replays),
		cmocka_unit_test(test_replay_twice_gives_the_same_image),
		cmocka_unit_test(test_crash_at_every_flush_recovers_a_committed_prefix),
		cmocka_unit_test(test_crash_at_every_flush_writeback_single_flush),
	};

	return cmocka_run_group_tests_name("journal_crash", tests, suite_init, NULL);
}
