/*
 * The commit path: frozen copies for buffers a newer transaction changes
 * while they are being committed, ordered data before the commit block,
 * aborts on I/O errors and the error state that survives a remount, and
 * the on-disk format's agreement with fs/format.
 */
#include "helpers.h"

#include "fs/format/ondisk.h"

#define QUIET_CFG { .commit_interval_ms = 600000 }

/* The journal's copy of the format constants must match fs/format's. */
_Static_assert(JNL_MAGIC_SB == SFS_MAGIC_JSB, "journal superblock magic");
_Static_assert(JNL_MAGIC_DESC == SFS_MAGIC_JDESC, "descriptor magic");
_Static_assert(JNL_MAGIC_COMMIT == SFS_MAGIC_JCOMMIT, "commit magic");
_Static_assert(JNL_MAGIC_REVOKE == SFS_MAGIC_JREVOKE, "revoke magic");
_Static_assert(JNL_HDR_VERSION == SFS_HDR_VERSION, "header version");
_Static_assert(sizeof(struct jnl_disk_hdr) == sizeof(struct sfs_disk_hdr), "header size");
_Static_assert(offsetof(struct jnl_disk_hdr, csum) == offsetof(struct sfs_disk_hdr, csum), "csum");
_Static_assert(offsetof(struct jnl_disk_hdr, blkno) == offsetof(struct sfs_disk_hdr, blkno), "blkno");
_Static_assert(offsetof(struct jnl_disk_hdr, uuid) == offsetof(struct sfs_disk_hdr, uuid), "uuid");
_Static_assert(offsetof(struct jnl_disk_hdr, seq) == offsetof(struct sfs_disk_hdr, lsn), "lsn");
_Static_assert(offsetof(struct jnl_disk_sb, block_log) == offsetof(struct sfs_disk_jsb, block_log), "");
_Static_assert(offsetof(struct jnl_disk_sb, features) == offsetof(struct sfs_disk_jsb, jfeatures), "");
_Static_assert(offsetof(struct jnl_disk_sb, maxlen) == offsetof(struct sfs_disk_jsb, maxlen), "");
_Static_assert(offsetof(struct jnl_disk_sb, first) == offsetof(struct sfs_disk_jsb, first), "");
_Static_assert(offsetof(struct jnl_disk_sb, sequence) == offsetof(struct sfs_disk_jsb, sequence), "");
_Static_assert(offsetof(struct jnl_disk_sb, start) == offsetof(struct sfs_disk_jsb, start), "");
_Static_assert(offsetof(struct jnl_disk_sb, errno_) == offsetof(struct sfs_disk_jsb, errno_), "");
_Static_assert(sizeof(struct jnl_disk_sb) == sizeof(struct sfs_disk_jsb), "superblock size");

static void test_format_open_close_leaves_a_clean_log(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info ri;
	struct jnl_area bad;
	struct jnl_handle *h;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open_dev(&e, NULL);
	bad = e.area;
	bad.blocks = JNL_MIN_BLOCKS - 1;
	assert_int_equal(jnl_format_area(e.bdev, &bad), -EINVAL);
	bad = e.area;
	bad.uuid[0] ^= 1;   /* another filesystem's journal */
	assert_int_equal(jnl_open(e.cache, &bad, &cfg, NULL, &e.j), -EFSCORRUPTED);
	assert_int_equal(jnl_open(e.cache, &e.area, &cfg, &ri, &e.j), 0);
	assert_true(ri.was_clean);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 5), 0);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jenv_close(&e), 0);
	/* closed cleanly: checkpointed home, nothing to replay */
	assert_int_equal(recover_image(&e, JNL_RECOVER_CHECK, &ri), 0);
	assert_true(ri.was_clean);
	{
		int64_t got[8];

		image_versions(&e, got);
		assert_int_equal(got[0], 5);
	}
	jenv_drop(&e);
}

/* ---- a stub data source for ordered mode ---- */

struct stub {
	struct jnl_inode ji;
	struct jenv *e;
	jnl_tid_t tid;               /* the transaction the data belongs to */
	uint64_t blk;                /* where its "data" goes */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool park, parked;           /* hold the commit inside submit */
	int submits, waits, fail;
	bool committed_at_submit, committed_at_wait;
};

static int stub_submit(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	struct stub *s = ji->priv;
	uint8_t *buf = aligned_alloc(4096, J_BSIZE);

	assert_true(start < end);
	s->committed_at_submit = jnl_tid_committed(s->e->j, s->tid);
	pthread_mutex_lock(&s->lock);
	s->submits++;
	s->parked = true;
	pthread_cond_broadcast(&s->cond);
	while (s->park)
		pthread_cond_wait(&s->cond, &s->lock);
	s->parked = false;
	pthread_mutex_unlock(&s->lock);
	pattern_fill(buf, s->blk, 77);
	sfs_bdev_write(s->e->bdev, buf, J_BSIZE, s->blk * J_BSIZE);
	free(buf);
	return 0;
}

