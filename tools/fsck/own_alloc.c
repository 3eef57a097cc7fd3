/*
 * What fsck itself allocates (lost+found's inode, its directory and index
 * blocks; a re-created root's slot and block, root.c), accounted as e2fsck accounts its own allocations: pass 2's
 * maps say the inode or block is owned at once, so nothing later takes it
 * twice, and before pass 3 compares the bitmaps and counts with those
 * maps, the bitmaps, descriptors and superblock are moved by exactly what
 * fsck took.  Pass 3 then finds what was wrong before fsck took anything,
 * no more and no less: a count that was off stays off by as much, and a
 * wrong bit elsewhere stays wrong.
 *
 * The counts move by the difference fsck's takings make to the expected
 * bitmaps (the truth pass 3 checks against), not to the bitmaps on disk:
 * a disk bitmap that is wrong elsewhere must not skew the deltas (a
 * leaked block splitting the largest free run would).
 *
 * A block or inode the disk bitmap marks in use though nothing owns it is
 * a leak pass 3 reports; it is taken only when nothing else is free, so
 * that fsck's taking does not hide it.
 */
#include <errno.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "tools/fsck/fsck.h"

static bool bit(uint8_t *const *maps, uint32_t grp, uint32_t i)
{
	return maps && maps[grp] && sfs_bit_test(maps[grp], i);
}

/* Per group bitmap @grp of *@maps, the table and the map made on first
 * use; NULL when memory is short (fsck then takes nothing). */
static uint8_t *map_of(struct fsck *f, uint8_t ***maps, uint32_t grp)
{
	const struct sfs_geo *g = &f->sbi.geo;

	if (!*maps) {
		*maps = mc_calloc(g->group_count, sizeof(**maps), MC_KERNEL);
		if (!*maps)
			return NULL;
	}
	if (!(*maps)[grp])
		(*maps)[grp] = mc_zalloc(g->bitmap_bits / 8, MC_KERNEL);
	return (*maps)[grp];
}

/*
 * Group @grp's block or inode bitmap as the disk has it, into @blk (an
 * uninitialised group's is the implied one).  Nonzero when unreadable or
 * damaged: pass 3 rebuilds such a bitmap whole, fsck's takings included.
 */
static int disk_bitmap(struct fsck *f, uint32_t grp, bool is_block, uint8_t *blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	const struct sfs_group_desc *gd = &f->sbi.gd[grp];
	uint64_t at = is_block ? gd->block_bitmap : gd->inode_bitmap;
	int ret;

	if (is_block && (gd->flags & SFS_BG_BLOCK_UNINIT)) {
		sfs_bbitmap_build_implied(blk, &f->sbi, grp);
		return 0;
	}
	if (!is_block && (gd->flags & SFS_BG_INODE_UNINIT)) {
		sfs_bitmap_init(blk, &f->sbi, SFS_MAGIC_IBITMAP, grp);
		return 0;
	}
	ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, at, 1);
	if (ret)
		return ret;
	return is_block ? sfs_bbitmap_verify(blk, g->block_size, at, &f->sbi)
			: sfs_ibitmap_verify(blk, g->block_size, at, &f->sbi);
}

/* Free for fsck to take: nobody owns it, and (@leaks false) the disk
 * bitmap @disk, when readable, agrees. */
static bool takeable(uint8_t *const *owners, uint32_t grp, uint32_t i, const uint8_t *disk,
		     bool leaks)
{
	if (bit(owners, grp, i))
		return false;
	return leaks || !disk || !sfs_bit_test(disk, i);
}

static bool record_block(struct fsck *f, uint64_t blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp, idx;
	uint8_t *own;

	if (!sfs_geo_block_group(g, blk, &grp, &idx))
		return false;
	own = map_of(f, &f->own_blocks, grp);
	if (!own || !fsck_claim_block(f, blk))
		return false;
	sfs_bit_set(own, idx);
	return true;
}

/* @goal itself: in an initialised group, past its metadata, free. */
static uint64_t take_goal(struct fsck *f, uint64_t goal, uint8_t *buf)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp, idx;
	const uint8_t *disk;

	if (!goal || !sfs_geo_block_group(g, goal, &grp, &idx) || idx < sfs_geo_group_overhead(g) ||
	    (f->sbi.gd[grp].flags & SFS_BG_BLOCK_UNINIT))
		return 0;
	disk = disk_bitmap(f, grp, true, buf) ? NULL : sfs_bitmap_cdata(buf);
	if (!takeable(f->used_blocks, grp, idx, disk, false))
		return 0;
	return record_block(f, goal) ? goal : 0;
}

/*
 * Rounds: initialised groups' free blocks; then uninitialised groups
 * (pass 3 need not initialise one for fsck unless it must); then leaked
 * blocks, the last resort.
 */
