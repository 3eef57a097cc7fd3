/*
 * Removing a range from the extent tree (ext4's remove_space, from the
 * right end leftwards).
 *
 * A range strictly inside one extent punches a hole in it: the extent is
 * cut in two, which needs a free entry in its leaf (a split, from the
 * filesystem reserve: removals must work on a full filesystem).
 * Otherwise each step takes the rightmost extent overlapping what is left
 * of the range and deletes it or trims one of its ends, freeing those
 * blocks; a leaf emptied this way is freed with every ancestor it leaves
 * empty, and index keys follow when a node's first entry changes.  Every
 * step is one two-phase change of its own (trans.h) and asks for its
 * credits first, so a removal of any length runs in as many transactions
 * as it needs.  At the end the tree shrinks while the root's only child
 * fits in the root.
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/es/es_map.h"
#include "fs/extent_tree.h"

static void add_blocks(struct sfs_inode_info *ip, int64_t n)
{
	mc_mutex_lock(&ip->attr_lock);
	ip->d.blocks = (uint64_t)((int64_t)ip->d.blocks + n);
	mc_mutex_unlock(&ip->attr_lock);
}

unsigned sfs_ext_remove_credits(struct sfs_inode_info *ip)
{
	unsigned d = sfs_ext_depth(ip);

	/* The leaf and every ancestor (keys, an emptied chain), the data's
	 * bitmap/descriptor/superblock, each freed node's revoke and its
	 * bitmap/descriptor/superblock, the inode. */
	return 6 * d + 8;
}

/*
 * Forget (revoke) emptied nodes.  Each may fail on memory for its revoke
 * record; the ones already forgotten are then taken back (write access
 * cancels a revoke of this transaction) and logged again, as they are
 * still in the tree.
 */
static int forget_nodes(struct sfs_trans *t, struct sfs_buf **bhs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int ret = sfs_trans_forget(t, bhs[i]);

		if (!ret)
			continue;
		for (unsigned j = 0; j < i; j++) {
			if (!sfs_trans_access(t, bhs[j])) {
				sfs_buf_lock(bhs[j]);
				sfs_trans_dirty(t, bhs[j]);
				sfs_buf_unlock(bhs[j]);
			}
		}
		return ret;
	}
	return 0;
}

/* Punch [start, end) out of the middle of one extent.  1 if the range
 * was such a case (done), 0 if not, -errno. */
static int punch_middle(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t start,
			uint64_t end, unsigned flags, uint64_t *freed)
{
	bool nofail = flags & SFS_EXT_NOFAIL;
	struct sfs_extent e, left, right;
	struct sfs_ext_path *p;
	struct sfs_ext_level *leaf;
	struct sfs_bfree *bf = NULL;
	unsigned d;
	int ret;

	ret = sfs_ext_lookup(ip, start, flags, &e);
	if (ret <= 0)
		return ret;
	if (e.lblk >= start || sfs_ext_end(&e) <= end)
		return 0;
	ret = sfs_ext_make_room(t, ip, start, 1, flags | SFS_EXT_USE_RESERVE, &p);
	if (ret)
		return ret;
	d = p->depth;
	leaf = &p->lv[d];
	if (leaf->pos < 0) {
		ret = sfs_ext_corrupt(ip, 0, "extent at %u lost while making room", e.lblk);
		goto out;
	}
	sfs_extent_get(&e, leaf->node, (unsigned)leaf->pos);
	if (e.lblk >= start || sfs_ext_end(&e) <= end) {
		ret = sfs_ext_corrupt(ip, 0, "extent at %u changed while making room", e.lblk);
		goto out;
	}
	ret = sfs_ext_level_access(t, p, d);
	if (!ret)
		ret = sfs_inode_access(t, ip, nofail);
	if (!ret)
		ret = sfs_bfree_prepare(t, e.pblk + (start - e.lblk), (uint32_t)(end - start), nofail,
					&bf);
	if (ret)
		goto out;

	left = e;
	left.len = (uint16_t)(start - e.lblk);
	right = e;
	right.lblk = (uint32_t)end;
	right.pblk = e.pblk + (end - e.lblk);
	right.len = (uint16_t)(sfs_ext_end(&e) - end);
	sfs_ext_level_begin(p, d);
	sfs_extent_put(leaf->node, (unsigned)leaf->pos, &left);
	sfs_ext_slot_insert(leaf, (unsigned)leaf->pos + 1, 1);
	sfs_extent_put(leaf->node, (unsigned)leaf->pos + 1, &right);
	ret = sfs_ext_level_end(t, p, d);
	if (ret) {
		sfs_bfree_abort(bf);
		goto out;
	}
	ret = sfs_bfree_commit(t, bf);
	add_blocks(ip, -(int64_t)(end - start));
	*freed += end - start;
	if (!ret)
		ret = sfs_inode_commit(t, ip);
	if (!ret)
		ret = 1;
out:
	sfs_ext_path_free(p);
	return ret;
}

/* Delete the leaf's only entry: free the leaf and the ancestors it
 * empties, and drop the entry pointing at the topmost of them. */
