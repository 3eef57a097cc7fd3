/*
 * The commit thread and the commit of one transaction.
 *
 * A transaction commits when its commit interval expires, when a handle
 * finds it full, when someone waits for it (fsync, a checkpoint, a sync
 * handle), and at close.  The steps follow its states (internal.h):
 *
 *  LOCKED     no new handle joins; wait for the open ones to stop.  Its
 *             size is now known: take its place in the log.
 *  FLUSH      the next transaction may start.  Start writing the ordered
 *             data attached to it (ordered mode).
 *  COMMIT     write revoke blocks, then descriptors and copies through the
 *             staging ring, wait for them and for the ordered data.
 *             Ordered mode: flush, write the commit block, flush -- the
 *             commit block can never reach the disk before what it
 *             vouches for.  Writeback mode: the commit block goes out with
 *             the rest and a single flush follows; the whole-transaction
 *             checksum in it lets recovery refuse a commit that landed
 *             before its copies.
 *  COMMITTED  durable: fsync waiters return.  Buffers leave the
 *             transaction: to the next one if it already took write
 *             access, else back to the buffer cache (no longer
 *             journal-owned, still dirty), and onto this transaction's
 *             checkpoint list; commit callbacks run.
 * An I/O error anywhere aborts the journal before the commit block is
 * written (or, in writeback mode, leaves a commit block recovery rejects):
 * nothing half-written commits.
 *
 * Locking: state_lock for the switch and the sequences; list_lock for the
 * refiling.  The transaction's lists are stable once it is locked: handles
 * of the next transaction touch only next_t/next_* fields of its heads.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "journal/internal.h"

void jnl_request_commit_locked(struct jnl_journal *j, jnl_tid_t tid, enum jnl_commit_reason why)
{
	if (tid > j->commit_request) {
		j->commit_request = tid;
		j->request_why = why;
	}
	pthread_cond_signal(&j->wait_commit);
}

int jnl_wait_tid_locked(struct jnl_journal *j, jnl_tid_t tid, bool finished)
{
	for (;;) {
		jnl_tid_t seq = finished ? j->finished_seq : j->commit_seq;

		if (seq >= tid)
			return 0;
		if (j->err)
			return -EIO;
		mc_cond_wait(&j->wait_done, &j->state_lock);
	}
}

static void set_state(struct jnl_journal *j, struct jnl_txn *t, enum jnl_txn_state s)
{
	mc_mutex_lock(&j->state_lock);
	t->state = s;
	mc_mutex_unlock(&j->state_lock);
}

/* Copy @jh's contents as of this transaction into a ring slot. */
static void capture(struct jnl_journal *j, struct jnl_head *jh, void *slot)
{
	mc_mutex_lock(&j->list_lock);
	if (jh->frozen) {
		memcpy(slot, jh->frozen, j->bsize);
		jnl_frozen_put(j, jh->frozen, jh->frozen_reserved);
		jh->frozen = NULL;
	} else {
		/* No handle of the next transaction has write access without a
		 * frozen copy while this flag is clear: the contents are ours. */
		memcpy(slot, jh->bh->data, j->bsize);
	}
	jh->captured = true;
	if (j->capture_waiters)
		pthread_cond_broadcast(&j->wait_capture);
	mc_mutex_unlock(&j->list_lock);
}

static void seal_desc(struct jnl_journal *j, struct jnl_ctl *ctl, uint64_t pos, unsigned n)
{
	struct jnl_disk_desc *d = ctl->buf;

	d->nr_tags = jnl_cpu_to_le32(n);
	jnl_hdr_seal(ctl->buf, j->bsize, j->seed);
	jnl_logw_ctl_submit(j, ctl, pos);
}

