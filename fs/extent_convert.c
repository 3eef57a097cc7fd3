/*
 * Unwritten -> written conversion (ext4's convert_unwritten_extents).
 *
 * Writing into a preallocated (unwritten) extent turns the written part
 * into an ordinary extent: the unwritten extent is replaced by up to
 * three pieces (unwritten head, written middle, unwritten tail), which
 * needs up to two free entries in its leaf -- made first, by splitting,
 * so the replacement itself cannot fail -- and the written piece then
 * merges with a written neighbour it continues.  The first piece always
 * starts where the old extent did, so index keys never change here.
 */
#include <errno.h>

#include "fs/es/es_map.h"
#include "fs/extent_tree.h"

static int convert(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
		   uint32_t len, unsigned flags)
{
	struct sfs_fs *fs = ip->fs;
	uint64_t cursor = lblk, end = (uint64_t)lblk + len;
	int ret = 0;

	while (cursor < end) {
		struct sfs_ext_path *p;
		struct sfs_ext_level *leaf;
		struct sfs_extent e, piece;
		unsigned d, need, at;
		uint64_t a, b;
		int pos;

		ret = sfs_trans_ensure(t, sfs_ext_credits(ip), &ip->data_sem);
		if (ret < 0)
			return ret;
		ret = sfs_ext_find(ip, (uint32_t)cursor, flags, &p);
		if (ret)
			return ret;
		d = p->depth;
		leaf = &p->lv[d];
		pos = leaf->pos;
		if (pos >= 0)
			sfs_extent_get(&e, leaf->node, (unsigned)pos);
		if (pos < 0 || sfs_ext_end(&e) <= cursor) {
			/* A hole: nothing to convert up to the next extent. */
			if (pos + 1 < (int)leaf->entries) {
				sfs_extent_get(&e, leaf->node, (unsigned)(pos + 1));
				cursor = e.lblk;
			} else {
				cursor = sfs_ext_path_next_key(p);
			}
			sfs_ext_path_free(p);
			continue;
		}
		if (!sfs_ext_unwritten(&e)) {
			cursor = sfs_ext_end(&e);
			sfs_ext_path_free(p);
			continue;
		}
		a = cursor;
		b = sfs_ext_end(&e) < end ? sfs_ext_end(&e) : end;
		need = (a > e.lblk) + (b < sfs_ext_end(&e));
		if (leaf->max - leaf->entries < need) {
			sfs_ext_path_free(p);
			ret = sfs_ext_make_room(t, ip, (uint32_t)cursor, need, flags, &p);
			if (ret)
				return ret;
			sfs_ext_path_free(p);
			continue;   /* find it again: the split may have moved it */
		}
		ret = sfs_ext_level_access(t, p, d);
		if (ret) {
			sfs_ext_path_free(p);
			return ret;
		}
		SFS_STAT(fs, ext_converts, 1);
		sfs_ext_level_begin(p, d);
		if (need)
			sfs_ext_slot_insert(leaf, (unsigned)pos + 1, need);
		at = (unsigned)pos;
		if (a > e.lblk) {
			piece = e;
			piece.len = (uint16_t)(a - e.lblk);
			sfs_extent_put(leaf->node, at++, &piece);
		}
		piece.lblk = (uint32_t)a;
		piece.len = (uint16_t)(b - a);
		piece.pblk = e.pblk + (a - e.lblk);
		piece.flags = (uint16_t)(e.flags & ~SFS_EXTENT_FL_UNWRITTEN);
		sfs_extent_put(leaf->node, at, &piece);
		if (b < sfs_ext_end(&e)) {
			struct sfs_extent tail = e;

			tail.lblk = (uint32_t)b;
			tail.len = (uint16_t)(sfs_ext_end(&e) - b);
			tail.pblk = e.pblk + (b - e.lblk);
			sfs_extent_put(leaf->node, at + 1, &tail);
		}
		sfs_ext_leaf_merge(fs, leaf, at);
		ret = sfs_ext_level_end(t, p, d);
		sfs_ext_path_free(p);
		if (ret)
			return ret;
		cursor = b;
	}
	return 0;
}

int sfs_ext_mark_written(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
			 uint32_t len, unsigned flags)
{
	unsigned restarts = t->restarts;
	int ret;

	/* Forget the range in the status cache first (es_map.h). */
	ret = sfs_es_forget(ip, lblk, (uint64_t)lblk + len, flags);
	if (ret)
		return ret;
	ret = convert(t, ip, lblk, len, flags);
	if (t->restarts != restarts)
		sfs_es_forget(ip, lblk, (uint64_t)lblk + len, SFS_EXT_NOFAIL);
	return ret;
}
