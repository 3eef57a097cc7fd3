/*
 * Mapping a file's logical blocks (ext4's map_blocks): look the extent up
 * under data_sem for reading; to allocate, take data_sem for writing,
 * look again (someone may have allocated meanwhile), and allocate the
 * hole near the blocks of the extent before it (or after the inode's
 * group start), so a file written in order lands in one run.
 */
#include <errno.h>

#include "fs/balloc.h"
#include "fs/es/es_map.h"
#include "fs/extent_tree.h"
#include "fs/file.h"

unsigned sfs_map_credits(struct sfs_inode_info *ip)
{
	return sfs_ext_credits(ip) + SFS_CREDITS_GROUP + 1;
}

/* The mapping of @len blocks from @lblk inside the cached range @x. */
static void fill(struct sfs_mapping *m, const struct sfs_es_extent *x, uint32_t lblk, uint32_t len)
{
	uint64_t left = (uint64_t)x->lblk + x->len - lblk;
	/* delayed blocks have none yet: a hole for the tree's purposes */
	bool hole = x->state == SFS_ES_HOLE || x->state == SFS_ES_DELAYED;

	m->lblk = lblk;
	m->len = len < left ? len : (uint32_t)left;
	m->pblk = hole ? 0 : x->pblk + (lblk - x->lblk);
	m->state = hole ? SFS_MAPPED_HOLE
		   : x->state == SFS_ES_UNWRITTEN ? SFS_MAPPED_UNWRITTEN : SFS_MAPPED_WRITTEN;
	m->fresh = false;
}

/* Physical block a new extent at @lblk should start at (*goal, 0 = none).
 * An error is returned, not ignored: a second lookup after a failed one
 * would be the open-coded retry alloc/ reports. */
static int find_goal(struct sfs_inode_info *ip, uint32_t lblk, unsigned eflags, uint64_t *goal)
{
	struct sfs_extent e;
	int ret;

	*goal = 0;
	ret = sfs_ext_prev(ip, lblk, eflags, &e);
	if (ret == 1)
		*goal = e.pblk + (lblk - e.lblk);
	if (ret)
		return ret < 0 ? ret : 0;
	ret = sfs_ext_next(ip, lblk, eflags, &e);
	if (ret == 1 && e.pblk > (uint64_t)(e.lblk - lblk))
		*goal = e.pblk - (e.lblk - lblk);
	return ret < 0 ? ret : 0;
}

int sfs_map_blocks(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk, uint32_t len,
		   unsigned flags, struct sfs_mapping *m)
{
	unsigned eflags = (flags & SFS_MAPF_NOFAIL) ? SFS_EXT_NOFAIL : 0;
	struct sfs_alloc_req req = { .ip = ip, .lblk = lblk };
	struct sfs_es_extent x;
	struct sfs_extent e;
	uint64_t pblk;
	uint32_t got;
	int ret;

	if (!len)
		return -EINVAL;
	if (!(flags & SFS_MAPF_CREATE)) {
		mc_read_lock(&ip->data_sem);
		ret = sfs_es_map_lookup(ip, lblk, eflags, &x);
		mc_rw_unlock(&ip->data_sem);
		if (!ret)
			fill(m, &x, lblk, len);
		return ret;
	}

	mc_write_lock(&ip->data_sem);
	ret = sfs_es_map_lookup(ip, lblk, eflags, &x);
	if (ret < 0)
		goto out;
	if (x.state != SFS_ES_HOLE && x.state != SFS_ES_DELAYED) {
		fill(m, &x, lblk, len);
		goto out;
	}
	req.len = (uint32_t)((uint64_t)x.lblk + x.len - lblk);
	if (req.len > len)
		req.len = len;
	if (req.len > SFS_MAX_EXTENT_LEN)
		req.len = SFS_MAX_EXTENT_LEN;
	ret = find_goal(ip, lblk, eflags, &req.goal);
	if (ret)
		goto out;
	req.flags = ((flags & SFS_MAPF_NOFAIL) ? SFS_ALLOC_NOFAIL : 0) |
		    ((flags & SFS_MAPF_PRIVILEGED) ? SFS_ALLOC_PRIVILEGED : 0) |
		    ((flags & SFS_MAPF_RESERVED) ? SFS_ALLOC_RESERVED : 0);
	/* Write access to the inode first: once blocks are taken, recording
	 * them in its block count must not be able to fail. */
	ret = sfs_inode_access(t, ip, flags & SFS_MAPF_NOFAIL);
	if (ret)
		goto out;
	ret = sfs_balloc(t, &req, &pblk, &got);
	if (ret)
		goto out;
	e.lblk = lblk;
	e.len = (uint16_t)got;
	e.pblk = pblk;
	e.flags = (flags & SFS_MAPF_UNWRITTEN) ? SFS_EXTENT_FL_UNWRITTEN : 0;
	/* Delayed allocation reserved the data blocks; the tree blocks its
	 * insert may split off come from the filesystem reserve if the
	 * inode's own tree-block reservation was not enough. */
	ret = sfs_ext_insert(t, ip, &e, eflags |
			     ((flags & SFS_MAPF_RESERVED) ? SFS_EXT_USE_RESERVE : 0));
	if (ret) {
		/* Still in this transaction's buffers: cannot fail on memory. */
		sfs_bfree(t, pblk, got, true);
		goto out;
	}
	mc_mutex_lock(&ip->attr_lock);
	ip->d.blocks += got;
	mc_mutex_unlock(&ip->attr_lock);
	ret = sfs_inode_commit(t, ip);
	*m = (struct sfs_mapping){ .lblk = lblk, .len = got, .pblk = pblk, .fresh = true,
				   .state = (flags & SFS_MAPF_UNWRITTEN) ? SFS_MAPPED_UNWRITTEN
									 : SFS_MAPPED_WRITTEN };
out:
	mc_rw_unlock(&ip->data_sem);
	return ret;
}