/* Revoke blocks, descriptors and copies; returns the chained checksum. */
static uint64_t write_copies(struct jnl_journal *j, struct jnl_txn *t, unsigned *ncopies)
{
	struct jnl_ctl *desc = NULL;
	struct jnl_disk_desc *d = NULL;
	uint64_t csum = 0, desc_pos = 0;
	unsigned ntags = 0;
	struct mc_list *p;

	csum = jnl_revoke_write(j, t, csum);
	for (p = t->buffers.next; p != &t->buffers; p = p->next) {
		struct jnl_head *jh = mc_list_entry(p, struct jnl_head, t_link);
		struct jnl_disk_tag *tag;
		uint64_t pos, c;
		uint32_t first;
		void *slot;

		if (!jh->modified)
			continue;
		if (desc && ntags == j->tags_per_desc) {
			seal_desc(j, desc, desc_pos, ntags);
			desc = NULL;
		}
		if (!desc) {
			desc = jnl_logw_ctl_get(j);
			desc_pos = jnl_logw_next_pos(j);
			jnl_hdr_init(desc->buf, j->bsize, JNL_MAGIC_DESC, j->area.start + desc_pos,
				     t->tid, j->area.uuid);
			d = desc->buf;
			ntags = 0;
		}
		pos = jnl_logw_next_pos(j);
		slot = jnl_logw_slot(j, pos);
		capture(j, jh, slot);
		tag = &d->tags[ntags++];
		tag->blkno = jnl_cpu_to_le64(jh->bh->blkno);
		memcpy(&first, slot, sizeof(first));
		if (jnl_is_magic(jnl_le32_to_cpu(first))) {
			tag->flags = jnl_cpu_to_le32(JNL_TAG_ESCAPED);
			tag->escaped = first;
			memset(slot, 0, sizeof(first));
		}
		c = jnl_copy_csum(slot, j->bsize, j->seed, t->tid);
		tag->csum = jnl_cpu_to_le64(c);
		csum = jnl_txn_csum_step(csum, c);
		(*ncopies)++;
	}
	if (desc)
		seal_desc(j, desc, desc_pos, ntags);
	return csum;
}

static void submit_commit_block(struct jnl_journal *j, struct jnl_txn *t, uint64_t csum,
				unsigned ncopies, uint32_t flags)
{
	struct jnl_ctl *ctl = jnl_logw_ctl_get(j);
	struct jnl_disk_commit *c = ctl->buf;
	uint64_t pos = jnl_logw_next_pos(j);
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	jnl_hdr_init(ctl->buf, j->bsize, JNL_MAGIC_COMMIT, j->area.start + pos, t->tid,
		     j->area.uuid);
	c->nr_blocks = jnl_cpu_to_le32(t->log_len - 1);
	c->flags = jnl_cpu_to_le32(flags);
	c->txn_csum = jnl_cpu_to_le64(csum);
	c->sec = jnl_cpu_to_le64((uint64_t)ts.tv_sec);
	c->nsec = jnl_cpu_to_le32((uint32_t)ts.tv_nsec);
	c->nr_copies = jnl_cpu_to_le32(ncopies);
	c->nr_revokes = jnl_cpu_to_le32(t->revokes.count);
	jnl_hdr_seal(ctl->buf, j->bsize, j->seed);
	jnl_logw_ctl_submit(j, ctl, pos);
}

static int ordered_io(struct jnl_txn *t, bool wait)
{
	struct mc_list *p;
	int err = 0;

	for (p = t->ordered.next; p != &t->ordered; p = p->next) {
		struct jnl_inode *ji = mc_list_entry(p, struct jnl_inode, link);
		int (*fn)(struct jnl_inode *, uint64_t, uint64_t) =
			wait ? ji->ops->wait : ji->ops->submit;
		int e = fn ? fn(ji, ji->start, ji->end) : 0;

		if (e && !err)
			err = e;
	}
	return err;
}

/* The log write of @t, from the ordered data to a durable commit block. */
static int write_transaction(struct jnl_journal *j, struct jnl_txn *t)
{
	bool ordered = j->cfg.mode == JNL_DATA_ORDERED;
	unsigned ncopies = 0;
	uint64_t csum;
	int err, e;

	err = ordered_io(t, false);
	set_state(j, t, JNL_T_COMMIT);
	jnl_logw_begin(j, t->log_start);
	csum = write_copies(j, t, &ncopies);
	/* an abort from elsewhere (a checkpoint's I/O error) stops the commit
	 * block too */
	if (!ordered && !jnl_aborted(j))
		submit_commit_block(j, t, csum, ncopies, JNL_COMMIT_ASYNC);
	e = jnl_logw_wait(j);
	err = err ? err : e;
	e = ordered_io(t, true);
	err = err ? err : e;
	if (!err && jnl_aborted(j))
		err = -EIO;
	if (err)
		goto out;
	if (ordered) {
		/* the barrier between what the commit block vouches for and it */
		err = j->cfg.unsafe_no_preflush ? 0 : jnl_dev_flush(j);
		if (!err && jnl_aborted(j))
			err = -EIO;
		if (err)
			goto out;
		submit_commit_block(j, t, csum, ncopies, 0);
		err = jnl_logw_wait(j);
		if (err)
			goto out;
	}
	assert(j->logw.pos == jnl_log_advance(j, t->log_start, t->log_len));
	err = jnl_dev_flush(j);
	JNL_STAT_ADD(j, copies_logged, ncopies);
out:
	return err;
}

