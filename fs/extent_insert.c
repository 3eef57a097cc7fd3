/*
 * Growing the extent tree: inserting an extent (merged with a contiguous
 * neighbour when possible), splitting full nodes, and adding a level.
 *
 * Making room is done top-down, one node per round, re-finding the path
 * after each change: find the deepest ancestor of the target leaf that
 * has a free entry; if there is none the root is full and the tree grows
 * a level (the root's entries move to a new block); otherwise its child
 * on the path is split in two.  Each round leaves a valid tree and is its
 * own two-phase step (trans.h), so running out of memory or space between
 * rounds costs nothing but a node that is emptier than it had to be.
 *
 * Where a node splits: appending past its last entry (a file growing at
 * its end) moves only the last entry to the new node, so sequential files
 * get full nodes; inserting before the first keeps one entry; otherwise
 * the node is halved.
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/es/es_map.h"
#include "fs/extent_tree.h"

bool sfs_ext_mergeable(const struct sfs_extent *a, const struct sfs_extent *b)
{
	return sfs_ext_end(a) == b->lblk && a->pblk + a->len == b->pblk &&
	       sfs_ext_unwritten(a) == sfs_ext_unwritten(b) &&
	       (uint32_t)a->len + b->len <= SFS_MAX_EXTENT_LEN;
}

unsigned sfs_ext_leaf_merge(struct sfs_fs *fs, struct sfs_ext_level *l, unsigned i)
{
	struct sfs_extent e, o;

	sfs_extent_get(&e, l->node, i);
	if (i + 1 < l->entries) {
		sfs_extent_get(&o, l->node, i + 1);
		if (sfs_ext_mergeable(&e, &o)) {
			e.len = (uint16_t)(e.len + o.len);
			sfs_extent_put(l->node, i, &e);
			sfs_ext_slot_delete(l, i + 1, 1);
			SFS_STAT(fs, ext_merges, 1);
		}
	}
	if (i > 0) {
		sfs_extent_get(&o, l->node, i - 1);
		if (sfs_ext_mergeable(&o, &e)) {
			o.len = (uint16_t)(o.len + e.len);
			sfs_extent_put(l->node, i - 1, &o);
			sfs_ext_slot_delete(l, i, 1);
			SFS_STAT(fs, ext_merges, 1);
			i--;
		}
	}
	return i;
}

static void add_blocks(struct sfs_inode_info *ip, int64_t n)
{
	mc_mutex_lock(&ip->attr_lock);
	ip->d.blocks = (uint64_t)((int64_t)ip->d.blocks + n);
	mc_mutex_unlock(&ip->attr_lock);
}

/* A new, empty tree block for @p's inode: allocated, in the cache, with
 * write access.  Nothing is left behind on failure. */
static int new_node(struct sfs_trans *t, struct sfs_ext_path *p, struct sfs_buf **out)
{
	struct sfs_inode_info *ip = p->ip;
	struct sfs_fs *fs = ip->fs;
	bool nofail = p->flags & SFS_EXT_NOFAIL;
	struct sfs_alloc_req req = {
		.ip = ip, .goal = sfs_ext_tree_goal(p), .len = 1,
		.flags = SFS_ALLOC_METADATA | (nofail ? SFS_ALLOC_NOFAIL : 0) |
			 ((p->flags & SFS_EXT_USE_RESERVE) ?
			  SFS_ALLOC_USE_RESERVE | SFS_ALLOC_PRIVILEGED : 0),
	};
	struct sfs_buf *bh;
	uint64_t blk;
	uint32_t got;
	int ret;

	ret = sfs_balloc(t, &req, &blk, &got);
	if (ret)
		return ret;
	ret = sfs_buf_new(fs, blk, &sfs_extent_buf_ops, nofail, &bh);
	if (!ret) {
		ret = sfs_trans_access(t, bh);
		if (ret)
			sfs_buf_release(bh);
	}
	if (ret) {
		/* The bitmap, descriptor and superblock are already in this
		 * transaction, so giving the block back cannot fail on memory. */
		sfs_bfree(t, blk, 1, true);
		return ret;
	}
	*out = bh;
	return 0;
}

/* Fill a new node block: header for @depth, @n entries from @src. */
static void fill_node(struct sfs_fs *fs, struct sfs_buf *bh, struct sfs_inode_info *ip,
		      unsigned depth, const uint8_t *src, unsigned n)
{
	struct sfs_ext_level c = { .node = (uint8_t *)bh->data + SFS_HDR_SIZE };

	sfs_extent_block_init(bh->data, fs->sbi, bh->blkno, ip->ino, (uint16_t)depth);
	sfs_ext_level_load(fs, &c);
	memcpy(sfs_ext_slot(&c, 0), src, (size_t)n * 16);
	sfs_ext_set_entries(&c, n);
}

