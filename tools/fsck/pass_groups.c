/*
 * Pass 1b: the group descriptor table and its backup.
 *
 * A GDT block is checked for self-description first (magic, checksum, own
 * block number, UUID, owner); a damaged one is restored from its backup,
 * or, when both copies are gone, rebuilt from the geometry and what the
 * group's bitmaps show.  Then each descriptor is checked against the
 * geometry ("bad geometry").  Counts are left to pass 3, which recomputes
 * them all.
 */
#include <errno.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "tools/fsck/fsck.h"

/* Self-description of a GDT block at @blkno holding table block @index. */
static int gdt_block_ok(struct fsck *f, const void *blk, uint64_t blkno, uint32_t index)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t first = index * g->descs_per_block;
	const uint8_t *p = blk;
	struct sfs_hdr h;
	int ret;

	ret = sfs_hdr_verify(blk, g->block_size, SFS_MAGIC_GDT, blkno, &f->sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (h.owner != first)
		return sfs_verify_fail(-EFSCORRUPTED, "owner %llu, expected first group %u",
				       (unsigned long long)h.owner, first);
	for (uint32_t i = 0; i < g->descs_per_block; i++) {
		if (first + i < g->group_count)
			continue;
		for (uint32_t b = 0; b < SFS_GD_SIZE; b++)
			if (p[SFS_HDR_SIZE + (size_t)i * SFS_GD_SIZE + b])
				return sfs_verify_fail(-EFSCORRUPTED,
						       "slot %u beyond the last group is not empty", i);
	}
	return 0;
}

/* Best guess at a lost descriptor: geometry, plus "initialised" wherever the
 * group's bitmap blocks are valid.  Pass 3 then recomputes every count. */
static void rebuild_desc(struct fsck *f, uint32_t grp, uint8_t *blk)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_group_desc *gd = &sbi->gd[grp];

	sfs_gd_init_uninit(sbi, grp, gd);
	if (!sfs_io_read_blocks(f->bdev, blk, g->block_log, gd->block_bitmap, 1) &&
	    !sfs_bbitmap_verify(blk, g->block_size, gd->block_bitmap, sbi))
		gd->flags &= (uint16_t)~SFS_BG_BLOCK_UNINIT;
	if (!sfs_io_read_blocks(f->bdev, blk, g->block_log, gd->inode_bitmap, 1) &&
	    !sfs_ibitmap_verify(blk, g->block_size, gd->inode_bitmap, sbi)) {
		const uint8_t *map = sfs_bitmap_cdata(blk);
		uint32_t top = 0;

		for (uint32_t i = 0; i < g->inodes_per_group; i++)
			if (sfs_bit_test(map, i))
				top = i + 1;
		gd->flags &= (uint16_t)~SFS_BG_INODE_UNINIT;
		gd->itable_unused = g->inodes_per_group - top;
	}
}

static void check_desc(struct fsck *f, uint32_t grp)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_group_desc *gd = &f->sbi.gd[grp];
	uint32_t index = grp / g->descs_per_block;
	struct {
		const char *name;
		uint64_t *field;
		uint64_t want;
	} locs[] = {
		{ "block bitmap", &gd->block_bitmap, sfs_geo_block_bitmap(g, grp) },
		{ "inode bitmap", &gd->inode_bitmap, sfs_geo_inode_bitmap(g, grp) },
		{ "inode table", &gd->inode_table, sfs_geo_inode_table(g, grp) },
	};

	for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]); i++) {
		if (*locs[i].field == locs[i].want)
			continue;
		if (fix_problem(f, PR_GD_LOCATION, "group %u: %s at block %llu, the geometry puts it at %llu",
				grp, locs[i].name, (unsigned long long)*locs[i].field,
				(unsigned long long)locs[i].want)) {
			*locs[i].field = locs[i].want;
			f->gdt_dirty[index] = 1;
		} else {
			/* Check the rest against the real location regardless. */
			*locs[i].field = locs[i].want;
		}
	}
	if (gd->flags & ~SFS_BG_FLAGS_KNOWN) {
		if (fix_problem(f, PR_GD_FLAGS, "group %u: unknown flags 0x%x", grp,
				gd->flags & ~SFS_BG_FLAGS_KNOWN)) {
			gd->flags &= SFS_BG_FLAGS_KNOWN;
			f->gdt_dirty[index] = 1;
		}
	}
	if (grp == 0 && (gd->flags & SFS_BG_INODE_UNINIT)) {
		/* Group 0 always holds the reserved inodes and the root. */
		if (fix_problem(f, PR_GD_FLAGS, "group 0 is marked as having no inodes in use")) {
			gd->flags &= (uint16_t)~SFS_BG_INODE_UNINIT;
			f->gdt_dirty[index] = 1;
		}
	}
}