uint64_t fsck_own_block(struct fsck *f, uint64_t goal)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *buf = sfs_io_alloc(g->block_size);
	uint64_t blk = 0;

	if (!buf)
		return 0;
	blk = take_goal(f, goal, buf);
	for (int round = 0; round < 3 && !blk; round++) {
		for (uint32_t grp = 0; grp < g->group_count && !blk; grp++) {
			bool uninit = f->sbi.gd[grp].flags & SFS_BG_BLOCK_UNINIT;
			const uint8_t *disk;

			if (uninit != (round == 1))
				continue;
			disk = disk_bitmap(f, grp, true, buf) ? NULL : sfs_bitmap_cdata(buf);
			for (uint32_t i = sfs_geo_group_overhead(g); i < sfs_geo_group_blocks(g, grp); i++) {
				if (!takeable(f->used_blocks, grp, i, disk, round == 2))
					continue;
				blk = sfs_geo_group_start(g, grp) + i;
				break;
			}
		}
		if (blk && !record_block(f, blk))
			blk = 0;
	}
	mc_free(buf);
	return blk;
}

void fsck_give_block(struct fsck *f, uint64_t blk)
{
	uint32_t grp, idx;

	if (!sfs_geo_block_group(&f->sbi.geo, blk, &grp, &idx))
		return;
	if (f->used_blocks[grp])
		sfs_bit_clear(f->used_blocks[grp], idx);
	if (f->own_blocks && f->own_blocks[grp])
		sfs_bit_clear(f->own_blocks[grp], idx);
}

/*
 * Rounds: below the group's high-water mark (pass 2 read those slots, so
 * a free one holds no record anybody could take for live), then from the
 * mark up, then leaked slots.  Groups whose inode table is not initialised
 * are not used.
 */
uint64_t fsck_find_inode(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *buf = sfs_io_alloc(g->block_size);
	uint64_t ino = 0;

	if (!buf)
		return 0;
	for (int round = 0; round < 3 && !ino; round++) {
		for (uint32_t grp = 0; grp < g->group_count && !ino; grp++) {
			uint32_t from = round == 1 ? f->hwm[grp] : 0;
			uint32_t to = round == 0 ? f->hwm[grp] : g->inodes_per_group;
			const uint8_t *disk;

			if (f->sbi.gd[grp].flags & SFS_BG_INODE_UNINIT)
				continue;
			disk = disk_bitmap(f, grp, false, buf) ? NULL : sfs_bitmap_cdata(buf);
			for (uint32_t i = from; i < to; i++) {
				uint64_t n = (uint64_t)grp * g->inodes_per_group + i + 1;

				if (n < SFS_FIRST_INO || !takeable(f->used_inodes, grp, i, disk, round == 2))
					continue;
				/* Made now, so that fsck_own_inode cannot fail. */
				if (map_of(f, &f->own_inodes, grp) && map_of(f, &f->used_inodes, grp))
					ino = n;
				goto out;
			}
		}
	}
out:
	mc_free(buf);
	return ino;
}

void fsck_own_inode(struct fsck *f, uint64_t ino, bool dir)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp = sfs_geo_ino_group(g, ino);

	fsck_mark_inode_live(f, ino, dir);
	sfs_bit_set(f->own_inodes[grp], sfs_geo_ino_index(g, ino));
	/* Not a bitmap's business: the count moves now, as pass 3's does. */
	if (dir) {
		f->sbi.gd[grp].used_dirs++;
		f->gdt_dirty[grp / g->descs_per_block] = 1;
	}
}

bool fsck_reuse_block(struct fsck *f, uint64_t blk)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *buf = sfs_io_alloc(g->block_size);
	uint32_t grp, idx;
	bool ok = false;

	if (!buf || !sfs_geo_block_group(g, blk, &grp, &idx) || idx < sfs_geo_group_overhead(g) ||
	    bit(f->used_blocks, grp, idx))
		goto out;
	if (disk_bitmap(f, grp, true, buf) || !sfs_bit_test(sfs_bitmap_cdata(buf), idx))
		goto out;
	ok = fsck_claim_block(f, blk);
out:
	mc_free(buf);
	return ok;
}

/*
 * The slot is fsck's allocation only when the disk bitmap has it free: a
 * record destroyed with its bit and counts left as they were is the
 * root's slot still, and the counts already include a directory there.
 */
