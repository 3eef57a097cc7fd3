/*
 * What the namespace operations share: name checks, getting a directory,
 * attributes for replies, link counts, the rename lock, and the orphan
 * file's internal API.  Only fs/namespace/ includes this.
 */
#ifndef SFS_NS_NS_H
#define SFS_NS_NS_H

#include "fs/inode.h"
#include "fs/namespace/dir.h"
#include "fs/namespace/namespace.h"
#include "fs/namespace/orphan.h"
#include "fs/trans.h"

#define SFS_LINK_MAX    65000u      /* as fs/attr.c and ext4 */
#define SFS_SYMLINK_MAX 4095u       /* PATH_MAX - 1 */

/* @name's length: -ENOENT for "", -ENAMETOOLONG at 256 bytes, -EINVAL
 * for a '/'. */
int sfs_ns_name(const char *name, unsigned *len);
/* A referenced directory: -ENOTDIR if @ino is something else. */
int sfs_ns_dir_get(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out);
/* A directory rmdir removed (its rwsem held): nothing may be added. */
static inline bool sfs_ns_dir_dead(struct sfs_inode_info *dir)
{
	return dir->d.nlink == 0;
}
static inline bool sfs_ns_is_dir(const struct sfs_inode_info *ip)
{
	return sfs_inode_is_dir(ip);
}
void sfs_ns_attr(struct sfs_inode_info *ip, struct sfs_attr *a);
/* DT_* of a directory entry's SFS_FT_* type. */
unsigned sfs_ns_dtype(unsigned ftype);
/* A front-end hold on @ip (SFS_NS_HOLD). */
int sfs_ns_hold(struct sfs_inode_info *ip);
/* Front-end holds on @ip now (a hint: they change without our locks). */
int sfs_ns_holds(struct sfs_inode_info *ip);

/* Link count changes under @t (the inode's write access taken by the
 * caller), with ctime; -EMLINK past SFS_LINK_MAX. */
int sfs_ns_link_inc(struct sfs_inode_info *ip);
void sfs_ns_link_dec(struct sfs_inode_info *ip);
/* A name went: its inode loses a link (a directory loses both, "." and
 * its name); at zero it goes on the orphan list in the same transaction.
 * Credits: 1 + SFS_ORPHAN_ADD_CREDITS. */
int sfs_ns_drop_link(struct sfs_trans *t, struct sfs_inode_info *ip);
/* After the transaction that took an inode's last link: free what can go
 * now (a directory's blocks; the data when nobody holds it) and drop the
 * caller's reference (sfs_orphan_reap).  Call with no lock and no handle. */
void sfs_ns_finish_unlinked(struct sfs_fs *fs, struct sfs_inode_info *ip);

/* The lock every cross-directory rename takes first (the VFS's
 * s_vfs_rename_mutex): while it is held no directory changes parent. */
void sfs_ns_rename_lock(void);
void sfs_ns_rename_unlock(void);

/* Reading symlink targets (symlink.c). */
ssize_t sfs_ns_symlink_read(struct sfs_inode_info *ip, char *buf, size_t size);
/* Store @target (@len bytes) in the new symlink @ip, in @t. */
int sfs_ns_symlink_store(struct sfs_trans *t, struct sfs_inode_info *ip, const char *target,
			 unsigned len);
unsigned sfs_ns_symlink_credits(struct sfs_inode_info *dir, unsigned len);

/* The external xattr block of a dying inode (xattr_store.c): forget and
 * free it in @t (credits SFS_XATTR_FREE_CREDITS). */
#define SFS_XATTR_FREE_CREDITS (SFS_CREDITS_GROUP + 1u)
int sfs_ns_xattr_free_block(struct sfs_trans *t, uint64_t blk);

#endif
