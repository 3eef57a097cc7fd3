/*
 * Pass 2, per live inode: its extent tree and the blocks it owns (see
 * walk.h for the three walks).
 *
 * The tree rules checked (the library's, fs/extent_tree.h): node headers
 * (magic, capacity, entries, depth), children exactly one level deeper and
 * owned by the inode, non-root nodes not empty, index keys increasing and
 * each equal to its child's first logical block, extents sorted and
 * non-overlapping across the whole tree (each child inside its parent's
 * range), lengths in range, every block inside a group's data area,
 * claimed by one inode only; the inode's block count.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/hdr.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "tools/fsck/walk.h"

bool fsck_claim_block(struct fsck *f, uint64_t blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp, idx;

	if (!sfs_geo_block_group(g, blk, &grp, &idx))
		return false;
	if (!f->used_blocks[grp]) {
		/* NOFAIL would be wrong here: fsck can stop cleanly instead. */
		f->used_blocks[grp] = mc_zalloc(g->bitmap_bits / 8, MC_KERNEL);
		if (!f->used_blocks[grp])
			return false;
	}
	if (sfs_bit_test(f->used_blocks[grp], idx))
		return false;
	sfs_bit_set(f->used_blocks[grp], idx);
	return true;
}

static bool claimed(struct fsck *f, uint64_t blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp, idx;

	return sfs_geo_block_group(g, blk, &grp, &idx) && f->used_blocks[grp] &&
	       sfs_bit_test(f->used_blocks[grp], idx);
}

static void unclaim(struct fsck *f, uint64_t blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp, idx;

	if (sfs_geo_block_group(g, blk, &grp, &idx) && f->used_blocks[grp])
		sfs_bit_clear(f->used_blocks[grp], idx);
}

static int walk_fail(struct walk *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int walk_fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	return -EFSCORRUPTED;
}

/* A block an inode may own: inside a group's data area. */
static bool owned_block_ok(const struct sfs_geo *g, uint64_t blk)
{
	return blk < g->block_count && sfs_geo_block_group(g, blk, NULL, NULL) &&
	       !sfs_geo_is_fixed_metadata(g, blk);
}

static void account(struct walk *w, uint64_t blk)
{
	switch (w->mode) {
	case WALK_VALIDATE:
		break;
	case WALK_PROBE:
		if (claimed(w->f, blk) && !w->dups++)
			w->first_dup = blk;
		break;
	case WALK_CLAIM:
		if (!fsck_claim_block(w->f, blk) && !w->dups++)
			w->first_dup = blk;
		break;
	case WALK_UNCLAIM:
		unclaim(w->f, blk);
		break;
	}
}

static int check_dir_block(struct walk *w, uint64_t pblk)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	int ret;

	ret = sfs_io_read_blocks(w->f->bdev, w->blk, g->block_log, pblk, 1);
	if (ret)
		return walk_fail(w, "directory block %llu unreadable: %s",
				 (unsigned long long)pblk, strerror(-ret));
	switch (sfs_btype_by_magic(w->blk)) {
	case SFS_BT_DIRLEAF:
		ret = sfs_dir_block_verify(w->blk, g->block_size, pblk, &w->f->sbi);
		break;
	case SFS_BT_DIRINDEX:
		ret = sfs_dirindex_block_verify(w->blk, g->block_size, pblk, &w->f->sbi);
		break;
	default:
		ret = sfs_verify_fail(-EFSCORRUPTED, "block %llu is not a directory block",
				      (unsigned long long)pblk);
		break;
	}
	if (!ret && sfs_get_le((const uint8_t *)w->blk + 24, 8) != w->ino)
		ret = sfs_verify_fail(-EFSCORRUPTED, "directory block %llu belongs to inode %llu",
				      (unsigned long long)pblk,
				      (unsigned long long)sfs_get_le((const uint8_t *)w->blk + 24, 8));
	return ret;
}

