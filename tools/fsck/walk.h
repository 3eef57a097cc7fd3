/*
 * Pass 2's walk over the blocks a live inode owns (pass_extents.c): its
 * extent tree, its directory blocks' self-description, its xattr block.
 *
 * One inode is walked up to three times:
 *   VALIDATE  check the tree's structure without claiming anything, so a
 *             damaged tree can be cleared without leaving half its blocks
 *             claimed; index keys that differ from their child's first
 *             block are collected (fixable on their own)
 *   PROBE     count blocks some earlier inode already claimed (cross-
 *             linked), before claiming any: clearing this inode then
 *             leaves the other's claims intact
 *   CLAIM     mark every block owned in the per-group maps pass 3 compares
 *             with the bitmaps; count the inode's blocks; find damaged
 *             directory blocks
 * A walk gives up after visiting more nodes than the filesystem has
 * blocks: a crafted tree cannot make fsck loop.
 */
#ifndef SFS_FSCK_WALK_H
#define SFS_FSCK_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/inode.h"
#include "tools/fsck/fsck.h"

enum walk_mode { WALK_VALIDATE, WALK_PROBE, WALK_CLAIM };

#define WALK_KEYFIX_MAX 16

struct walk_keyfix {
	uint64_t node;               /* tree block holding the index, 0 = the root */
	unsigned idx;
	uint32_t key, child_first;
};

struct dir_damage {
	uint64_t pblk;
	uint32_t lblk;
	char why[256];
	bool found;
};

struct walk {
	struct fsck *f;
	uint64_t ino;
	enum walk_mode mode;
	bool is_dir;
	uint64_t owned;              /* blocks the inode owns (data + tree + xattr) */
	uint64_t dups;               /* blocks claimed before (probe) or twice (claim) */
	uint64_t first_dup;
	uint64_t visits;             /* tree nodes visited */
	unsigned depth;              /* of the tree */
	struct walk_keyfix keyfix[WALK_KEYFIX_MAX];
	unsigned nkeyfix;
	uint8_t *blk;                /* scratch for directory and xattr blocks */
	struct dir_damage dd;
	char why[256];
};

/* 0, or -EFSCORRUPTED with the reason in w->why (VALIDATE). */
int fsck_walk_inode(struct walk *w, const struct sfs_inode *in, enum walk_mode mode);
/* Apply one collected key fix (root: into @in, caller re-encodes). */
int fsck_fix_key(struct fsck *f, struct sfs_inode *in, const struct walk_keyfix *k);

#endif
