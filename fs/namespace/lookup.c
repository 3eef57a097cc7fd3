/*
 * Reading the namespace: lookup (with the front end's hold taken under the
 * directory lock), readdir, readlink; giving holds back (forget); the
 * directory structure check.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/namespace/ns.h"

int sfs_lookup(struct sfs_fs *fs, uint64_t dir_ino, const char *name, unsigned flags,
	       struct sfs_attr *out)
{
	struct sfs_inode_info *dir, *ip;
	struct sfs_dir_entry e;
	unsigned len;
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_ns_name(name, &len);
	if (!ret)
		ret = sfs_ns_dir_get(fs, dir_ino, &dir);
	if (ret)
		goto out_op;
	mc_read_lock(&dir->rwsem);
	if (sfs_ns_dir_dead(dir))
		ret = -ENOENT;
	else if (len == 1 && name[0] == '.')
		e.ino = dir->ino;
	else if (len == 2 && name[0] == '.' && name[1] == '.')
		ret = sfs_dir_parent(dir, &e.ino);
	else
		ret = sfs_dir_lookup(dir, name, len, &e);
	if (!ret) {
		ret = sfs_iget(fs, e.ino, &ip);
		if (ret == -ENOENT)
			/* A name whose inode is free: the directory is damaged. */
			ret = sfs_dir_corrupt(dir, 0, "\"%s\" names free inode %llu", name,
					      (unsigned long long)e.ino);
	}
	if (!ret) {
		if (flags & SFS_NS_HOLD)
			ret = sfs_ns_hold(ip);
		if (!ret && out)
			sfs_ns_attr(ip, out);
		sfs_iput(ip);
	}
	mc_rw_unlock(&dir->rwsem);
	sfs_iput(dir);
out_op:
	mc_op_end();
	return ret;
}

struct filldir {
	sfs_filldir_fn fn;
	void *ctx;
};

static int fill(void *arg, const struct sfs_dir_entry *e, const char *name, unsigned len)
{
	struct filldir *f = arg;

	/* Resuming after this name means: from the next key on. */
	return f->fn(f->ctx, name, len, e->ino, sfs_ns_dtype(e->ftype), e->key + 1);
}

int sfs_readdir(struct sfs_fs *fs, uint64_t dir_ino, uint64_t off, sfs_filldir_fn fn, void *ctx)
{
	struct filldir f = { .fn = fn, .ctx = ctx };
	struct sfs_inode_info *dir;
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_ns_dir_get(fs, dir_ino, &dir);
	if (ret)
		goto out_op;
	mc_read_lock(&dir->rwsem);
	if (sfs_ns_dir_dead(dir))
		ret = -ENOENT;   /* as the VFS answers for a removed directory */
	else if (off < SFS_DIRKEY_END)
		ret = sfs_dir_iterate(dir, off, fill, &f);
	if (ret > 0)
		ret = 0;   /* the caller's buffer is full */
	mc_rw_unlock(&dir->rwsem);
	sfs_iput(dir);
out_op:
	mc_op_end();
	return ret;
}

ssize_t sfs_readlink(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct sfs_inode_info *ip;
	ssize_t ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_op;
	mc_read_lock(&ip->rwsem);
	if (!S_ISLNK(ip->d.mode))
		ret = -EINVAL;
	else
		ret = sfs_ns_symlink_read(ip, buf, size);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_forget(struct sfs_fs *fs, uint64_t ino, uint64_t nlookup)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_op;
	for (uint64_t i = 0; i < nlookup && !ret; i++)
		ret = sfs_icache_hold(ip, -1);
	if (!ip->d.nlink && !sfs_ns_holds(ip) && !sfs_fs_writable(fs))
		sfs_ns_finish_unlinked(fs, ip);   /* the last user of an unlinked inode */
	else
		sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_dir_verify(struct sfs_fs *fs, uint64_t dir_ino, char *why, size_t whylen)
{
	struct sfs_inode_info *dir;
	int ret;

	mc_op_begin();
	ret = sfs_ns_dir_get(fs, dir_ino, &dir);
	if (!ret) {
		mc_read_lock(&dir->rwsem);
		ret = sfs_ns_dir_dead(dir) ? 0 : sfs_dir_check(dir, NULL, why, whylen);
		mc_rw_unlock(&dir->rwsem);
		sfs_iput(dir);
	}
	mc_op_end();
	return ret;
}