int fsck_pass_groups(struct fsck *f)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk, *bblk;
	struct tu_progress prog;
	int ret = 0;

	sbi->gd = mc_calloc(g->group_count, sizeof(*sbi->gd), MC_KERNEL);
	f->gdt_dirty = mc_zalloc(g->gdt_blocks, MC_KERNEL);
	blk = sfs_io_alloc(g->block_size);
	bblk = sfs_io_alloc(g->block_size);
	if (!sbi->gd || !f->gdt_dirty || !blk || !bblk) {
		ret = fsck_fatal(f, "out of memory for %u group descriptors", g->group_count);
		goto out;
	}
	tu_progress_start(&prog, "Pass 1b: group descriptors", g->gdt_blocks, !f->progress);
	for (uint32_t i = 0; i < g->gdt_blocks && !fsck_cancelled; i++) {
		uint64_t pblk = 1 + (uint64_t)i, bkblk = g->backup_gdt_start + i;
		char preason[256] = "", breason[256] = "";
		int pret, bret;

		pret = sfs_io_read_blocks(f->bdev, blk, g->block_log, pblk, 1);
		if (pret)
			snprintf(preason, sizeof(preason), "unreadable: %s", strerror(-pret));
		else if ((pret = gdt_block_ok(f, blk, pblk, i)))
			snprintf(preason, sizeof(preason), "%s", sfs_verify_reason());
		bret = sfs_io_read_blocks(f->bdev, bblk, g->block_log, bkblk, 1);
		if (bret)
			snprintf(breason, sizeof(breason), "unreadable: %s", strerror(-bret));
		else if ((bret = gdt_block_ok(f, bblk, bkblk, i)))
			snprintf(breason, sizeof(breason), "%s", sfs_verify_reason());

		if (!pret) {
			sfs_gdt_block_decode(blk, sbi, i, sbi->gd);
			if (bret && fix_problem(f, PR_GDT_BACKUP_BAD,
						"backup group descriptor block %llu: %s",
						(unsigned long long)bkblk, breason))
				f->backup_gdt_dirty = true;
		} else if (!bret) {
			sfs_gdt_block_decode(bblk, sbi, i, sbi->gd);
			if (fix_problem(f, PR_GDT_BLOCK_BAD,
					"group descriptor block %llu: %s; its backup at %llu is valid",
					(unsigned long long)pblk, preason, (unsigned long long)bkblk))
				f->gdt_dirty[i] = 1;
		} else {
			uint32_t first = i * g->descs_per_block;

			for (uint32_t k = first; k < first + g->descs_per_block && k < g->group_count; k++)
				rebuild_desc(f, k, blk);
			if (fix_problem(f, PR_GDT_BLOCK_BAD,
					"group descriptor block %llu: %s, and its backup: %s; rebuild from the geometry and bitmaps",
					(unsigned long long)pblk, preason, breason)) {
				f->gdt_dirty[i] = 1;
				f->backup_gdt_dirty = true;
			}
		}
		for (uint32_t k = i * g->descs_per_block;
		     k < (i + 1) * g->descs_per_block && k < g->group_count; k++)
			check_desc(f, k);
		tu_progress_update(&prog, i + 1);
	}
	tu_progress_end(&prog);
out:
	mc_free(blk);
	mc_free(bblk);
	return ret;
}

int fsck_write_groups(struct fsck *f)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk;
	int ret = 0;

	if (f->mode == FSCK_NO || !sbi->gd)
		return 0;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return fsck_fatal(f, "out of memory");
	for (uint32_t i = 0; i < g->gdt_blocks; i++) {
		bool primary = f->gdt_dirty[i];

		if (!primary && !f->backup_gdt_dirty)
			continue;
		for (int copy = 0; copy < 2; copy++) {
			uint64_t at = copy ? g->backup_gdt_start + i : 1 + (uint64_t)i;

			if (copy == 0 && !primary)
				continue;
			if (copy == 1 && !f->backup_gdt_dirty)
				continue;
			sfs_gdt_block_build(blk, sbi, i, at, sbi->gd);
			ret = sfs_gdt_block_verify(blk, g->block_size, at, sbi);
			if (ret) {
				ret = fsck_fatal(f, "descriptor block %llu still inconsistent after repair: %s",
						 (unsigned long long)at, sfs_verify_reason());
				goto out;
			}
			ret = fsck_write_block(f, blk, at);
			if (ret)
				goto out;
		}
	}
out:
	mc_free(blk);
	return ret;
}
