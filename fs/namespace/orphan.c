/*
 * Recording orphans: taking a slot (in two phases when the caller needs
 * to), giving it back when a truncate ends, keeping its xattr block in
 * step, and reaping an inode whose last user goes -- freeing it and its
 * slot in one transaction.  (See orphan.h for why slots, ondisk.h for the
 * format.)
 *
 * Life of a slot:
 *   free      ino 0
 *   valid     names a live inode of that generation with flag ORPHAN: the
 *             next mount must finish it (free it, or finish its truncate)
 *   stale     names anything else (the inode freed or reused under an
 *             image written before sfs_ns_evict); its xattr_block, if any,
 *             is still to be freed.  Swept by reap, forget and replay.
 * A slot turns valid -> free in the transaction that frees the inode,
 * whoever frees it (sfs_ns_evict, the fs->evict hook), or ends the
 * truncate (del); stale -> free in a sweep.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/format/orphan.h"
#include "fs/format/super.h"
#include "fs/format/verify.h"
#include "fs/namespace/ns.h"
#include "fs/namespace/orphan_file.h"

int sfs_orphan_prepare(struct sfs_trans *t, struct sfs_orphan_ref *r)
{
	struct sfs_fs *fs = t->fs;
	bool nofail = sfs_trans_nofail(t);
	unsigned per = sfs_orphan_slots(fs->bsize);
	struct sfs_orphan_slot s;
	uint32_t nblocks, lblk;
	int ret, idx = -1;

	memset(r, 0, sizeof(*r));
	sfs_orphan_lock();
	r->locked = true;
	ret = sfs_orphan_file(t, fs, &r->of);
	if (ret)
		goto err;
	nblocks = sfs_orphan_nblocks(r->of);
	for (lblk = 0; lblk < nblocks && idx < 0; lblk++) {
		ret = sfs_orphan_bread(r->of, lblk, nofail, &r->bh);
		if (ret)
			goto err;
		for (unsigned i = 0; i < per && idx < 0; i++) {
			sfs_orphan_slot_get(&s, r->bh->data, i);
			if (!s.ino)
				idx = (int)i;
		}
		if (idx < 0) {
			sfs_buf_release(r->bh);
			r->bh = NULL;
		}
	}
	if (idx >= 0) {
		r->slot = (uint64_t)(lblk - 1) * per + (unsigned)idx;
		ret = sfs_trans_access(t, r->bh);
	} else {
		ret = sfs_orphan_grow(t, r->of, &r->bh, &lblk);
		r->slot = (uint64_t)lblk * per;
	}
	if (ret)
		goto err;
	return 0;
err:
	sfs_orphan_abort(r);
	return ret;
}

int sfs_orphan_commit(struct sfs_trans *t, struct sfs_orphan_ref *r, struct sfs_inode_info *ip)
{
	unsigned per = sfs_orphan_slots(t->fs->bsize);
	struct sfs_orphan_slot s;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	s = (struct sfs_orphan_slot){ .ino = ip->ino, .generation = ip->d.generation,
				      .xattr_block = ip->d.xattr_block };
	ip->d.flags |= SFS_INODE_FL_ORPHAN;
	ip->d.orphan_next = r->slot + 1;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_buf_lock(r->bh);
	sfs_orphan_slot_put(r->bh->data, (unsigned)(r->slot % per), &s);
	ret = sfs_trans_dirty(t, r->bh);
	sfs_buf_unlock(r->bh);
	if (!ret)
		ret = sfs_inode_commit(t, ip);
	sfs_orphan_abort(r);
	return ret;
}

void sfs_orphan_abort(struct sfs_orphan_ref *r)
{
	sfs_brelse(r->bh);
	r->bh = NULL;
	if (r->locked)
		sfs_orphan_unlock();
	r->locked = false;
	if (r->of)
		sfs_iput(r->of);
	r->of = NULL;
}

int sfs_orphan_add(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_orphan_ref r;
	bool recorded;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	recorded = ip->d.flags & SFS_INODE_FL_ORPHAN;
	mc_mutex_unlock(&ip->attr_lock);
	if (recorded)
		return 0;
	ret = sfs_orphan_prepare(t, &r);
	if (!ret)
		ret = sfs_inode_access(t, ip, sfs_trans_nofail(t));
	if (ret) {
		sfs_orphan_abort(&r);
		return ret;
	}
	return sfs_orphan_commit(t, &r, ip);
}

/* Slot @ip's record names, its block and index; orphan lock held. */
static int find_slot(struct sfs_inode_info *of, struct sfs_inode_info *ip, bool nofail,
		     struct sfs_buf **bh, unsigned *idx)
{
	unsigned per = sfs_orphan_slots(of->fs->bsize);
	struct sfs_orphan_slot s;
	uint64_t slot;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	slot = ip->d.orphan_next;
	mc_mutex_unlock(&ip->attr_lock);
	if (!slot || (slot - 1) / per >= sfs_orphan_nblocks(of))
		return SFS_ERROR(of->fs, -EUCLEAN, ip->ino, 0, "orphan slot %llu is out of range",
				 (unsigned long long)slot);
	slot--;
	ret = sfs_orphan_bread(of, (uint32_t)(slot / per), nofail, bh);
	if (ret)
		return ret;
	*idx = (unsigned)(slot % per);
	sfs_orphan_slot_get(&s, (*bh)->data, *idx);
	if (s.ino != ip->ino || s.generation != ip->d.generation) {
		sfs_buf_release(*bh);
		return SFS_ERROR(of->fs, -EUCLEAN, ip->ino, 0, "orphan slot %llu names inode %llu",
				 (unsigned long long)slot, (unsigned long long)s.ino);
	}
	return 0;
}

