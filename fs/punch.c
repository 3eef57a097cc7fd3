/*
 * Punching a hole (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE; sfs_remove_range):
 * the partial blocks at the ends are zeroed in place, the whole blocks
 * between are unmapped -- from the status cache first, then the tree --
 * and freed when the transaction commits.  The size never changes.
 *
 * Not truncate: an allocation here may fail, with -ENOMEM returned and
 * what is done so far consistent (the cache forgets before the tree
 * changes; each tree step is whole).
 */
#include <errno.h>

#include "fs/file.h"
#include "fs/fs.h"

int sfs_punch_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len)
{
	uint64_t end, first, last;
	int ret = 0;

	if (off >= sfs_file_max_bytes(fs))
		return 0;
	end = len > sfs_file_max_bytes(fs) - off ? sfs_file_max_bytes(fs) : off + len;
	first = (off + fs->bsize - 1) >> fs->blog;
	last = end >> fs->blog;
	if (off & (fs->bsize - 1)) {
		uint64_t stop = (off | (fs->bsize - 1)) + 1;

		ret = sfs_file_zero_in_block(fs, ip, off, stop < end ? stop : end);
	}
	if (!ret && (end & (fs->bsize - 1)) && (end >> fs->blog) >= first)
		ret = sfs_file_zero_in_block(fs, ip, end & ~(uint64_t)(fs->bsize - 1), end);
	if (!ret)
		ret = sfs_file_unmap_blocks(fs, ip, first, last);
	if (!ret)
		ret = sfs_file_update(fs, ip, 0, SFS_T_CTIME | SFS_T_MTIME);
	return ret;
}

int sfs_remove_range(struct sfs_fs *fs, uint64_t ino, uint64_t off, uint64_t len)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	if (!len) {
		ret = -EINVAL;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	if (ip->d.flags & (SFS_INODE_FL_IMMUTABLE | SFS_INODE_FL_APPEND))
		ret = -EPERM;
	else
		ret = sfs_punch_locked(fs, ip, off, len);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}
