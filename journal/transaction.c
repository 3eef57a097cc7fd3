/*
 * Transactions and the buffers, revokes, ordered data and callbacks that
 * handles attach to them.
 *
 * A buffer's journal head says which transaction logs it (t), which
 * running transaction waits to log it once the committing one is done
 * (next_t), and which committed transaction still needs it written home
 * (cp_t).  A buffer is journal-owned (SFS_BS_JOURNAL: the buffer cache
 * never writes it home) from the first get_write_access until the
 * transaction logging it has committed.
 *
 * Locking: list_lock for heads and lists.  Allocations (heads, frozen
 * copies, revoke records) happen with no journal lock held; the loser of
 * a race frees its spare.
 */
#include <errno.h>
#include <string.h>

#include "journal/internal.h"

struct jnl_txn *jnl_txn_alloc(struct jnl_journal *j, mc_flags_t gfp)
{
	struct jnl_txn *t = mc_alloc_named("journal.txn", sizeof(*t), gfp | MC_ZERO);

	if (!t)
		return NULL;
	t->j = j;
	mc_list_init(&t->buffers);
	mc_list_init(&t->ordered);
	mc_list_init(&t->cp_list);
	mc_list_init(&t->cp_link);
	return t;
}

void jnl_txn_free(struct jnl_txn *t)
{
	if (!t)
		return;
	jnl_revoke_free_all(&t->revokes);
	mc_free(t);
}

void jnl_cp_add(struct jnl_txn *t, struct jnl_head *jh)
{
	jh->cp_t = t;
	mc_list_add_tail(&t->cp_list, &jh->cp_link);
	__atomic_fetch_add(&t->j->nr_cp, 1, __ATOMIC_RELAXED);   /* read by the shrinker */
}

void jnl_cp_remove(struct jnl_head *jh)
{
	__atomic_fetch_sub(&jh->cp_t->j->nr_cp, 1, __ATOMIC_RELAXED);
	mc_list_del(&jh->cp_link);
	jh->cp_t = NULL;
}

void jnl_head_detach(struct jnl_head *jh, struct mc_list *dead)
{
	jh->bh->jpriv = NULL;
	mc_list_add_tail(dead, &jh->t_link);
}

void jnl_heads_release(struct mc_list *dead)
{
	struct mc_list *p, *n;

	mc_list_for_each_safe(p, n, dead) {
		struct jnl_head *jh = mc_list_entry(p, struct jnl_head, t_link);

		mc_list_del(p);
		sfs_buf_release(jh->bh);
		mc_free(jh);
	}
}

/* @bh's head, attached if it had none.  Returns with list_lock held, or
 * NULL (without the lock) when the allocation failed. */
static struct jnl_head *head_get(struct jnl_journal *j, struct sfs_buf *bh, mc_flags_t gfp)
{
	struct jnl_head *jh, *spare = NULL;

	mc_mutex_lock(&j->list_lock);
	while (!(jh = bh->jpriv)) {
		if (spare) {
			spare->bh = bh;
			sfs_buf_hold(bh);
			bh->jpriv = spare;
			return spare;
		}
		mc_mutex_unlock(&j->list_lock);
		spare = mc_alloc_named("journal.head", sizeof(*spare), gfp | MC_ZERO);
		if (!spare)
			return NULL;
		mc_list_init(&spare->t_link);
		mc_list_init(&spare->cp_link);
		mc_mutex_lock(&j->list_lock);
	}
	mc_free(spare);   /* lost the race; freeing never reclaims */
	return jh;
}

/* The buffer joined a transaction: from now on writeback leaves it alone.
 * The buffer lock waits out a home write already in flight. */
static void take_ownership(struct sfs_buf *bh)
{
	sfs_buf_lock(bh);
	sfs_buf_set_journal(bh);
	sfs_buf_unlock(bh);
}

/* Wait (list_lock held) until the commit has copied @bh's contents, when
 * no memory could be had for a frozen copy.  The commit thread needs no
 * memory to get there. */
static void wait_capture(struct jnl_journal *j, struct sfs_buf *bh, struct jnl_txn *t)
{
	struct jnl_head *jh;

	JNL_STAT_ADD(j, capture_waits, 1);
	j->capture_waiters++;
	while ((jh = bh->jpriv) && jh->t && jh->t != t && jh->modified && !jh->captured &&
	       !jh->frozen && !jnl_aborted(j))
		mc_cond_wait(&j->wait_capture, &j->list_lock);
	j->capture_waiters--;
}

