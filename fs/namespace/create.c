/*
 * Making named inodes: regular files, devices, FIFOs, sockets (mknod,
 * create), directories (mkdir) and symlinks.  The new inode, its first
 * directory block or symlink target, and its name are one transaction;
 * room for the name is made before it (dir.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/namespace/ns.h"

struct new_node {
	uint32_t mode;
	uint64_t rdev;
	const char *target;          /* symlinks */
	unsigned tlen;
};

static bool in_group(const struct sfs_cred *cr, uint32_t gid)
{
	if (!cr || cr->gid == gid)
		return true;
	for (unsigned i = 0; i < cr->ngroups; i++)
		if (cr->groups[i] == gid)
			return true;
	return false;
}

/* Owner and mode of a new inode, as sfs_inode_create (Linux's
 * inode_init_owner): a S_ISGID directory passes its group on, and S_ISGID
 * to subdirectories; a group-executable S_ISGID file made by someone
 * outside that group loses S_ISGID. */
static void owner(struct sfs_inode_info *dir, const struct sfs_cred *cr, uint32_t *mode,
		  uint32_t *uid, uint32_t *gid)
{
	*uid = cr ? cr->uid : 0;
	*gid = cr ? cr->gid : 0;
	mc_mutex_lock(&dir->attr_lock);
	if (dir->d.mode & S_ISGID) {
		*gid = dir->d.gid;
		if (S_ISDIR(*mode))
			*mode |= S_ISGID;
	}
	mc_mutex_unlock(&dir->attr_lock);
	if (!S_ISDIR(*mode) && (*mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP) && cr &&
	    !cr->privileged && !in_group(cr, *gid))
		*mode &= ~(uint32_t)S_ISGID;
}

/* A new inode whose type-specific part failed: no links, recorded in the
 * slot prepared for it, so that freeing it now or after a crash is the
 * ordinary path.  Its record is in the transaction already (write access). */
static void undo_new(struct sfs_trans *t, struct sfs_orphan_ref *r, struct sfs_inode_info *ip)
{
	mc_mutex_lock(&ip->attr_lock);
	ip->d.nlink = 0;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_orphan_commit(t, r, ip);
}

