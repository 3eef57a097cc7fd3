/*
 * FALLOC_FL_COLLAPSE_RANGE: remove [off, off + len) from the file and move
 * everything after it down by len; the size shrinks by len.  Linux's
 * rules: off and len whole blocks (-EINVAL), the range must end before
 * the end of the file (-EINVAL), checked by sfs_fallocate.
 *
 * Steps: the blocks of the range are unmapped (status cache first, then
 * the tree, in restartable steps), the extents after it are shifted left
 * leaf by leaf (extent_shift.c), then the size is set.  Each step is
 * consistent on its own; a crash in the middle leaves a valid file with
 * part of the tail moved (as ext4: collapse is not atomic across a crash).
 */
#include <errno.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/fs.h"
#include "fs/pagecache/pagecache.h"

/* Set the size exactly (and ctime/mtime) in @t. */
static int set_size(struct sfs_trans *t, struct sfs_inode_info *ip, uint64_t size)
{
	int ret = sfs_inode_access(t, ip, false);

	if (ret)
		return ret;
	mc_mutex_lock(&ip->attr_lock);
	ip->d.size = size;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_inode_touch(ip, SFS_T_CTIME | SFS_T_MTIME);
	return sfs_inode_commit(t, ip);
}

int sfs_collapse_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len)
{
	uint32_t a = (uint32_t)(off >> fs->blog), n = (uint32_t)(len >> fs->blog);
	struct sfs_trans t;
	int ret, ret2;

	/* Pages after the range move with their blocks: written back and
	 * dropped first (the cache indexes by logical block). */
	ret = sfs_pc_writeback_range(fs, ip, (uint64_t)a + n, SFS_EXT_LBLK_END);
	if (ret)
		return ret;
	sfs_pc_drop_range(fs, ip, a, SFS_EXT_LBLK_END);
	sfs_pa_discard(fs, ip);
	ret = sfs_file_unmap_blocks(fs, ip, a, (uint64_t)a + n);
	if (ret)
		return ret;
	ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 4, 0, &t);
	if (ret)
		return ret;
	mc_write_lock(&ip->data_sem);
	ret = sfs_ext_shift(&t, ip, a + n, n, true, 0);
	mc_rw_unlock(&ip->data_sem);
	if (!ret)
		ret = set_size(&t, ip, ip->d.size - len);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}

int sfs_insert_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len)
{
	uint32_t a = (uint32_t)(off >> fs->blog), n = (uint32_t)(len >> fs->blog);
	struct sfs_trans t;
	int ret, ret2;

	ret = sfs_pc_writeback_range(fs, ip, a, SFS_EXT_LBLK_END);
	if (ret)
		return ret;
	sfs_pc_drop_range(fs, ip, a, SFS_EXT_LBLK_END);
	sfs_pa_discard(fs, ip);
	ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 4, 0, &t);
	if (ret)
		return ret;
	mc_write_lock(&ip->data_sem);
	/* The extent across off (if any) is cut there first, so the shift
	 * moves whole extents only. */
	ret = sfs_ext_split_at(&t, ip, a, SFS_EXT_USE_RESERVE);
	if (!ret)
		ret = sfs_ext_shift(&t, ip, a, n, false, 0);
	mc_rw_unlock(&ip->data_sem);
	if (!ret)
		ret = set_size(&t, ip, ip->d.size + len);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}