/* The root's entries move to a new block; the root indexes it. */
static int grow(struct sfs_trans *t, struct sfs_ext_path *p)
{
	struct sfs_inode_info *ip = p->ip;
	struct sfs_fs *fs = ip->fs;
	struct sfs_ext_level *root = &p->lv[0];
	struct sfs_extent_header h;
	struct sfs_extent_idx x;
	struct sfs_buf *bh;
	int ret;

	if (p->depth >= SFS_EXT_MAX_DEPTH)
		return sfs_ext_corrupt(ip, 0, "extent tree would grow past depth %u",
				       SFS_EXT_MAX_DEPTH);
	ret = sfs_ext_level_access(t, p, 0);
	if (!ret)
		ret = new_node(t, p, &bh);
	if (ret)
		return ret;

	sfs_buf_lock(bh);
	fill_node(fs, bh, ip, p->depth, sfs_ext_slot(root, 0), root->entries);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	if (!ret) {
		x.lblk = sfs_ext_level_key(root, p->depth);
		x.child = bh->blkno;
		memset(sfs_ext_slot(root, 0), 0, (size_t)SFS_EXTENT_ROOT_ENTRIES * 16);
		sfs_extent_header_decode(&h, root->node);
		h.depth = (uint16_t)(p->depth + 1);
		h.entries = 1;
		sfs_extent_header_encode(root->node, &h);
		sfs_extent_idx_put(root->node, 0, &x);
		add_blocks(ip, 1);
		ret = sfs_ext_level_end(t, p, 0);
		SFS_STAT(fs, ext_grows, 1);
	}
	sfs_buf_release(bh);
	return ret;
}

/* Split the node at level @L (its parent has a free entry). */
static int split(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L)
{
	struct sfs_inode_info *ip = p->ip;
	struct sfs_fs *fs = ip->fs;
	struct sfs_ext_level *l = &p->lv[L], *parent = &p->lv[L - 1];
	unsigned n = l->entries, node_depth = p->depth - L, sp;
	struct sfs_ext_level nl;
	struct sfs_extent_idx x;
	struct sfs_buf *bh;
	int ret;

	if (l->pos >= (int)n - 1)
		sp = n - 1;
	else if (l->pos < 0)
		sp = 1;
	else
		sp = n / 2;
	if (sp < 1)
		sp = 1;
	if (sp >= n)
		return sfs_ext_corrupt(ip, 0, "splitting a node of %u entries", n);

	ret = sfs_ext_level_access(t, p, L);
	if (!ret)
		ret = sfs_ext_level_access(t, p, L - 1);
	if (!ret && L - 1 != 0)
		ret = sfs_inode_access(t, ip, p->flags & SFS_EXT_NOFAIL);
	if (!ret)
		ret = new_node(t, p, &bh);
	if (ret)
		return ret;

	sfs_buf_lock(bh);
	fill_node(fs, bh, ip, node_depth, sfs_ext_slot(l, sp), n - sp);
	nl.node = (uint8_t *)bh->data + SFS_HDR_SIZE;
	sfs_ext_level_load(fs, &nl);
	x.lblk = sfs_ext_level_key(&nl, node_depth);
	x.child = bh->blkno;
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	if (ret)
		return ret;

	sfs_ext_level_begin(p, L);
	memset(sfs_ext_slot(l, sp), 0, (size_t)(n - sp) * 16);
	sfs_ext_set_entries(l, sp);
	ret = sfs_ext_level_end(t, p, L);
	if (ret)
		return ret;

	add_blocks(ip, 1);
	sfs_ext_level_begin(p, L - 1);
	sfs_ext_slot_insert(parent, (unsigned)parent->pos + 1, 1);
	sfs_extent_idx_put(parent->node, (unsigned)parent->pos + 1, &x);
	ret = sfs_ext_level_end(t, p, L - 1);
	if (!ret && L - 1 != 0)
		ret = sfs_inode_commit(t, ip);
	SFS_STAT(fs, ext_splits, 1);
	return ret;
}

