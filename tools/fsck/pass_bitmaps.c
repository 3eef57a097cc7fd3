/*
 * Pass 3: allocation bitmaps and every count, against what pass 2 found.
 *
 * The expected block bitmap of a group is its own metadata plus the blocks
 * live inodes own; the expected inode bitmap is its live inodes plus the
 * reserved ones.  An uninitialised group's bitmaps are implied and not
 * read; if a live inode owns blocks there, the group must be initialised.
 * A damaged bitmap block is rebuilt from the expectation, a valid one that
 * disagrees is corrected, and the descriptor counts and free-space summary
 * are recomputed from the corrected bitmap.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "tools/fsck/fsck.h"

/* Differences as "+5 -10..12 ..." (+ in use but marked free, - marked in
 * use but free); at most a line's worth. Returns the number of bits. */
static uint32_t describe_diff(const uint8_t *want, const uint8_t *have, uint32_t nbits,
			      uint64_t base, char *out, size_t len)
{
	uint32_t count = 0, i = 0;
	size_t used = 0;
	int ranges = 0;

	out[0] = 0;
	while (i < nbits) {
		bool w = sfs_bit_test(want, i), h = sfs_bit_test(have, i);
		uint32_t j = i + 1;

		if (w == h) {
			i++;
			continue;
		}
		while (j < nbits && sfs_bit_test(want, j) == w && sfs_bit_test(have, j) == h)
			j++;
		count += j - i;
		if (ranges++ < 8) {
			if (j - i == 1)
				used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%c%llu",
							 used ? " " : "", w ? '+' : '-',
							 (unsigned long long)(base + i));
			else
				used += (size_t)snprintf(out + used, used < len ? len - used : 0,
							 "%s%c%llu..%llu", used ? " " : "", w ? '+' : '-',
							 (unsigned long long)(base + i),
							 (unsigned long long)(base + j - 1));
		} else if (ranges == 9) {
			used += (size_t)snprintf(out + used, used < len ? len - used : 0, " ...");
		}
		i = j;
	}
	return count;
}

/* Build the expected bitmap block of a group into @blk. */
static void expected_block_bitmap(struct fsck *f, uint32_t grp, uint8_t *blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *map = sfs_bitmap_data(blk);
	uint32_t nbits = sfs_geo_group_blocks(g, grp);

	sfs_bbitmap_build_implied(blk, &f->sbi, grp);
	if (f->used_blocks[grp])
		for (uint32_t i = 0; i < (nbits + 7) / 8; i++)
			map[i] |= f->used_blocks[grp][i];
}

static void expected_inode_bitmap(struct fsck *f, uint32_t grp, uint8_t *blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *map = sfs_bitmap_data(blk);

	sfs_bitmap_init(blk, &f->sbi, SFS_MAGIC_IBITMAP, grp);
	if (f->used_inodes[grp])
		for (uint32_t i = 0; i < (g->inodes_per_group + 7) / 8; i++)
			map[i] |= f->used_inodes[grp][i];
	/* Reserved inodes are always in use, whatever their records hold. */
	for (uint64_t ino = 1; ino < SFS_FIRST_INO; ino++)
		if (sfs_geo_ino_group(g, ino) == grp)
			sfs_bit_set(map, sfs_geo_ino_index(g, ino));
}

void fsck_expected_bitmap(struct fsck *f, uint32_t grp, bool is_block, uint8_t *blk)
{
	if (is_block)
		expected_block_bitmap(f, grp, blk);
	else
		expected_inode_bitmap(f, grp, blk);
}

/*
 * Check one bitmap block against @want (a full block built by the caller).
 * Rewrites it when the user agrees; returns 0 or a fatal negative.
 */
