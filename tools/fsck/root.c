/*
 * Re-creating a lost root directory (I06), as e2fsck does: a fresh inode 2
 * with "." and ".." in one block.  Pass 2 only decides it (the problem is
 * found there); the root is made after pass 2b has claimed the blocks
 * stale orphan slots keep, the last owners fsck learns of, so that the
 * block fsck gives the root is one nothing else can claim.
 *
 * The inode slot and block are fsck's own allocations (own_alloc.c) and
 * so in the bitmaps and counts before pass 3, except what the root had
 * already: its slot, and the first block of a non-directory that held the
 * slot, are in use on disk and counted, so taking them moves nothing.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/mc.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/fsck.h"

int fsck_write_root_block(struct fsck *f, uint64_t pblk, uint8_t *blk)
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

static int write_root_inode(struct fsck *f, uint64_t dblk, uint8_t *blk)
{
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_inode root;
	uint64_t iblk;
	uint32_t ioff;
	int ret;

	iblk = sfs_geo_ino_block(g, SFS_ROOT_INO, &ioff);
	ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, iblk, 1);
	if (ret)
		return ret;
	memset(&root, 0, sizeof(root));
	/* A new generation: handles to the old root must not match it. */
	if (sfs_get_le(blk + ioff, 4) == SFS_MAGIC_INODE)
		root.generation = (uint32_t)sfs_get_le(blk + ioff + 24, 4) + 1;
	root.ino = SFS_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	sfs_raw_dir_record(&root, g, dblk);
	memset(blk + ioff, 0, g->inode_size);
	sfs_inode_encode(blk + ioff, &root, sbi);
	return fsck_write_block(f, blk, iblk);
}

int fsck_recreate_root(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *blk = sfs_io_alloc(g->block_size);
	uint64_t dblk = 0;
	bool reused = false;
	int ret;

	f->root_pending = false;
	if (!blk)
		return -ENOMEM;
	if (f->root_old_blk)
		reused = fsck_reuse_block(f, f->root_old_blk);
	dblk = reused ? f->root_old_blk : fsck_own_block(f, 0);
	if (!dblk) {
		ret = -ENOSPC;
		goto out;
	}
	ret = fsck_write_root_block(f, dblk, blk);
	if (!ret)
		ret = write_root_inode(f, dblk, blk);
	if (ret) {
		fsck_give_block(f, dblk);
		goto out;
	}
	fsck_own_root_inode(f);
	f->root_ok = true;
out:
	mc_free(blk);
	return ret;
}
