/*
 * The journal object: open and close, commit and fsync requests, abort and
 * the persistent error, the superblock.
 *
 * The superblock's start is non-zero from open to a clean close: a crash
 * in between leaves a log that recovery scans from the tail.  An abort
 * records its errno there; the next open finds it and refuses handles
 * until the filesystem has dealt with it (jnl_clear_error), as ext4 does
 * with jbd2's s_errno.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal/internal.h"

static int sb_write(struct jnl_journal *j)
{
	return jnl_sb_write(j->bdev, &j->area, j->sb_buf, &j->sb);
}

int jnl_sb_set_tail(struct jnl_journal *j, uint64_t start, jnl_tid_t seq)
{
	int ret;

	mc_mutex_lock(&j->sb_lock);
	j->sb.start = start;
	j->sb.sequence = seq;
	ret = sb_write(j);
	mc_mutex_unlock(&j->sb_lock);
	return ret;
}

int jnl_sb_set_errno(struct jnl_journal *j, uint32_t errno_)
{
	int ret;

	mc_mutex_lock(&j->sb_lock);
	j->sb.errno_ = errno_;
	ret = sb_write(j);
	mc_mutex_unlock(&j->sb_lock);
	return ret;
}

static int check_geometry(struct sfs_bcache *c, const struct jnl_area *a)
{
	struct sfs_bdev *bdev = sfs_bcache_bdev(c);

	if (a->block_size != sfs_bcache_block_size(c) || a->blocks < JNL_MIN_BLOCKS ||
	    (a->start + a->blocks) * (uint64_t)a->block_size > sfs_bdev_size(bdev))
		return -EINVAL;
	return 0;
}

static void fill_config(struct jnl_journal *j, const struct jnl_config *cfg)
{
	if (cfg)
		j->cfg = *cfg;
	if (!j->cfg.commit_interval_ms)
		j->cfg.commit_interval_ms = 5000;
	/* 512 KiB of staging: large transactions go out in 256 KiB writes */
	if (!j->cfg.ring_blocks)
		j->cfg.ring_blocks = (512u * 1024) / j->area.block_size;
	if (j->cfg.ring_blocks < 4)
		j->cfg.ring_blocks = 4;
	j->cfg.ring_blocks &= ~1u;
	if (!j->cfg.frozen_reserve)
		j->cfg.frozen_reserve = 16;
}

/* Geometry derived from the area and the configuration. */
static int setup_geometry(struct jnl_journal *j)
{
	uint64_t n;

	j->bsize = j->area.block_size;
	j->bshift = (unsigned)__builtin_ctz(j->bsize);
	j->seed = jnl_csum_seed(j->area.uuid);
	j->log_len = j->area.blocks - JNL_FIRST;
	j->tags_per_desc = jnl_tags_per_desc(j->bsize);
	j->revokes_per_block = jnl_revokes_per_block(j->bsize);
	/* jbd2's cap: a quarter of the log, so a full transaction always
	 * leaves room for the next one while it commits */
	n = j->cfg.max_txn_blocks ? j->cfg.max_txn_blocks : j->log_len / 4;
	if (n > j->log_len)
		n = j->log_len;
	if (n < 3)
		return -EINVAL;
	j->max_txn = (unsigned)n;
	n = j->max_txn - 2;
	while (n && jnl_log_need(j, n) > j->max_txn)
		n--;
	j->max_credits = (unsigned)n;
	j->aligned = j->bsize % sfs_bdev_align(j->bdev) == 0;
	return 0;
}

static void init_locks(struct jnl_journal *j)
{
	mc_mutex_init(&j->checkpoint_mutex, "jnl.checkpoint");
	mc_mutex_init(&j->state_lock, "jnl.state");
	mc_mutex_init(&j->list_lock, "jnl.list");
	mc_mutex_init(&j->sb_lock, "jnl.sb");
	mc_cond_init(&j->wait_locked);
	mc_cond_init(&j->wait_updates);
	mc_cond_init(&j->wait_commit);
	mc_cond_init(&j->wait_done);
	mc_cond_init(&j->wait_capture);
	mc_cond_init(&j->wait_reserved);
	mc_list_init(&j->cp_txns);
}

