/* Helpers the namespace operations share (see ns.h). */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "fs/file.h"
#include "fs/namespace/ns.h"

int sfs_ns_name(const char *name, unsigned *len)
{
	size_t n = strnlen(name, SFS_NAME_MAX + 1);

	if (!n)
		return -ENOENT;
	if (n > SFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (memchr(name, '/', n))
		return -EINVAL;
	*len = (unsigned)n;
	return 0;
}

int sfs_ns_dir_get(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out)
{
	int ret = sfs_iget(fs, ino, out);

	if (!ret && !sfs_inode_is_dir(*out)) {
		sfs_iput(*out);
		ret = -ENOTDIR;
	}
	return ret;
}

static struct timespec to_ts(const struct sfs_timespec *t)
{
	return (struct timespec){ .tv_sec = t->sec, .tv_nsec = t->nsec };
}

void sfs_ns_attr(struct sfs_inode_info *ip, struct sfs_attr *a)
{
	mc_mutex_lock(&ip->attr_lock);
	a->ino = ip->ino;
	a->generation = ip->d.generation;
	a->mode = ip->d.mode;
	a->nlink = ip->d.nlink;
	a->uid = ip->d.uid;
	a->gid = ip->d.gid;
	a->rdev = makedev(ip->d.rdev_major, ip->d.rdev_minor);
	a->size = ip->d.size;
	a->blocks = ip->d.blocks << (ip->fs->blog - 9);
	a->blksize = ip->fs->bsize;
	a->atime = to_ts(&ip->d.atime);
	a->mtime = to_ts(&ip->d.mtime);
	a->ctime = to_ts(&ip->d.ctime);
	a->btime = to_ts(&ip->d.btime);
	a->flags = ip->d.flags & SFS_INODE_FL_USER_MASK;
	mc_mutex_unlock(&ip->attr_lock);
}

unsigned sfs_ns_dtype(unsigned ftype)
{
	static const unsigned char dt[SFS_FT_MAX + 1] = {
		[SFS_FT_UNKNOWN] = DT_UNKNOWN, [SFS_FT_REG] = DT_REG, [SFS_FT_DIR] = DT_DIR,
		[SFS_FT_CHR] = DT_CHR, [SFS_FT_BLK] = DT_BLK, [SFS_FT_FIFO] = DT_FIFO,
		[SFS_FT_SOCK] = DT_SOCK, [SFS_FT_LNK] = DT_LNK,
	};

	return ftype <= SFS_FT_MAX ? dt[ftype] : DT_UNKNOWN;
}

int sfs_ns_hold(struct sfs_inode_info *ip)
{
	return sfs_icache_hold(ip, 1);
}

int sfs_ns_holds(struct sfs_inode_info *ip)
{
	/* An unlocked read of the cache's count: the front end changes it
	 * only through calls on this inode, which a caller deciding what to
	 * free has no reason to expect (the name is gone). */
	return __atomic_load_n(&ip->holds, __ATOMIC_RELAXED);
}

int sfs_ns_link_inc(struct sfs_inode_info *ip)
{
	int ret = 0;

	mc_mutex_lock(&ip->attr_lock);
	if (ip->d.nlink >= SFS_LINK_MAX)
		ret = -EMLINK;
	else
		ip->d.nlink++;
	mc_mutex_unlock(&ip->attr_lock);
	if (!ret)
		sfs_inode_touch(ip, SFS_T_CTIME);
	return ret;
}

void sfs_ns_link_dec(struct sfs_inode_info *ip)
{
	mc_mutex_lock(&ip->attr_lock);
	if (ip->d.nlink)
		ip->d.nlink--;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_inode_touch(ip, SFS_T_CTIME);
}

int sfs_ns_drop_link(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	bool dir = sfs_inode_is_dir(ip), last;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	last = dir || ip->d.nlink <= 1;
	mc_mutex_unlock(&ip->attr_lock);
	ret = sfs_inode_access(t, ip, sfs_trans_nofail(t));
	/* Recorded first: the record is what can fail, and the link count
	 * must not change in memory unless the change commits. */
	if (!ret && last)
		ret = sfs_orphan_add(t, ip);
	if (ret)
		return ret;
	mc_mutex_lock(&ip->attr_lock);
	if (dir)
		ip->d.nlink = 0;   /* "." and the name in the parent go together */
	else if (ip->d.nlink)
		ip->d.nlink--;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_inode_touch(ip, SFS_T_CTIME);
	return sfs_inode_commit(t, ip);
}

void sfs_ns_finish_unlinked(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	int ret = 0;

	if (ip->d.nlink) {
		sfs_iput(ip);
		return;
	}
	/* A removed directory is dead even while held: its blocks go now.
	 * Anything else keeps its blocks while the front end holds it. */
	if (sfs_inode_is_dir(ip))
		ret = sfs_dir_release(fs, ip);
	else if (!sfs_ns_holds(ip) && ip->d.blocks > (ip->d.xattr_block ? 1u : 0u))
		ret = sfs_truncate_blocks(fs, ip, 0);   /* an empty file needs no pass */
	if (ret) {
		/* Left on the orphan list: the next mount finishes it. */
		sfs_iput(ip);
		return;
	}
	sfs_orphan_reap(fs, ip);
}

static mc_mutex_t rename_lock;
static pthread_once_t rename_once = PTHREAD_ONCE_INIT;

static void rename_lock_init(void)
{
	mc_mutex_init(&rename_lock, "sfs_rename");
}

void sfs_ns_rename_lock(void)
{
	pthread_once(&rename_once, rename_lock_init);
	mc_mutex_lock(&rename_lock);
}

void sfs_ns_rename_unlock(void)
{
	mc_mutex_unlock(&rename_lock);
}

void sfs_ns_debug_dir_caps(unsigned index_cap, unsigned leaf_cap)
{
	sfs_dir_debug_index_cap = index_cap;
	sfs_dir_debug_leaf_cap = leaf_cap;
}
