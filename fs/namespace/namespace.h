/*
 * The namespace half of the library API (issue 8): names, links,
 * symlinks, special files, extended attributes and the orphan file, for a
 * FUSE low-level server.  fs/fs.h's rules hold here too: objects are named
 * by inode number, each call is one library operation (mc_op_begin /
 * mc_op_end), errors are negative errno with Linux's meanings, permission
 * checks belong to the front end (FUSE's default_permissions), and no call
 * may be made from a shrinker or an I/O completion.
 *
 * Names are NUL-terminated; a name of 256 bytes or more gets -ENAMETOOLONG
 * and changes nothing; "" gets -ENOENT; a name holding '/' gets -EINVAL.
 *
 * Lookup counts.  The front end owns them (fs.h), but a lookup racing an
 * unlink could otherwise return an inode that is gone before the front
 * end holds it: with SFS_NS_HOLD the call takes the front end's hold on
 * the inode it returns while the directory is still locked (what a FUSE
 * reply to LOOKUP, CREATE, MKNOD, MKDIR, SYMLINK and LINK counts as).
 * Holds are given back with sfs_forget(), which also finishes an unlinked
 * inode whose last hold goes: its blocks, then its record, orphan slot and
 * xattr block in one transaction (sfs_inode_release frees it the same way,
 * through the inode cache and the fs->evict hook).
 *
 * Lock order (outermost first), extending fs/super.h's:
 *   the rename lock (cross-directory renames only, one per process)
 *   -> directory rwsems, an ancestor before its descendants, unrelated
 *      directories by inode number
 *   -> the rwsems of the non-directory or victim inodes, by inode number
 *   -> journal handle -> the orphan lock -> inode data_sem -> ...
 * Every operation takes its inode locks before it starts its handle.
 */
#ifndef SFS_NAMESPACE_H
#define SFS_NAMESPACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/fs.h"

#define SFS_NS_HOLD 0x1u             /* take a front-end hold on the result */

/* ---- names ------------------------------------------------------------ */

/* The inode @name names in directory @dir ("." and ".." included):
 * -ENOENT (also in a removed directory), -ENOTDIR. */
int sfs_lookup(struct sfs_fs *fs, uint64_t dir, const char *name, unsigned flags,
	       struct sfs_attr *out);

/*
 * Create a regular file, device, FIFO or socket (@mode's type; @rdev for
 * devices), a directory, or a symlink, named @name in @dir, owned by @cr
 * (fs.h's sfs_inode_create rules for group and S_ISGID).  The inode and its
 * name are one transaction.  -EEXIST, -ENOENT (@dir was removed), -ENOTDIR,
 * -EMLINK (mkdir in a directory with 65000 links), -ENOSPC, -EINVAL (a
 * type sfs_mknod does not make), -ENAMETOOLONG (a symlink target of 4096
 * bytes or more).
 */
int sfs_mknod(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, uint64_t rdev,
	      unsigned flags, const struct sfs_cred *cr, struct sfs_attr *out);
int sfs_create(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, unsigned flags,
	       const struct sfs_cred *cr, struct sfs_attr *out);
int sfs_mkdir(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode, unsigned flags,
	      const struct sfs_cred *cr, struct sfs_attr *out);
/* Targets up to 80 bytes live in the inode (SFS_INODE_FL_INLINE); longer
 * ones in a data block written before the transaction commits.  An
 * unlinked symlink still held reads its target until it is freed. */
int sfs_symlink(struct sfs_fs *fs, uint64_t dir, const char *name, const char *target,
		unsigned flags, const struct sfs_cred *cr, struct sfs_attr *out);
/* The target (not NUL-terminated, truncated to @size): its length, or
 * -EINVAL when @ino is not a symlink. */
ssize_t sfs_readlink(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size);

/* A new name for @ino: -EPERM for a directory, -EMLINK at 65000 links,
 * -EEXIST, -ENOENT (@ino already unlinked, or @newdir removed). */
int sfs_link(struct sfs_fs *fs, uint64_t ino, uint64_t newdir, const char *newname,
	     unsigned flags, struct sfs_attr *out);
/* Remove a name of a non-directory (-EISDIR); the inode goes when its last
 * link and its last user go (the orphan file keeps it until then). */
int sfs_unlink(struct sfs_fs *fs, uint64_t dir, const char *name);
/* Remove an empty directory: -ENOTDIR, -ENOTEMPTY, -EINVAL for ".",
 * -EBUSY for the root. */
