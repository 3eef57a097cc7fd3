/*
 * Handles: start, stop, nesting, credits.
 *
 * A handle reserves credits in the running transaction and keeps it from
 * committing until it stops (t->updates).  Starting may wait: while the
 * running transaction is locked for commit, while it is full (its commit
 * is asked for), and while the log lacks space for it (a checkpoint).  A
 * nested start never waits: the thread already holds the transaction
 * open, so anything it waited for could be waiting for it.
 *
 * Locking: state_lock for t->updates, t->outstanding and the running
 * pointer; the handle itself belongs to its thread and needs no lock.
 */
#include <errno.h>
#include <string.h>

#include "journal/internal.h"

/* The calling thread's handle (the kernel's current->journal_info). */
static __thread struct jnl_handle *cur_handle;

struct jnl_handle *jnl_current(void)
{
	return cur_handle;
}

jnl_tid_t jnl_handle_tid(const struct jnl_handle *h)
{
	return h->t->tid;
}

unsigned jnl_handle_credits(const struct jnl_handle *h)
{
	return h->credits;
}

void jnl_handle_set_sync(struct jnl_handle *h)
{
	h->sync = true;
}

static void free_handle(struct jnl_handle *h)
{
	if (h->pooled)
		mc_mempool_free(h->j->rsv_handles, h);
	else
		mc_free(h);
}

/* Make @fresh the running transaction; state_lock held. */
static void install_txn(struct jnl_journal *j, struct jnl_txn *t)
{
	t->tid = j->next_tid++;
	t->state = JNL_T_RUNNING;
	t->start_ns = mc_monotonic_ns();
	t->expires_ns = t->start_ns + (uint64_t)j->cfg.commit_interval_ms * 1000000ull;
	j->running = t;
	/* the commit thread sleeps until the new deadline */
	pthread_cond_signal(&j->wait_commit);
}

/*
 * Join (or create) the running transaction with @credits.
 *
 * Log space: a transaction's commit needs jnl_log_need(its credits) blocks,
 * at least one (the commit block) even when empty, and it may commit as soon
 * as it is running (commit interval, a commit request).  So a transaction is
 * made running only once the log has room for it with this handle's credits,
 * and the handle joins it under the same state_lock hold: no transaction is
 * ever running without its space reserved.  (Installing first and checking
 * after let an empty transaction be committed, by the interval, while its
 * creator was away checkpointing a full log: a commit block with no log
 * block for it, written over the tail.)
 */
static int start_this_handle(struct jnl_journal *j, struct jnl_handle *h, unsigned credits,
			     struct jnl_rsv *rsv)
{
	struct jnl_txn *fresh = NULL, *t;
	bool counted_wait = false;
	uint64_t need;
	int ret = 0;

	mc_mutex_lock(&j->state_lock);
	for (;;) {
		if (j->err || j->disk_errno) {
			ret = -EROFS;
			break;
		}
		t = j->running;
		if (t && t->state != JNL_T_RUNNING) {
			/* being locked for commit: the next one opens soon */
			mc_cond_wait(&j->wait_locked, &j->state_lock);
			continue;
		}
		need = jnl_log_need(j, (t ? (uint64_t)t->outstanding : 0) + credits);
		if (t && need > j->max_txn) {
			/* full: commit it and join the next one */
			jnl_request_commit_locked(j, t->tid, JNL_WHY_SIZE);
			while (j->running == t && !j->err)
				mc_cond_wait(&j->wait_locked, &j->state_lock);
			continue;
		}
		/* A reserved start needs no room: its reservation is counted
		 * in rsv_blocks, and joining moves it into the transaction
		 * (jnl_log_need is subadditive: need(o + c) <= need(o) +
		 * need(c), so room for both stays room for the sum). */
		if (!rsv && !jnl_log_room(j, need)) {
			/* The log is short of space: checkpoint.  We hold no
			 * handle (nested starts never get here), so nothing the
			 * checkpoint waits for can be waiting for us. */
			if (!counted_wait)
				JNL_STAT_ADD(j, checkpoint_waits, 1);
			counted_wait = true;
			mc_mutex_unlock(&j->state_lock);
			ret = jnl_wait_for_space(j);
			mc_mutex_lock(&j->state_lock);
			if (ret)
				break;
			continue;
		}
		if (!t) {
			if (!fresh && rsv && j->spare_txn) {
				fresh = j->spare_txn;
				j->spare_txn = NULL;
			}
			if (fresh) {
				/* the space was checked under this hold of the
				 * lock: the loop joins it at once */
				install_txn(j, fresh);
				fresh = NULL;
				continue;
			}
			mc_mutex_unlock(&j->state_lock);
			if (rsv)
				JNL_STAT_ADD(j, rsv_txn_allocs, 1);
			fresh = jnl_txn_alloc(j, jnl_handle_gfp(h));
			if (!fresh)
				return -ENOMEM;
			mc_mutex_lock(&j->state_lock);
			continue;
		}
		t->outstanding += credits;
		t->updates++;
		h->t = t;
		if (rsv)
			jnl_rsv_consumed_locked(j, rsv);
		break;
	}
	mc_mutex_unlock(&j->state_lock);
	if (fresh)
		jnl_txn_free(fresh);
	if (ret == -EIO || (ret && j->err))
		ret = -EROFS;
	return ret;
}

