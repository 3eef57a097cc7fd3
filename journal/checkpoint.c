/*
 * Checkpointing: getting committed blocks home so their log space can be
 * reused, and moving the log tail.
 *
 * A committed transaction keeps a checkpoint list of the buffers whose
 * copy in it is the newest not yet home.  A buffer leaves the list when it
 * is clean (the buffer cache's writeback or a checkpoint wrote it), or when
 * a newer transaction commits it again.  A transaction with an empty list
 * is checkpointed, but the tail only moves past a run of them from the
 * oldest: space is released in log order.
 *
 * Moving the tail: flush (the home writes are durable), write the
 * superblock's start and sequence, flush; only then is the space free
 * again.  Reusing it earlier could overwrite transactions that recovery
 * would still start from.
 *
 * A handle that finds the log short of space checkpoints itself (jbd2's
 * __jbd2_log_wait_for_space); the checkpoint-wait counter counts those
 * handles.  If a buffer on the oldest checkpoint list is owned by a newer
 * transaction, that transaction's commit is forced and waited for first:
 * it will carry the newer copy.  checkpoint_mutex is dropped for that
 * wait, since the commit thread may want it (it only try-locks).
 *
 * The commit thread cleans checkpoint lists of buffers that writeback
 * already wrote (no I/O) after each commit, and moves the tail when a
 * transaction's worth of space can be released.
 *
 * Locking: checkpoint_mutex > state_lock > list_lock.  Buffer I/O happens
 * with only checkpoint_mutex held.
 */
#include <errno.h>
#include <stdio.h>

#include "journal/internal.h"

#define CP_BATCH 64u

/* Still needed on the checkpoint list?  list_lock held. */
static bool cp_busy(const struct jnl_head *jh)
{
	return jh->t || (sfs_buf_state(jh->bh) & (SFS_BS_DIRTY | SFS_BS_WRITEBACK | SFS_BS_LOCKED));
}

/* Drop clean buffers from the lists of the oldest transactions; stops at
 * the first one still holding work.  list_lock held.  Returns the log
 * blocks of the checkpointed transactions at the front. */
static uint64_t clean_lists(struct jnl_journal *j, struct mc_list *dead)
{
	struct mc_list *tp, *p, *n;
	uint64_t releasable = 0;

	for (tp = j->cp_txns.next; tp != &j->cp_txns; tp = tp->next) {
		struct jnl_txn *t = mc_list_entry(tp, struct jnl_txn, cp_link);

		mc_list_for_each_safe(p, n, &t->cp_list) {
			struct jnl_head *jh = mc_list_entry(p, struct jnl_head, cp_link);

			if (cp_busy(jh))
				continue;
			jnl_cp_remove(jh);
			jnl_head_detach(jh, dead);
		}
		if (!mc_list_empty(&t->cp_list))
			break;
		releasable += t->log_len;
	}
	return releasable;
}

/*
 * Release the checkpointed transactions at the front of the log and write
 * the new tail.  checkpoint_mutex held.  0 = moved, 1 = nothing to do,
 * <0 = error (the journal is aborted).
 */
static int cleanup_tail(struct jnl_journal *j)
{
	struct mc_list done, *p, *n;
	uint64_t freed = 0, tail;
	jnl_tid_t seq;
	int ret;

	mc_list_init(&done);
	mc_mutex_lock(&j->state_lock);
	mc_mutex_lock(&j->list_lock);
	if (j->err) {
		mc_mutex_unlock(&j->list_lock);
		mc_mutex_unlock(&j->state_lock);
		return -EIO;
	}
	while (!mc_list_empty(&j->cp_txns)) {
		struct jnl_txn *t = mc_list_entry(j->cp_txns.next, struct jnl_txn, cp_link);

		if (!mc_list_empty(&t->cp_list))
			break;
		mc_list_del(&t->cp_link);
		t->state = JNL_T_CHECKPOINTED;
		freed += t->log_len;
		mc_list_add_tail(&done, &t->cp_link);
	}
	if (!mc_list_empty(&j->cp_txns)) {
		struct jnl_txn *t = mc_list_entry(j->cp_txns.next, struct jnl_txn, cp_link);

		tail = t->log_start;
		seq = t->tid;
	} else if (j->committing) {
		tail = j->committing->log_start;
		seq = j->committing->tid;
	} else {
		/* empty log: the next transaction to be written goes at head */
		tail = j->head;
		seq = j->running ? j->running->tid : j->next_tid;
	}
	mc_mutex_unlock(&j->list_lock);
	mc_mutex_unlock(&j->state_lock);

	mc_list_for_each_safe(p, n, &done) {
		mc_list_del(p);
		jnl_txn_free(mc_list_entry(p, struct jnl_txn, cp_link));
	}
	if (!freed && tail == j->tail && seq == j->tail_seq)
		return 1;

	/* the home copies first, then the superblock that forgets the log copies */
	ret = jnl_dev_flush(j);
	if (!ret)
		ret = jnl_sb_set_tail(j, tail, seq);
	if (ret) {
		jnl_abort(j, ret);
		return -EIO;
	}
	mc_mutex_lock(&j->state_lock);
	j->used -= freed;
	j->tail = tail;
	j->tail_seq = seq;
	mc_mutex_unlock(&j->state_lock);
	JNL_STAT_ADD(j, tail_updates, 1);
	return 0;
}