static void destroy(struct jnl_journal *j)
{
	jnl_checkpoint_destroy(j);
	jnl_txn_free(j->running);
	jnl_rsv_destroy(j);
	jnl_frozen_destroy(j);
	jnl_logw_destroy(j);
	mc_free(j->sb_buf);
	pthread_cond_destroy(&j->wait_locked);
	pthread_cond_destroy(&j->wait_updates);
	pthread_cond_destroy(&j->wait_commit);
	pthread_cond_destroy(&j->wait_done);
	pthread_cond_destroy(&j->wait_capture);
	pthread_cond_destroy(&j->wait_reserved);
	mc_mutex_destroy(&j->checkpoint_mutex);
	mc_mutex_destroy(&j->state_lock);
	mc_mutex_destroy(&j->list_lock);
	mc_mutex_destroy(&j->sb_lock);
	mc_free(j);
}

int jnl_open(struct sfs_bcache *c, const struct jnl_area *a, const struct jnl_config *cfg,
	     struct jnl_recovery_info *rinfo, struct jnl_journal **out)
{
	struct jnl_journal *j;
	int ret;

	*out = NULL;
	ret = check_geometry(c, a);
	if (ret)
		return ret;
	j = mc_zalloc(sizeof(*j), MC_KERNEL);
	if (!j)
		return -ENOMEM;
	j->cache = c;
	j->bdev = sfs_bcache_bdev(c);
	j->area = *a;
	fill_config(j, cfg);
	init_locks(j);
	ret = setup_geometry(j);
	if (!ret)
		ret = jnl_rsv_init(j);
	if (ret)
		goto fail;
	j->sb_buf = mc_alloc_named("journal.sb", j->bsize, MC_KERNEL);
	if (!j->sb_buf) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = jnl_sb_read(j->bdev, a, j->sb_buf, &j->sb);
	if (ret)
		goto fail;
	if (j->sb.start) {
		ret = jnl_recover_cache(j->bdev, a, 0, c, rinfo);
		if (!ret)
			ret = jnl_sb_read(j->bdev, a, j->sb_buf, &j->sb);
		if (ret)
			goto fail;
	} else if (rinfo) {
		memset(rinfo, 0, sizeof(*rinfo));
		rinfo->was_clean = true;
		rinfo->first_tid = rinfo->end_tid = j->sb.sequence;
		rinfo->errno_ = (int)j->sb.errno_;
	}
	ret = jnl_logw_init(j);
	if (!ret)
		ret = jnl_frozen_init(j);
	if (ret)
		goto fail;

	j->disk_errno = j->sb.errno_;
	j->next_tid = j->sb.sequence;
	j->commit_seq = j->finished_seq = j->next_tid - 1;
	j->head = j->tail = JNL_FIRST;
	j->tail_seq = j->next_tid;
	if (j->cfg.mode == JNL_DATA_WRITEBACK)
		j->sb.features |= JNL_FEAT_ASYNC_COMMIT;
	/* in use from now on: a crash makes the next open scan from here */
	ret = jnl_sb_set_tail(j, JNL_FIRST, j->next_tid);
	if (ret)
		goto fail;
	ret = jnl_checkpoint_shrinker_register(j);
	if (ret)
		goto fail;
	if (mc_thread_create(&j->thread, "sfs-jcommit", jnl_commit_thread, j)) {
		mc_shrinker_unregister(&j->shrinker);
		ret = -EAGAIN;
		goto fail;
	}
	j->thread_started = true;
	*out = j;
	return 0;
fail:
	destroy(j);
	return ret;
}

int jnl_close(struct jnl_journal *j)
{
	int ret = 0, r;

	if (!j)
		return 0;
	if (!jnl_aborted(j))
		ret = jnl_flush(j);
	mc_mutex_lock(&j->state_lock);
	j->stopping = true;
	pthread_cond_signal(&j->wait_commit);
	mc_mutex_unlock(&j->state_lock);
	pthread_join(j->thread, NULL);
	if (!jnl_aborted(j)) {
		/* the commit thread's last commit (a handle that raced with
		 * close) may have left work */
		r = jnl_checkpoint_all(j);
		if (!ret)
			ret = r;
	}
	if (!jnl_aborted(j) && !ret) {
		r = jnl_sb_set_tail(j, 0, j->next_tid);
		if (!ret)
			ret = r;
	}
	if (jnl_aborted(j))
		ret = j->err;
	mc_shrinker_unregister(&j->shrinker);
	destroy(j);
	return ret;
}

/* -EDEADLK if the calling thread holds a handle of @j in a transaction
 * not newer than @tid: waiting would wait for itself. */
