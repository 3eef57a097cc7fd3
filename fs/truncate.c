/*
 * Releasing a file's blocks past a point (the heart of truncate; issue 9
 * adds the orphan record, the status cache and the rest of the family).
 *
 * Truncate cannot fail part-way on ENOMEM: its handle starts NOFAIL and
 * the tree removal passes SFS_EXT_NOFAIL to every allocation it makes --
 * its paths, its buffer reads, the allocator's bitmap reads -- exactly as
 * seed 000's patch passes EXT4_EX_NOFAIL.  Removing blocks from the end
 * never splits an extent, so it needs no free block either.  A long
 * removal restarts the handle between steps (each step is consistent).
 */
#include <errno.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"

int sfs_truncate_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from)
{
	struct sfs_trans t;
	int ret, ret2;

	if (from >= SFS_EXT_LBLK_END)
		return 0;
	sfs_pa_discard(fs, ip);
	ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 8, SFS_TRANS_NOFAIL, &t);
	if (ret)
		return ret;
	mc_write_lock(&ip->data_sem);
	ret = sfs_ext_remove(&t, ip, (uint32_t)from, SFS_EXT_LBLK_END,
			     SFS_EXT_NOFAIL | SFS_EXT_USE_RESERVE, NULL);
	mc_rw_unlock(&ip->data_sem);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}