static int remove_chain(struct sfs_trans *t, struct sfs_ext_path *p, const struct sfs_extent *e)
{
	struct sfs_inode_info *ip = p->ip;
	struct sfs_fs *fs = ip->fs;
	bool nofail = p->flags & SFS_EXT_NOFAIL;
	struct sfs_buf *bhs[SFS_EXT_MAX_DEPTH];
	struct sfs_bfree *nf[SFS_EXT_MAX_DEPTH] = { 0 }, *df = NULL;
	struct sfs_ext_level *tl;
	unsigned d = p->depth, top = d, nn = 0;
	bool first, root_empty;
	int ret;

	while (top > 0 && p->lv[top].entries == 1)
		top--;
	tl = &p->lv[top];
	first = tl->pos == 0;
	root_empty = top == 0 && tl->entries == 1;

	ret = sfs_ext_level_access(t, p, top);
	if (!ret)
		ret = sfs_inode_access(t, ip, nofail);
	if (!ret && top > 0 && first)
		ret = sfs_ext_keys_access(t, p, top);
	for (unsigned L = top + 1; !ret && L <= d; L++) {
		bhs[nn] = p->lv[L].bh;
		ret = sfs_trans_access(t, bhs[nn]);
		if (!ret)
			ret = sfs_bfree_prepare(t, bhs[nn]->blkno, 1, nofail, &nf[nn]);
		nn++;
	}
	if (!ret)
		ret = sfs_bfree_prepare(t, e->pblk, e->len, nofail, &df);
	if (!ret)
		ret = forget_nodes(t, bhs, nn);
	if (ret)
		goto abort;

	sfs_ext_level_begin(p, top);
	if (root_empty) {
		struct sfs_extent_header h;

		memset(sfs_ext_slot(tl, 0), 0, (size_t)SFS_EXTENT_ROOT_ENTRIES * 16);
		sfs_extent_header_decode(&h, tl->node);
		h.depth = 0;
		h.entries = 0;
		sfs_extent_header_encode(tl->node, &h);
		tl->entries = 0;
	} else {
		sfs_ext_slot_delete(tl, (unsigned)tl->pos, 1);
	}
	add_blocks(ip, -(int64_t)(e->len + nn));
	ret = sfs_ext_level_end(t, p, top);
	if (!ret)
		ret = sfs_bfree_commit(t, df);
	else
		sfs_bfree_abort(df);
	for (unsigned i = 0; i < nn; i++) {
		int r = ret ? (sfs_bfree_abort(nf[i]), 0) : sfs_bfree_commit(t, nf[i]);

		if (!ret)
			ret = r;
	}
	SFS_STAT(fs, ext_node_frees, nn);
	if (!ret && top > 0)
		ret = sfs_inode_commit(t, ip);
	if (!ret && top > 0 && first)
		ret = sfs_ext_keys_fix(t, p, top);
	return ret;
abort:
	sfs_bfree_abort(df);
	for (unsigned i = 0; i < nn; i++)
		sfs_bfree_abort(nf[i]);
	return ret;
}

/*
 * One step: the rightmost extent overlapping [start, *cursor).  Returns 0
 * (go on, *cursor moved left), 1 (nothing left to remove), -errno.
 */
static int remove_step(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t start,
		       uint64_t *cursor, unsigned flags, uint64_t *freed)
{
	bool nofail = flags & SFS_EXT_NOFAIL;
	struct sfs_ext_path *p;
	struct sfs_ext_level *leaf;
	struct sfs_bfree *bf = NULL;
	struct sfs_extent e;
	uint64_t a, b;
	unsigned d;
	bool front;
	int pos, ret;

	ret = sfs_ext_find(ip, (uint32_t)(*cursor - 1), flags, &p);
	if (ret)
		return ret;
	d = p->depth;
	leaf = &p->lv[d];
	pos = leaf->pos;
	if (pos < 0) {
		ret = 1;
		goto out;
	}
	sfs_extent_get(&e, leaf->node, (unsigned)pos);
	if (sfs_ext_end(&e) <= start) {
		ret = 1;
		goto out;
	}
	a = e.lblk > start ? e.lblk : start;
	b = sfs_ext_end(&e) < *cursor ? sfs_ext_end(&e) : *cursor;
	if (a > e.lblk && b < sfs_ext_end(&e)) {
		ret = sfs_ext_corrupt(ip, 0, "removal step inside extent %u+%u", e.lblk, e.len);
		goto out;
	}
	SFS_STAT(ip->fs, ext_removes, 1);

	if (a == e.lblk && b == sfs_ext_end(&e) && leaf->entries == 1 && d > 0) {
		ret = remove_chain(t, p, &e);
		if (!ret) {
			*freed += e.len;
			*cursor = a;
		}
		goto out;
	}

	front = a == e.lblk;   /* the extent's first block goes: its key may too */
	ret = sfs_ext_level_access(t, p, d);
	if (!ret)
		ret = sfs_inode_access(t, ip, nofail);
	if (!ret && pos == 0 && front)
		ret = sfs_ext_keys_access(t, p, d);
	if (!ret)
		ret = sfs_bfree_prepare(t, e.pblk + (a - e.lblk), (uint32_t)(b - a), nofail, &bf);
	if (ret)
		goto out;

	sfs_ext_level_begin(p, d);
	if (a == e.lblk && b == sfs_ext_end(&e)) {
		sfs_ext_slot_delete(leaf, (unsigned)pos, 1);
	} else if (a == e.lblk) {
		e.pblk += b - e.lblk;
		e.len = (uint16_t)(sfs_ext_end(&e) - b);
		e.lblk = (uint32_t)b;
		sfs_extent_put(leaf->node, (unsigned)pos, &e);
	} else {
		e.len = (uint16_t)(a - e.lblk);
		sfs_extent_put(leaf->node, (unsigned)pos, &e);
	}
	ret = sfs_ext_level_end(t, p, d);
	if (ret) {
		sfs_bfree_abort(bf);
		goto out;
	}
	ret = sfs_bfree_commit(t, bf);
	add_blocks(ip, -(int64_t)(b - a));
	*freed += b - a;
	if (!ret)
		ret = sfs_inode_commit(t, ip);
	if (!ret && pos == 0 && front && leaf->entries)
		ret = sfs_ext_keys_fix(t, p, d);
	if (!ret)
		*cursor = a;
out:
	sfs_ext_path_free(p);
	return ret;
}

