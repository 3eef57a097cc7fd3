/*
 * Inode operations of the public API: attributes (stat / setattr with
 * Linux's mode side effects), creation, link counts, front-end holds.
 * Permission checks are the front end's (fs.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/pagecache/pagecache.h"
#include "fs/file.h"
#include "fs/namespace/orphan.h"
#include "fs/format/inode.h"
#include "fs/inode.h"

#define SFS_LINK_MAX 65000u   /* ext4's EXT4_LINK_MAX */

static struct timespec to_ts(const struct sfs_timespec *t)
{
	return (struct timespec){ .tv_sec = t->sec, .tv_nsec = t->nsec };
}

static struct sfs_timespec from_ts(const struct timespec *t)
{
	return (struct sfs_timespec){ .sec = t->tv_sec, .nsec = (uint32_t)t->tv_nsec };
}

static void fill_attr(struct sfs_inode_info *ip, struct sfs_attr *a)
{
	/* st_blocks counts delayed blocks too (as ext4 does): a write's
	 * space shows at once, not when writeback allocates it. */
	uint64_t delayed = sfs_pc_delayed_blocks(ip->fs, ip->ino);

	mc_mutex_lock(&ip->attr_lock);
	a->ino = ip->ino;
	a->generation = ip->d.generation;
	a->mode = ip->d.mode;
	a->nlink = ip->d.nlink;
	a->uid = ip->d.uid;
	a->gid = ip->d.gid;
	a->rdev = makedev(ip->d.rdev_major, ip->d.rdev_minor);
	a->size = ip->d.size;
	a->blocks = (ip->d.blocks + delayed) << (ip->fs->blog - 9);
	a->blksize = ip->fs->bsize;
	a->atime = to_ts(&ip->d.atime);
	a->mtime = to_ts(&ip->d.mtime);
	a->ctime = to_ts(&ip->d.ctime);
	a->btime = to_ts(&ip->d.btime);
	a->flags = ip->d.flags & SFS_INODE_FL_USER_MASK;
	mc_mutex_unlock(&ip->attr_lock);
}