static int check_self_wait(struct jnl_journal *j, jnl_tid_t tid)
{
	struct jnl_handle *h = jnl_current();

	return h && h->j == j && h->t->tid <= tid ? -EDEADLK : 0;
}

bool jnl_tid_committed(struct jnl_journal *j, jnl_tid_t tid)
{
	bool done;

	mc_mutex_lock(&j->state_lock);
	done = j->commit_seq >= tid;
	mc_mutex_unlock(&j->state_lock);
	return done;
}

int jnl_commit_tid(struct jnl_journal *j, jnl_tid_t tid)
{
	int ret = check_self_wait(j, tid);

	if (ret)
		return ret;
	mc_mutex_lock(&j->state_lock);
	if (j->commit_seq >= tid) {
		ret = 0;
	} else if (j->running && j->running->tid == tid) {
		jnl_request_commit_locked(j, tid, JNL_WHY_REQUEST);
		ret = jnl_wait_tid_locked(j, tid, false);
	} else if (j->committing && j->committing->tid == tid) {
		ret = jnl_wait_tid_locked(j, tid, false);
	} else {
		ret = j->err ? -EIO : 0;   /* no such transaction yet: nothing to wait for */
	}
	mc_mutex_unlock(&j->state_lock);
	return ret;
}

int jnl_fsync(struct jnl_journal *j, jnl_tid_t tid)
{
	if (jnl_tid_committed(j, tid)) {
		/* Its metadata is durable; data written since (overwrites
		 * that changed no metadata) needs only the barrier. */
		JNL_STAT_ADD(j, fsync_fast, 1);
		return jnl_dev_flush(j);
	}
	JNL_STAT_ADD(j, fsync_commit, 1);
	return jnl_commit_tid(j, tid);
}

int jnl_force_commit(struct jnl_journal *j)
{
	jnl_tid_t tid = 0;
	int ret;

	mc_mutex_lock(&j->state_lock);
	if (j->running)
		tid = j->running->tid;
	else if (j->committing)
		tid = j->committing->tid;
	mc_mutex_unlock(&j->state_lock);
	if (!tid)
		return jnl_aborted(j) ? -EIO : 0;
	ret = check_self_wait(j, tid);
	if (ret)
		return ret;
	mc_mutex_lock(&j->state_lock);
	jnl_request_commit_locked(j, tid, JNL_WHY_REQUEST);
	ret = jnl_wait_tid_locked(j, tid, true);
	mc_mutex_unlock(&j->state_lock);
	return ret;
}

int jnl_flush(struct jnl_journal *j)
{
	int ret = jnl_force_commit(j);

	return ret ? ret : jnl_checkpoint_all(j);
}

void jnl_abort(struct jnl_journal *j, int err)
{
	if (err >= 0)
		err = -EIO;
	mc_mutex_lock(&j->state_lock);
	if (j->err) {
		mc_mutex_unlock(&j->state_lock);
		return;
	}
	JNL_STAT_ADD(j, aborts, 1);
	__atomic_store_n(&j->err, err, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&j->wait_locked);
	pthread_cond_broadcast(&j->wait_done);
	pthread_cond_broadcast(&j->wait_commit);
	pthread_cond_broadcast(&j->wait_reserved);
	mc_mutex_unlock(&j->state_lock);
	mc_mutex_lock(&j->list_lock);
	pthread_cond_broadcast(&j->wait_capture);
	mc_mutex_unlock(&j->list_lock);
	fprintf(stderr, "journal: aborted: %s; no further transaction will commit\n",
		strerror(-err));
	/* best effort: the device may be what failed */
	jnl_sb_set_errno(j, (uint32_t)-err);
}

int jnl_errno(struct jnl_journal *j)
{
	int err = __atomic_load_n(&j->err, __ATOMIC_ACQUIRE);

	if (err)
		return err;
	mc_mutex_lock(&j->state_lock);
	err = j->disk_errno ? -(int)j->disk_errno : 0;
	mc_mutex_unlock(&j->state_lock);
	return err;
}

int jnl_clear_error(struct jnl_journal *j)
{
	uint32_t e;

	if (jnl_aborted(j))
		return -EROFS;
	mc_mutex_lock(&j->state_lock);
	e = j->disk_errno;
	j->disk_errno = 0;
	mc_mutex_unlock(&j->state_lock);
	return e ? jnl_sb_set_errno(j, 0) : 0;
}
