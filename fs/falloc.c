/*
 * fallocate(2) for the library: the mode checks Linux's vfs_fallocate and
 * ext4 make, in their order, then one of allocate (falloc below), punch
 * (punch.c), zero (zero.c), collapse or insert (collapse.c).
 *
 * Errors: -EINVAL (len 0, a mode combined with what it excludes, collapse
 * or insert not block-aligned, collapse reaching the end of the file,
 * insert at or past it), -EOPNOTSUPP (punch without KEEP_SIZE, punch with
 * zero, unknown bits), -EFBIG (past the largest file; insert making the
 * file too big), -EPERM (immutable; append-only for everything but a
 * plain allocation), -ENOSPC, -ENOMEM (not truncate: may fail),
 * -EISDIR / -ENODEV (not a regular file).
 */
#include <errno.h>

#include "fs/file.h"
#include "fs/fs.h"

static int check_mode(unsigned mode)
{
	unsigned kind = mode & ~SFS_FALLOC_KEEP_SIZE;

	if (mode & ~(SFS_FALLOC_KEEP_SIZE | SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_ZERO_RANGE |
		     SFS_FALLOC_COLLAPSE_RANGE | SFS_FALLOC_INSERT_RANGE))
		return -EOPNOTSUPP;
	if ((mode & (SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_ZERO_RANGE)) ==
	    (SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_ZERO_RANGE))
		return -EOPNOTSUPP;
	if ((mode & SFS_FALLOC_PUNCH_HOLE) && !(mode & SFS_FALLOC_KEEP_SIZE))
		return -EOPNOTSUPP;
	if ((mode & SFS_FALLOC_COLLAPSE_RANGE) && mode != SFS_FALLOC_COLLAPSE_RANGE)
		return -EINVAL;
	if ((mode & SFS_FALLOC_INSERT_RANGE) && mode != SFS_FALLOC_INSERT_RANGE)
		return -EINVAL;
	if (kind & (kind - 1))
		return -EOPNOTSUPP;
	return 0;
}

int sfs_fallocate(struct sfs_fs *fs, uint64_t ino, unsigned mode, uint64_t off, uint64_t len,
		  const struct sfs_cred *cr)
{
	bool privileged = !cr || cr->privileged, keep = mode & SFS_FALLOC_KEEP_SIZE;
	struct sfs_inode_info *ip;
	uint64_t size, mask = fs->bsize - 1;
	int ret;

	mc_op_begin();
	ret = check_mode(mode);
	if (ret)
		goto out_op;
	if (!len || (int64_t)off < 0 || (int64_t)len < 0) {
		ret = -EINVAL;
		goto out_op;
	}
	if (off >= sfs_file_max_bytes(fs) || len > sfs_file_max_bytes(fs) - off) {
		ret = -EFBIG;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret) {
		if (ret == -EINVAL)
			ret = -ENODEV;
		goto out_op;
	}
	mc_write_lock(&ip->rwsem);
	if ((ip->d.flags & SFS_INODE_FL_IMMUTABLE) ||
	    ((ip->d.flags & SFS_INODE_FL_APPEND) && (mode & ~SFS_FALLOC_KEEP_SIZE))) {
		ret = -EPERM;
		goto out;
	}
	mc_mutex_lock(&ip->attr_lock);
	size = ip->d.size;
	mc_mutex_unlock(&ip->attr_lock);

	if (mode & (SFS_FALLOC_COLLAPSE_RANGE | SFS_FALLOC_INSERT_RANGE)) {
		if ((off & mask) || (len & mask)) {
			ret = -EINVAL;
			goto out;
		}
	}
	if (mode & SFS_FALLOC_COLLAPSE_RANGE) {
		ret = off + len >= size ? -EINVAL : sfs_collapse_locked(fs, ip, off, len);
	} else if (mode & SFS_FALLOC_INSERT_RANGE) {
		if (len > sfs_file_max_bytes(fs) - size)
			ret = -EFBIG;
		else if (off >= size)
			ret = -EINVAL;
		else
			ret = sfs_insert_locked(fs, ip, off, len);
	} else if (mode & SFS_FALLOC_PUNCH_HOLE) {
		ret = sfs_punch_locked(fs, ip, off, len);
	} else if (mode & SFS_FALLOC_ZERO_RANGE) {
		ret = sfs_zero_locked(fs, ip, off, len, keep, privileged);
	} else {
		ret = sfs_file_alloc_blocks(fs, ip, off >> fs->blog, (off + len + mask) >> fs->blog,
					    SFS_MAPF_UNWRITTEN |
						    (privileged ? SFS_MAPF_PRIVILEGED : 0));
		if (!ret)
			ret = sfs_file_update(fs, ip, keep ? 0 : off + len,
					      SFS_T_CTIME | (keep ? 0 : SFS_T_MTIME));
	}
out:
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}