static bool in_group(const struct sfs_cred *cr, uint32_t gid)
{
	if (!cr)
		return true;
	if (cr->gid == gid)
		return true;
	for (unsigned i = 0; i < cr->ngroups; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

int sfs_getattr(struct sfs_fs *fs, uint64_t ino, struct sfs_attr *out)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (!ret) {
		fill_attr(ip, out);
		sfs_iput(ip);
	}
	mc_op_end();
	return ret;
}

/* Zero the tail of the block holding byte @size, when it is written. */
static int zero_tail(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t size)
{
	uint32_t off = (uint32_t)(size & (fs->bsize - 1));
	struct sfs_mapping m;
	uint8_t *blk;
	int ret;

	if (!off || (size >> fs->blog) >= (1ull << 32))
		return 0;
	if (sfs_pc_zero_in_block(fs, ip, size, (size | (fs->bsize - 1)) + 1))
		return 0;   /* cached: zeroed in the page, written back later */
	ret = sfs_map_blocks(NULL, ip, (uint32_t)(size >> fs->blog), 1, 0, &m);
	if (ret || m.state != SFS_MAPPED_WRITTEN)
		return ret;
	blk = mc_alloc_named("file.bounce", fs->bsize, MC_KERNEL);
	if (!blk)
		return -ENOMEM;
	ret = sfs_bdev_read(fs->bdev, blk, fs->bsize, m.pblk << fs->blog);
	if (!ret) {
		memset(blk + off, 0, fs->bsize - off);
		ret = sfs_bdev_write(fs->bdev, blk, fs->bsize, m.pblk << fs->blog);
	}
	mc_free(blk);
	return ret;
}

int sfs_setattr(struct sfs_fs *fs, uint64_t ino, const struct sfs_setattr *sa,
		const struct sfs_cred *cr, struct sfs_attr *out)
{
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	bool privileged = !cr || cr->privileged;
	uint64_t old_size = 0;
	bool shrink = false;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);

	mc_mutex_lock(&ip->attr_lock);
	/*
	 * An append-only inode keeps its owner, mode and explicit times, for
	 * root too: Linux's may_setattr() (fs/attr.c, called by
	 * notify_change()) refuses ATTR_MODE, ATTR_UID, ATTR_GID and
	 * ATTR_TIMES_SET on IS_APPEND as on IS_IMMUTABLE, while times set to
	 * now and the suid/sgid kill of a write pass.  Its size cannot change
	 * either: vfs_truncate() and do_ftruncate() (fs/open.c) return EPERM
	 * on IS_APPEND before notify_change() is reached.
	 */
	if ((ip->d.flags & SFS_INODE_FL_IMMUTABLE) &&
	    (sa->valid & ~(unsigned)SFS_SET_FLAGS))
		ret = -EPERM;
	else if ((ip->d.flags & SFS_INODE_FL_APPEND) &&
		 (sa->valid & (SFS_SET_MODE | SFS_SET_UID | SFS_SET_GID | SFS_SET_SIZE |
			       SFS_SET_ATIME | SFS_SET_MTIME)))
		ret = -EPERM;
	else if ((sa->valid & SFS_SET_SIZE) && !S_ISREG(ip->d.mode))
		ret = S_ISDIR(ip->d.mode) ? -EISDIR : -EINVAL;
	else if ((sa->valid & SFS_SET_SIZE) && (sa->size >> fs->blog) >= (1ull << 32))
		ret = -EFBIG;
	else if ((sa->valid & SFS_SET_FLAGS) && (sa->flags & ~SFS_INODE_FL_USER_MASK))
		ret = -EOPNOTSUPP;
	old_size = ip->d.size;
	mc_mutex_unlock(&ip->attr_lock);
	if (ret)
		goto out;

	if ((sa->valid & SFS_SET_SIZE) && sa->size < old_size) {
		/* What lies past the new end in its last block must read as
		 * zeros if the file grows again. */
		shrink = true;
		ret = zero_tail(fs, ip, sa->size);
		if (ret)
			goto out;
	}

	ret = sfs_trans_start(fs, 2 + (shrink ? SFS_ORPHAN_ADD_CREDITS : 0),
			      shrink ? SFS_TRANS_NOFAIL : 0, &t);
	if (ret)
		goto out;
	/* The orphan record and the new size commit together: a crash
	 * before the last removal step is finished at the next mount. */
	ret = shrink ? sfs_truncate_orphan_add(&t, ip) : 0;
	if (!ret)
		ret = sfs_inode_access(&t, ip, shrink);
	if (!ret) {
		struct sfs_timespec now;

		sfs_now(&now);
		mc_mutex_lock(&ip->attr_lock);
		if (sa->valid & SFS_SET_MODE) {
			uint16_t mode = (uint16_t)((ip->d.mode & S_IFMT) | (sa->mode & 07777));
			uint32_t gid = (sa->valid & SFS_SET_GID) ? sa->gid : ip->d.gid;

			/* chmod by someone outside the group drops S_ISGID (Linux setattr_copy). */
			if (!privileged && !in_group(cr, gid))
				mode &= (uint16_t)~S_ISGID;
			ip->d.mode = mode;
		}
		if (sa->valid & (SFS_SET_UID | SFS_SET_GID)) {
			if ((sa->valid & SFS_SET_UID) && sa->uid != ip->d.uid)
				ip->d.mode = sfs_mode_kill_priv(ip->d.mode);
			if ((sa->valid & SFS_SET_GID) && sa->gid != ip->d.gid)
				ip->d.mode = sfs_mode_kill_priv(ip->d.mode);
			if (sa->valid & SFS_SET_UID)
				ip->d.uid = sa->uid;
			if (sa->valid & SFS_SET_GID)
				ip->d.gid = sa->gid;
		}
		if ((sa->valid & SFS_SET_KILL_PRIV) && !privileged)
			ip->d.mode = sfs_mode_kill_priv(ip->d.mode);
		if (sa->valid & SFS_SET_SIZE) {
			if (sa->size != ip->d.size)
				ip->d.mtime = now;
			ip->d.size = sa->size;
		}
		if (sa->valid & SFS_SET_ATIME_NOW)
			ip->d.atime = now;
		else if (sa->valid & SFS_SET_ATIME)
			ip->d.atime = from_ts(&sa->atime);
		if (sa->valid & SFS_SET_MTIME_NOW)
			ip->d.mtime = now;
		else if (sa->valid & SFS_SET_MTIME)
			ip->d.mtime = from_ts(&sa->mtime);
		if (sa->valid & SFS_SET_FLAGS)
			ip->d.flags = (ip->d.flags & ~SFS_INODE_FL_USER_MASK) | sa->flags;
		ip->d.ctime = (sa->valid & SFS_SET_CTIME) ? from_ts(&sa->ctime) : now;
		mc_mutex_unlock(&ip->attr_lock);
		ret = sfs_inode_commit(&t, ip);
	}
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
	if (!ret && shrink)
		/* The size is logged first, with the orphan record. */
		ret = sfs_truncate_finish(fs, ip, (sa->size + fs->bsize - 1) >> fs->blog);
out:
	if (!ret && out)
		fill_attr(ip, out);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_inode_create(struct sfs_fs *fs, uint64_t dir_ino, uint32_t mode, uint64_t rdev,
		     const struct sfs_cred *cr, struct sfs_attr *out)
{
	struct sfs_inode_info *dir = NULL, *ip = NULL;
	uint32_t uid = cr ? cr->uid : 0, gid = cr ? cr->gid : 0;
	struct sfs_trans t;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (ret)
		goto out;
	if (!sfs_mode_to_ftype((uint16_t)mode)) {
		ret = -EINVAL;
		goto out;
	}
	/* The directory is only a placement goal and the source of an
	 * inherited group (S_ISGID directories, as Linux's inode_init_owner). */
	if (dir_ino && !sfs_iget(fs, dir_ino, &dir)) {
		if (sfs_inode_is_dir(dir) && (dir->d.mode & S_ISGID)) {
			gid = dir->d.gid;
			if (S_ISDIR(mode))
				mode |= S_ISGID;
		}
		sfs_iput(dir);
	}
	if (!S_ISDIR(mode) && (mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) &&
	    cr && !cr->privileged && !in_group(cr, gid))
		mode &= ~(uint32_t)S_ISGID;
	ret = sfs_trans_start(fs, SFS_INODE_NEW_CREDITS + 1, 0, &t);
	if (ret)
		goto out;
	ret = sfs_inode_new(&t, dir_ino, mode, rdev, uid, gid, &ip);
	if (!ret)
		sfs_inode_unlock_new(ip);   /* nothing more to fill in */
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
	if (ip) {
		if (!ret && out)
			fill_attr(ip, out);
		sfs_iput(ip);
	}
out:
	mc_op_end();
	return ret;
}

static int change_links(struct sfs_fs *fs, uint64_t ino, int delta)
{
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	ret = sfs_trans_start(fs, 1, 0, &t);
	if (ret)
		goto out;
	ret = sfs_inode_access(&t, ip, false);
	if (!ret) {
		mc_mutex_lock(&ip->attr_lock);
		if (delta > 0 && ip->d.nlink >= SFS_LINK_MAX)
			ret = -EMLINK;
		else if (delta < 0 && !ip->d.nlink)
			ret = -ENOENT;
		else if (delta > 0)
			ip->d.nlink++;
		else if (sfs_inode_is_dir(ip))
			ip->d.nlink = 0;   /* rmdir: "." and the parent's entry go together */
		else
			ip->d.nlink--;
		if (!ret)
			sfs_now(&ip->d.ctime);
		mc_mutex_unlock(&ip->attr_lock);
		if (!ret)
			ret = sfs_inode_commit(&t, ip);
	}
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
out:
	mc_rw_unlock(&ip->rwsem);
	/* The last reference of an inode without links frees it. */
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_inode_link(struct sfs_fs *fs, uint64_t ino)
{
	return change_links(fs, ino, 1);
}

int sfs_inode_unlink(struct sfs_fs *fs, uint64_t ino)
{
	return change_links(fs, ino, -1);
}

int sfs_inode_hold(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (!ret) {
		ret = sfs_icache_hold(ip, 1);
		sfs_iput(ip);
	}
	mc_op_end();
	return ret;
}

int sfs_inode_release(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_iget(fs, ino, &ip);
	if (!ret) {
		ret = sfs_icache_hold(ip, -1);
		sfs_iput(ip);
	}
	mc_op_end();
	return ret;
}