void fsck_own_root_inode(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp = sfs_geo_ino_group(g, SFS_ROOT_INO);
	uint32_t idx = sfs_geo_ino_index(g, SFS_ROOT_INO);
	uint8_t *buf;
	bool on_disk;

	/* A non-directory held it: live already, now a directory. */
	if (bit(f->used_inodes, grp, idx)) {
		f->dirs[grp]++;
		return;
	}
	buf = sfs_io_alloc(g->block_size);
	on_disk = buf && !disk_bitmap(f, grp, false, buf) && sfs_bit_test(sfs_bitmap_cdata(buf), idx);
	mc_free(buf);
	if (on_disk || !map_of(f, &f->own_inodes, grp) || !map_of(f, &f->used_inodes, grp)) {
		fsck_mark_inode_live(f, SFS_ROOT_INO, true);
		return;
	}
	fsck_own_inode(f, SFS_ROOT_INO, true);
}

static uint32_t sub_clamped(uint32_t v, int64_t d)
{
	int64_t r = (int64_t)v + d;

	return r < 0 ? 0 : (uint32_t)r;
}

/*
 * Group @grp's bitmap gets fsck's bits (when it is readable and valid:
 * else pass 3 rewrites it from the maps, reporting the damage), and its
 * counts move by what they changed in the expected bitmap.  @exp and
 * @disk are block-sized buffers.
 */
static int account_group(struct fsck *f, uint32_t grp, bool is_block, uint8_t *exp, uint8_t *disk)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_group_desc *gd = &sbi->gd[grp];
	const uint8_t *own = is_block ? f->own_blocks[grp] : f->own_inodes[grp];
	uint8_t *const *owners = is_block ? f->used_blocks : f->used_inodes;
	uint32_t nbits = is_block ? sfs_geo_group_blocks(g, grp) : g->inodes_per_group;
	uint16_t uninit = is_block ? SFS_BG_BLOCK_UNINIT : SFS_BG_INODE_UNINIT;
	uint64_t at = is_block ? gd->block_bitmap : gd->inode_bitmap;
	struct sfs_bitmap_summary before, after;
	uint8_t *map = sfs_bitmap_data(exp);
	uint32_t taken = 0, top = 0, others = 0;
	int ret;

	fsck_expected_bitmap(f, grp, is_block, exp);
	sfs_bitmap_summarise(map, nbits, &after);
	for (uint32_t i = 0; i < nbits; i++) {
		if (sfs_bit_test(own, i)) {
			sfs_bit_clear(map, i);
			taken++;
			top = i + 1;
		} else if (bit(owners, grp, i)) {
			others++;
		}
	}
	if (!taken)
		return 0;
	sfs_bitmap_summarise(map, nbits, &before);

	/* An uninitialised group others own blocks in is pass 3's to report
	 * (B05) and initialise: its bitmap is left as it is. */
	if (!disk_bitmap(f, grp, is_block, disk) && (!(gd->flags & uninit) || !others)) {
		for (uint32_t i = 0; i < nbits; i++)
			if (sfs_bit_test(own, i))
				sfs_bit_set(sfs_bitmap_data(disk), i);
		sfs_bitmap_finish(disk, sbi, at);
		ret = fsck_write_block(f, disk, at);
		if (ret)
			return ret;
		gd->flags &= (uint16_t)~uninit;
	}
	if (is_block) {
		gd->free_blocks = sub_clamped(gd->free_blocks, (int64_t)after.free - before.free);
		gd->largest_free = sub_clamped(gd->largest_free, (int64_t)after.largest - before.largest);
		gd->free_runs = sub_clamped(gd->free_runs, (int64_t)after.runs - before.runs);
		sbi->sb.free_blocks -= taken <= sbi->sb.free_blocks ? taken : sbi->sb.free_blocks;
	} else {
		gd->free_inodes = sub_clamped(gd->free_inodes, (int64_t)after.free - before.free);
		/* Never-used inodes stop below the highest fsck took. */
		if (gd->itable_unused > g->inodes_per_group - top)
			gd->itable_unused = g->inodes_per_group - top;
		sbi->sb.free_inodes -= taken <= sbi->sb.free_inodes ? taken : sbi->sb.free_inodes;
	}
	f->gdt_dirty[grp / g->descs_per_block] = 1;
	f->sb_dirty = true;
	return 0;
}

int fsck_account_own(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *exp, *disk;
	int ret = 0;

	if (!f->own_blocks && !f->own_inodes)
		return 0;
	exp = sfs_io_alloc(g->block_size);
	disk = sfs_io_alloc(g->block_size);
	if (!exp || !disk) {
		ret = fsck_fatal(f, "out of memory accounting fsck's own allocations");
		goto out;
	}
	for (uint32_t grp = 0; grp < g->group_count; grp++) {
		/* A failed write is left to pass 3, which finds those bits
		 * and counts as they were and reports them. */
		if (f->own_blocks && f->own_blocks[grp])
			account_group(f, grp, true, exp, disk);
		if (f->own_inodes && f->own_inodes[grp])
			account_group(f, grp, false, exp, disk);
	}
out:
	mc_free(exp);
	mc_free(disk);
	return ret;
}