/* Pull the root's only child into the root.  1 done, 0 nothing to do. */
static int shrink_step(struct sfs_trans *t, struct sfs_inode_info *ip, unsigned flags)
{
	struct sfs_fs *fs = ip->fs;
	bool nofail = flags & SFS_EXT_NOFAIL;
	struct sfs_ext_path *p;
	struct sfs_ext_level *root, *child;
	struct sfs_extent_header h;
	struct sfs_bfree *bf = NULL;
	struct sfs_buf *bh;
	int ret;

	if (!sfs_ext_depth(ip))
		return 0;
	ret = sfs_ext_find(ip, 0, flags, &p);
	if (ret)
		return ret;
	root = &p->lv[0];
	child = &p->lv[1];
	if (root->entries != 1 || child->entries > root->max) {
		ret = 0;
		goto out;
	}
	bh = child->bh;
	ret = sfs_inode_access(t, ip, nofail);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (!ret)
		ret = sfs_bfree_prepare(t, bh->blkno, 1, nofail, &bf);
	if (!ret) {
		ret = sfs_trans_forget(t, bh);
		if (ret)
			sfs_bfree_abort(bf);
	}
	if (ret)
		goto out;
	memcpy(sfs_ext_slot(root, 0), sfs_ext_slot(child, 0), (size_t)child->entries * 16);
	sfs_extent_header_decode(&h, root->node);
	h.depth = (uint16_t)(p->depth - 1);
	h.entries = (uint16_t)child->entries;
	sfs_extent_header_encode(root->node, &h);
	add_blocks(ip, -1);
	ret = sfs_ext_level_end(t, p, 0);
	if (!ret)
		ret = sfs_bfree_commit(t, bf);
	else
		sfs_bfree_abort(bf);
	SFS_STAT(fs, ext_shrinks, 1);
	SFS_STAT(fs, ext_node_frees, 1);
	if (!ret)
		ret = 1;
out:
	sfs_ext_path_free(p);
	return ret;
}

int sfs_ext_remove(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t start, uint64_t end,
		   unsigned flags, uint64_t *freed)
{
	unsigned restarts = t->restarts;
	uint64_t cursor, n = 0;
	int ret;

	if (end > SFS_EXT_LBLK_END)
		end = SFS_EXT_LBLK_END;
	if (freed)
		*freed = 0;
	if (start >= end)
		return 0;
	/* Status cache first: its split is the only step here that may fail
	 * on memory outside truncate (inside, SFS_EXT_NOFAIL reaches it). */
	ret = sfs_es_forget(ip, start, end, flags);
	if (ret)
		return ret;
	ret = sfs_trans_ensure(t, sfs_ext_credits(ip) + SFS_CREDITS_GROUP + 2, &ip->data_sem);
	if (ret < 0)
		return ret;
	ret = punch_middle(t, ip, start, end, flags, &n);
	if (ret)
		goto out;
	cursor = end;
	while (cursor > start) {
		ret = sfs_trans_ensure(t, sfs_ext_remove_credits(ip), &ip->data_sem);
		if (ret < 0)
			goto out;
		ret = remove_step(t, ip, start, &cursor, flags, &n);
		if (ret < 0)
			goto out;
		if (ret == 1)
			break;
	}
	for (;;) {
		ret = sfs_trans_ensure(t, 8, &ip->data_sem);
		if (ret < 0)
			goto out;
		ret = shrink_step(t, ip, flags);
		if (ret <= 0)
			break;
	}
out:
	/* Lookups during a restart (data_sem dropped) may have cached a
	 * half-removed range; the tree has changed, so this cannot fail. */
	if (t->restarts != restarts)
		sfs_es_forget(ip, start, end, SFS_EXT_NOFAIL);
	if (freed)
		*freed = n;
	return ret < 0 ? ret : 0;
}