static int stub_wait(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	struct stub *s = ji->priv;

	(void)start;
	(void)end;
	s->committed_at_wait = jnl_tid_committed(s->e->j, s->tid);
	s->waits++;
	return s->fail;
}

static const struct jnl_inode_ops stub_ops = { .submit = stub_submit, .wait = stub_wait };

static void stub_init(struct stub *s, struct jenv *e, uint64_t blk)
{
	memset(s, 0, sizeof(*s));
	s->e = e;
	s->blk = blk;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	jnl_inode_init(&s->ji, &stub_ops, s);
}

static void stub_wait_parked(struct stub *s)
{
	pthread_mutex_lock(&s->lock);
	while (!s->parked)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

static void stub_release(struct stub *s)
{
	pthread_mutex_lock(&s->lock);
	s->park = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

struct committer {
	pthread_t th;
	struct jnl_journal *j;
	jnl_tid_t tid;
	int ret;
};

static void *commit_fn(void *arg)
{
	struct committer *c = arg;

	c->ret = jnl_commit_tid(c->j, c->tid);
	return NULL;
}

static void test_ordered_data_reaches_disk_before_commit(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info ri;
	struct jnl_handle *h;
	struct stub s;
	int64_t got[8];
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	stub_init(&s, &e, home(&e, 7));
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);   /* e.g. the inode's new size */
	assert_int_equal(jnl_inode_add(h, &s.ji, 0, 4096), 0);
	s.tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e.j, s.tid), 0);
	assert_int_equal(s.submits, 1);
	assert_int_equal(s.waits, 1);
	assert_false(s.committed_at_submit);
	assert_false(s.committed_at_wait);
	sfs_bdev_power_cut(e.bdev);
	jnl_inode_release(e.j, &s.ji);
	jenv_close(&e);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	image_versions(&e, got);
	assert_int_equal(got[0], 1);
	assert_int_equal(got[7], 77);     /* the data the metadata points to */
	jenv_drop(&e);

	/* writeback mode has no ordered data */
	{
		struct jnl_config wb = QUIET_CFG;

		wb.mode = JNL_DATA_WRITEBACK;
		jenv_make(&e, 64, 8);
		jenv_open(&e, NULL, &wb, NULL);
		stub_init(&s, &e, home(&e, 7));
		assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
		assert_int_equal(jnl_inode_add(h, &s.ji, 0, 4096), 0);
		assert_int_equal(jwrite(&e, h, 0, 1), 0);
		assert_int_equal(jnl_stop(h), 0);
		assert_int_equal(jnl_force_commit(e.j), 0);
		assert_int_equal(s.submits, 0);
		assert_int_equal(jenv_close(&e), 0);
		jenv_drop(&e);
	}
}

/*
 * While the commit of T1 is held inside its ordered-data step (before it
 * copies anything to the log), T2 changes a buffer T1 logs: it gets a
 * frozen copy and does not wait; T1 commits the old contents.
 */
static void test_frozen_copy_keeps_the_commit_correct(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info ri;
	struct committer c = { 0 };
	struct jnl_handle *h;
	struct jnl_stats st;
	struct stub s;
	int64_t got[8];
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	stub_init(&s, &e, home(&e, 7));
	s.park = true;
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	assert_int_equal(jwrite(&e, h, 1, 1), 0);
	assert_int_equal(jnl_inode_add(h, &s.ji, 0, 1), 0);
	c.j = e.j;
	c.tid = s.tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(pthread_create(&c.th, NULL, commit_fn, &c), 0);
	stub_wait_parked(&s);

	/* T2, while T1 is committing */
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_true(jnl_handle_tid(h) > c.tid);
	assert_int_equal(jwrite(&e, h, 0, 2), 0);
	assert_int_equal(jwrite(&e, h, 2, 2), 0);
	assert_int_equal(jnl_stop(h), 0);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.frozen_copies, 1);
	assert_int_equal(st.frozen_from_reserve, 1);
	assert_false(jnl_tid_committed(e.j, c.tid));

	stub_release(&s);
	pthread_join(c.th, NULL);
	assert_int_equal(c.ret, 0);
	sfs_bdev_power_cut(e.bdev);   /* before T2 commits */
	jnl_inode_release(e.j, &s.ji);
	jenv_close(&e);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_int_equal(ri.transactions, 1);
	image_versions(&e, got);
	assert_int_equal(got[0], 1);      /* T1's contents, not T2's */
	assert_int_equal(got[1], 1);
	assert_int_equal(got[2], 0);
	jenv_drop(&e);
}

