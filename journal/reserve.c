/*
 * Reserved credits (journal.h, "reserved credits"): log space held for a
 * handle that will start where it must not wait -- jbd2's reserved
 * handles.  The space is counted in j->rsv_blocks, which every normal
 * start and extend sees as used; jnl_start_reserved (handle.c) moves a
 * reservation into the running transaction without looking for room.
 *
 * The cap, half the log, keeps a full transaction (a quarter) able to run
 * beside all reservations:
 * with the log otherwise empty, rsv_blocks + max_txn <= log_len, so a
 * normal start that finds no room always has a checkpoint or a commit to
 * wait for, never reservations alone.
 */
#include <errno.h>

#include "journal/internal.h"

/* Pool of handles for reserved starts: the writeback threads that may
 * run at once (the page cache's thread, fsync callers, range operations)
 * rarely exceed this; more wait for an element, never for memory. */
#define JNL_RSV_HANDLES 8u

int jnl_rsv_init(struct jnl_journal *j)
{
	j->rsv_cap = j->log_len / 2;
	if (j->rsv_cap + j->max_txn > j->log_len)
		j->rsv_cap = j->log_len - j->max_txn;
	j->rsv_handles = mc_mempool_create("journal.rsv_handle", JNL_RSV_HANDLES,
					   sizeof(struct jnl_handle));
	return j->rsv_handles ? 0 : -ENOMEM;
}

void jnl_rsv_destroy(struct jnl_journal *j)
{
	if (j->rsv_held)
		fprintf(stderr, "journal: closed with %llu reservations (%llu log blocks) held\n",
			(unsigned long long)j->rsv_held, (unsigned long long)j->rsv_blocks);
	jnl_txn_free(j->spare_txn);
	j->spare_txn = NULL;
	if (j->rsv_handles)
		mc_mempool_destroy(j->rsv_handles);
	j->rsv_handles = NULL;
}

/* Room for @blocks more reserved beside the running transaction. */
static bool rsv_room(const struct jnl_journal *j, uint64_t blocks)
{
	const struct jnl_txn *t = j->running;
	uint64_t running = t ? jnl_log_need(j, t->outstanding) : 0;

	return jnl_log_room(j, running + blocks);
}

int jnl_reserve(struct jnl_journal *j, struct jnl_rsv *r, unsigned credits, unsigned flags)
{
	bool try = flags & JNL_RSV_TRY, counted = false;
	struct jnl_txn *spare = NULL;
	uint64_t blocks;
	int ret = 0;

	if (r->credits || !credits || (flags & ~JNL_RSV_TRY))
		return -EINVAL;
	if (credits > j->max_credits)
		return -ENOSPC;
	blocks = jnl_log_need(j, credits);
	if (blocks > j->rsv_cap)
		return -ENOSPC;
	/* The memory a reserved start may need for a new transaction is
	 * taken here, in the reserving context; failing only means that
	 * start allocates (NOFAIL) instead. */
	mc_mutex_lock(&j->state_lock);
	if (!j->spare_txn) {
		mc_mutex_unlock(&j->state_lock);
		spare = jnl_txn_alloc(j, try ? MC_NOWAIT : MC_KERNEL);
		mc_mutex_lock(&j->state_lock);
	}
	for (;;) {
		if (j->err || j->disk_errno) {
			ret = -EROFS;
			break;
		}
		if (j->rsv_blocks + blocks <= j->rsv_cap && rsv_room(j, blocks))
			break;
		if (try || jnl_current()) {
			/* waiting inside a handle could wait for itself */
			ret = try ? -EAGAIN : -EDEADLK;
			JNL_STAT_ADD(j, rsv_refused, 1);
			break;
		}
		if (!counted)
			JNL_STAT_ADD(j, rsv_waits, 1);
		counted = true;
		if (j->rsv_blocks + blocks > j->rsv_cap) {
			/* the holders' writeback gives them back */
			mc_cond_wait(&j->wait_reserved, &j->state_lock);
			continue;
		}
		mc_mutex_unlock(&j->state_lock);
		ret = jnl_wait_for_space(j);
		mc_mutex_lock(&j->state_lock);
		if (ret)
			break;
	}
	if (!ret) {
		j->rsv_blocks += blocks;
		j->rsv_held++;
		r->j = j;
		r->credits = credits;
		r->blocks = (unsigned)blocks;
		JNL_STAT_ADD(j, rsv_taken, 1);
		if (!j->spare_txn) {
			j->spare_txn = spare;
			spare = NULL;
		}
	}
	mc_mutex_unlock(&j->state_lock);
	jnl_txn_free(spare);
	if (ret == -EIO)
		ret = -EROFS;
	return ret;
}

static void release_locked(struct jnl_journal *j, struct jnl_rsv *r)
{
	j->rsv_blocks -= r->blocks;
	j->rsv_held--;
	r->credits = r->blocks = 0;
	pthread_cond_broadcast(&j->wait_reserved);
}

void jnl_rsv_consumed_locked(struct jnl_journal *j, struct jnl_rsv *r)
{
	release_locked(j, r);
	JNL_STAT_ADD(j, rsv_started, 1);
}

void jnl_unreserve(struct jnl_rsv *r)
{
	struct jnl_journal *j = r->j;

	if (!r->credits)
		return;
	mc_mutex_lock(&j->state_lock);
	release_locked(j, r);
	mc_mutex_unlock(&j->state_lock);
	JNL_STAT_ADD(j, rsv_returned, 1);
}