int sfs_orphan_del(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_fs *fs = t->fs;
	bool nofail = sfs_trans_nofail(t);
	struct sfs_orphan_slot none = { 0 };
	struct sfs_inode_info *of = NULL;
	struct sfs_buf *bh = NULL;
	unsigned idx;
	bool skip;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	skip = !(ip->d.flags & SFS_INODE_FL_ORPHAN) || !ip->d.nlink;
	mc_mutex_unlock(&ip->attr_lock);
	if (skip)
		return 0;
	sfs_orphan_lock();
	ret = sfs_orphan_file_get(fs, nofail, &of);
	if (!ret)
		ret = find_slot(of, ip, nofail, &bh, &idx);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (!ret)
		ret = sfs_inode_access(t, ip, nofail);
	if (ret)
		goto out;
	sfs_buf_lock(bh);
	sfs_orphan_slot_put(bh->data, idx, &none);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.flags &= ~SFS_INODE_FL_ORPHAN;
	ip->d.orphan_next = 0;
	mc_mutex_unlock(&ip->attr_lock);
	if (!ret)
		ret = sfs_inode_commit(t, ip);
out:
	sfs_brelse(bh);
	sfs_orphan_unlock();
	if (of)
		sfs_iput(of);
	return ret;
}

int sfs_orphan_note_xattr(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_inode_info *of = NULL;
	struct sfs_buf *bh = NULL;
	struct sfs_orphan_slot s;
	unsigned idx;
	bool skip;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	skip = !(ip->d.flags & SFS_INODE_FL_ORPHAN);
	mc_mutex_unlock(&ip->attr_lock);
	if (skip)
		return 0;
	sfs_orphan_lock();
	ret = sfs_orphan_file_get(t->fs, sfs_trans_nofail(t), &of);
	if (!ret)
		ret = find_slot(of, ip, sfs_trans_nofail(t), &bh, &idx);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (ret)
		goto out;
	sfs_buf_lock(bh);
	sfs_orphan_slot_get(&s, bh->data, idx);
	mc_mutex_lock(&ip->attr_lock);
	s.xattr_block = ip->d.xattr_block;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_orphan_slot_put(bh->data, idx, &s);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
out:
	sfs_brelse(bh);
	sfs_orphan_unlock();
	if (of)
		sfs_iput(of);
	return ret;
}

void sfs_orphan_reap(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	(void)fs;
	/* The last reference frees the inode; its freeing transaction clears
	 * the slot too (sfs_ns_evict). */
	sfs_iput(ip);
}

int sfs_ns_evict(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_inode_info *of;
	uint64_t slot, xblk;
	uint32_t gen;
	bool recorded;
	int ret = 0;

	mc_mutex_lock(&ip->attr_lock);
	recorded = ip->d.flags & SFS_INODE_FL_ORPHAN;
	slot = ip->d.orphan_next;
	gen = ip->d.generation;
	xblk = ip->d.xattr_block;
	mc_mutex_unlock(&ip->attr_lock);
	if (recorded && slot) {
		sfs_orphan_lock();
		ret = sfs_orphan_file_get(t->fs, sfs_trans_nofail(t), &of);
		if (!ret) {
			ret = sfs_orphan_clear_freed(t, of, slot - 1, ip->ino, gen);
			sfs_iput(of);
		}
		sfs_orphan_unlock();
		/* The slot could not be cleared (an I/O error, a damaged orphan
		 * file): it goes stale instead and keeps the xattr block, which
		 * the next sweep frees. */
		if (ret)
			return 0;
	}
	if (!xblk)
		return 0;
	ret = sfs_ns_xattr_free_block(t, xblk);
	if (ret)
		return ret;
	/* The record is cleared next; keep the block count in step until then. */
	mc_mutex_lock(&ip->attr_lock);
	ip->d.xattr_block = 0;
	if (ip->d.blocks)
		ip->d.blocks--;
	mc_mutex_unlock(&ip->attr_lock);
	return 0;
}
