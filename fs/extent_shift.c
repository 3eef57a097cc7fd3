/*
 * Moving extents along the file (collapse and insert range; ext4's
 * shift_extents) and cutting one extent in two at a block (insert range
 * needs its start on an extent boundary).
 *
 * A shift changes only logical block numbers: every extent at or after a
 * point moves by the same amount, so the order inside a leaf and across
 * leaves is kept as long as the leaves are visited in the right order --
 * left to right when moving left (the gap collapse has just removed
 * lies in front), right to left when moving right (the space beyond the
 * last extent lies behind).  A leaf whose first entry moves changes the
 * index keys above it, fixed in the same step.  One leaf is one step: the
 * handle is extended or restarted between leaves (data_sem dropped around
 * a restart), and every step leaves a valid tree, so a crash in the middle
 * leaves a valid tree with only part of the file moved (as ext4's).
 */
#include <errno.h>

#include "fs/es/es_map.h"
#include "fs/extent_tree.h"

/* Credits of one leaf's shift: the leaf and every key above it. */
static unsigned shift_credits(struct sfs_inode_info *ip)
{
	return sfs_ext_depth(ip) + 2;
}

/* Move the entries of the path's leaf whose start lies in [lo, hi) by
 * @delta; *moved gets how many moved. */
static int shift_leaf(struct sfs_trans *t, struct sfs_ext_path *p, uint64_t lo, uint64_t hi,
		      int64_t delta, unsigned *moved)
{
	struct sfs_ext_level *leaf = &p->lv[p->depth];
	unsigned d = p->depth, first = leaf->entries, last = 0;
	struct sfs_extent e;
	int ret;

	*moved = 0;
	for (unsigned i = 0; i < leaf->entries; i++) {
		sfs_extent_get(&e, leaf->node, i);
		if (e.lblk >= lo && e.lblk < hi) {
			if (first == leaf->entries)
				first = i;
			last = i + 1;
		}
	}
	if (first == leaf->entries)
		return 0;
	ret = sfs_ext_level_access(t, p, d);
	if (!ret && first == 0)
		ret = sfs_ext_keys_access(t, p, d);
	if (ret)
		return ret;
	sfs_ext_level_begin(p, d);
	for (unsigned i = first; i < last; i++) {
		sfs_extent_get(&e, leaf->node, i);
		e.lblk = (uint32_t)((int64_t)e.lblk + delta);
		sfs_extent_put(leaf->node, i, &e);
	}
	ret = sfs_ext_level_end(t, p, d);
	if (!ret && first == 0)
		ret = sfs_ext_keys_fix(t, p, d);
	*moved = last - first;
	return ret;
}

int sfs_ext_shift(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t from, uint32_t amount,
		  bool left, unsigned flags)
{
	struct sfs_extent e;
	uint64_t limit = SFS_EXT_LBLK_END;
	unsigned restarts = t->restarts, moved;
	int ret;

	if (!amount)
		return 0;
	if (left && amount > from)
		return -EINVAL;
	if (!left) {
		/* Nothing may be pushed past the last logical block. */
		ret = sfs_ext_prev(ip, UINT32_MAX, flags, &e);
		if (ret < 0)
			return ret;
		if (ret && sfs_ext_end(&e) > from && sfs_ext_end(&e) + amount > SFS_EXT_LBLK_END)
			return -EFBIG;
	}
	/* Trimming the cached tail never splits a cached extent. */
	ret = sfs_es_forget(ip, left ? from - amount : from, SFS_EXT_LBLK_END, flags);
	if (ret)
		return ret;

	if (left) {
		uint64_t cursor = from;

		while (cursor < SFS_EXT_LBLK_END) {
			struct sfs_ext_path *p;
			uint64_t next;

			ret = sfs_trans_ensure(t, shift_credits(ip), &ip->data_sem);
			if (ret < 0)
				goto out;
			ret = sfs_ext_find(ip, (uint32_t)cursor, flags, &p);
			if (ret)
				goto out;
			next = sfs_ext_path_next_key(p);
			ret = shift_leaf(t, p, cursor, SFS_EXT_LBLK_END, -(int64_t)amount, &moved);
			sfs_ext_path_free(p);
			if (ret)
				goto out;
			cursor = next;
		}
		goto out;
	}

	/* Right: from the last leaf back; entries in [from, limit) have not
	 * moved yet, where limit is the first old key of the leaf done last. */
	for (;;) {
		struct sfs_ext_path *p;
		struct sfs_ext_level *leaf;
		uint64_t first_old = SFS_EXT_LBLK_END;
		unsigned entries;

		ret = sfs_trans_ensure(t, shift_credits(ip), &ip->data_sem);
		if (ret < 0)
			goto out;
		ret = sfs_ext_find(ip, (uint32_t)(limit - 1), flags, &p);
		if (ret)
			goto out;
		leaf = &p->lv[p->depth];
		entries = leaf->entries;
		if (entries) {
			sfs_extent_get(&e, leaf->node, 0);
			first_old = e.lblk;
		}
		ret = shift_leaf(t, p, from, limit, (int64_t)amount, &moved);
		sfs_ext_path_free(p);   /* leaf points into it: not used below */
		if (ret)
			goto out;
		if (!entries || first_old <= from || first_old >= limit || !moved)
			break;
		limit = first_old;
	}
out:
	if (t->restarts != restarts)
		sfs_es_forget(ip, left ? from - amount : from, SFS_EXT_LBLK_END, SFS_EXT_NOFAIL);
	return ret < 0 ? ret : 0;
}

int sfs_ext_split_at(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk, unsigned flags)
{
	struct sfs_ext_path *p;
	struct sfs_ext_level *leaf;
	struct sfs_extent e, head, tail;
	unsigned d;
	int pos, ret;

	ret = sfs_trans_ensure(t, sfs_ext_credits(ip), &ip->data_sem);
	if (ret < 0)
		return ret;
	ret = sfs_ext_find(ip, lblk, flags, &p);
	if (ret)
		return ret;
	leaf = &p->lv[p->depth];
	pos = leaf->pos;
	if (pos < 0)
		goto out;
	sfs_extent_get(&e, leaf->node, (unsigned)pos);
	if (e.lblk >= lblk || sfs_ext_end(&e) <= lblk)
		goto out;   /* already a boundary */
	ret = sfs_es_forget(ip, e.lblk, sfs_ext_end(&e), flags);
	if (ret)
		goto out;
	if (leaf->entries >= leaf->max) {
		sfs_ext_path_free(p);
		ret = sfs_ext_make_room(t, ip, lblk, 1, flags, &p);
		if (ret)
			return ret;
		leaf = &p->lv[p->depth];
		pos = leaf->pos;
	}
	d = p->depth;
	ret = sfs_ext_level_access(t, p, d);
	if (ret)
		goto out;
	head = e;
	head.len = (uint16_t)(lblk - e.lblk);
	tail = e;
	tail.lblk = lblk;
	tail.len = (uint16_t)(sfs_ext_end(&e) - lblk);
	tail.pblk = e.pblk + head.len;
	sfs_ext_level_begin(p, d);
	sfs_ext_slot_insert(leaf, (unsigned)pos + 1, 1);
	sfs_extent_put(leaf->node, (unsigned)pos, &head);
	sfs_extent_put(leaf->node, (unsigned)pos + 1, &tail);
	ret = sfs_ext_level_end(t, p, d);
out:
	sfs_ext_path_free(p);
	return ret;
}
