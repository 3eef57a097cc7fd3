/*
 * Pass 2: inode tables.
 *
 * Each initialised group's table is read up to its high-water mark
 * (inodes_per_group - itable_unused; the rest was never used and, without
 * ITABLE_ZEROED, may hold stale bytes).  Every record is verified; a live
 * inode's blocks are walked (pass_extents.c, walk.h): validated first (so
 * a damaged tree can be cleared without leaving half its blocks claimed),
 * probed for blocks another inode claimed already (cross-links: clearing
 * the later claimant keeps the earlier one whole), then claimed in the
 * per-group "owned" maps that pass 3 compares with the bitmaps.  Wrong
 * index keys are fixed on their own.  Directory blocks are checked for
 * self-description; the directory pass of issue 8 checks their contents.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "tools/fsck/fsck.h"
#include "tools/fsck/walk.h"

/* Inode table bytes read per I/O. */
#define ITABLE_CHUNK (1u << 20)

/*
 * The lost root is made after pass 2b (root.c), when every block's owner
 * is known.  A non-directory in the root's slot had its blocks claimed;
 * the record is overwritten then, so they are free again (else pass 3
 * would keep them marked in use with no owner) -- its first block, still
 * in use on disk, is the new root's if nothing else owns it.
 */
static void plan_root(struct fsck *f, struct walk *w)
{
	struct sfs_extent_header eh;
	struct sfs_extent ext;

	f->root_pending = true;
	if (!w->old_root_claimed)
		return;
	w->ino = SFS_ROOT_INO;
	w->is_dir = false;
	fsck_walk_inode(w, &w->old_root, WALK_UNCLAIM);
	w->old_root_claimed = false;
	sfs_extent_header_decode(&eh, w->old_root.root);
	if (eh.depth || !eh.entries)
		return;
	sfs_extent_get(&ext, w->old_root.root, 0);
	f->root_old_blk = ext.pblk;
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

void fsck_mark_inode_live(struct fsck *f, uint64_t ino, bool dir)
{
	const struct sfs_geo *g = &f->sbi.geo;

	mark_live(f, sfs_geo_ino_group(g, ino), sfs_geo_ino_index(g, ino), dir);
}

/* One inode slot.  Returns true when the record was changed in memory. */
static bool check_slot(struct fsck *f, struct walk *w, uint8_t *raw, uint64_t ino,
		       uint32_t grp, uint32_t idx)
{
	struct sfs_sb_info *sbi = &f->sbi;
	struct sfs_inode in;
	bool changed = false;
	uint64_t cross;

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
	if (fsck_walk_inode(w, &in, WALK_VALIDATE)) {
		if (fix_problem(f, PR_EXTENT_BAD, "inode %llu: %s", (unsigned long long)ino, w->why)) {
			memset(raw, 0, sbi->geo.inode_size);
			return true;
		}
		mark_live(f, grp, idx, w->is_dir);
		return false;
	}
	for (unsigned k = 0; k < w->nkeyfix; k++) {
		const struct walk_keyfix *kf = &w->keyfix[k];
		char where[48];

		if (kf->node)
			snprintf(where, sizeof(where), "block %llu", (unsigned long long)kf->node);
		else
			snprintf(where, sizeof(where), "the root");
		if (fix_problem(f, PR_EXTENT_KEY,
				"inode %llu: extent index %u in %s has key %u, its child starts at %u",
				(unsigned long long)ino, kf->idx, where, kf->key, kf->child_first)) {
			int ret = fsck_fix_key(f, &in, kf);

			if (ret)
				fix_failed(f, PR_EXTENT_KEY, ret);
			else if (!kf->node)
				changed = true;
		}
	}
	fsck_walk_inode(w, &in, WALK_PROBE);
	cross = w->dups;
	if (w->dups &&
	    fix_problem(f, PR_BLOCK_DUP, "inode %llu: %llu of its blocks (first %llu) are claimed by an earlier inode",
			(unsigned long long)ino, (unsigned long long)w->dups,
			(unsigned long long)w->first_dup)) {
		memset(raw, 0, sbi->geo.inode_size);
		return true;
	}
	fsck_walk_inode(w, &in, WALK_CLAIM);
	mark_live(f, grp, idx, w->is_dir);
	if (ino == SFS_ROOT_INO && w->is_dir)
		f->root_ok = true;
	if (w->dups &&
	    fix_problem(f, PR_BLOCK_DUP_SELF, "inode %llu: %llu of its blocks (first %llu) are mapped twice in its own tree",
			(unsigned long long)ino, (unsigned long long)w->dups,
			(unsigned long long)w->first_dup)) {
		/* Blocks shared with an earlier inode (I05 left as is) are
		 * not this inode's to give back. */
		int ret = cross ? -EOPNOTSUPP : fsck_drop_self_dups(w, &in);

		if (ret)
			fix_failed(f, PR_BLOCK_DUP_SELF, ret);
		else
			changed = true;
	}
	if (w->dd.found) {
		struct dir_damage *dd = &w->dd;

		if (ino == SFS_ROOT_INO && dd->lblk == 0) {
			if (fix_problem(f, PR_DIRBLOCK_BAD, "root directory block %llu: %s",
					(unsigned long long)dd->pblk, dd->why)) {
				int ret = fsck_write_root_block(f, dd->pblk, w->blk);

				if (ret)
					fix_failed(f, PR_DIRBLOCK_BAD, ret);
			}
		} else {
			fix_problem(f, PR_DIRBLOCK_UNFIXABLE, "directory %llu, block %llu: %s", (unsigned long long)ino,
				    (unsigned long long)dd->pblk, dd->why);
		}
	}
	if (in.blocks != w->owned) {
		if (fix_problem(f, PR_INODE_BLOCKS, "inode %llu: block count %llu, but it owns %llu",
				(unsigned long long)ino, (unsigned long long)in.blocks,
				(unsigned long long)w->owned)) {
			in.blocks = w->owned;
			changed = true;
		}
	}
	if (ino == SFS_ROOT_INO && !w->is_dir) {
		w->old_root = in;
		w->old_root_claimed = true;
	}
	if (changed)
		sfs_inode_encode(raw, &in, sbi);
	return changed;
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
				SFS_ROOT_INO))
			plan_root(f, &w);
	}
out_prog:
	tu_progress_end(&prog);
out:
	mc_free(buf);
	mc_free(dirty);
	mc_free(w.blk);
	return ret;
}
