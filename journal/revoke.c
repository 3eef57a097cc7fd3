/*
 * Revoke records of a transaction: blocks freed by it.
 *
 * In the log, a revoke record for block B in transaction T means: do not
 * replay any copy of B from T or an earlier transaction; B may belong to
 * someone else now.  A later transaction that logs B again (it was
 * reallocated as metadata) is replayed normally, and reusing B inside
 * the revoking transaction cancels the record (get_write_access).
 *
 * The table is a fixed hash of records the revoking handle allocated;
 * list_lock protects it while the transaction runs, and the commit thread
 * reads it alone once the transaction is locked.
 */
#include <string.h>

#include "journal/internal.h"

static unsigned bucket_of(uint64_t blkno)
{
	return (unsigned)((blkno * 0x9e3779b97f4a7c15ull) >> 56) & (JNL_REVOKE_BUCKETS - 1);
}

/* false if the block is revoked already (the record is not used). */
bool jnl_revoke_insert(struct jnl_revoke_table *rt, struct jnl_revoke_rec *rec)
{
	struct jnl_revoke_rec **b = &rt->bucket[bucket_of(rec->blkno)], *r;

	for (r = *b; r; r = r->next)
		if (r->blkno == rec->blkno)
			return false;
	rec->next = *b;
	*b = rec;
	rt->count++;
	return true;
}

/* Remove @blkno's record; it is handed back in *out for the caller to
 * free outside the lock. */
bool jnl_revoke_cancel(struct jnl_revoke_table *rt, uint64_t blkno, struct jnl_revoke_rec **out)
{
	struct jnl_revoke_rec **pp = &rt->bucket[bucket_of(blkno)], *r;

	if (!rt->count)
		return false;
	for (; (r = *pp); pp = &r->next)
		if (r->blkno == blkno) {
			*pp = r->next;
			rt->count--;
			*out = r;
			return true;
		}
	return false;
}

void jnl_revoke_free_all(struct jnl_revoke_table *rt)
{
	for (unsigned i = 0; i < JNL_REVOKE_BUCKETS && rt->count; i++) {
		struct jnl_revoke_rec *r = rt->bucket[i], *n;

		for (; r; r = n) {
			n = r->next;
			mc_free(r);
			rt->count--;
		}
		rt->bucket[i] = NULL;
	}
}

static uint64_t seal_revoke(struct jnl_journal *j, struct jnl_ctl *ctl, uint64_t pos,
			    unsigned count, uint64_t txn_csum)
{
	struct jnl_disk_revoke *d = ctl->buf;

	d->count = jnl_cpu_to_le32(count);
	txn_csum = jnl_txn_csum_step(txn_csum, jnl_hdr_seal(ctl->buf, j->bsize, j->seed));
	jnl_logw_ctl_submit(j, ctl, pos);
	return txn_csum;
}

uint64_t jnl_revoke_write(struct jnl_journal *j, struct jnl_txn *t, uint64_t txn_csum)
{
	struct jnl_ctl *ctl = NULL;
	struct jnl_disk_revoke *d = NULL;
	unsigned n = 0, i;
	uint64_t pos = 0;

	for (i = 0; i < JNL_REVOKE_BUCKETS; i++) {
		struct jnl_revoke_rec *r;

		for (r = t->revokes.bucket[i]; r; r = r->next) {
			if (ctl && n == j->revokes_per_block) {
				txn_csum = seal_revoke(j, ctl, pos, n, txn_csum);
				ctl = NULL;
			}
			if (!ctl) {
				ctl = jnl_logw_ctl_get(j);
				pos = jnl_logw_next_pos(j);
				jnl_hdr_init(ctl->buf, j->bsize, JNL_MAGIC_REVOKE,
					     j->area.start + pos, t->tid, j->area.uuid);
				d = ctl->buf;
				n = 0;
			}
			d->blknos[n++] = jnl_cpu_to_le64(r->blkno);
		}
	}
	if (ctl)
		txn_csum = seal_revoke(j, ctl, pos, n, txn_csum);
	JNL_STAT_ADD(j, revoke_records, t->revokes.count);
	return txn_csum;
}