/* Refile @t's ordered inodes to the transaction waiting for them. */
static void ordered_refile(struct jnl_journal *j, struct jnl_txn *t)
{
	struct mc_list *p, *n;

	mc_list_for_each_safe(p, n, &t->ordered) {
		struct jnl_inode *ji = mc_list_entry(p, struct jnl_inode, link);

		mc_list_del(p);
		ji->flushing = false;
		ji->t = ji->next_t;
		ji->next_t = NULL;
		if (ji->t) {
			ji->start = ji->next_start;
			ji->end = ji->next_end;
			mc_list_add_tail(&ji->t->ordered, &ji->link);
		}
	}
	pthread_cond_broadcast(&j->wait_capture);
}

/*
 * Move @t's buffers on: @committed = they are durable in the log (onto
 * @t's checkpoint list), else @t was discarded by an abort (their
 * uncommitted contents are dropped from the cache).  list_lock held.
 */
static void refile_buffers(struct jnl_journal *j, struct jnl_txn *t, bool committed,
			   struct mc_list *dead)
{
	struct mc_list *p, *n;

	mc_list_for_each_safe(p, n, &t->buffers) {
		struct jnl_head *jh = mc_list_entry(p, struct jnl_head, t_link);
		bool changed = jh->modified || jh->forgotten;

		mc_list_del(p);
		if (jh->frozen) {
			jnl_frozen_put(j, jh->frozen, jh->frozen_reserved);
			jh->frozen = NULL;
		}
		if (committed && changed) {
			/* this copy supersedes any older one still to go home */
			if (jh->cp_t)
				jnl_cp_remove(jh);
			if (jh->modified)
				jnl_cp_add(t, jh);
		}
		if (changed && (!committed || jh->forgotten))
			sfs_bcache_invalidate(j->cache, jh->bh->blkno, 1);
		jh->t = jh->next_t;
		jh->modified = jh->next_modified;
		jh->forgotten = jh->next_forgotten;
		jh->next_t = NULL;
		jh->next_modified = jh->next_forgotten = jh->captured = false;
		if (jh->t) {
			/* journal-owned still, now for the next transaction */
			mc_list_add_tail(&jh->t->buffers, &jh->t_link);
			if (jh->modified)
				jh->t->nr_buffers++;
			continue;
		}
		/* an aborted transaction's changes never go home */
		if (committed || !changed)
			sfs_buf_clear_journal(jh->bh);
		if (!jh->cp_t)
			jnl_head_detach(jh, dead);
	}
}

static void run_callbacks(struct jnl_callback *cb, jnl_tid_t tid, int err)
{
	while (cb) {
		struct jnl_callback *next = cb->next;

		cb->fn(cb, tid, err);
		cb = next;
	}
}