/* First logical block of a node (0 when empty). */
static uint32_t node_first(const void *node)
{
	struct sfs_extent_header h;

	sfs_extent_header_decode(&h, node);
	if (!h.entries)
		return 0;
	if (h.depth == 0) {
		struct sfs_extent e;

		sfs_extent_get(&e, node, 0);
		return e.lblk;
	} else {
		struct sfs_extent_idx x;

		sfs_extent_idx_get(&x, node, 0);
		return x.lblk;
	}
}

/* Read and check tree block @blk; the caller frees *out. */
static int read_tree_block(struct walk *w, uint64_t blk, uint8_t **out)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	uint8_t *child = sfs_io_alloc(g->block_size);
	int ret;

	if (!child)
		return walk_fail(w, "out of memory");
	ret = sfs_io_read_blocks(w->f->bdev, child, g->block_log, blk, 1);
	if (ret) {
		mc_free(child);
		return walk_fail(w, "extent block %llu unreadable: %s", (unsigned long long)blk,
				 strerror(-ret));
	}
	ret = sfs_extent_block_verify(child, g->block_size, blk, &w->f->sbi);
	if (!ret && sfs_get_le(child + 24, 8) != w->ino)
		ret = sfs_verify_fail(-EFSCORRUPTED, "extent block %llu belongs to inode %llu",
				      (unsigned long long)blk,
				      (unsigned long long)sfs_get_le(child + 24, 8));
	if (ret) {
		mc_free(child);
		return walk_fail(w, "%s", sfs_verify_reason());
	}
	*out = child;
	return 0;
}

/*
 * Before a leaf extent claims its blocks: if any is claimed already, by
 * this inode (an earlier inode's claim was settled by PROBE), the extent
 * is a later mapping of it, and the one I10's repair trims or drops.
 */
static void note_self_dup(struct walk *w, const struct sfs_extent *e, uint64_t node, unsigned idx)
{
	struct walk_dupfix d = { .node = node, .idx = idx };
	uint32_t first = e->len, last = 0, n = 0;

	for (uint32_t k = 0; k < e->len; k++) {
		if (!claimed(w->f, e->pblk + k))
			continue;
		if (k < first)
			first = k;
		last = k;
		n++;
	}
	if (!n || w->ndupfix == WALK_DUPFIX_MAX)
		return;
	/* One run touching an end: trim it, keeping the rest mapped. */
	if (n < e->len && last - first + 1 == n) {
		if (!first)
			d.head = n;
		else if (last + 1u == e->len)
			d.tail = n;
	}
	w->dupfix[w->ndupfix++] = d;
	w->leaf_dups += n;
}

/*
 * Walk one node covering logical blocks [lo, hi); @blk is its block (0 =
 * the root in the inode).
 */