struct modifier {
	pthread_t th;
	struct jenv *e;
	_Atomic int done;
	int ret;
};

static void *modify_fn(void *arg)
{
	struct modifier *m = arg;
	struct jnl_handle *h;

	m->ret = jnl_start(m->e->j, 3, 0, &h);
	if (!m->ret) {
		for (uint64_t b = 0; b < 3 && !m->ret; b++)
			m->ret = jwrite(m->e, h, b, 2);
		jnl_stop(h);
	}
	m->done = 1;
	return NULL;
}

/* No memory for a frozen copy (reserve used up, fresh allocations
 * failing): the modifier waits for the commit to copy the buffer, which
 * needs no memory, instead of failing. */
static void test_no_memory_for_frozen_copy_waits_for_capture(void **state)
{
	struct jnl_config cfg = QUIET_CFG;
	struct committer c = { 0 };
	struct modifier m = { 0 };
	struct jnl_handle *h;
	struct jnl_stats st;
	struct stub s;
	char err[128];
	int64_t got[8];
	struct jenv e;

	(void)state;
	cfg.frozen_reserve = 1;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	stub_init(&s, &e, home(&e, 7));
	s.park = true;
	assert_int_equal(jnl_start(e.j, 3, 0, &h), 0);
	for (uint64_t b = 0; b < 3; b++)
		assert_int_equal(jwrite(&e, h, b, 1), 0);
	assert_int_equal(jnl_inode_add(h, &s.ji, 0, 1), 0);
	c.j = e.j;
	c.tid = s.tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(pthread_create(&c.th, NULL, commit_fn, &c), 0);
	stub_wait_parked(&s);

	assert_int_equal(mc_fault_set("journal.frozen:always", err, sizeof(err)), 0);
	m.e = &e;
	assert_int_equal(pthread_create(&m.th, NULL, modify_fn, &m), 0);
	usleep(200000);
	assert_false(m.done);              /* waiting for the capture, not failing */
	jnl_get_stats(e.j, &st);
	assert_true(st.capture_waits >= 1);
	assert_int_equal(st.frozen_from_reserve, 1);
	stub_release(&s);
	pthread_join(c.th, NULL);
	pthread_join(m.th, NULL);
	assert_int_equal(mc_fault_set("", err, sizeof(err)), 0);
	assert_int_equal(c.ret, 0);
	assert_int_equal(m.ret, 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	jnl_inode_release(e.j, &s.ji);
	assert_int_equal(jenv_close(&e), 0);
	image_versions(&e, got);
	for (int b = 0; b < 3; b++)
		assert_int_equal(got[b], 2);
	jenv_drop(&e);
}

struct aborter {
	pthread_t th;
	struct jnl_journal *j;
};

static void *abort_fn(void *arg)
{
	struct aborter *a = arg;

	jnl_abort(a->j, -EIO);
	return NULL;
}

/*
 * An I/O error on the log aborts the journal: the transaction does not
 * commit, handles fail, nothing reaches home, and the error is still
 * there after a remount until the filesystem clears it.
 */
static void test_injected_eio_aborts_and_error_survives_remount(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_recovery_info ri;
	struct aborter ab;
	struct jnl_handle *h;
	struct jnl_stats st;
	char opts[64];
	jnl_tid_t tid;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	/* every log block fails to write; the superblock (area block 0) works */
	snprintf(opts, sizeof(opts), "eio=%llu-%llu,eio_op=write",
		 (unsigned long long)e.area.start + 1,
		 (unsigned long long)(e.area.start + e.area.blocks - 1));
	jenv_open(&e, opts, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 2, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e.j, tid), -EIO);
	assert_false(jnl_tid_committed(e.j, tid));
	assert_int_equal(jnl_errno(e.j), -EIO);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), -EROFS);
	assert_int_equal(jnl_start(e.j, 1, JNL_NOFAIL, &h), -EROFS);
	assert_int_equal(jnl_force_commit(e.j), -EIO);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.aborts, 1);
	assert_int_equal(jenv_close(&e), -EIO);
	{
		int64_t got[8];

		image_versions(&e, got);
		assert_int_equal(got[0], 0);   /* nothing half-written reached home */
	}

	/* remount without the fault: the error state is back */
	jenv_open(&e, NULL, &cfg, &ri);
	assert_false(ri.was_clean);
	assert_int_equal(ri.transactions, 0);
	assert_int_equal(ri.errno_, EIO);
	assert_int_equal(jnl_errno(e.j), -EIO);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), -EROFS);
	assert_int_equal(jnl_clear_error(e.j), 0);
	assert_int_equal(jnl_errno(e.j), 0);
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	/* a handle open when the journal aborts fails from then on */
	ab.j = e.j;
	assert_int_equal(pthread_create(&ab.th, NULL, abort_fn, &ab), 0);
	pthread_join(ab.th, NULL);
	assert_int_equal(jwrite(&e, h, 1, 1), -EIO);
	assert_int_equal(jnl_stop(h), -EIO);
	assert_int_equal(jnl_clear_error(e.j), -EROFS);
	assert_int_equal(jenv_close(&e), -EIO);

	/* the second abort was recorded too; fsck clears it offline */
	{
		struct sfs_bdev *bdev;

		assert_int_equal(sfs_bdev_open(e.path, 0, NULL, &bdev), 0);
		assert_int_equal(jnl_clear_recorded_error(bdev, &e.area), EIO);
		assert_int_equal(jnl_clear_recorded_error(bdev, &e.area), 0);
		sfs_bdev_close(bdev);
	}
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_errno(e.j), 0);
	assert_int_equal(jenv_close(&e), 0);
	jenv_drop(&e);
}