static int check_bitmap(struct fsck *f, uint32_t grp, bool is_block, uint8_t *want,
			uint8_t *have, bool *gdt_changed)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_group_desc *gd = &f->sbi.gd[grp];
	uint64_t blkno = is_block ? gd->block_bitmap : gd->inode_bitmap;
	uint32_t nbits = is_block ? sfs_geo_group_blocks(g, grp) : g->inodes_per_group;
	uint64_t base = is_block ? sfs_geo_group_start(g, grp)
				 : (uint64_t)grp * g->inodes_per_group + 1;
	const char *what = is_block ? "block bitmap" : "inode bitmap";
	char diff[256];
	bool rewrite = false;
	int ret;

	ret = sfs_io_read_blocks(f->bdev, have, g->block_log, blkno, 1);
	if (!ret)
		ret = is_block ? sfs_bbitmap_verify(have, g->block_size, blkno, &f->sbi)
			       : sfs_ibitmap_verify(have, g->block_size, blkno, &f->sbi);
	if (ret) {
		rewrite = fix_problem(f, is_block ? PR_BBITMAP_BAD : PR_IBITMAP_BAD,
				      "%s of group %u (block %llu): %s", what, grp,
				      (unsigned long long)blkno,
				      ret == -EIO ? "unreadable" : sfs_verify_reason());
	} else if (describe_diff(sfs_bitmap_cdata(want), sfs_bitmap_cdata(have), nbits, base,
				 diff, sizeof(diff))) {
		rewrite = fix_problem(f, is_block ? PR_BBITMAP_DIFF : PR_IBITMAP_DIFF,
				      "group %u %s differences (%s): %s", grp, what,
				      is_block ? "+ in use but marked free, - marked in use but free"
					       : "+ live inode marked free, - free inode marked in use",
				      diff);
	}
	if (!rewrite)
		return 0;
	sfs_bitmap_finish(want, &f->sbi, blkno);
	ret = fsck_write_block(f, want, blkno);
	if (ret)
		fix_failed(f, is_block ? PR_BBITMAP_BAD : PR_IBITMAP_BAD, ret);
	(void)gdt_changed;
	return 0;
}

/* What a group's counts should be, from its expected bitmaps. */
struct group_truth {
	struct sfs_bitmap_summary blocks;
	struct sfs_bitmap_summary inodes;
	uint32_t hwm;                /* highest in-use inode index + 1 */
};

static void truth_from_bitmaps(struct fsck *f, uint32_t grp, const uint8_t *bmap,
			       const uint8_t *imap, struct group_truth *t)
{
	const struct sfs_geo *g = &f->sbi.geo;

	sfs_bitmap_summarise(bmap, sfs_geo_group_blocks(g, grp), &t->blocks);
	sfs_bitmap_summarise(imap, g->inodes_per_group, &t->inodes);
	t->hwm = 0;
	for (uint32_t i = 0; i < g->inodes_per_group; i++)
		if (sfs_bit_test(imap, i))
			t->hwm = i + 1;
}

/* An untouched group (both bitmaps implied, nothing owned there): the
 * truth is arithmetic, so the 99% of a large new filesystem that nobody
 * has used costs no bitmap work. */
static bool truth_implied(struct fsck *f, uint32_t grp, struct group_truth *t)
{
	const struct sfs_geo *g = &f->sbi.geo;
	const struct sfs_group_desc *gd = &f->sbi.gd[grp];
	uint32_t data = sfs_geo_group_blocks(g, grp) - sfs_geo_group_overhead(g);
	uint16_t both = SFS_BG_BLOCK_UNINIT | SFS_BG_INODE_UNINIT;

	if ((gd->flags & both) != both || f->used_blocks[grp] || f->used_inodes[grp] ||
	    sfs_geo_ino_group(g, SFS_FIRST_INO - 1) == grp)
		return false;
	t->blocks = (struct sfs_bitmap_summary){ .free = data, .largest = data, .runs = data ? 1 : 0 };
	t->inodes = (struct sfs_bitmap_summary){ .free = g->inodes_per_group,
						 .largest = g->inodes_per_group, .runs = 1 };
	t->hwm = 0;
	return true;
}

static void check_counts(struct fsck *f, uint32_t grp, const struct group_truth *t,
			 bool *gdt_changed)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_group_desc *gd = &f->sbi.gd[grp];
	struct sfs_group_desc want = *gd;
	char msg[256];
	size_t used = 0;

	want.free_blocks = t->blocks.free;
	want.largest_free = t->blocks.largest;
	want.free_runs = t->blocks.runs;
	want.free_inodes = t->inodes.free;
	want.used_dirs = f->dirs[grp];
	/* itable_unused may be smaller than the truth (reading more is safe),
	 * never larger (it would hide a live inode). */
	if (want.itable_unused > g->inodes_per_group - t->hwm || want.itable_unused > t->inodes.free)
		want.itable_unused = g->inodes_per_group - t->hwm;