static int walk_node(struct walk *w, const void *node, uint64_t blk, int expect_depth,
		     uint64_t lo, uint64_t hi)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	struct sfs_extent_header h;
	int ret;

	sfs_extent_header_decode(&h, node);
	if (expect_depth >= 0 && h.depth != expect_depth)
		return walk_fail(w, "extent node %llu at depth %u, expected %d",
				 (unsigned long long)blk, h.depth, expect_depth);
	if (expect_depth >= 0 && !h.entries)
		return walk_fail(w, "empty extent node %llu below the root", (unsigned long long)blk);
	if (expect_depth < 0) {
		w->depth = h.depth;
		if (h.depth && !h.entries)
			return walk_fail(w, "extent root of depth %u has no entries", h.depth);
	}
	if (++w->visits > g->block_count)
		return walk_fail(w, "extent tree has more nodes than the filesystem has blocks");
	for (unsigned i = 0; i < h.entries; i++) {
		if (h.depth == 0) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			if (e.lblk < lo || (uint64_t)e.lblk + e.len > hi)
				return walk_fail(w, "extent %u (logical %u+%u) outside its parent's range %llu..%llu",
						 i, e.lblk, e.len, (unsigned long long)lo,
						 (unsigned long long)hi - 1);
			for (uint64_t b = e.pblk; b < e.pblk + e.len; b++)
				if (!owned_block_ok(g, b))
					return walk_fail(w, "extent %u maps block %llu, which is not a data block",
							 i, (unsigned long long)b);
			if (w->mode == WALK_CLAIM)
				note_self_dup(w, &e, blk, i);
			for (uint64_t b = e.pblk; b < e.pblk + e.len; b++)
				account(w, b);
			w->owned += e.len;
			if (w->mode == WALK_CLAIM && w->is_dir && !(e.flags & SFS_EXTENT_FL_UNWRITTEN)) {
				for (uint32_t k = 0; k < e.len && !w->dd.found; k++) {
					if (check_dir_block(w, e.pblk + k)) {
						w->dd.found = true;
						w->dd.pblk = e.pblk + k;
						w->dd.lblk = e.lblk + k;
						snprintf(w->dd.why, sizeof(w->dd.why), "%s",
							 w->why[0] ? w->why : sfs_verify_reason());
					}
				}
			}
		} else {
			struct sfs_extent_idx x, nx;
			uint64_t chi = hi, clo;
			uint8_t *child = NULL;
			uint32_t first;

			sfs_extent_idx_get(&x, node, i);
			if (i + 1 < h.entries) {
				sfs_extent_idx_get(&nx, node, i + 1);
				chi = nx.lblk;
			}
			if (!owned_block_ok(g, x.child))
				return walk_fail(w, "extent index %u points at block %llu, not a data block",
						 i, (unsigned long long)x.child);
			ret = read_tree_block(w, x.child, &child);
			if (ret)
				return ret;
			/* The key must be the child's first block; a wrong key
			 * alone is fixable, so judge the range by the child. */
			first = node_first(child + SFS_HDR_SIZE);
			clo = x.lblk;
			if (first != x.lblk) {
				if (w->mode == WALK_VALIDATE && w->nkeyfix < WALK_KEYFIX_MAX)
					w->keyfix[w->nkeyfix++] = (struct walk_keyfix){
						.node = blk, .idx = i, .key = x.lblk, .child_first = first };
				clo = first;
			}
			if (clo < lo || clo >= chi) {
				mc_free(child);
				return walk_fail(w, "extent index %u (logical %u, child from %u) outside its parent's range",
						 i, x.lblk, first);
			}
			account(w, x.child);
			w->owned++;
			ret = walk_node(w, child + SFS_HDR_SIZE, x.child, h.depth - 1, clo, chi);
			mc_free(child);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int fsck_walk_inode(struct walk *w, const struct sfs_inode *in, enum walk_mode mode)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	int ret = 0;

	w->mode = mode;
	w->owned = 0;
	w->visits = 0;
	w->dups = 0;
	w->why[0] = 0;
	if (mode == WALK_VALIDATE)
		w->nkeyfix = 0;
	if (mode == WALK_CLAIM) {
		memset(&w->dd, 0, sizeof(w->dd));
		w->ndupfix = 0;
		w->leaf_dups = 0;
	}
	if (!(in->flags & SFS_INODE_FL_INLINE))
		ret = walk_node(w, in->root, 0, -1, 0, 1ull << 32);
	if (ret || !in->xattr_block)
		return ret;
	if (mode == WALK_VALIDATE) {
		ret = sfs_io_read_blocks(w->f->bdev, w->blk, g->block_log, in->xattr_block, 1);
		if (!ret)
			ret = sfs_xattr_block_verify(w->blk, g->block_size, in->xattr_block, &w->f->sbi);
		if (ret)
			return walk_fail(w, "xattr block %llu: %s", (unsigned long long)in->xattr_block,
					 sfs_verify_reason());
		if (!owned_block_ok(g, in->xattr_block))
			return walk_fail(w, "xattr block %llu is not a data block",
					 (unsigned long long)in->xattr_block);
	}
	account(w, in->xattr_block);
	w->owned++;
	return 0;
}

static int write_tree_block(struct fsck *f, uint8_t *blk, uint64_t blkno)
{
	const struct sfs_geo *g = &f->sbi.geo;
	int ret;

	sfs_hdr_set_csum(blk, g->block_size, f->sbi.csum_seed);
	ret = sfs_extent_block_verify(blk, g->block_size, blkno, &f->sbi);
	if (!ret)
		ret = fsck_write_block(f, blk, blkno);
	return ret;
}