int jnl_get_write_access(struct jnl_handle *h, struct sfs_buf *bh)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;
	struct jnl_revoke_rec *cancelled = NULL;
	struct jnl_head *jh;
	void *frozen = NULL;
	bool frozen_res = false, take_owner = false;
	int ret = 0;

	if (jnl_aborted(j)) {
		h->failed = true;
		return -EIO;
	}
	if (!sfs_buf_uptodate(bh))
		return -EINVAL;
retry:
	if (jnl_aborted(j)) {
		h->failed = true;
		ret = -EIO;
		goto out;
	}
	jh = head_get(j, bh, jnl_handle_gfp(h));
	if (!jh) {
		ret = -ENOMEM;
		goto out;
	}
	if (jh->t == t || jh->next_t == t) {
		/* ours already; a block freed and reused in one transaction
		 * is alive again */
		if (jh->t == t)
			jh->forgotten = false;
		else
			jh->next_forgotten = false;
		goto unlock;
	}
	if (!jh->t) {
		jh->t = t;
		jh->modified = jh->forgotten = false;
		mc_list_add_tail(&t->buffers, &jh->t_link);
		take_owner = true;
		goto unlock;
	}
	/*
	 * jh->t is the committing transaction.  If it logs this buffer and
	 * has not copied it yet, its contents must stay as they are for it:
	 * keep a frozen copy for the commit and let the caller change the
	 * buffer at once.
	 */
	if (!jh->modified || jh->captured || jh->frozen) {
		jh->next_t = t;
		jh->next_modified = jh->next_forgotten = false;
		goto unlock;
	}
	if (!frozen) {
		frozen = jnl_frozen_take_reserve(j);
		frozen_res = frozen != NULL;
	}
	if (!frozen && !h->frozen_nomem) {
		mc_mutex_unlock(&j->list_lock);
		frozen = mc_alloc_named("journal.frozen", j->bsize, jnl_handle_gfp(h) | MC_NOWARN);
		if (frozen)
			goto retry;
		/* asking again for the next buffer would be an open-coded retry */
		h->frozen_nomem = true;
		mc_mutex_lock(&j->list_lock);
	}
	if (!frozen) {
		/* no memory: wait for the commit to copy it instead */
		wait_capture(j, bh, t);
		mc_mutex_unlock(&j->list_lock);
		goto retry;
	}
	memcpy(frozen, bh->data, j->bsize);
	jh->frozen = frozen;
	jh->frozen_reserved = frozen_res;
	frozen = NULL;
	jh->next_t = t;
	jh->next_modified = jh->next_forgotten = false;
	JNL_STAT_ADD(j, frozen_copies, 1);
	if (frozen_res)
		JNL_STAT_ADD(j, frozen_from_reserve, 1);
unlock:
	jnl_revoke_cancel(&t->revokes, bh->blkno, &cancelled);
	if (frozen && frozen_res) {
		jnl_frozen_put(j, frozen, true);
		frozen = NULL;
	}
	mc_mutex_unlock(&j->list_lock);
	if (take_owner)
		take_ownership(bh);
out:
	mc_free(cancelled);
	if (frozen)
		jnl_frozen_put(j, frozen, false);
	return ret;
}

int jnl_dirty_metadata(struct jnl_handle *h, struct sfs_buf *bh)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;
	struct jnl_head *jh;
	bool *mod;
	int ret = 0;

	if (jnl_aborted(j)) {
		h->failed = true;
		return -EIO;
	}
	mc_mutex_lock(&j->list_lock);
	jh = bh->jpriv;
	if (!jh || (jh->t != t && jh->next_t != t)) {
		ret = -EINVAL;
		goto unlock;
	}
	mod = jh->t == t ? &jh->modified : &jh->next_modified;
	if (!*mod) {
		if (!h->credits) {
			ret = -ENOSPC;
			goto unlock;
		}
		h->credits--;
		*mod = true;
		if (jh->t == t)
			t->nr_buffers++;
	}
unlock:
	mc_mutex_unlock(&j->list_lock);
	if (!ret)
		sfs_buf_mark_dirty(bh);
	return ret;
}

