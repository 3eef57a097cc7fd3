/*
 * Hard links and removing names: link, unlink, rmdir.  A removal takes the
 * victim's last link and records it in the orphan file in the same
 * transaction; what the inode owns goes afterwards, in transactions of its
 * own (sfs_ns_finish_unlinked), or at the next mount after a crash.
 */
#include <errno.h>
#include <sys/stat.h>

#include "fs/namespace/ns.h"

int sfs_link(struct sfs_fs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     unsigned flags, struct sfs_attr *out)
{
	struct sfs_inode_info *dir = NULL, *ip = NULL;
	struct sfs_dir_slot slot = { 0 };
	struct sfs_dir_entry e;
	struct sfs_trans t;
	unsigned len;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_ns_name(newname, &len);
	if (!ret && sfs_dir_is_dots(newname, len))
		ret = -EEXIST;
	if (!ret)
		ret = sfs_ns_dir_get(fs, newdir, &dir);
	if (ret)
		goto out_op;
	ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_dir;
	if (sfs_inode_is_dir(ip)) {
		ret = -EPERM;
		goto out_ip;
	}
	mc_write_lock(&dir->rwsem);
	mc_write_lock(&ip->rwsem);
	if (sfs_ns_dir_dead(dir) || !ip->d.nlink) {
		ret = -ENOENT;
		goto out;
	}
	if (ip->d.nlink >= SFS_LINK_MAX) {
		ret = -EMLINK;
		goto out;
	}
	ret = sfs_dir_lookup(dir, newname, len, &e);
	if (ret != -ENOENT) {
		ret = ret ? ret : -EEXIST;
		goto out;
	}
	ret = sfs_dir_make_room(fs, dir, newname, len);
	if (ret)
		goto out;
	ret = sfs_trans_start(fs, SFS_DIR_CHANGE_CREDITS + 2, 0, &t);
	if (ret)
		goto out;
	ret = sfs_dir_prepare_add(&t, dir, newname, len, &slot);
	if (!ret)
		ret = sfs_inode_access(&t, ip, false);
	if (!ret)
		ret = sfs_inode_access(&t, dir, false);
	if (!ret)
		ret = sfs_ns_link_inc(ip);
	if (ret) {
		sfs_dir_abort_add(&slot);
		goto stop;
	}
	ret = sfs_dir_commit_add(&t, dir, &slot, ip->ino, sfs_mode_to_ftype(ip->d.mode));
	sfs_inode_touch(dir, SFS_T_MTIME | SFS_T_CTIME);
	if (!ret)
		ret = sfs_inode_commit(&t, ip);
	if (!ret)
		ret = sfs_inode_commit(&t, dir);
stop:
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
	if (!ret && (flags & SFS_NS_HOLD))
		ret = sfs_ns_hold(ip);
	if (!ret && out)
		sfs_ns_attr(ip, out);
out:
	mc_rw_unlock(&ip->rwsem);
	mc_rw_unlock(&dir->rwsem);
out_ip:
	sfs_iput(ip);
out_dir:
	sfs_iput(dir);
out_op:
	mc_op_end();
	return ret;
}

/* unlink and rmdir. */
static int remove_name(struct sfs_fs *fs, uint64_t dir_ino, const char *name, bool rmdir)
{
	struct sfs_inode_info *dir = NULL, *ip = NULL;
	struct sfs_dir_slot slot = { 0 };
	struct sfs_dir_entry e;
	struct sfs_trans t;
	unsigned len;
	int ret, ret2;

	mc_op_begin();
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_ns_name(name, &len);
	if (!ret && sfs_dir_is_dots(name, len))
		/* What the VFS answers for "." and "..". */
		ret = !rmdir ? -EISDIR : len == 1 ? -EINVAL : -ENOTEMPTY;
	if (!ret)
		ret = sfs_ns_dir_get(fs, dir_ino, &dir);
	if (ret)
		goto out_op;
	mc_write_lock(&dir->rwsem);
	ret = sfs_ns_dir_dead(dir) ? -ENOENT : sfs_dir_lookup(dir, name, len, &e);
	if (!ret)
		ret = sfs_iget(fs, e.ino, &ip);
	if (ret)
		goto out_dir;
	if (rmdir && !sfs_inode_is_dir(ip))
		ret = -ENOTDIR;
	else if (!rmdir && sfs_inode_is_dir(ip))
		ret = -EISDIR;
	else if (rmdir && ip->ino == SFS_ROOT_INO)
		ret = -EBUSY;
	if (ret)
		goto out_ip;
	mc_write_lock(&ip->rwsem);
	if (rmdir) {
		ret = sfs_dir_empty(ip);
		ret = ret < 0 ? ret : ret ? 0 : -ENOTEMPTY;
		if (ret)
			goto out;
	}
	ret = sfs_trans_start(fs, SFS_DIR_CHANGE_CREDITS + 2 + SFS_ORPHAN_ADD_CREDITS, 0, &t);
	if (ret)
		goto out;
	ret = sfs_dir_prepare_change(&t, dir, name, len, &slot, &e);
	if (!ret && e.ino != ip->ino)
		ret = sfs_dir_corrupt(dir, 0, "\"%.*s\" changed under the directory lock", (int)len,
				      name);
	if (!ret)
		ret = sfs_inode_access(&t, dir, false);
	/* The victim's link (and its orphan record) is what can still fail. */
	if (!ret)
		ret = sfs_ns_drop_link(&t, ip);
	if (ret) {
		sfs_dir_abort_add(&slot);
		goto stop;
	}
	ret = sfs_dir_commit_remove(&t, dir, &slot);
	if (rmdir)
		sfs_ns_link_dec(dir);   /* its ".." went */
	sfs_inode_touch(dir, SFS_T_MTIME | SFS_T_CTIME);
	if (!ret)
		ret = sfs_inode_commit(&t, dir);
stop:
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
out:
	mc_rw_unlock(&ip->rwsem);
out_ip:
	mc_rw_unlock(&dir->rwsem);
	if (!ret)
		sfs_ns_finish_unlinked(fs, ip);   /* frees it if that was its last link */
	else
		sfs_iput(ip);
	sfs_iput(dir);
	goto out_op;
out_dir:
	mc_rw_unlock(&dir->rwsem);
	sfs_iput(dir);
out_op:
	mc_op_end();
	return ret;
}

int sfs_unlink(struct sfs_fs *fs, uint64_t dir, const char *name)
{
	return remove_name(fs, dir, name, false);
}

int sfs_rmdir(struct sfs_fs *fs, uint64_t dir, const char *name)
{
	return remove_name(fs, dir, name, true);
}
