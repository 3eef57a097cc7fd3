/*
 * Journal credits reserved when pages are dirtied (seed 004: everything
 * writeout needs is reserved up front).  An inode whose dirty pages need
 * a handle at writeback -- delayed pages to map, unwritten blocks to
 * convert -- holds one journal reservation (jnl_reserve) for the credits
 * of one writeback step.  Writeback starts its handle from it, so that
 * handle neither waits for log space nor needs fresh memory, then
 * re-arms it without waiting if pages still need it; a writer re-arms it
 * (waiting if it must) when the inode has none.  It goes back to the log
 * when the inode has nothing dirty left: written, truncated, punched,
 * unlinked.
 *
 * The struct jnl_rsv lives in the map under pc->lock; reserving happens
 * outside it (it may wait), into a local copy that is then installed.
 */
#include <errno.h>

#include "fs/file.h"
#include "fs/pagecache/pc_internal.h"

unsigned pc_wb_credits(struct sfs_inode_info *ip)
{
	return sfs_map_credits(ip) + 2;
}

/* Install @r in @m if it holds none (lock held); else @r stays. */
static void install_locked(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *r)
{
	if (jnl_rsv_held(&m->jrsv))
		return;
	m->jrsv = *r;
	*r = (struct jnl_rsv){ 0 };
	pc->nr_jrsv++;
}

int pc_jrsv_get(struct sfs_pcache *pc, struct pc_map *m, struct sfs_inode_info *ip, bool wait)
{
	struct sfs_fs *fs = pc->fs;
	struct jnl_rsv r = { 0 };
	bool need;
	int ret;

	if (!fs->j)
		return 0;
	/* Writers are waiting for credits: writeback does not take them
	 * first (the map's next step starts an ordinary handle). */
	if (!wait && atomic_load(&pc->rsv_waiters))
		return 0;
	mc_mutex_lock(&pc->lock);
	/* a writer reserves before its pages are dirty: it asks for them */
	need = !jnl_rsv_held(&m->jrsv) && (wait || m->nr_dirty);
	mc_mutex_unlock(&pc->lock);
	if (!need)
		return 0;
	ret = jnl_reserve(fs->j, &r, pc_wb_credits(ip), JNL_RSV_TRY);
	if (ret == -EAGAIN && wait) {
		/* The log is short, or all reservations are out: writeback
		 * gives them back; wake it and wait. */
		atomic_fetch_add(&pc->rsv_waiters, 1);
		/* Half of them back, not one: a writer per wake-up would
		 * turn every new file into a synchronous writeback. */
		mc_mutex_lock(&pc->lock);
		if (!pc->rsv_drain) {
			pc->rsv_drain = true;
			pc->rsv_drain_to = pc->nr_jrsv / 2;
		}
		mc_mutex_unlock(&pc->lock);
		pc_kick(pc);
		PC_STAT(pc, jrsv_waits, 1);
		ret = jnl_reserve(fs->j, &r, pc_wb_credits(ip), 0);
		atomic_fetch_sub(&pc->rsv_waiters, 1);
	}
	if (ret == -EROFS)
		return ret;
	if (ret) {
		/* -EAGAIN (writeback does not wait), -EDEADLK (a caller's
		 * handle), -ENOSPC (a log too small to reserve in): the step
		 * starts an ordinary NOFAIL handle instead. */
		PC_STAT(pc, jrsv_misses, 1);
		return 0;
	}
	mc_mutex_lock(&pc->lock);
	/* a writer's pages follow (if its write fails, it drops it) */
	if (wait || m->nr_dirty)
		install_locked(pc, m, &r);
	mc_mutex_unlock(&pc->lock);
	jnl_unreserve(&r);     /* raced: someone else armed it */
	return 0;
}

void pc_jrsv_take(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *out)
{
	mc_mutex_lock(&pc->lock);
	*out = m->jrsv;
	if (jnl_rsv_held(&m->jrsv))
		pc->nr_jrsv--;
	m->jrsv = (struct jnl_rsv){ 0 };
	mc_mutex_unlock(&pc->lock);
}

void pc_jrsv_put(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *r)
{
	if (!jnl_rsv_held(r))
		return;
	mc_mutex_lock(&pc->lock);
	if (m->nr_dirty)
		install_locked(pc, m, r);
	mc_mutex_unlock(&pc->lock);
	jnl_unreserve(r);
}

void pc_jrsv_drop_idle_locked(struct sfs_pcache *pc, struct pc_map *m, struct jnl_rsv *out)
{
	*out = (struct jnl_rsv){ 0 };
	if (m->nr_dirty || !jnl_rsv_held(&m->jrsv))
		return;
	*out = m->jrsv;
	m->jrsv = (struct jnl_rsv){ 0 };
	pc->nr_jrsv--;
}

void pc_jrsv_drop_idle(struct sfs_pcache *pc, struct pc_map *m)
{
	struct jnl_rsv r;

	mc_mutex_lock(&pc->lock);
	pc_jrsv_drop_idle_locked(pc, m, &r);
	mc_mutex_unlock(&pc->lock);
	jnl_unreserve(&r);
}

void pc_jrsv_release_all(struct sfs_pcache *pc)
{
	/* One reservation per lock hold (jnl_unreserve takes the journal's
	 * lock); the scan goes on from the bucket it stopped in. */
	for (uint32_t b = 0;;) {
		struct jnl_rsv r = { 0 };

		mc_mutex_lock(&pc->lock);
		for (; b < pc->nbuckets && !jnl_rsv_held(&r); b += !jnl_rsv_held(&r))
			for (struct pc_map *m = pc->hash[b]; m && !jnl_rsv_held(&r); m = m->hnext)
				if (jnl_rsv_held(&m->jrsv)) {
					r = m->jrsv;
					m->jrsv = (struct jnl_rsv){ 0 };
					pc->nr_jrsv--;
				}
		mc_mutex_unlock(&pc->lock);
		if (!jnl_rsv_held(&r))
			return;
		jnl_unreserve(&r);
	}
}
