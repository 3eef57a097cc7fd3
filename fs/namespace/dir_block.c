/*
 * A directory's blocks: reading them through its extent tree, appending
 * new ones, the credits a change may need, and freeing them all with
 * revokes when the directory dies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/namespace/dir.h"

int sfs_dir_corrupt(struct sfs_inode_info *dir, uint64_t blk, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return SFS_ERROR(dir->fs, -EUCLEAN, dir->ino, blk, "directory %llu: %s",
			 (unsigned long long)dir->ino, why);
}

uint64_t sfs_dir_seed(const struct sfs_inode_info *dir)
{
	return dir->fs->sbi->csum_seed;
}

int sfs_dir_bread(struct sfs_inode_info *dir, uint32_t lblk, bool nofail, struct sfs_buf **out)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_mapping m;
	struct sfs_buf *bh;
	int ret;

	ret = sfs_map_blocks(NULL, dir, lblk, 1, nofail ? SFS_MAPF_NOFAIL : 0, &m);
	if (ret)
		return ret;
	if (m.state != SFS_MAPPED_WRITTEN)
		return sfs_dir_corrupt(dir, 0, "logical block %u is not mapped", lblk);
	/* Most lookups find their blocks cached and verified already: take
	 * them as they are (what sfs_buf_read would return), without its
	 * read-ahead bookkeeping, which random lookups only disturb. */
	bh = sfs_buf_find(fs->bc, m.pblk);
	if (bh && bh->ops == &sfs_dirblock_buf_ops &&
	    (sfs_buf_state(bh) & (SFS_BS_UPTODATE | SFS_BS_VERIFIED | SFS_BS_STALE)) ==
	    (SFS_BS_UPTODATE | SFS_BS_VERIFIED)) {
		ret = 0;
	} else {
		sfs_brelse(bh);
		ret = sfs_buf_read(fs->bc, m.pblk, &sfs_dirblock_buf_ops, sfs_buf_flags(nofail),
				   &bh);
	}
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return sfs_dir_corrupt(dir, m.pblk, "logical block %u: %s", lblk, sfs_verify_reason());
	if (ret == -EIO)
		return SFS_ERROR(fs, ret, dir->ino, m.pblk, "cannot read directory block %u", lblk);
	if (ret)
		return ret;
	if (sfs_get_le((const uint8_t *)bh->data + offsetof(struct sfs_disk_hdr, owner), 8) !=
	    dir->ino) {
		sfs_buf_release(bh);
		return sfs_dir_corrupt(dir, m.pblk, "logical block %u belongs to another inode", lblk);
	}
	*out = bh;
	return 0;
}

int sfs_dir_bnew(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_buf **out,
		 uint32_t *lblk_out)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_mapping m;
	struct sfs_buf *bh = NULL;
	uint64_t size;
	uint32_t lblk;
	int ret;

	mc_mutex_lock(&dir->attr_lock);
	size = dir->d.size;
	mc_mutex_unlock(&dir->attr_lock);
	if ((size >> fs->blog) >= UINT32_MAX)
		return -ENOSPC;
	lblk = (uint32_t)(size >> fs->blog);
	/* The size first: mapping the block logs the inode with it. */
	mc_mutex_lock(&dir->attr_lock);
	dir->d.size = ((uint64_t)lblk + 1) << fs->blog;
	mc_mutex_unlock(&dir->attr_lock);
	ret = sfs_map_blocks(t, dir, lblk, 1, SFS_MAPF_CREATE, &m);
	if (!ret && !m.fresh)
		ret = sfs_dir_corrupt(dir, m.pblk, "block %u past the end is mapped", lblk);
	if (ret) {
		mc_mutex_lock(&dir->attr_lock);
		dir->d.size = size;
		mc_mutex_unlock(&dir->attr_lock);
		return ret;
	}
	ret = sfs_buf_new(fs, m.pblk, &sfs_dirblock_buf_ops, false, &bh);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (ret) {
		/* A mapped block must hold a directory block: give it back
		 * (removing the last block never splits an extent). */
		sfs_brelse(bh);
		mc_mutex_lock(&dir->attr_lock);
		dir->d.size = size;
		mc_mutex_unlock(&dir->attr_lock);
		mc_write_lock(&dir->data_sem);
		sfs_ext_remove(t, dir, lblk, (uint64_t)lblk + 1, SFS_EXT_NOFAIL | SFS_EXT_USE_RESERVE,
			       NULL);
		mc_rw_unlock(&dir->data_sem);
		sfs_inode_update(t, dir);
		return ret;
	}
	*out = bh;
	*lblk_out = lblk;
	return 0;
}

int sfs_dir_end(struct sfs_trans *t, struct sfs_buf *bh)
{
	int ret = sfs_trans_dirty(t, bh);

	sfs_buf_unlock(bh);
	return ret;
}

unsigned sfs_dir_init_credits(struct sfs_inode_info *dir)
{
	return sfs_map_credits(dir) + 2;
}

int sfs_dir_release(struct sfs_fs *fs, struct sfs_inode_info *dir)
{
	enum { STEP = 64 };
	int ret = 0;

	for (;;) {
		struct sfs_extent e;
		struct sfs_trans t;
		uint32_t start, end;
		int r, ret2;

		mc_read_lock(&dir->data_sem);
		r = sfs_ext_prev(dir, UINT32_MAX, SFS_EXT_NOFAIL, &e);
		mc_rw_unlock(&dir->data_sem);
		if (r <= 0) {
			ret = r;
			break;
		}
		end = (uint32_t)sfs_ext_end(&e);
		start = e.len > STEP ? end - STEP : e.lblk;
		ret = sfs_trans_start(fs, (end - start) + sfs_ext_remove_credits(dir) + 8,
				      SFS_TRANS_NOFAIL, &t);
		if (ret)
			break;
		for (uint32_t l = start; l < end && !ret; l++) {
			uint64_t pblk = e.pblk + (l - e.lblk);
			struct sfs_buf *bh = sfs_buf_find(fs->bc, pblk);

			/* Revoke: replay must never bring an old copy back over
			 * whatever the block holds next. */
			if (bh) {
				ret = sfs_trans_forget(&t, bh);
				sfs_buf_release(bh);
			} else {
				ret = jnl_revoke(t.h, pblk);
			}
		}
		if (!ret) {
			mc_write_lock(&dir->data_sem);
			ret = sfs_ext_remove(&t, dir, start, end, SFS_EXT_NOFAIL | SFS_EXT_USE_RESERVE,
					     NULL);
			mc_rw_unlock(&dir->data_sem);
		}
		if (!ret) {
			mc_mutex_lock(&dir->attr_lock);
			dir->d.size = (uint64_t)start << fs->blog;
			mc_mutex_unlock(&dir->attr_lock);
			ret = sfs_inode_update(&t, dir);
		}
		ret2 = sfs_trans_stop(&t);
		if (!ret)
			ret = ret2;
		if (ret)
			break;
	}
	return ret;
}
