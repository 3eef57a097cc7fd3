/*
 * Operations on a range of one inode's pages: writing them back and
 * waiting (fsync, sync, and the range operations that move or allocate
 * blocks), dropping them (truncate, punch, zero, collapse, insert: dirty
 * data of the range is discarded and its reservations returned), zeroing
 * part of a cached block, and fsync itself.
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/pagecache/pc_internal.h"

uint64_t sfs_pc_delayed_blocks(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_pcache *pc = pc_of(fs);
	struct pc_map *m;
	uint64_t n = 0;

	if (!pc)
		return 0;
	mc_mutex_lock(&pc->lock);
	m = pc_map_find(pc, ino);
	if (m)
		n = m->nr_delayed;
	mc_mutex_unlock(&pc->lock);
	return n;
}

/* The map of @ip with a use count taken, or NULL when it has none. */
static struct pc_map *map_use(struct sfs_pcache *pc, uint64_t ino)
{
	struct pc_map *m;

	mc_mutex_lock(&pc->lock);
	m = pc_map_find(pc, ino);
	if (m)
		m->users++;
	mc_mutex_unlock(&pc->lock);
	return m;
}

static void map_unuse(struct sfs_pcache *pc, struct pc_map *m)
{
	mc_mutex_lock(&pc->lock);
	m->users--;
	pc_map_maybe_free(pc, m);
	mc_mutex_unlock(&pc->lock);
}

/* Write back every dirty page of @m in [from, end); the first error. */
int pc_writeback_all(struct sfs_pcache *pc, struct pc_map *m, uint64_t from, uint64_t end)
{
	int err = 0;
	long r;

	/* Each call takes the map's writeback lock, so once one finds
	 * nothing dirty, every earlier batch (the thread's too) is done. */
	do {
		r = pc_writeback_map(pc, m, from, end, SFS_PC_BATCH);
		if (r < 0 && !err)
			err = (int)r;
	} while (r > 0);
	return err;
}

int sfs_pc_writeback_range(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
			   uint64_t end)
{
	struct sfs_pcache *pc = pc_of(fs);
	struct pc_map *m = pc ? map_use(pc, ip->ino) : NULL;
	int ret;

	if (!m)
		return 0;
	ret = pc_writeback_all(pc, m, from, end);
	mc_mutex_lock(&pc->lock);
	if (!ret)
		ret = m->error;
	m->error = 0;
	mc_mutex_unlock(&pc->lock);
	map_unuse(pc, m);
	return ret;
}

int sfs_pc_fsync(struct sfs_fs *fs, struct sfs_inode_info *ip, bool datasync)
{
	int ret, r;

	ret = sfs_pc_writeback_range(fs, ip, 0, SFS_EXT_LBLK_END);
	if (!fs->j)
		return ret;
	/* fdatasync: only what reading the data back needs -- the size and
	 * the mappings (allocation, conversion, writeback's included);
	 * timestamps alone wait (the inode's data_tid). */
	r = jnl_fsync(fs->j, datasync ? ip->data_tid : ip->last_tid);
	return ret ? ret : r;
}

void sfs_pc_drop_range(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
		       uint64_t end)
{
	struct sfs_pcache *pc = pc_of(fs);
	uint64_t unresv = 0, dropped = 0;
	struct jnl_rsv jrsv;
	struct pc_map *m;
	bool busy;

	if (!pc)
		return;
	m = map_use(pc, ip->ino);
	if (!m)
		return;
	mc_mutex_lock(&pc->lock);
	do {
		busy = false;
		for (uint32_t b = 0; b < m->nbuckets; b++) {
			struct pc_page *pg = m->hash[b], *next;

			for (; pg; pg = next) {
				next = pg->hnext;
				if (pg->idx < from || pg->idx >= end)
					continue;
				if (pg->state == PG_READING || pg->state == PG_WRITEBACK) {
					busy = true;
					continue;
				}
				if (pg->state == PG_DIRTY) {
					m->nr_dirty--;
					pc->nr_dirty--;
					if (pg->delayed) {
						m->nr_delayed--;
						pc->nr_delayed--;
						unresv++;
					}
					dropped++;
				}
				pc_page_remove(pc, pg);
			}
		}
		if (busy)
			mc_cond_wait(&pc->cond, &pc->lock);
	} while (busy);
	if (!m->nr_dirty && !pc_list_empty(&m->dlink))
		pc_list_del(&m->dlink);
	if (!m->nr_delayed && m->md_resv) {
		unresv += m->md_resv;
		pc->nr_md -= m->md_resv;
		m->md_resv = 0;
	}
	if (m->ra_next >= from && m->ra_next < end)
		m->ra_next = 0;
	pc_jrsv_drop_idle_locked(pc, m, &jrsv);
	pthread_cond_broadcast(&pc->balance);
	mc_mutex_unlock(&pc->lock);
	jnl_unreserve(&jrsv);
	if (unresv)
		sfs_blocks_unreserve(fs, unresv);
	PC_STAT(pc, discarded, dropped);
	map_unuse(pc, m);
}

int sfs_pc_zero_in_block(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from,
			 uint64_t to)
{
	struct sfs_pcache *pc = pc_of(fs);
	uint32_t idx = (uint32_t)(from >> fs->blog), a = (uint32_t)(from & (fs->bsize - 1));
	struct pc_page *pg;
	struct pc_map *m;

	if (!pc)
		return 0;
	m = map_use(pc, ip->ino);
	if (!m)
		return 0;
	mc_mutex_lock(&pc->lock);
	while ((pg = pc_page_find(m, idx)) &&
	       (pg->state == PG_READING || pg->state == PG_WRITEBACK))
		mc_cond_wait(&pc->cond, &pc->lock);
	if (pg) {
		memset(pg->data + a, 0, (size_t)(to - from));
		if (pg->state == PG_CLEAN)
			pc_set_dirty(pc, pg);
	}
	mc_mutex_unlock(&pc->lock);
	map_unuse(pc, m);
	return pg != NULL;
}