int sfs_rmdir(struct sfs_fs *fs, uint64_t dir, const char *name);

/* renameat2(2) flags, with Linux's values. */
#define SFS_RENAME_NOREPLACE 0x1u
#define SFS_RENAME_EXCHANGE  0x2u
#define SFS_RENAME_WHITEOUT  0x4u   /* not supported: -EINVAL */
/*
 * Move @oldname in @olddir to @newname in @newdir, atomically: after a
 * crash one of the two names exists, never both or neither (for an
 * exchange, both names with either the old or the new pairing).
 * Renaming a name onto another name of the same inode does nothing.
 * -ENOENT, -EEXIST (NOREPLACE), -ENOTDIR / -EISDIR (a directory over a
 * non-directory or the reverse), -ENOTEMPTY, -EINVAL (a directory into
 * its own subtree; bad flags), -EBUSY ("." or ".."), -EMLINK.
 */
int sfs_rename(struct sfs_fs *fs, uint64_t olddir, const char *oldname, uint64_t newdir,
	       const char *newname, unsigned flags);

/*
 * Directory listing from cookie @off (0 = the start): @fn gets each name
 * with its inode, its type (DT_* values) and the cookie to resume after it;
 * it returns non-zero to stop (that name is not consumed).  Cookies stay
 * valid across inserts and deletes: a name present for the whole listing
 * is returned exactly once.  @fn must not call into the library.
 * -ENOTDIR; -ENOENT for a removed directory.
 */
typedef int (*sfs_filldir_fn)(void *ctx, const char *name, size_t len, uint64_t ino,
			      unsigned dtype, uint64_t next);
int sfs_readdir(struct sfs_fs *fs, uint64_t dir, uint64_t off, sfs_filldir_fn fn, void *ctx);

/* Give back @nlookup front-end holds (FUSE FORGET); an unlinked inode
 * whose last hold this was is freed now. */
int sfs_forget(struct sfs_fs *fs, uint64_t ino, uint64_t nlookup);

/* Directory structure check (the rules of fs/namespace/dir_walk.h) on the
 * mounted filesystem: 0 or -EUCLEAN with the reason; -ENOTDIR. */
int sfs_dir_verify(struct sfs_fs *fs, uint64_t dir, char *why, size_t whylen);

/* ---- extended attributes ------------------------------------------------ */

#define SFS_XATTR_CREATE  0x1u       /* XATTR_CREATE: -EEXIST if it exists */
#define SFS_XATTR_REPLACE 0x2u       /* XATTR_REPLACE: -ENODATA if it does not */

/*
 * Names: "user.", "trusted.", "security." + a suffix, or
 * "system.posix_acl_access" / "system.posix_acl_default" (a POSIX ACL in
 * the kernel's xattr format, checked; a default ACL on a non-directory
 * gets -EACCES).  Other names: -EOPNOTSUPP; an empty suffix: -EINVAL; a
 * name longer than 255 bytes: -ERANGE; a value over 65536 bytes: -E2BIG;
 * user.* on anything but a regular file or directory: -EPERM.  Values
 * live in the inode's inline area while they fit, else in one external
 * block; -ENOSPC when they fit in neither.
 */
int sfs_setxattr(struct sfs_fs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, unsigned flags);
/* The value's size with @size 0; -ERANGE if @size is too small; -ENODATA. */
ssize_t sfs_getxattr(struct sfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size);
/* NUL-separated names; sizes as getxattr. */
ssize_t sfs_listxattr(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size);
int sfs_removexattr(struct sfs_fs *fs, uint64_t ino, const char *name);

/* ---- the orphan file ------------------------------------------------------ */

/*
 * Finish what a crash interrupted: free every unlinked inode the orphan
 * file records, finish every recorded truncate (blocks past the size), and
 * sweep stale slots (and the xattr blocks they keep).  A read-write mount
 * (sfs_fs_mount) calls it before returning; another call finds nothing
 * new.  *done (may be NULL) gets the inodes finished, which the
 * statistics count too (orphans_finished).
 */
int sfs_orphan_replay(struct sfs_fs *fs, uint64_t *done);

/* ---- tests ----------------------------------------------------------------- */

/* Debug caps on entries per directory index node and names per entry
 * block (0 = none; process-wide) so deep directory trees appear with few
 * names. */
void sfs_ns_debug_dir_caps(unsigned index_cap, unsigned leaf_cap);

#endif
