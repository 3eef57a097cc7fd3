/*
 * Per-group pieces shared by the block and inode allocators: the bitmap
 * buffer (built from its implied content while the group is
 * uninitialised), the descriptor's encoding in its GDT block, the
 * free-space summary kept exact with each change, and the in-memory held
 * map (busy and window blocks, see balloc.h).
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/bitscan.h"
#include "fs/format/bitmap.h"
#include "fs/format/group.h"
#include "fs/format/verify.h"

int sfs_group_bitmap(struct sfs_fs *fs, uint32_t grp, bool nofail, struct sfs_buf **out,
		     bool *fresh)
{
	struct sfs_sb_info *sbi = fs->sbi;
	uint64_t blk = sfs_geo_block_bitmap(&sbi->geo, grp);
	struct sfs_buf *bh;
	int ret;

	*fresh = false;
	if (sbi->gd[grp].flags & SFS_BG_BLOCK_UNINIT) {
		/* Never written: whatever the cache or the disk holds is not its
		 * content.  Rebuilding is cheap and the group lock keeps it ours. */
		ret = sfs_buf_new(fs, blk, &sfs_bbitmap_buf_ops, nofail, &bh);
		if (ret)
			return ret;
		sfs_buf_lock(bh);
		sfs_bbitmap_build_implied(bh->data, sbi, grp);
		sfs_buf_unlock(bh);
		*fresh = true;
		*out = bh;
		return 0;
	}
	ret = sfs_buf_read(fs->bc, blk, &sfs_bbitmap_buf_ops, sfs_buf_flags(nofail), &bh);
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return SFS_ERROR(fs, -EUCLEAN, 0, blk, "block bitmap of group %u: %s", grp,
				 sfs_verify_reason());
	if (ret == -EIO)
		return SFS_ERROR(fs, ret, 0, blk, "cannot read the block bitmap of group %u", grp);
	if (!ret)
		*out = bh;
	return ret;
}

int sfs_group_gdt_get(struct sfs_trans *t, uint32_t grp, bool nofail, struct sfs_buf **out)
{
	struct sfs_fs *fs = t->fs;
	uint64_t blk = 1 + grp / fs->sbi->geo.descs_per_block;
	struct sfs_buf *bh;
	int ret;

	ret = sfs_buf_read(fs->bc, blk, &sfs_gdt_buf_ops, sfs_buf_flags(nofail), &bh);
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return SFS_ERROR(fs, -EUCLEAN, 0, blk, "group descriptor block: %s",
				 sfs_verify_reason());
	if (ret)
		return ret;
	ret = sfs_trans_access(t, bh);
	if (ret) {
		sfs_buf_release(bh);
		return ret;
	}
	*out = bh;
	return 0;
}

int sfs_group_gdt_commit(struct sfs_trans *t, uint32_t grp, struct sfs_buf *bh)
{
	struct sfs_sb_info *sbi = t->fs->sbi;
	uint32_t off = SFS_HDR_SIZE + (grp % sbi->geo.descs_per_block) * SFS_GD_SIZE;
	int ret;

	sfs_buf_lock(bh);
	sfs_gd_encode((uint8_t *)bh->data + off, &sbi->gd[grp]);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	return ret;
}

/* The longest clear run, a word at a time (O(runs + words)). */
static uint32_t longest_run(const uint8_t *map, uint32_t nbits)
{
	uint32_t i = 0, best = 0;

	while (i < nbits) {
		uint32_t a = sfs_cm_next(map, NULL, i, nbits, 0), b;

		if (a >= nbits)
			break;
		b = sfs_cm_next(map, NULL, a, nbits, 1);
		if (b - a > best)
			best = b - a;
		i = b;
	}
	return best;
}

/* Length of the maximal clear run of the disk map containing bit @i. */
static uint32_t run_around(const uint8_t *map, uint32_t nbits, uint32_t i)
{
	int64_t left = sfs_bm_prev_set(map, (int64_t)i - 1);
	uint32_t right = sfs_cm_next(map, NULL, i, nbits, 1);

	return right - (uint32_t)(left + 1);
}

