/*
 * Releasing a file's blocks past a point (the heart of truncate), and
 * truncate itself with its orphan record.
 *
 * Truncate cannot fail part-way on ENOMEM: its handle starts NOFAIL and
 * the removal passes SFS_EXT_NOFAIL down -- to the status cache's split
 * (SFS_ES_NOFAIL), the tree's paths, its buffer reads (SFS_BUF_NOFAIL),
 * the allocator's bitmap reads -- exactly as seed 000's patch passes
 * EXT4_EX_NOFAIL down ext4_ext_truncate.  Removing blocks from the end
 * never splits an extent, so it needs no free block either.  A long
 * removal restarts the handle between steps (each step is consistent).
 *
 * Several transactions: the inode is put on the orphan list in the same
 * transaction that logs the new size, so a crash between two steps leaves
 * a record that the next mount's sfs_orphan_replay finishes (removing the
 * blocks past the size); the record goes once the last step is done.
 *
 * Errors: only an I/O error or an aborted journal stops a truncate; it is
 * reported through the errors= policy (sfs_fs_error), and the orphan
 * record stays for the next mount.
 */
#include <errno.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/namespace/orphan.h"
#include "fs/pagecache/pagecache.h"

int sfs_truncate_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from)
{
	struct sfs_trans t;
	int ret, ret2;

	if (from >= SFS_EXT_LBLK_END)
		return 0;
	/* Cached pages past the point go first, dirty ones with their
	 * reservations (pagecache.h): nothing may write them back later. */
	sfs_pc_drop_range(fs, ip, from, SFS_EXT_LBLK_END);
	sfs_pa_discard(fs, ip);
	ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 8, SFS_TRANS_NOFAIL, &t);
	if (ret)
		return ret;
	mc_write_lock(&ip->data_sem);
	ret = sfs_ext_remove(&t, ip, (uint32_t)from, SFS_EXT_LBLK_END,
			     SFS_EXT_NOFAIL | SFS_EXT_USE_RESERVE, NULL);
	mc_rw_unlock(&ip->data_sem);
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
	if (ret == -ENOMEM)
		/* Cannot happen: every allocation above is NOFAIL.  A bug. */
		ret = SFS_ERROR(fs, -EIO, ip->ino, 0, "truncate met ENOMEM despite NOFAIL");
	else if (ret)
		ret = SFS_ERROR(fs, ret, ip->ino, 0, "truncate stopped at block %llu: %d",
				(unsigned long long)from, ret);
	return ret;
}

int sfs_truncate_orphan_add(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	return sfs_orphan_add(t, ip);
}

int sfs_truncate_finish(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from)
{
	struct sfs_trans t;
	int ret, ret2;

	ret = sfs_truncate_blocks(fs, ip, from);
	if (ret)
		return ret;   /* the orphan record stays: the next mount finishes */
	ret = sfs_trans_start(fs, SFS_ORPHAN_DEL_CREDITS, SFS_TRANS_NOFAIL, &t);
	if (ret)
		return ret;
	ret = sfs_orphan_del(&t, ip);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}