static void test_ordered_data_error_aborts_the_commit(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct jnl_handle *h;
	struct stub s;
	jnl_tid_t tid;
	struct jenv e;

	(void)state;
	jenv_make(&e, 64, 8);
	jenv_open(&e, NULL, &cfg, NULL);
	stub_init(&s, &e, home(&e, 7));
	s.fail = -EIO;
	assert_int_equal(jnl_start(e.j, 1, 0, &h), 0);
	assert_int_equal(jwrite(&e, h, 0, 1), 0);
	assert_int_equal(jnl_inode_add(h, &s.ji, 0, 1), 0);
	tid = jnl_handle_tid(h);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_commit_tid(e.j, tid), -EIO);
	assert_int_equal(jnl_errno(e.j), -EIO);
	jnl_inode_release(e.j, &s.ji);
	assert_int_equal(jenv_close(&e), -EIO);
	jenv_drop(&e);
}

/* Buffers the filesystem's writeback already wrote home are pinned by the
 * journal only until memory is short: the checkpoint shrinker lets go. */
static void test_checkpoint_shrinker_unpins_buffers_already_home(void **state)
{
	const struct jnl_config cfg = QUIET_CFG;
	struct sfs_bcache_stats ca, cb;
	struct jnl_recovery_info ri;
	struct jnl_handle *h;
	struct jnl_stats st;
	int64_t got[32];
	struct jenv e;

	(void)state;
	jenv_make(&e, 128, 32);
	jenv_open(&e, NULL, &cfg, NULL);
	assert_int_equal(jnl_start(e.j, 20, 0, &h), 0);
	for (uint64_t b = 0; b < 20; b++)
		assert_int_equal(jwrite(&e, h, b, 6), 0);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_force_commit(e.j), 0);
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.checkpoint_buffers, 20);
	mc_drop_caches();
	jnl_get_stats(e.j, &st);
	assert_int_equal(st.checkpoint_buffers, 20);   /* dirty: still needed */
	assert_int_equal(sfs_bcache_sync(e.cache), 0);   /* the filesystem's writeback */
	sfs_bcache_stats(e.cache, &ca);
	mc_drop_caches();
	mc_drop_caches();
	jnl_get_stats(e.j, &st);
	sfs_bcache_stats(e.cache, &cb);
	assert_int_equal(st.checkpoint_buffers, 0);
	assert_true(cb.buffers + 20 <= ca.buffers);
	assert_true(st.log_used > 0);                   /* the tail did not move */
	sfs_bdev_power_cut(e.bdev);
	jenv_close(&e);
	assert_int_equal(recover_image(&e, 0, &ri), 0);
	assert_int_equal(ri.transactions, 1);
	image_versions(&e, got);
	for (int b = 0; b < 20; b++)
		assert_int_equal(got[b], 6);
	jenv_drop(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_open_close_leaves_a_clean_log),
		cmocka_unit_test(test_ordered_data_reaches_disk_before_commit),
		cmocka_unit_test(test_frozen_copy_keeps_the_commit_correct),
		cmocka_unit_test(test_no_memory_for_frozen_copy_waits_for_capture),
		cmocka_unit_test(test_injected_eio_aborts_and_error_survives_remount),
		cmocka_unit_test(test_ordered_data_error_aborts_the_commit),
		cmocka_unit_test(test_checkpoint_shrinker_unpins_buffers_already_home),
	};

	return cmocka_run_group_tests_name("journal_commit", tests, suite_init, NULL);
}
