/*
 * Symlink targets.  Up to 80 bytes (SFS_INODE_INLINE_MAX) the target lives
 * in the inode's root area with flag INLINE (ext4's fast symlinks, with the
 * whole root); longer targets take data blocks mapped by the extent tree,
 * written to the device before the transaction that creates the symlink
 * can commit, so a crash never leaves a symlink pointing at old bytes.
 * Those blocks are data, never journaled: freeing them needs no revoke.
 */
#include <errno.h>
#include <string.h>

#include "fs/file.h"
#include "fs/namespace/ns.h"

unsigned sfs_ns_symlink_credits(struct sfs_inode_info *dir, unsigned len)
{
	unsigned blocks = (len + dir->fs->bsize - 1) / dir->fs->bsize;

	if (len <= SFS_INODE_INLINE_MAX)
		return 1;
	/* A new inode's tree has depth 0: each mapping call as for @dir at
	 * worst, one call per block at worst. */
	return blocks * (sfs_map_credits(dir) + 1) + 1;
}

int sfs_ns_symlink_store(struct sfs_trans *t, struct sfs_inode_info *ip, const char *target,
			 unsigned len)
{
	struct sfs_fs *fs = ip->fs;
	uint32_t nblocks = (len + fs->bsize - 1) >> fs->blog;
	uint8_t *buf;
	int ret = 0;

	if (len <= SFS_INODE_INLINE_MAX) {
		mc_write_lock(&ip->data_sem);
		memset(ip->root, 0, sizeof(ip->root));
		memcpy(ip->root, target, len);
		sfs_inode_sync_root(ip);
		mc_rw_unlock(&ip->data_sem);
		mc_mutex_lock(&ip->attr_lock);
		ip->d.flags |= SFS_INODE_FL_INLINE;
		ip->d.size = len;
		mc_mutex_unlock(&ip->attr_lock);
		return sfs_inode_update(t, ip);
	}
	buf = mc_alloc_named("ns.symlink", (size_t)nblocks << fs->blog, MC_KERNEL | MC_ZERO);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, target, len);
	for (uint32_t lblk = 0; lblk < nblocks && !ret;) {
		struct sfs_mapping m = { 0 };

		ret = sfs_map_blocks(t, ip, lblk, nblocks - lblk, SFS_MAPF_CREATE, &m);
		if (!ret)
			ret = sfs_bdev_write(fs->bdev, buf + ((size_t)lblk << fs->blog),
					     (size_t)m.len << fs->blog, m.pblk << fs->blog);
		lblk += m.len;
	}
	mc_free(buf);
	if (ret)
		return ret;
	mc_mutex_lock(&ip->attr_lock);
	ip->d.size = len;
	mc_mutex_unlock(&ip->attr_lock);
	return sfs_inode_update(t, ip);
}

ssize_t sfs_ns_symlink_read(struct sfs_inode_info *ip, char *buf, size_t size)
{
	struct sfs_fs *fs = ip->fs;
	uint64_t len;
	uint8_t *blk;
	bool inline_;
	int ret = 0;

	mc_mutex_lock(&ip->attr_lock);
	len = ip->d.size;
	inline_ = ip->d.flags & SFS_INODE_FL_INLINE;
	if (inline_) {
		if (len > SFS_INODE_INLINE_MAX)
			len = SFS_INODE_INLINE_MAX;
		memcpy(buf, ip->d.root, size < len ? size : len);
	}
	mc_mutex_unlock(&ip->attr_lock);
	if (inline_)
		return (ssize_t)len;
	if (len > SFS_SYMLINK_MAX)
		return SFS_ERROR(fs, -EUCLEAN, ip->ino, 0, "symlink of %llu bytes",
				 (unsigned long long)len);
	blk = mc_alloc_named("ns.symlink", fs->bsize, MC_KERNEL);
	if (!blk)
		return -ENOMEM;
	for (uint64_t done = 0; done < len && done < size && !ret; done += fs->bsize) {
		struct sfs_mapping m = { 0 };
		size_t n = len - done < fs->bsize ? (size_t)(len - done) : fs->bsize;

		ret = sfs_map_blocks(NULL, ip, (uint32_t)(done >> fs->blog), 1, 0, &m);
		if (!ret && m.state != SFS_MAPPED_WRITTEN)
			ret = SFS_ERROR(fs, -EUCLEAN, ip->ino, 0, "symlink block %llu is not mapped",
					(unsigned long long)(done >> fs->blog));
		if (!ret)
			ret = sfs_bdev_read(fs->bdev, blk, fs->bsize, m.pblk << fs->blog);
		if (!ret)
			memcpy(buf + done, blk, size - done < n ? size - done : n);
	}
	mc_free(blk);
	return ret ? ret : (ssize_t)len;
}