static void account(struct jnl_journal *j, enum jnl_commit_reason why, uint64_t ns)
{
	uint64_t us = ns / 1000, max;
	unsigned b = 0;

	JNL_STAT_ADD(j, commits, 1);
	switch (why) {
	case JNL_WHY_INTERVAL: JNL_STAT_ADD(j, commits_interval, 1); break;
	case JNL_WHY_SIZE:     JNL_STAT_ADD(j, commits_size, 1); break;
	case JNL_WHY_REQUEST:  JNL_STAT_ADD(j, commits_requested, 1); break;
	case JNL_WHY_CLOSE:    JNL_STAT_ADD(j, commits_close, 1); break;
	}
	JNL_STAT_ADD(j, commit_ns_total, ns);
	max = __atomic_load_n(&j->st.commit_ns_max, __ATOMIC_RELAXED);
	while (ns > max && !__atomic_compare_exchange_n(&j->st.commit_ns_max, &max, ns, false,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	while (us >>= 1)
		b++;
	if (b >= sizeof(j->st.commit_hist) / sizeof(j->st.commit_hist[0]))
		b = sizeof(j->st.commit_hist) / sizeof(j->st.commit_hist[0]) - 1;
	JNL_STAT_ADD(j, commit_hist[b], 1);
}

static void commit_transaction(struct jnl_journal *j, enum jnl_commit_reason why)
{
	uint64_t t0 = mc_monotonic_ns();
	struct jnl_callback *cbs;
	struct mc_list dead;
	struct jnl_txn *t;
	uint64_t nrev, ndesc;
	int err;

	mc_list_init(&dead);
	mc_mutex_lock(&j->state_lock);
	t = j->running;
	if (!t) {
		mc_mutex_unlock(&j->state_lock);
		return;
	}
	t->state = JNL_T_LOCKED;
	while (t->updates)
		mc_cond_wait(&j->wait_updates, &j->state_lock);
	mc_mutex_lock(&j->list_lock);
	nrev = (t->revokes.count + j->revokes_per_block - 1) / j->revokes_per_block;
	ndesc = (t->nr_buffers + j->tags_per_desc - 1) / j->tags_per_desc;
	t->log_len = (uint32_t)(nrev + ndesc + t->nr_buffers + 1);
	for (struct mc_list *p = t->ordered.next; p != &t->ordered; p = p->next)
		mc_list_entry(p, struct jnl_inode, link)->flushing = true;
	mc_mutex_unlock(&j->list_lock);
	err = j->err;
	if (!err) {
		/* the reservation made at every start guarantees this fits,
		 * empty or not: a transaction only becomes running with room
		 * for it (start_this_handle) */
		assert(j->used + t->log_len <= j->log_len);
		t->log_start = j->head;
		j->head = jnl_log_advance(j, j->head, t->log_len);
		j->used += t->log_len;
	}
	t->state = JNL_T_FLUSH;
	j->committing = t;
	j->running = NULL;
	pthread_cond_broadcast(&j->wait_locked);
	mc_mutex_unlock(&j->state_lock);

	if (!err)
		err = write_transaction(j, t);
	if (err) {
		jnl_abort(j, err);
		goto discard;
	}

	/* counted before anyone waiting for it wakes: the latency is what an
	 * fsync sees, from the lock to a durable commit block */
	account(j, why, mc_monotonic_ns() - t0);
	mc_mutex_lock(&j->state_lock);
	t->state = JNL_T_COMMITTED;
	j->commit_seq = t->tid;
	pthread_cond_broadcast(&j->wait_done);
	mc_mutex_unlock(&j->state_lock);

	mc_mutex_lock(&j->list_lock);
	refile_buffers(j, t, true, &dead);
	ordered_refile(j, t);
	cbs = t->cb_head;
	t->cb_head = t->cb_tail = NULL;
	/* it holds log space until the tail passes it, even with nothing
	 * left to write home */
	mc_list_add_tail(&j->cp_txns, &t->cp_link);
	mc_mutex_unlock(&j->list_lock);
	jnl_heads_release(&dead);
	run_callbacks(cbs, t->tid, 0);

	mc_mutex_lock(&j->state_lock);
	j->committing = NULL;
	j->finished_seq = t->tid;
	pthread_cond_broadcast(&j->wait_done);
	mc_mutex_unlock(&j->state_lock);
	jnl_checkpoint_clean(j);
	return;

discard:
	mc_mutex_lock(&j->list_lock);
	refile_buffers(j, t, false, &dead);
	ordered_refile(j, t);
	cbs = t->cb_head;
	t->cb_head = t->cb_tail = NULL;
	mc_mutex_unlock(&j->list_lock);
	jnl_heads_release(&dead);
	run_callbacks(cbs, t->tid, -EIO);
	mc_mutex_lock(&j->state_lock);
	j->committing = NULL;
	pthread_cond_broadcast(&j->wait_done);
	mc_mutex_unlock(&j->state_lock);
	jnl_txn_free(t);
}

void *jnl_commit_thread(void *arg)
{
	struct jnl_journal *j = arg;
	/*
	 * NOFS scope for the thread's whole life: a filesystem shrinker may
	 * wait for a commit, and the commit is this thread.  (It allocates
	 * nothing on the commit path anyway; the scope covers what the
	 * ordered-data and commit callbacks of the filesystem do.)
	 */
	mc_scope_t tok = mc_nofs_save();

	mc_mutex_lock(&j->state_lock);
	for (;;) {
		struct jnl_txn *t = j->running;
		int why = -1;

		if (t) {
			if (j->err || j->stopping)
				why = JNL_WHY_CLOSE;
			else if (j->commit_request >= t->tid)
				why = (int)j->request_why;
			else if (mc_monotonic_ns() >= t->expires_ns)
				why = JNL_WHY_INTERVAL;
		}
		if (why >= 0) {
			mc_mutex_unlock(&j->state_lock);
			commit_transaction(j, (enum jnl_commit_reason)why);
			mc_mutex_lock(&j->state_lock);
			continue;
		}
		if (j->stopping)
			break;
		if (t)
			mc_cond_timedwait(&j->wait_commit, &j->state_lock, t->expires_ns);
		else
			mc_cond_wait(&j->wait_commit, &j->state_lock);
	}
	mc_mutex_unlock(&j->state_lock);
	mc_nofs_restore(tok);   /* the thread ends here */
	return NULL;
}