/* Write @bhs home (their references are dropped).  @hint: how many dirty
 * buffers the oldest transaction has, for the cache-wide batch. */
static int write_home(struct jnl_journal *j, struct sfs_buf **bhs, unsigned n, size_t hint)
{
	long written;
	int err = 0;

	/* one sorted, batched pass over the oldest dirty buffers: ours are
	 * among them, being the oldest committed changes */
	written = sfs_bcache_writeback(j->cache, hint, true);
	if (written < 0)
		written = 0;   /* a sticky error of the cache; ours are checked below */
	for (unsigned i = 0; i < n; i++) {
		struct sfs_buf *bh = bhs[i];
		unsigned st;

		sfs_buf_wait_writeback(bh);
		st = sfs_buf_state(bh);
		if ((st & SFS_BS_DIRTY) && !(st & (SFS_BS_JOURNAL | SFS_BS_STALE))) {
			int r = sfs_buf_write(bh);

			/* -EBUSY: a handle took it meanwhile; its commit will
			 * carry it */
			if (r && r != -EBUSY && !err)
				err = r < 0 ? r : -EIO;
			written += !r;
		} else if (st & SFS_BS_LOCKED) {
			/* clean but locked: let the holder finish */
			sfs_buf_lock(bh);
			sfs_buf_unlock(bh);
		}
		sfs_buf_release(bh);
	}
	JNL_STAT_ADD(j, checkpoint_writes, (uint64_t)written);
	if (err)
		jnl_abort(j, err);
	return err;
}

/*
 * Checkpoint the oldest transaction.  checkpoint_mutex held (dropped while
 * waiting for a commit).  0 = progress, 1 = nothing to checkpoint, <0.
 */
static int checkpoint_oldest(struct jnl_journal *j)
{
	struct sfs_buf *batch[CP_BATCH];
	struct mc_list dead;
	jnl_tid_t this_tid;
	int ret;

	ret = cleanup_tail(j);
	if (ret <= 0)
		return ret;
	mc_list_init(&dead);
	mc_mutex_lock(&j->list_lock);
	if (mc_list_empty(&j->cp_txns)) {
		mc_mutex_unlock(&j->list_lock);
		return 1;
	}
	this_tid = mc_list_entry(j->cp_txns.next, struct jnl_txn, cp_link)->tid;
	JNL_STAT_ADD(j, checkpoints, 1);
	for (;;) {
		struct jnl_txn *t;
		struct mc_list *p, *nx;
		jnl_tid_t owner = 0;
		unsigned n = 0;
		size_t busy = 0;

		/* someone else may have finished it while we slept */
		if (mc_list_empty(&j->cp_txns))
			break;
		t = mc_list_entry(j->cp_txns.next, struct jnl_txn, cp_link);
		if (t->tid != this_tid || mc_list_empty(&t->cp_list))
			break;
		mc_list_for_each_safe(p, nx, &t->cp_list) {
			struct jnl_head *jh = mc_list_entry(p, struct jnl_head, cp_link);

			if (jh->t) {
				owner = jh->t->tid;
				break;
			}
			if (!cp_busy(jh)) {
				jnl_cp_remove(jh);
				jnl_head_detach(jh, &dead);
				continue;
			}
			busy++;
			if (n < CP_BATCH) {
				sfs_buf_hold(jh->bh);
				batch[n++] = jh->bh;
			}
		}
		mc_mutex_unlock(&j->list_lock);
		jnl_heads_release(&dead);
		if (n) {
			ret = write_home(j, batch, n, busy);
			if (ret)
				return ret;
		}
		if (owner) {
			/* a newer transaction has it: its commit moves the
			 * buffer to its own checkpoint list */
			JNL_STAT_ADD(j, checkpoint_forced_commits, 1);
			mc_mutex_unlock(&j->checkpoint_mutex);
			mc_mutex_lock(&j->state_lock);
			jnl_request_commit_locked(j, owner, JNL_WHY_REQUEST);
			ret = jnl_wait_tid_locked(j, owner, true);
			mc_mutex_unlock(&j->state_lock);
			mc_mutex_lock(&j->checkpoint_mutex);
			if (ret)
				return ret;
		}
		mc_mutex_lock(&j->list_lock);
	}
	mc_mutex_unlock(&j->list_lock);
	ret = cleanup_tail(j);
	return ret < 0 ? ret : 0;
}

