/* Inode allocation (see ialloc.h). */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/bitscan.h"
#include "fs/format/bitmap.h"
#include "fs/format/group.h"
#include "fs/format/verify.h"
#include "fs/ialloc.h"

/* The inode bitmap of @grp, built (all free) while INODE_UNINIT. */
static int inode_bitmap(struct sfs_fs *fs, uint32_t grp, bool nofail, struct sfs_buf **out,
			bool *fresh)
{
	struct sfs_sb_info *sbi = fs->sbi;
	uint64_t blk = sfs_geo_inode_bitmap(&sbi->geo, grp);
	int ret;

	*fresh = false;
	if (sbi->gd[grp].flags & SFS_BG_INODE_UNINIT) {
		ret = sfs_buf_new(fs, blk, &sfs_ibitmap_buf_ops, nofail, out);
		if (ret)
			return ret;
		sfs_buf_lock(*out);
		sfs_bitmap_init((*out)->data, sbi, SFS_MAGIC_IBITMAP, grp);
		sfs_buf_unlock(*out);
		*fresh = true;
		return 0;
	}
	ret = sfs_buf_read(fs->bc, blk, &sfs_ibitmap_buf_ops, sfs_buf_flags(nofail), out);
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return SFS_ERROR(fs, -EUCLEAN, 0, blk, "inode bitmap of group %u: %s", grp,
				 sfs_verify_reason());
	return ret;
}

/* Where to look first. */
static uint32_t choose_group(struct sfs_fs *fs, uint64_t dir_ino, bool is_dir)
{
	const struct sfs_geo *g = &fs->sbi->geo;
	const struct sfs_group_desc *gd = fs->sbi->gd;
	uint32_t start = sfs_geo_ino_valid(g, dir_ino) ? sfs_geo_ino_group(g, dir_ino) : 0;
	uint64_t avg;
	uint32_t best = start;
	uint32_t best_blocks = 0;
	bool found = false;

	if (!is_dir || g->group_count == 1)
		return start;
	mc_spin_lock(&fs->cnt_lock);
	avg = fs->inodes_free / g->group_count;
	mc_spin_unlock(&fs->cnt_lock);
	/* Unlocked reads of the descriptors: a placement hint only. */
	for (uint32_t i = 0; i < g->group_count; i++) {
		uint32_t grp = (uint32_t)((start + 1 + i) % g->group_count);

		if (gd[grp].free_inodes && gd[grp].free_inodes >= avg &&
		    (!found || gd[grp].free_blocks > best_blocks)) {
			best = grp;
			best_blocks = gd[grp].free_blocks;
			found = true;
		}
	}
	return best;
}

int sfs_ialloc_prepare(struct sfs_trans *t, uint64_t dir_ino, bool is_dir,
		       struct sfs_ialloc *a, uint64_t *ino)
{
	struct sfs_fs *fs = t->fs;
	const struct sfs_geo *g = &fs->sbi->geo;
	bool nofail = sfs_trans_nofail(t);
	uint32_t g0 = choose_group(fs, dir_ino, is_dir);
	int ret;

	memset(a, 0, sizeof(*a));
	a->is_dir = is_dir;
	mc_spin_lock(&fs->cnt_lock);
	ret = fs->inodes_free ? 0 : -ENOSPC;
	mc_spin_unlock(&fs->cnt_lock);
	if (ret)
		return ret;
	for (uint32_t i = 0; i < g->group_count; i++) {
		uint32_t grp = (g0 + i) % g->group_count, idx;
		struct sfs_group_info *gi = &fs->groups[grp];

		if (!fs->sbi->gd[grp].free_inodes)
			continue;
		mc_mutex_lock(&gi->lock);
		if (!fs->sbi->gd[grp].free_inodes) {
			mc_mutex_unlock(&gi->lock);
			continue;
		}
		ret = inode_bitmap(fs, grp, nofail, &a->bmap, &a->fresh);
		if (ret) {
			mc_mutex_unlock(&gi->lock);
			return ret;
		}
		idx = sfs_cm_next(sfs_bitmap_cdata(a->bmap->data), NULL, 0, g->inodes_per_group, 0);
		if (idx >= g->inodes_per_group) {
			/* The descriptor says free, the bitmap full. */
			sfs_brelse(a->bmap);
			a->bmap = NULL;
			mc_mutex_unlock(&gi->lock);
			return SFS_ERROR(fs, -EUCLEAN, 0, sfs_geo_inode_bitmap(g, grp),
					 "group %u counts %u free inodes, its bitmap none", grp,
					 fs->sbi->gd[grp].free_inodes);
		}
		a->grp = grp;
		a->idx = idx;
		ret = sfs_trans_access(t, a->bmap);
		if (!ret)
			ret = sfs_group_gdt_get(t, grp, nofail, &a->gdt);
		if (!ret)
			ret = sfs_trans_sb_prepare(t);
		if (ret) {
			sfs_ialloc_abort(t, a);
			return ret;
		}
		*ino = (uint64_t)grp * g->inodes_per_group + idx + 1;
		return 0;   /* group lock held */
	}
	return -ENOSPC;
}

