/*
 * SEEK_DATA / SEEK_HOLE (fs.h sfs_lseek_data_hole), answered from the
 * status cache in front of the extent tree: after the first walk over a
 * range, later seeks there walk nothing on disk.
 *
 * What is data: written extents.  Unwritten (preallocated) extents read
 * as zeros and count as holes, as ext4 reports them when no page of the
 * range is cached (issue 10's page cache will have to look at its dirty
 * pages there, as ext4 does).  The end of the file is a hole.
 */
#include <errno.h>

#include "fs/pagecache/pagecache.h"
#include "fs/es/es_map.h"
#include "fs/file.h"
#include "fs/fs.h"

int sfs_lseek_data_hole(struct sfs_fs *fs, uint64_t ino, uint64_t off, int whence,
			uint64_t *out)
{
	struct sfs_inode_info *ip;
	uint64_t size, blk, end_blk;
	int ret;

	mc_op_begin();
	if (whence != SFS_SEEK_DATA && whence != SFS_SEEK_HOLE) {
		ret = -EINVAL;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, false, &ip);
	if (ret)
		goto out_op;
	/* Dirty pages are data too: give them their blocks first. */
	ret = sfs_pc_writeback_range(fs, ip, off >> fs->blog, SFS_EXT_LBLK_END);
	if (ret) {
		sfs_iput(ip);
		goto out_op;
	}
	mc_read_lock(&ip->rwsem);
	mc_mutex_lock(&ip->attr_lock);
	size = ip->d.size;
	mc_mutex_unlock(&ip->attr_lock);
	if (off >= size) {
		ret = -ENXIO;
		goto out;
	}
	blk = off >> fs->blog;
	end_blk = (size + fs->bsize - 1) >> fs->blog;
	mc_read_lock(&ip->data_sem);
	while (blk < end_blk) {
		struct sfs_es_extent x;
		bool data;

		ret = sfs_es_map_lookup(ip, (uint32_t)blk, 0, &x);
		if (ret)
			break;
		data = x.state == SFS_ES_WRITTEN;
		if (data == (whence == SFS_SEEK_DATA))
			break;
		blk = (uint64_t)x.lblk + x.len;
	}
	mc_rw_unlock(&ip->data_sem);
	if (ret)
		goto out;
	if (blk >= end_blk) {
		if (whence == SFS_SEEK_DATA)
			ret = -ENXIO;
		else
			*out = size;
	} else {
		uint64_t at = blk << fs->blog;

		*out = at > off ? at : off;
	}
out:
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}