static int start_nested(struct jnl_journal *j, struct jnl_handle *h, unsigned credits,
			bool nofail, struct jnl_handle **out)
{
	if (h->j != j)
		return -EINVAL;
	/* It cannot wait for space or a commit (see above), so it must fit. */
	if (credits > h->credits)
		return -ENOSPC;
	if (h->ref >= 64)
		return -EMLINK;
	if (nofail)
		h->nofail_levels |= 1ull << h->ref;
	h->ref++;
	JNL_STAT_ADD(j, nested_handles, 1);
	*out = h;
	return 0;
}

/*
 * The outermost start: the NOFS scope, the handle, the transaction.  A
 * reserved start (@rsv) takes its handle from the journal's pool, not from
 * fresh memory, and never waits for log space.
 */
static int start_outer(struct jnl_journal *j, unsigned credits, unsigned flags,
		       struct jnl_rsv *rsv, struct jnl_handle **out)
{
	bool nofail = flags & JNL_NOFAIL;
	struct jnl_handle *h;
	mc_scope_t tok;
	int ret;

	/*
	 * NOFS scope from here to jnl_stop.  Without it, an allocation by
	 * this thread (ours or the filesystem's under the handle) could enter
	 * direct reclaim, call a filesystem shrinker, and that shrinker could
	 * wait for a journal commit -- of the transaction this very thread
	 * holds open: reclaim -> FS shrinker -> journal wait -> deadlock.
	 */
	tok = mc_nofs_save();
	if (rsv) {
		/* never NULL: the pool's reserve, else a wait for an element */
		h = mc_mempool_alloc(j->rsv_handles, MC_KERNEL);
		memset(h, 0, sizeof(*h));
		h->pooled = true;
	} else {
		h = mc_alloc_named("journal.handle", sizeof(*h),
				   MC_KERNEL | MC_ZERO | (nofail ? MC_NOFAIL : 0));
	}
	if (!h) {
		ret = -ENOMEM;
		goto err_scope;
	}
	h->j = j;
	h->ref = 1;
	h->nofail_levels = nofail;
	h->credits = credits;
	h->scope = tok;
	ret = start_this_handle(j, h, credits, rsv);
	if (ret)
		goto err_free;
	cur_handle = h;
	JNL_STAT_ADD(j, handles, 1);
	if (nofail)
		JNL_STAT_ADD(j, nofail_handles, 1);
	*out = h;
	return 0;

err_free:
	free_handle(h);
err_scope:
	mc_nofs_restore(tok);   /* the scope ends with the failed start */
	return ret;
}

int jnl_start(struct jnl_journal *j, unsigned credits, unsigned flags, struct jnl_handle **out)
{
	*out = NULL;
	if (flags & ~JNL_NOFAIL)
		return -EINVAL;
	if (cur_handle)
		return start_nested(j, cur_handle, credits, flags & JNL_NOFAIL, out);
	if (credits > j->max_credits)
		return -ENOSPC;
	return start_outer(j, credits, flags, NULL, out);
}

int jnl_start_reserved(struct jnl_rsv *r, unsigned flags, struct jnl_handle **out)
{
	int ret;

	*out = NULL;
	if (!r->credits || (flags & ~JNL_NOFAIL))
		return -EINVAL;
	/* the reservation is for an outermost handle: nesting would fold it
	 * into a handle that may already have waited for space */
	if (cur_handle)
		return -EINVAL;
	ret = start_outer(r->j, r->credits, flags, r, out);
	if (ret)
		jnl_unreserve(r);   /* consumed either way */
	return ret;
}

int jnl_stop(struct jnl_handle *h)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;
	jnl_tid_t tid = t->tid;
	bool sync = h->sync;
	mc_scope_t tok;
	int ret;

	if (h != cur_handle)
		return -EINVAL;   /* another thread's handle */
	if (h->ref > 1) {
		h->ref--;
		h->nofail_levels &= ~(1ull << h->ref);
		return jnl_aborted(j) ? -EIO : 0;
	}

	mc_mutex_lock(&j->state_lock);
	t->outstanding -= h->credits;
	if (--t->updates == 0)
		pthread_cond_broadcast(&j->wait_updates);
	if (sync)
		jnl_request_commit_locked(j, tid, JNL_WHY_REQUEST);
	ret = (j->err || h->failed) ? -EIO : 0;
	cur_handle = NULL;
	if (sync && !ret)
		ret = jnl_wait_tid_locked(j, tid, false);
	mc_mutex_unlock(&j->state_lock);

	tok = h->scope;
	free_handle(h);
	/* The transaction is no longer held open by this thread: reclaim may
	 * call filesystem shrinkers again. */
	mc_nofs_restore(tok);
	return ret;
}

int jnl_extend(struct jnl_handle *h, unsigned credits)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;
	uint64_t need;
	int ret = 0;

	mc_mutex_lock(&j->state_lock);
	need = jnl_log_need(j, (uint64_t)t->outstanding + credits);
	if (j->err)
		ret = -EIO;
	else if (t->state != JNL_T_RUNNING || need > j->max_txn || !jnl_log_room(j, need))
		ret = -EAGAIN;
	else {
		t->outstanding += credits;
		h->credits += credits;
	}
	mc_mutex_unlock(&j->state_lock);
	return ret;
}