void sfs_ialloc_abort(struct sfs_trans *t, struct sfs_ialloc *a)
{
	sfs_brelse(a->bmap);
	sfs_brelse(a->gdt);
	a->bmap = a->gdt = NULL;
	mc_mutex_unlock(&t->fs->groups[a->grp].lock);
}

int sfs_ialloc_commit(struct sfs_trans *t, struct sfs_ialloc *a)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_group_desc *gd = &fs->sbi->gd[a->grp];
	uint32_t ipg = fs->sbi->geo.inodes_per_group;
	int ret;

	sfs_buf_lock(a->bmap);
	sfs_bit_set(sfs_bitmap_data(a->bmap->data), a->idx);
	ret = sfs_trans_dirty(t, a->bmap);
	sfs_buf_unlock(a->bmap);
	if (!ret) {
		gd->free_inodes--;
		if (a->is_dir)
			gd->used_dirs++;
		if (a->fresh)
			gd->flags &= (uint16_t)~SFS_BG_INODE_UNINIT;
		if (gd->itable_unused > ipg - a->idx - 1)
			gd->itable_unused = ipg - a->idx - 1;
		ret = sfs_group_gdt_commit(t, a->grp, a->gdt);
	}
	sfs_brelse(a->bmap);
	sfs_brelse(a->gdt);
	a->bmap = a->gdt = NULL;
	mc_mutex_unlock(&fs->groups[a->grp].lock);
	if (ret)
		return ret;
	mc_spin_lock(&fs->cnt_lock);
	fs->inodes_free--;
	mc_spin_unlock(&fs->cnt_lock);
	SFS_STAT(fs, inode_allocs, 1);
	return sfs_trans_sb_commit(t);
}

int sfs_ifree(struct sfs_trans *t, uint64_t ino, bool is_dir, bool nofail)
{
	struct sfs_fs *fs = t->fs;
	const struct sfs_geo *g = &fs->sbi->geo;
	uint32_t grp = sfs_geo_ino_group(g, ino), idx = sfs_geo_ino_index(g, ino);
	struct sfs_group_info *gi = &fs->groups[grp];
	struct sfs_group_desc *gd = &fs->sbi->gd[grp];
	struct sfs_buf *bmap = NULL, *gdt = NULL;
	bool fresh;
	int ret;

	mc_mutex_lock(&gi->lock);
	ret = inode_bitmap(fs, grp, nofail, &bmap, &fresh);
	if (!ret && (fresh || !sfs_bit_test(sfs_bitmap_cdata(bmap->data), idx)))
		ret = SFS_ERROR(fs, -EUCLEAN, ino, sfs_geo_inode_bitmap(g, grp),
				"freeing inode %llu, which is free", (unsigned long long)ino);
	if (!ret)
		ret = sfs_trans_access(t, bmap);
	if (!ret)
		ret = sfs_group_gdt_get(t, grp, nofail, &gdt);
	if (!ret)
		ret = sfs_trans_sb_prepare(t);
	if (ret)
		goto out;
	sfs_buf_lock(bmap);
	sfs_bit_clear(sfs_bitmap_data(bmap->data), idx);
	ret = sfs_trans_dirty(t, bmap);
	sfs_buf_unlock(bmap);
	if (ret)
		goto out;
	gd->free_inodes++;
	if (is_dir && gd->used_dirs)
		gd->used_dirs--;
	ret = sfs_group_gdt_commit(t, grp, gdt);
	if (ret)
		goto out;
	mc_spin_lock(&fs->cnt_lock);
	fs->inodes_free++;
	mc_spin_unlock(&fs->cnt_lock);
	SFS_STAT(fs, inode_frees, 1);
	ret = sfs_trans_sb_commit(t);
out:
	sfs_brelse(bmap);
	sfs_brelse(gdt);
	mc_mutex_unlock(&gi->lock);
	return ret;
}