static int make_node(struct sfs_fs *fs, uint64_t dir_ino, const char *name,
		     const struct new_node *nn, unsigned flags, const struct sfs_cred *cr,
		     struct sfs_attr *out)
{
	struct sfs_inode_info *dir = NULL, *ip = NULL;
	uint32_t mode = nn->mode, uid, gid;
	bool is_dir = S_ISDIR(mode), undone = false;
	struct sfs_dir_slot slot = { 0 };
	struct sfs_orphan_ref oref = { 0 };
	bool failable;
	struct sfs_trans t;
	unsigned len, credits;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_ns_name(name, &len);
	if (!ret && sfs_dir_is_dots(name, len))
		ret = -EEXIST;
	if (!ret)
		ret = sfs_ns_dir_get(fs, dir_ino, &dir);
	if (ret)
		goto out_op;
	mc_write_lock(&dir->rwsem);
	if (sfs_ns_dir_dead(dir)) {
		ret = -ENOENT;
		goto out;
	}
	if (is_dir && dir->d.nlink >= SFS_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	/* An existing name is found here or by the preparation below. */
	ret = sfs_dir_make_room(fs, dir, name, len);
	if (ret)
		goto out;
	owner(dir, cr, &mode, &uid, &gid);

	credits = SFS_INODE_NEW_CREDITS + 1 + SFS_DIR_CHANGE_CREDITS + 1;
	if (is_dir)
		credits += sfs_dir_init_credits(dir) + SFS_ORPHAN_ADD_CREDITS;
	else if (S_ISLNK(mode))
		credits += sfs_ns_symlink_credits(dir, nn->tlen) + SFS_ORPHAN_ADD_CREDITS;
	ret = sfs_trans_start(fs, credits, 0, &t);
	if (ret)
		goto out;
	/* A directory's first block or a symlink's target can still fail once
	 * the inode exists: the slot that will free it then is taken first. */
	failable = is_dir || S_ISLNK(mode);
	ret = sfs_dir_prepare_add(&t, dir, name, len, &slot);
	if (!ret)
		ret = sfs_inode_access(&t, dir, false);
	if (!ret && failable)
		ret = sfs_orphan_prepare(&t, &oref);
	if (!ret)
		ret = sfs_inode_new(&t, dir_ino, mode, nn->rdev, uid, gid, &ip);
	if (ret) {
		sfs_dir_abort_add(&slot);
		sfs_orphan_abort(&oref);
		goto stop;
	}
	if (is_dir)
		ret = sfs_dir_init(&t, ip, dir_ino);
	else if (S_ISLNK(mode))
		ret = sfs_ns_symlink_store(&t, ip, nn->target, nn->tlen);
	if (ret)
		undo_new(&t, &oref, ip);   /* dead before anyone may see it */
	sfs_inode_unlock_new(ip);
	if (ret) {
		sfs_dir_abort_add(&slot);
		undone = true;
		goto stop;
	}
	sfs_orphan_abort(&oref);
	if (is_dir)
		sfs_ns_link_inc(dir);   /* the new ".."; room checked above */
	ret = sfs_dir_commit_add(&t, dir, &slot, ip->ino, sfs_mode_to_ftype((uint16_t)mode));
	sfs_inode_touch(dir, SFS_T_MTIME | SFS_T_CTIME);
	if (!ret)
		ret = sfs_inode_commit(&t, dir);
stop:
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
	if (ip && !ret) {
		if (flags & SFS_NS_HOLD)
			ret = sfs_ns_hold(ip);
		if (out)
			sfs_ns_attr(ip, out);
	}
out:
	mc_rw_unlock(&dir->rwsem);
	if (ip && undone) {
		/* Freeing the unused inode is an operation of its own (the
		 * kernel's iput after a failed create), not a retry of what
		 * failed: it may well use the same allocation sites. */
		mc_op_end();
		mc_op_begin();
		sfs_ns_finish_unlinked(fs, ip);
	}
	else if (ip)
		sfs_iput(ip);
	sfs_iput(dir);
out_op:
	mc_op_end();
	return ret;
}

int sfs_mknod(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, uint64_t rdev,
	      unsigned flags, const struct sfs_cred *cr, struct sfs_attr *out)
{
	struct new_node nn = { .mode = mode, .rdev = rdev };

	switch (mode & S_IFMT) {
	case 0:
		nn.mode |= S_IFREG;   /* mknod(2): no type means a regular file */
		break;
	case S_IFREG:
	case S_IFIFO:
	case S_IFSOCK:
		nn.rdev = 0;
		break;
	case S_IFCHR:
	case S_IFBLK:
		break;
	default:
		return -EINVAL;
	}
	return make_node(fs, dir, name, &nn, flags, cr, out);
}

int sfs_create(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, unsigned flags,
	       const struct sfs_cred *cr, struct sfs_attr *out)
{
	struct new_node nn = { .mode = S_IFREG | (mode & 07777) };

	return make_node(fs, dir, name, &nn, flags, cr, out);
}

int sfs_mkdir(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, unsigned flags,
	      const struct sfs_cred *cr, struct sfs_attr *out)
{
	struct new_node nn = { .mode = S_IFDIR | (mode & 07777) };

	return make_node(fs, dir, name, &nn, flags, cr, out);
}

int sfs_symlink(struct sfs_fs *fs, uint64_t dir, const char *name, const char *target,
		unsigned flags, const struct sfs_cred *cr, struct sfs_attr *out)
{
	size_t tlen = strnlen(target, SFS_SYMLINK_MAX + 1);
	struct new_node nn = { .mode = S_IFLNK | 0777, .target = target, .tlen = (unsigned)tlen };

	if (!tlen)
		return -ENOENT;   /* symlink(2) with an empty target */
	if (tlen > SFS_SYMLINK_MAX)
		return -ENAMETOOLONG;
	return make_node(fs, dir, name, &nn, flags, cr, out);
}