int jnl_wait_for_space(struct jnl_journal *j)
{
	jnl_tid_t tid = 0;
	int ret;

	mc_mutex_lock(&j->checkpoint_mutex);
	ret = checkpoint_oldest(j);
	mc_mutex_unlock(&j->checkpoint_mutex);
	if (ret <= 0)
		return ret;

	/* Nothing to checkpoint: the space is held by the committing
	 * transaction, or was freed while we looked. */
	mc_mutex_lock(&j->state_lock);
	mc_mutex_lock(&j->list_lock);
	if (j->committing)
		tid = j->committing->tid;
	else if (mc_list_empty(&j->cp_txns) && j->used)
		ret = -ENOSPC;   /* cannot happen: nothing holds the space */
	else
		ret = 0;
	mc_mutex_unlock(&j->list_lock);
	if (tid)
		ret = jnl_wait_tid_locked(j, tid, true);
	mc_mutex_unlock(&j->state_lock);
	if (ret == -ENOSPC) {
		fprintf(stderr, "journal: %llu log blocks used and nothing to checkpoint\n",
			(unsigned long long)j->used);
		jnl_abort(j, ret);
	}
	return ret;
}

int jnl_checkpoint_all(struct jnl_journal *j)
{
	int ret;

	mc_mutex_lock(&j->checkpoint_mutex);
	do
		ret = checkpoint_oldest(j);
	while (ret == 0);
	mc_mutex_unlock(&j->checkpoint_mutex);
	return ret < 0 ? ret : 0;
}

void jnl_checkpoint_clean(struct jnl_journal *j)
{
	struct mc_list dead;
	uint64_t releasable;

	if (!mc_mutex_trylock(&j->checkpoint_mutex))
		return;
	mc_list_init(&dead);
	mc_mutex_lock(&j->list_lock);
	releasable = clean_lists(j, &dead);
	mc_mutex_unlock(&j->list_lock);
	jnl_heads_release(&dead);
	if (releasable >= j->max_txn)
		cleanup_tail(j);
	mc_mutex_unlock(&j->checkpoint_mutex);
}

/*
 * The checkpoint shrinker (jbd2 has one too): a buffer that writeback has
 * already written home stays pinned by its head until a checkpoint or the
 * next commit looks at the list.  Under memory pressure, drop those heads
 * so the buffer cache can free the buffers.  No I/O, no waiting, nothing
 * allocated: it needs neither FS nor IO, and a thread holding list_lock
 * never allocates, so taking it here cannot deadlock.  The log tail is not
 * moved (that needs I/O); the next checkpoint or commit does it.
 */
static size_t cp_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct jnl_journal *j = s->priv;

	(void)sc;
	return (size_t)__atomic_load_n(&j->nr_cp, __ATOMIC_RELAXED);
}

static size_t cp_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct jnl_journal *j = s->priv;
	struct mc_list dead, *tp, *p, *n;
	size_t scanned = 0, freed = 0;

	mc_list_init(&dead);
	mc_mutex_lock(&j->list_lock);
	for (tp = j->cp_txns.next; tp != &j->cp_txns && scanned < sc->nr_to_scan; tp = tp->next) {
		struct jnl_txn *t = mc_list_entry(tp, struct jnl_txn, cp_link);

		mc_list_for_each_safe(p, n, &t->cp_list) {
			struct jnl_head *jh = mc_list_entry(p, struct jnl_head, cp_link);

			if (scanned++ >= sc->nr_to_scan)
				break;
			if (cp_busy(jh))
				continue;
			jnl_cp_remove(jh);
			jnl_head_detach(jh, &dead);
			freed++;
		}
	}
	mc_mutex_unlock(&j->list_lock);
	jnl_heads_release(&dead);
	sc->nr_scanned = scanned;
	return freed;
}

int jnl_checkpoint_shrinker_register(struct jnl_journal *j)
{
	j->shrinker.name = "journal_checkpoint";
	j->shrinker.needs = 0;
	j->shrinker.count = cp_count;
	j->shrinker.scan = cp_scan;
	j->shrinker.priv = j;
	return mc_shrinker_register(&j->shrinker);
}

void jnl_checkpoint_destroy(struct jnl_journal *j)
{
	struct mc_list dead, *tp, *tn, *p, *n;

	mc_list_init(&dead);
	mc_mutex_lock(&j->list_lock);
	mc_list_for_each_safe(tp, tn, &j->cp_txns) {
		struct jnl_txn *t = mc_list_entry(tp, struct jnl_txn, cp_link);

		mc_list_for_each_safe(p, n, &t->cp_list) {
			struct jnl_head *jh = mc_list_entry(p, struct jnl_head, cp_link);

			jnl_cp_remove(jh);
			if (!jh->t)
				jnl_head_detach(jh, &dead);
		}
		mc_list_del(tp);
		jnl_txn_free(t);
	}
	mc_mutex_unlock(&j->list_lock);
	jnl_heads_release(&dead);
}
