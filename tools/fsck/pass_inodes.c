/*
 * Pass 2: inode tables.
 *
 * Each initialised group's table is read up to its high-water mark
 * (inodes_per_group - itable_unused; the rest was never used and, without
 * ITABLE_ZEROED, may hold stale bytes).  Every record is verified; a live
 * inode's extent tree is walked twice, first to validate it (so a damaged
 * tree can be cleared without leaving half its blocks claimed), then to
 * claim its blocks in the per-group "owned" maps that pass 3 compares with
 * the bitmaps.  Directory blocks are checked for self-description; the
 * directory pass of issue 8 checks their contents.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "tools/fsck/fsck.h"

/* Inode table bytes read per I/O. */
#define ITABLE_CHUNK (1u << 20)

struct walk {
	struct fsck *f;
	uint64_t ino;
	bool claim;                  /* second walk: claim blocks */
	uint64_t owned;              /* blocks the inode owns (data + tree) */
	uint64_t dups;               /* blocks already claimed by someone else */
	uint64_t first_dup;
	uint64_t visits;             /* tree nodes visited */
	bool is_dir;
	uint8_t *blk;                /* scratch for tree and directory blocks */
	char why[256];
};

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

static void claim(struct walk *w, uint64_t blk)
{
	if (!w->claim)
		return;
	if (!fsck_claim_block(w->f, blk)) {
		if (!w->dups++)
			w->first_dup = blk;
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

/* Directory blocks found damaged during the claim walk, for the caller. */
struct dir_damage {
	uint64_t pblk;
	uint32_t lblk;
	char why[256];
	bool found;
};

/*
 * Walk one node covering logical blocks [lo, hi).  Children must stay in
 * their parent's range and non-root nodes must not be empty, and the walk
 * gives up after visiting more nodes than the filesystem has blocks: a
 * crafted tree cannot make fsck loop.
 */
static int walk_node(struct walk *w, const void *node, int expect_depth, uint64_t lo,
		     uint64_t hi, struct dir_damage *dd)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	struct sfs_extent_header h;
	int ret;

	sfs_extent_header_decode(&h, node);
	if (expect_depth >= 0 && h.depth != expect_depth)
		return walk_fail(w, "extent node at depth %u, expected %d", h.depth, expect_depth);
	if (expect_depth >= 0 && !h.entries)
		return walk_fail(w, "empty extent node below the root");
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
			for (uint64_t b = e.pblk; b < e.pblk + e.len; b++) {
				if (!owned_block_ok(g, b))
					return walk_fail(w, "extent %u maps block %llu, which is not a data block",
							 i, (unsigned long long)b);
				claim(w, b);
			}
			w->owned += e.len;
			if (w->claim && w->is_dir && !(e.flags & SFS_EXTENT_FL_UNWRITTEN)) {
				for (uint32_t k = 0; k < e.len && !dd->found; k++) {
					if (check_dir_block(w, e.pblk + k)) {
						dd->found = true;
						dd->pblk = e.pblk + k;
						dd->lblk = e.lblk + k;
						snprintf(dd->why, sizeof(dd->why), "%s",
							 w->why[0] ? w->why : sfs_verify_reason());
					}
				}
			}
		} else {
			struct sfs_extent_idx x, nx;
			uint64_t chi = hi;
			uint8_t *child;

			sfs_extent_idx_get(&x, node, i);
			if (i + 1 < h.entries) {
				sfs_extent_idx_get(&nx, node, i + 1);
				chi = nx.lblk;
			}
			if (x.lblk < lo || x.lblk >= chi)
				return walk_fail(w, "extent index %u (logical %u) outside its parent's range",
						 i, x.lblk);
			if (!owned_block_ok(g, x.child))
				return walk_fail(w, "extent index %u points at block %llu, not a data block",
						 i, (unsigned long long)x.child);
			child = sfs_io_alloc(g->block_size);
			if (!child)
				return walk_fail(w, "out of memory");
			ret = sfs_io_read_blocks(w->f->bdev, child, g->block_log, x.child, 1);
			if (ret) {
				mc_free(child);
				return walk_fail(w, "extent block %llu unreadable: %s",
						 (unsigned long long)x.child, strerror(-ret));
			}
			ret = sfs_extent_block_verify(child, g->block_size, x.child, &w->f->sbi);
			if (!ret && sfs_get_le(child + 24, 8) != w->ino)
				ret = sfs_verify_fail(-EFSCORRUPTED, "extent block %llu belongs to inode %llu",
						      (unsigned long long)x.child,
						      (unsigned long long)sfs_get_le(child + 24, 8));
			if (ret) {
				mc_free(child);
				return walk_fail(w, "%s", sfs_verify_reason());
			}
			claim(w, x.child);
			w->owned++;
			ret = walk_node(w, child + SFS_HDR_SIZE, h.depth - 1, x.lblk, chi, dd);
			mc_free(child);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int walk_inode(struct walk *w, const struct sfs_inode *in, struct dir_damage *dd)
{
	const struct sfs_geo *g = &w->f->sbi.geo;
	int ret = 0;

	w->owned = 0;
	w->visits = 0;
	w->why[0] = 0;
	if (!(in->flags & SFS_INODE_FL_INLINE))
		ret = walk_node(w, in->root, -1, 0, 1ull << 32, dd);
	if (ret || !in->xattr_block)
		return ret;
	ret = sfs_io_read_blocks(w->f->bdev, w->blk, g->block_log, in->xattr_block, 1);
	if (!ret)
		ret = sfs_xattr_block_verify(w->blk, g->block_size, in->xattr_block, &w->f->sbi);
	if (ret)
		return walk_fail(w, "xattr block %llu: %s", (unsigned long long)in->xattr_block,
				 sfs_verify_reason());
	if (!owned_block_ok(g, in->xattr_block))
		return walk_fail(w, "xattr block %llu is not a data block",
				 (unsigned long long)in->xattr_block);
	claim(w, in->xattr_block);
	w->owned++;
	return 0;
}

/* Re-create the root directory's first block: "." and "..". */
static int rebuild_root_block(struct fsck *f, uint64_t pblk, uint8_t *blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	int ret;

	sfs_dir_block_init(blk, &f->sbi, pblk, SFS_ROOT_INO);
	ret = sfs_dir_block_add(blk, g->block_size, SFS_ROOT_INO, ".", 1, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dir_block_add(blk, g->block_size, SFS_ROOT_INO, "..", 2, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dirleaf_buf_ops.prepare_write(blk, g->block_size, pblk, &f->sbi);
	if (!ret)
		ret = fsck_write_block(f, blk, pblk);
	return ret;
}

static void mark_live(struct fsck *f, uint32_t grp, uint32_t idx, bool dir);

/*
 * Re-create a lost root directory (e2fsck does the same): a fresh inode 2
 * with "." and ".." in the first block nothing else owns.  Pass 3 then
 * brings the bitmaps and counts in line.
 */
static int recreate_root(struct fsck *f, uint8_t *blk)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_extent ext = { .len = 1 };
	struct sfs_extent_header eh;
	struct sfs_inode root;
	uint64_t iblk, dblk = 0;
	uint32_t ioff;
	int ret;

	for (uint32_t grp = 0; grp < g->group_count && !dblk; grp++) {
		for (uint32_t i = sfs_geo_group_overhead(g); i < sfs_geo_group_blocks(g, grp); i++) {
			if (!f->used_blocks[grp] || !sfs_bit_test(f->used_blocks[grp], i)) {
				dblk = sfs_geo_group_start(g, grp) + i;
				break;
			}
		}
	}
	if (!dblk)
		return -ENOSPC;
	ret = rebuild_root_block(f, dblk, blk);
	if (ret)
		return ret;

	iblk = sfs_geo_ino_block(g, SFS_ROOT_INO, &ioff);
	ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, iblk, 1);
	if (ret)
		return ret;
	memset(&root, 0, sizeof(root));
	if (sfs_get_le(blk + ioff, 4) == SFS_MAGIC_INODE)
		root.generation = (uint32_t)sfs_get_le(blk + ioff + 24, 4) + 1;
	root.ino = SFS_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	root.nlink = 2;
	root.size = g->block_size;
	root.blocks = 1;
	root.mtime.sec = root.ctime.sec = root.atime.sec = root.btime.sec = (int64_t)time(NULL);
	sfs_extent_root_init(root.root);
	sfs_extent_header_decode(&eh, root.root);
	eh.entries = 1;
	sfs_extent_header_encode(root.root, &eh);
	ext.pblk = dblk;
	sfs_extent_put(root.root, 0, &ext);
	memset(blk + ioff, 0, g->inode_size);
	sfs_inode_encode(blk + ioff, &root, sbi);
	ret = fsck_write_block(f, blk, iblk);
	if (ret)
		return ret;
	fsck_claim_block(f, dblk);
	mark_live(f, sfs_geo_ino_group(g, SFS_ROOT_INO), sfs_geo_ino_index(g, SFS_ROOT_INO), true);
	f->root_ok = true;
	return 0;
}

static void mark_live(struct fsck *f, uint32_t grp, uint32_t idx, bool dir)
{
	const struct sfs_geo *g = &f->sbi.geo;

	if (!f->used_inodes[grp])
		f->used_inodes[grp] = mc_zalloc(g->bitmap_bits / 8, MC_KERNEL);
	if (f->used_inodes[grp])
		sfs_bit_set(f->used_inodes[grp], idx);
	if (idx + 1 > f->hwm[grp])
		f->hwm[grp] = idx + 1;
	if (dir)
		f->dirs[grp]++;
	f->live_inodes++;
}

/* One inode slot.  Returns true when the record was changed in memory. */
static bool check_slot(struct fsck *f, struct walk *w, uint8_t *raw, uint64_t ino,
		       uint32_t grp, uint32_t idx)
{
	struct sfs_sb_info *sbi = &f->sbi;
	struct dir_damage dd = { 0 };
	struct sfs_inode in;

	if (sfs_inode_slot_unused(raw))
		return false;
	if (sfs_get_le(raw, 4) != SFS_MAGIC_INODE) {
		if (fix_problem(f, PR_INODE_GARBAGE,
				"inode %llu: slot below group %u's high-water mark holds no inode record",
				(unsigned long long)ino, grp)) {
			memset(raw, 0, sbi->geo.inode_size);
			return true;
		}
		return false;
	}
	if (sfs_inode_verify(raw, ino, sbi)) {
		if (fix_problem(f, PR_INODE_BAD, "%s", sfs_verify_reason())) {
			memset(raw, 0, sbi->geo.inode_size);
			return true;
		}
		/* Left as is: count it live so its bitmap bit is not reported too. */
		mark_live(f, grp, idx, false);
		return false;
	}
	sfs_inode_decode(&in, raw);
	if (!in.mode)
		return false;

	w->ino = ino;
	w->is_dir = S_ISDIR(in.mode);
	w->claim = false;
	if (walk_inode(w, &in, &dd)) {
		if (fix_problem(f, PR_EXTENT_BAD, "inode %llu: %s", (unsigned long long)ino, w->why)) {
			memset(raw, 0, sbi->geo.inode_size);
			return true;
		}
		mark_live(f, grp, idx, w->is_dir);
		return false;
	}
	w->claim = true;
	w->dups = 0;
	walk_inode(w, &in, &dd);
	mark_live(f, grp, idx, w->is_dir);
	if (ino == SFS_ROOT_INO && w->is_dir)
		f->root_ok = true;
	if (w->dups)
		fix_problem(f, PR_BLOCK_DUP, "inode %llu: %llu of its blocks (first %llu) are claimed by another inode too",
			    (unsigned long long)ino, (unsigned long long)w->dups,
			    (unsigned long long)w->first_dup);
	if (dd.found) {
		if (ino == SFS_ROOT_INO && dd.lblk == 0) {
			if (fix_problem(f, PR_DIRBLOCK_BAD, "root directory block %llu: %s",
					(unsigned long long)dd.pblk, dd.why)) {
				int ret = rebuild_root_block(f, dd.pblk, w->blk);

				if (ret)
					fix_failed(f, PR_DIRBLOCK_BAD, ret);
			}
		} else {
			fix_problem(f, PR_DIRBLOCK_UNFIXABLE, "directory %llu, block %llu: %s", (unsigned long long)ino,
				    (unsigned long long)dd.pblk, dd.why);
		}
	}
	if (in.blocks != w->owned) {
		if (fix_problem(f, PR_INODE_BLOCKS, "inode %llu: block count %llu, but it owns %llu",
				(unsigned long long)ino, (unsigned long long)in.blocks,
				(unsigned long long)w->owned)) {
			in.blocks = w->owned;
			sfs_inode_encode(raw, &in, sbi);
			return true;
		}
	}
	return false;
}

int fsck_pass_inodes(struct fsck *f)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint32_t chunk_blocks = ITABLE_CHUNK >> g->block_log;
	uint8_t *buf = NULL, *dirty = NULL;
	struct tu_progress prog;
	struct walk w = { .f = f };
	int ret = 0;

	if (!chunk_blocks)
		chunk_blocks = 1;
	f->used_blocks = mc_calloc(g->group_count, sizeof(*f->used_blocks), MC_KERNEL);
	f->used_inodes = mc_calloc(g->group_count, sizeof(*f->used_inodes), MC_KERNEL);
	f->dirs = mc_calloc(g->group_count, sizeof(*f->dirs), MC_KERNEL);
	f->hwm = mc_calloc(g->group_count, sizeof(*f->hwm), MC_KERNEL);
	buf = sfs_io_alloc((size_t)chunk_blocks << g->block_log);
	dirty = mc_zalloc(chunk_blocks, MC_KERNEL);
	w.blk = sfs_io_alloc(g->block_size);
	if (!f->used_blocks || !f->used_inodes || !f->dirs || !f->hwm || !buf || !dirty || !w.blk) {
		ret = fsck_fatal(f, "out of memory for the inode pass");
		goto out;
	}

	tu_progress_start(&prog, "Pass 2: inodes", g->group_count, !f->progress);
	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		const struct sfs_group_desc *gd = &sbi->gd[grp];
		uint32_t limit, nblocks;

		tu_progress_update(&prog, grp);
		if (gd->flags & SFS_BG_INODE_UNINIT)
			continue;
		limit = gd->itable_unused > g->inodes_per_group ? 0
			: g->inodes_per_group - gd->itable_unused;
		nblocks = (limit + g->inodes_per_block - 1) / g->inodes_per_block;
		for (uint32_t b = 0; b < nblocks; b += chunk_blocks) {
			uint32_t n = nblocks - b < chunk_blocks ? nblocks - b : chunk_blocks;
			uint64_t first_blk = sfs_geo_inode_table(g, grp) + b;

			ret = sfs_io_read_blocks(f->bdev, buf, g->block_log, first_blk, n);
			if (ret) {
				ret = fsck_fatal(f, "cannot read inode table blocks %llu+%u: %s",
						 (unsigned long long)first_blk, n, strerror(-ret));
				goto out_prog;
			}
			memset(dirty, 0, n);
			for (uint32_t k = 0; k < n * g->inodes_per_block; k++) {
				uint32_t idx = b * g->inodes_per_block + k;
				uint64_t ino = (uint64_t)grp * g->inodes_per_group + idx + 1;

				if (idx >= limit)
					break;
				if (check_slot(f, &w, buf + (size_t)k * g->inode_size, ino, grp, idx))
					dirty[k / g->inodes_per_block] = 1;
			}
			for (uint32_t k = 0; k < n; k++) {
				if (!dirty[k])
					continue;
				ret = fsck_write_block(f, buf + ((size_t)k << g->block_log), first_blk + k);
				if (ret)
					goto out_prog;
			}
		}
	}
	if (!fsck_cancelled) {
		if (!f->root_ok &&
		    fix_problem(f, PR_ROOT_BAD, "root directory (inode %u) is missing or not a directory",
				SFS_ROOT_INO)) {
			ret = recreate_root(f, w.blk);
			if (ret)
				fix_failed(f, PR_ROOT_BAD, ret);
			ret = 0;
		}
	}
out_prog:
	tu_progress_end(&prog);
out:
	mc_free(buf);
	mc_free(dirty);
	mc_free(w.blk);
	return ret;
}