int sfs_ext_make_room(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
		      unsigned need, unsigned flags, struct sfs_ext_path **out)
{
	/* Each round either returns or splits / grows one node; a tree of
	 * depth 8 needs at most a few rounds per level. */
	for (unsigned round = 0; round < 4 * (SFS_EXT_MAX_DEPTH + 2); round++) {
		struct sfs_ext_path *p;
		struct sfs_ext_level *leaf;
		int k, ret;

		ret = sfs_ext_find(ip, lblk, flags, &p);
		if (ret)
			return ret;
		leaf = &p->lv[p->depth];
		if (leaf->max - leaf->entries >= need) {
			*out = p;
			return 0;
		}
		for (k = (int)p->depth - 1; k >= 0; k--)
			if (p->lv[k].entries < p->lv[k].max)
				break;
		if (k < 0)
			ret = grow(t, p);
		else
			ret = split(t, p, (unsigned)k + 1);
		sfs_ext_path_free(p);
		if (ret)
			return ret;
	}
	return sfs_ext_corrupt(ip, 0, "no room made for logical block %u", lblk);
}

int sfs_ext_insert(struct sfs_trans *t, struct sfs_inode_info *ip, const struct sfs_extent *e,
		   unsigned flags)
{
	struct sfs_fs *fs = ip->fs;
	struct sfs_ext_path *p;
	struct sfs_ext_level *leaf;
	struct sfs_extent left, right;
	bool mleft = false, mright = false;
	uint64_t right_start;
	unsigned d, at;
	int pos, ret;

	if (!e->len || e->len > SFS_MAX_EXTENT_LEN || sfs_ext_end(e) > SFS_EXT_LBLK_END)
		return -EINVAL;
	/* The cache knew this range as a hole: forget it first, while
	 * failing (a split of a cached hole) changes nothing. */
	ret = sfs_es_forget(ip, e->lblk, sfs_ext_end(e), flags);
	if (ret)
		return ret;
	ret = sfs_ext_find(ip, e->lblk, flags, &p);
	if (ret)
		return ret;
	d = p->depth;
	leaf = &p->lv[d];
	pos = leaf->pos;
	if (pos >= 0) {
		sfs_extent_get(&left, leaf->node, (unsigned)pos);
		if (sfs_ext_end(&left) > e->lblk) {
			ret = -EEXIST;
			goto out;
		}
		mleft = sfs_ext_mergeable(&left, e);
	}
	if (pos + 1 < (int)leaf->entries) {
		sfs_extent_get(&right, leaf->node, (unsigned)(pos + 1));
		right_start = right.lblk;
		mright = sfs_ext_mergeable(e, &right);
	} else {
		right_start = sfs_ext_path_next_key(p);
	}
	if (sfs_ext_end(e) > right_start) {
		ret = -EEXIST;
		goto out;
	}
	SFS_STAT(fs, ext_inserts, 1);

	if (mleft || mright) {
		at = mleft ? (unsigned)pos : (unsigned)(pos + 1);
		ret = sfs_ext_level_access(t, p, d);
		if (!ret && at == 0)
			ret = sfs_ext_keys_access(t, p, d);
		if (ret)
			goto out;
		sfs_ext_level_begin(p, d);
		if (mleft) {
			left.len = (uint16_t)(left.len + e->len);
			sfs_extent_put(leaf->node, at, &left);
		} else {
			right.lblk = e->lblk;
			right.pblk = e->pblk;
			right.len = (uint16_t)(right.len + e->len);
			sfs_extent_put(leaf->node, at, &right);
		}
		SFS_STAT(fs, ext_merges, 1);
		at = sfs_ext_leaf_merge(fs, leaf, at);
		ret = sfs_ext_level_end(t, p, d);
		if (!ret && at == 0)
			ret = sfs_ext_keys_fix(t, p, d);
		goto out;
	}

	if (leaf->entries >= leaf->max) {
		sfs_ext_path_free(p);
		ret = sfs_ext_make_room(t, ip, e->lblk, 1, flags, &p);
		if (ret)
			return ret;
		d = p->depth;
		leaf = &p->lv[d];
	}
	at = (unsigned)(leaf->pos + 1);
	ret = sfs_ext_level_access(t, p, d);
	if (!ret && at == 0)
		ret = sfs_ext_keys_access(t, p, d);
	if (ret)
		goto out;
	sfs_ext_level_begin(p, d);
	sfs_ext_slot_insert(leaf, at, 1);
	sfs_extent_put(leaf->node, at, e);
	ret = sfs_ext_level_end(t, p, d);
	if (!ret && at == 0)
		ret = sfs_ext_keys_fix(t, p, d);
out:
	sfs_ext_path_free(p);
	return ret;
}

unsigned sfs_ext_credits(struct sfs_inode_info *ip)
{
	unsigned d = sfs_ext_depth(ip);

	/* Every level may split (new block + its allocation's bitmap,
	 * descriptor and superblock + the node + its parent), the root may
	 * grow, keys may change up to the root, plus the inode and the data
	 * blocks' own allocation. */
	return 6 * (d + 2) + d + 1 + SFS_CREDITS_GROUP + 2;
}