int fsck_fix_key(struct fsck *f, struct sfs_inode *in, const struct walk_keyfix *k)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_extent_idx x;
	uint8_t *blk;
	int ret;

	if (!k->node) {
		sfs_extent_idx_get(&x, in->root, k->idx);
		x.lblk = k->child_first;
		sfs_extent_idx_put(in->root, k->idx, &x);
		return 0;
	}
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, k->node, 1);
	if (!ret) {
		sfs_extent_idx_get(&x, blk + SFS_HDR_SIZE, k->idx);
		x.lblk = k->child_first;
		sfs_extent_idx_put(blk + SFS_HDR_SIZE, k->idx, &x);
		sfs_hdr_set_csum(blk, g->block_size, f->sbi.csum_seed);
		ret = sfs_extent_block_verify(blk, g->block_size, k->node, &f->sbi);
		if (!ret)
			ret = fsck_write_block(f, blk, k->node);
	}
	mc_free(blk);
	return ret;
}

/* Trim or remove entry d->idx of a leaf node (removing shifts the later
 * ones down). */
static void leaf_fix(void *node, const struct walk_dupfix *d)
{
	unsigned idx = d->idx;
	struct sfs_extent_header h;
	struct sfs_extent e;

	if (d->head || d->tail) {
		sfs_extent_get(&e, node, idx);
		e.lblk += d->head;
		e.pblk += d->head;
		e.len -= d->head + d->tail;
		sfs_extent_put(node, idx, &e);
		return;
	}
	sfs_extent_header_decode(&h, node);
	for (unsigned i = idx; i + 1 < h.entries; i++) {
		sfs_extent_get(&e, node, i + 1);
		sfs_extent_put(node, i, &e);
	}
	h.entries--;
	sfs_extent_header_encode(node, &h);
}

/*
 * Why trim or drop rather than clone (e2fsck clones a multiply-claimed
 * block): a clone needs free blocks, and pass 2 cannot know which blocks
 * are free until every inode has been walked; taking one the bitmap calls
 * free could cross-link a file not yet checked.  One block cannot have
 * held two logical ranges' data anyway: whatever was written last through
 * either mapping is what both read, and the first mapping keeps it.
 */
int fsck_drop_self_dups(struct walk *w, struct sfs_inode *in)
{
	struct fsck *f = w->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *blk = NULL;
	uint64_t loaded = 0;
	int ret = 0;

	if (!w->ndupfix || w->leaf_dups != w->dups)
		return -EOPNOTSUPP;
	/* A non-root node keeps its first entry and its first block: its
	 * parent's key names it, and an empty node below the root is invalid. */
	for (unsigned k = 0; k < w->ndupfix; k++)
		if (w->dupfix[k].node && !w->dupfix[k].idx && !w->dupfix[k].tail)
			return -EOPNOTSUPP;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	/* The claims were taken from the tree as it is: give them back first. */
	fsck_walk_inode(w, in, WALK_UNCLAIM);
	/* Last first, so the indexes noted earlier in a node stay valid. */
	for (unsigned k = w->ndupfix; k-- > 0;) {
		const struct walk_dupfix *d = &w->dupfix[k];

		if (!d->node) {
			leaf_fix(in->root, d);
			continue;
		}
		if (loaded != d->node) {
			if (loaded) {
				ret = write_tree_block(f, blk, loaded);
				if (ret)
					goto out;
			}
			ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, d->node, 1);
			if (ret)
				goto out;
			loaded = d->node;
		}
		leaf_fix(blk + SFS_HDR_SIZE, d);
	}
	if (loaded)
		ret = write_tree_block(f, blk, loaded);
out:
	mc_free(blk);
	/* Claims as the tree now is (on failure, as much of it as was kept). */
	fsck_walk_inode(w, in, WALK_CLAIM);
	/* A duplicate only this change exposed: say so, not "fixed". */
	if (!ret && w->dups)
		ret = -EFSCORRUPTED;
	return ret;
}