void sfs_group_summary_update(struct sfs_fs *fs, uint32_t grp, const uint8_t *map,
			      uint32_t idx, uint32_t len, bool taken)
{
	struct sfs_group_desc *gd = &fs->sbi->gd[grp];
	uint32_t nbits = sfs_geo_group_blocks(&fs->sbi->geo, grp);
	bool left_free = idx > 0 && !sfs_bit_test(map, idx - 1);
	bool right_free = idx + len < nbits && !sfs_bit_test(map, idx + len);

	if (taken) {
		/* Cutting [idx, idx+len) out of one free run. */
		uint32_t was = len;

		if (left_free)
			was += idx - (uint32_t)(sfs_bm_prev_set(map, (int64_t)idx - 1) + 1);
		if (right_free)
			was += sfs_cm_next(map, NULL, idx + len, nbits, 1) - (idx + len);
		gd->free_blocks -= len;
		if (left_free && right_free)
			gd->free_runs++;
		else if (!left_free && !right_free)
			gd->free_runs--;
		if (was >= gd->largest_free)
			/* Perhaps the longest run was cut: look at every run. */
			gd->largest_free = longest_run(map, nbits);
	} else {
		uint32_t now = run_around(map, nbits, idx);

		gd->free_blocks += len;
		if (left_free && right_free)
			gd->free_runs--;
		else if (!left_free && !right_free)
			gd->free_runs++;
		if (now > gd->largest_free)
			gd->largest_free = now;
	}
}

int sfs_group_hold(struct sfs_fs *fs, uint32_t grp, uint32_t idx, uint32_t len, bool nofail)
{
	struct sfs_group_info *gi = &fs->groups[grp];
	uint8_t *spare = NULL;

	mc_spin_lock(&gi->held_lock);
	if (!gi->held) {
		mc_spin_unlock(&gi->held_lock);
		spare = mc_alloc_named("balloc.held", fs->bsize - SFS_HDR_SIZE,
				       sfs_gfp(nofail) | MC_ZERO);
		if (!spare)
			return -ENOMEM;
		mc_spin_lock(&gi->held_lock);
		if (!gi->held) {
			gi->held = spare;
			spare = NULL;
		}
	}
	/* Installed and marked under one lock: an unhold dropping the count
	 * to zero cannot free the map between the two. */
	sfs_bits_set(gi->held, idx, len);
	gi->held_count += len;
	mc_spin_unlock(&gi->held_lock);
	mc_free(spare);
	return 0;
}

void sfs_group_unhold(struct sfs_fs *fs, uint32_t grp, uint32_t idx, uint32_t len)
{
	struct sfs_group_info *gi = &fs->groups[grp];
	uint8_t *dead = NULL;

	mc_spin_lock(&gi->held_lock);
	sfs_bits_clear(gi->held, idx, len);
	gi->held_count -= len;
	if (!gi->held_count) {
		/* Groups without busy or window blocks cost no memory. */
		dead = gi->held;
		gi->held = NULL;
	}
	mc_spin_unlock(&gi->held_lock);
	mc_free(dead);
}

uint32_t sfs_group_free_run_at(struct sfs_fs *fs, uint32_t grp, const uint8_t *map,
			       uint32_t idx, uint32_t max)
{
	struct sfs_group_info *gi = &fs->groups[grp];
	uint32_t nbits = sfs_geo_group_blocks(&fs->sbi->geo, grp), end;

	if (idx >= nbits)
		return 0;
	if (max > nbits - idx)
		max = nbits - idx;
	mc_spin_lock(&gi->held_lock);
	end = sfs_cm_next(map, gi->held, idx, idx + max, 1);
	mc_spin_unlock(&gi->held_lock);
	return end - idx;
}