#define DIFF(field, label)                                                        \
	if (want.field != gd->field)                                              \
		used += (size_t)snprintf(msg + used, used < sizeof(msg) ? sizeof(msg) - used : 0, \
					 "%s%s %u (counted %u)", used ? ", " : "", label, \
					 gd->field, want.field)
	DIFF(free_blocks, "free blocks");
	DIFF(largest_free, "largest free run");
	DIFF(free_runs, "free runs");
	DIFF(free_inodes, "free inodes");
	DIFF(used_dirs, "directories");
	DIFF(itable_unused, "never-used inodes");
#undef DIFF
	if (!used)
		return;
	if (fix_problem(f, PR_GD_COUNTS, "group %u: %s", grp, msg)) {
		*gd = want;
		*gdt_changed = true;
	} else {
		/* Keep checking with the counted values so totals are meaningful. */
		*gd = want;
	}
}

int fsck_pass_bitmaps(struct fsck *f)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *bwant, *iwant, *have;
	uint64_t free_blocks = 0, free_inodes = 0;
	struct tu_progress prog;
	int ret;

	/* What fsck took itself is no finding of this pass. */
	ret = fsck_account_own(f);
	if (ret)
		return ret;
	bwant = sfs_io_alloc(g->block_size);
	iwant = sfs_io_alloc(g->block_size);
	have = sfs_io_alloc(g->block_size);
	if (!bwant || !iwant || !have) {
		ret = fsck_fatal(f, "out of memory for the bitmap pass");
		goto out;
	}
	tu_progress_start(&prog, "Pass 3: bitmaps and counts", g->group_count, !f->progress);
	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		struct sfs_group_desc *gd = &sbi->gd[grp];
		struct group_truth truth;
		bool changed = false;

		tu_progress_update(&prog, grp);
		if (truth_implied(f, grp, &truth)) {
			check_counts(f, grp, &truth, &changed);
			goto next;
		}
		expected_block_bitmap(f, grp, bwant);
		expected_inode_bitmap(f, grp, iwant);

		if (gd->flags & SFS_BG_BLOCK_UNINIT) {
			uint32_t n = 0;

			if (f->used_blocks[grp])
				for (uint32_t i = 0; i < sfs_geo_group_blocks(g, grp); i++)
					n += sfs_bit_test(f->used_blocks[grp], i);
			if (n && fix_problem(f, PR_UNINIT_IN_USE,
					     "group %u is marked uninitialised but live inodes own %u of its blocks",
					     grp, n)) {
				sfs_bitmap_finish(bwant, sbi, gd->block_bitmap);
				ret = fsck_write_block(f, bwant, gd->block_bitmap);
				if (ret) {
					fix_failed(f, PR_UNINIT_IN_USE, ret);
				} else {
					gd->flags &= (uint16_t)~SFS_BG_BLOCK_UNINIT;
					changed = true;
				}
			}
		} else {
			ret = check_bitmap(f, grp, true, bwant, have, &changed);
			if (ret)
				break;
		}
		if (!(gd->flags & SFS_BG_INODE_UNINIT)) {
			ret = check_bitmap(f, grp, false, iwant, have, &changed);
			if (ret)
				break;
		}
		truth_from_bitmaps(f, grp, sfs_bitmap_cdata(bwant), sfs_bitmap_cdata(iwant), &truth);
		check_counts(f, grp, &truth, &changed);
next:
		if (changed)
			f->gdt_dirty[grp / g->descs_per_block] = 1;
		free_blocks += gd->free_blocks;
		free_inodes += gd->free_inodes;
	}
	tu_progress_end(&prog);
	if (ret || fsck_cancelled)
		goto out;

	if (sbi->sb.free_blocks != free_blocks &&
	    fix_problem(f, PR_SB_FREE_BLOCKS, "superblock free block count %llu, counted %llu",
			(unsigned long long)sbi->sb.free_blocks, (unsigned long long)free_blocks)) {
		sbi->sb.free_blocks = free_blocks;
		f->sb_dirty = true;
	}
	if (sbi->sb.free_inodes != free_inodes &&
	    fix_problem(f, PR_SB_FREE_INODES, "superblock free inode count %llu, counted %llu",
			(unsigned long long)sbi->sb.free_inodes, (unsigned long long)free_inodes)) {
		sbi->sb.free_inodes = free_inodes;
		f->sb_dirty = true;
	}
	f->total_free_blocks = free_blocks;
	f->total_free_inodes = free_inodes;
out:
	mc_free(bwant);
	mc_free(iwant);
	mc_free(have);
	return ret;
}
