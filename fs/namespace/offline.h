/*
 * Reading the namespace of an unmounted image, for fsck and scopefs-db:
 * raw reads through fs/format/io.h, no buffer cache, no journal, nothing
 * trusted that has not been checked -- a damaged image must not make a
 * tool loop or crash.  The rules are the library's: directories are
 * checked by the same walk (dir_walk.h).
 */
#ifndef SFS_NS_OFFLINE_H
#define SFS_NS_OFFLINE_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/mount.h"
#include "fs/namespace/dir_walk.h"

struct sfs_bdev;

/* An inode's extents, in logical order (a tree walked once). */
struct sfs_raw_map {
	struct sfs_extent *v;
	unsigned n, cap;
};

/* Read inode @ino's record: 0, -ENOENT (never used or free), -EFSCORRUPTED
 * (fails its verifier), -EIO.  @raw (inode_size bytes) may be NULL. */
int sfs_raw_inode(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		  struct sfs_inode *in, void *raw);
/* Walk @in's extent tree (bounded; every node verified): 0 or
 * -EFSCORRUPTED with the reason in sfs_verify_reason(). */
int sfs_raw_extents(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi,
		    const struct sfs_inode *in, struct sfs_raw_map *m);
/* Physical block of @lblk, 0 for a hole or an unwritten extent. */
uint64_t sfs_raw_map_lookup(const struct sfs_raw_map *m, uint32_t lblk);
void sfs_raw_map_free(struct sfs_raw_map *m);

/* A directory of an unmounted image. */
struct sfs_raw_dir {
	struct sfs_bdev *bdev;
	const struct sfs_sb_info *sbi;
	uint64_t ino;
	struct sfs_inode in;
	struct sfs_raw_map map;
	uint8_t *blk[SFS_DIR_MAX_LEVELS + 2];   /* one block per walk level */
	unsigned depth;                         /* blocks in use */
};

/* -ENOTDIR, -ENOENT, -EFSCORRUPTED, -EIO, -ENOMEM. */
int sfs_raw_dir_open(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		     struct sfs_raw_dir *d);
void sfs_raw_dir_close(struct sfs_raw_dir *d);
/* Walk and check the directory (dir_walk.h): @name, if given, is called
 * for each name; @w gets the results. */
int sfs_raw_dir_walk(struct sfs_raw_dir *d,
		     int (*name)(void *ctx, const struct sfs_dir_entry *e, const char *name,
				 unsigned len, uint32_t lblk),
		     void *ctx, struct sfs_dir_walk *w);
/* Where @name's record is: its entry, logical and physical block and
 * offset in the block.  -ENOENT. */
struct sfs_raw_dirent {
	struct sfs_dir_entry e;
	uint32_t lblk;
	uint64_t pblk;
	uint32_t offset;
};
int sfs_raw_dir_find(struct sfs_raw_dir *d, const char *name, unsigned len,
		     struct sfs_raw_dirent *out);
/* Directory block @lblk into @buf (block_size bytes): read, verified,
 * owned by the directory.  -ENOENT for a hole, -EUCLEAN, -EIO. */
int sfs_raw_dir_read(struct sfs_raw_dir *d, uint32_t lblk, void *buf, uint64_t *pblk);
/* Resolve an absolute path ("/" = the root) to an inode number. */
int sfs_raw_resolve(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, const char *path,
		    uint64_t *ino);

/*
 * Changing the namespace of an unmounted image (offline_edit.c), for
 * fsck's repairs.  Raw writes, each block restamped as its verifier
 * expects; nothing is allocated here: the caller owns the allocation
 * maps (fsck rebuilds the bitmaps from what it claims), so it chooses
 * every inode and block number.  A directory given to these must have
 * walked clean (sfs_raw_dir_walk).
 */
/* Where a directory that must grow gets its blocks: the caller's maps. */
struct sfs_raw_alloc {
	/* A free block, @goal if that is free (0: no preference), now
	 * counted used: 0 or -ENOSPC. */
	int (*take)(void *ctx, uint64_t goal, uint64_t *pblk);
	/* Give back a block take() returned that ended up unused. */
	void (*give)(void *ctx, uint64_t pblk);
	void *ctx;
};
/* Add @name naming @ino (type @ftype) in the entry block the directory's
 * index puts it in, and count it in an indexed directory's root.  A full
 * block is made room in with blocks from @grow (NULL: never), as the
 * library does: a linear directory becomes indexed, an entry block splits
 * into a new one under the same index node.  Not done here: splitting a
 * full index node, a directory whose extent tree has left the inode.
 * 0, -EEXIST, -ENOSPC, -EINVAL (a bad name), -EUCLEAN, -EIO, -ENOMEM. */
int sfs_raw_dir_add(struct sfs_raw_dir *d, const char *name, unsigned len, uint64_t ino,
		    unsigned ftype, const struct sfs_raw_alloc *grow);
/* Remove @name (and uncount it): 0, -ENOENT, -EUCLEAN, -EIO, -ENOMEM. */
int sfs_raw_dir_remove(struct sfs_raw_dir *d, const char *name, unsigned len);
/* Make ".." (the root index node's parent when indexed) name @parent. */
int sfs_raw_dir_set_parent(struct sfs_raw_dir *d, uint64_t parent);
/* Write a new empty directory: inode @ino's record (the slot must hold no
 * live inode) with @mode, @uid, @gid, two links and one block, @pblk,
 * holding "." and ".." (naming @parent).  The caller links it. */
int sfs_raw_mkdir(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		  uint64_t parent, uint64_t pblk, uint16_t mode, uint32_t uid, uint32_t gid);
/* The parts of a new one-block directory's record @in that do not depend
 * on who makes it: two links, one block (@pblk) in its extent root, the
 * size, times now.  Number, mode, owner and generation are the caller's. */
void sfs_raw_dir_record(struct sfs_inode *in, const struct sfs_geo *g, uint64_t pblk);

#endif
