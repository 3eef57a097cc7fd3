/*
 * Per-inode preallocation windows (ext4's inode preallocation, kept in
 * memory only).
 *
 * After a data allocation for a regular file ends at physical block P for
 * logical block L, the free run following P (up to a size that grows with
 * the file) is held for the inode as its window: the next allocation for
 * logical block L gets P exactly, whoever else allocated meanwhile.  A
 * window is consumed from its front; an allocation for another logical
 * block discards it (random writers keep no windows).  Windows count as
 * free space: when a search finds nothing while the counters say there is
 * room, every window is given up and the search repeats.  Nothing about
 * windows reaches the disk, so a crash leaves nothing to clean up.
 *
 * Locking: fs->pa_lock covers every window and the list of inodes that
 * have one; it nests inside a group lock and outside held_lock.
 */
#include <errno.h>

#include "fs/balloc.h"
#include "fs/inode.h"

#define SFS_PA_MIN 16u
#define SFS_PA_DEFAULT_MAX 512u

static void unlink_window(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	if (ip->pa_prev)
		ip->pa_prev->pa_next = ip->pa_next;
	else
		fs->pa_list = ip->pa_next;
	if (ip->pa_next)
		ip->pa_next->pa_prev = ip->pa_prev;
	ip->pa_prev = ip->pa_next = NULL;
}

/* pa_lock held. */
static uint64_t drop_window(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	uint64_t n = ip->pa_len;
	uint32_t grp, idx;

	if (!n)
		return 0;
	if (sfs_geo_block_group(&fs->sbi->geo, ip->pa_pblk, &grp, &idx))
		sfs_group_unhold(fs, grp, idx, ip->pa_len);
	ip->pa_len = 0;
	unlink_window(fs, ip);
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.windows -= n;
	mc_spin_unlock(&fs->cnt_lock);
	return n;
}

uint32_t sfs_pa_take(struct sfs_fs *fs, struct sfs_inode_info *ip, uint32_t lblk,
		     uint32_t len, uint64_t *pblk)
{
	uint32_t n = 0;

	mc_mutex_lock(&fs->pa_lock);
	if (!ip->pa_len)
		goto out;
	if (ip->pa_lblk != lblk) {
		drop_window(fs, ip);
		goto out;
	}
	n = len < ip->pa_len ? len : ip->pa_len;
	*pblk = ip->pa_pblk;
	ip->pa_pblk += n;
	ip->pa_lblk += n;
	ip->pa_len -= n;
	if (!ip->pa_len)
		unlink_window(fs, ip);
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.windows -= n;
	mc_spin_unlock(&fs->cnt_lock);
out:
	mc_mutex_unlock(&fs->pa_lock);
	return n;
}

/* The operation in which a window's map last failed on this thread. */
static __thread uint64_t hold_failed_op;

void sfs_pa_open(struct sfs_fs *fs, struct sfs_inode_info *ip, uint32_t grp, const uint8_t *map,
		 uint32_t lblk, uint64_t pblk)
{
	uint64_t start = sfs_geo_group_start(&fs->sbi->geo, grp);
	uint32_t cap = fs->opts.prealloc_max ? fs->opts.prealloc_max : SFS_PA_DEFAULT_MAX;
	uint32_t want = SFS_PA_MIN, n;

	if ((ip->d.mode & 0170000) != 0100000 || ip->pa_len || pblk <= start)
		return;
	/* Grow with the file, as ext4 normalises requests by file size. */
	while (want < cap && want < ip->d.blocks)
		want <<= 1;
	if (want > cap)
		want = cap;
	if ((uint64_t)lblk + want > (1ull << 32))
		return;
	/* A window is only an optimisation: once its map could not be
	 * allocated, no more tries in this operation (a second call to the
	 * same site would be the open-coded retry alloc/ reports; writeback
	 * allocates many extents in one operation). */
	if (mc_op_current() && mc_op_current() == hold_failed_op)
		return;
	n = sfs_group_free_run_at(fs, grp, map, (uint32_t)(pblk - start), want);
	if (!n)
		return;
	if (sfs_group_hold(fs, grp, (uint32_t)(pblk - start), n, false)) {
		hold_failed_op = mc_op_current();
		return;
	}
	mc_mutex_lock(&fs->pa_lock);
	ip->pa_pblk = pblk;
	ip->pa_lblk = lblk;
	ip->pa_len = n;
	ip->pa_prev = NULL;
	ip->pa_next = fs->pa_list;
	if (fs->pa_list)
		fs->pa_list->pa_prev = ip;
	fs->pa_list = ip;
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.windows += n;
	mc_spin_unlock(&fs->cnt_lock);
	mc_mutex_unlock(&fs->pa_lock);
}

void sfs_pa_discard(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	mc_mutex_lock(&fs->pa_lock);
	drop_window(fs, ip);
	mc_mutex_unlock(&fs->pa_lock);
}

uint64_t sfs_pa_discard_all(struct sfs_fs *fs)
{
	uint64_t n = 0;

	mc_mutex_lock(&fs->pa_lock);
	while (fs->pa_list)
		n += drop_window(fs, fs->pa_list);
	mc_mutex_unlock(&fs->pa_lock);
	return n;
}
