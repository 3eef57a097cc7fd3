/*
 * FALLOC_FL_ZERO_RANGE: afterwards [off, off + len) reads as zeros and its
 * whole blocks are allocated (as unwritten extents: ext4 converts them the
 * same way), so later writes there cannot meet ENOSPC.  The partial
 * blocks at the ends are zeroed in place (allocated first when they are
 * holes); without KEEP_SIZE the size grows to off + len.
 *
 * Order: allocate what is missing first (ENOSPC leaves the data as it
 * was), then drop the whole written blocks and allocate them again as
 * unwritten, then zero the ends.
 */
#include <errno.h>

#include "fs/file.h"
#include "fs/fs.h"

int sfs_zero_locked(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t off, uint64_t len,
		    bool keep_size, bool privileged)
{
	uint64_t end = off + len;
	uint64_t first = (off + fs->bsize - 1) >> fs->blog, last = end >> fs->blog;
	uint64_t a = off >> fs->blog, b = (end + fs->bsize - 1) >> fs->blog;
	unsigned mf = SFS_MAPF_UNWRITTEN | (privileged ? SFS_MAPF_PRIVILEGED : 0);
	int ret;

	ret = sfs_file_alloc_blocks(fs, ip, a, b, mf);
	if (!ret && first < last)
		ret = sfs_file_unmap_blocks(fs, ip, first, last);
	if (!ret && first < last)
		ret = sfs_file_alloc_blocks(fs, ip, first, last, mf);
	if (!ret && (off & (fs->bsize - 1))) {
		uint64_t stop = (off | (fs->bsize - 1)) + 1;

		ret = sfs_file_zero_in_block(fs, ip, off, stop < end ? stop : end);
	}
	if (!ret && (end & (fs->bsize - 1)) && (end >> fs->blog) >= first)
		ret = sfs_file_zero_in_block(fs, ip, end & ~(uint64_t)(fs->bsize - 1), end);
	if (!ret)
		ret = sfs_file_update(fs, ip, keep_size ? 0 : end, SFS_T_CTIME | SFS_T_MTIME);
	return ret;
}