int jnl_revoke(struct jnl_handle *h, uint64_t blkno)
{
	struct jnl_journal *j = h->j;
	struct jnl_revoke_rec *rec;
	int ret = 0;

	if (jnl_aborted(j)) {
		h->failed = true;
		return -EIO;
	}
	rec = mc_alloc_named("journal.revoke", sizeof(*rec), jnl_handle_gfp(h));
	if (!rec)
		return -ENOMEM;
	rec->blkno = blkno;
	mc_mutex_lock(&j->list_lock);
	if (!jnl_revoke_insert(&h->t->revokes, rec)) {
		ret = 0;           /* already revoked in this transaction */
	} else if (!h->credits) {
		struct jnl_revoke_rec *back;

		jnl_revoke_cancel(&h->t->revokes, blkno, &back);
		ret = -ENOSPC;
	} else {
		h->credits--;
		rec = NULL;
	}
	mc_mutex_unlock(&j->list_lock);
	mc_free(rec);
	return ret;
}

int jnl_forget(struct jnl_handle *h, struct sfs_buf *bh)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;
	struct jnl_head *jh;
	bool take_owner = false;
	int ret;

	ret = jnl_revoke(h, bh->blkno);
	if (ret)
		return ret;
	mc_mutex_lock(&j->list_lock);
	jh = bh->jpriv;
	if (!jh) {
		/* never journaled (or long home): nothing to keep */
		mc_mutex_unlock(&j->list_lock);
		sfs_bcache_invalidate(j->cache, bh->blkno, 1);
		return 0;
	}
	/*
	 * Keep the head until t commits: an older committed copy may still
	 * be waiting to go home (cp_t), and until the revoke is durable that
	 * copy is what recovery would restore.  The commit of t drops it from
	 * the checkpoint list and invalidates the buffer.
	 */
	if (jh->t == t) {
		if (jh->modified)
			t->nr_buffers--;
		jh->modified = false;
		jh->forgotten = true;
	} else if (jh->t) {
		jh->next_t = t;
		jh->next_modified = false;
		jh->next_forgotten = true;
	} else {
		jh->t = t;
		jh->modified = false;
		jh->forgotten = true;
		mc_list_add_tail(&t->buffers, &jh->t_link);
		take_owner = true;
	}
	mc_mutex_unlock(&j->list_lock);
	if (take_owner)
		take_ownership(bh);
	return 0;
}

void jnl_inode_init(struct jnl_inode *ji, const struct jnl_inode_ops *ops, void *priv)
{
	memset(ji, 0, sizeof(*ji));
	ji->ops = ops;
	ji->priv = priv;
	mc_list_init(&ji->link);
}

int jnl_inode_add(struct jnl_handle *h, struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;

	if (j->cfg.mode == JNL_DATA_WRITEBACK)
		return 0;
	if (jnl_aborted(j)) {
		h->failed = true;
		return -EIO;
	}
	if (start >= end)
		return 0;
	mc_mutex_lock(&j->list_lock);
	if (ji->t == t) {
		ji->start = start < ji->start ? start : ji->start;
		ji->end = end > ji->end ? end : ji->end;
	} else if (!ji->t) {
		ji->t = t;
		ji->start = start;
		ji->end = end;
		mc_list_add_tail(&t->ordered, &ji->link);
	} else if (ji->next_t == t) {
		ji->next_start = start < ji->next_start ? start : ji->next_start;
		ji->next_end = end > ji->next_end ? end : ji->next_end;
	} else {
		/* its data is being written for the committing transaction */
		ji->next_t = t;
		ji->next_start = start;
		ji->next_end = end;
	}
	mc_mutex_unlock(&j->list_lock);
	return 0;
}

void jnl_inode_release(struct jnl_journal *j, struct jnl_inode *ji)
{
	mc_mutex_lock(&j->list_lock);
	while (ji->flushing)
		mc_cond_wait(&j->wait_capture, &j->list_lock);
	if (mc_list_linked(&ji->link))
		mc_list_del(&ji->link);
	ji->t = ji->next_t = NULL;
	mc_mutex_unlock(&j->list_lock);
}

int jnl_on_commit(struct jnl_handle *h, struct jnl_callback *cb)
{
	struct jnl_journal *j = h->j;
	struct jnl_txn *t = h->t;

	if (jnl_aborted(j)) {
		h->failed = true;
		return -EIO;
	}
	cb->next = NULL;
	mc_mutex_lock(&j->list_lock);
	if (t->cb_tail)
		t->cb_tail->next = cb;
	else
		t->cb_head = cb;
	t->cb_tail = cb;
	mc_mutex_unlock(&j->list_lock);
	return 0;
}
