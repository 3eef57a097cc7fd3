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
 *             directory blocks; note the leaf extents that map a block the
 *             inode already mapped (I10, repaired by fsck_drop_self_dups)
 *   UNCLAIM   undo CLAIM, before a repair changes the tree
 * A walk gives up after visiting more nodes than the filesystem has
 * blocks: a crafted tree cannot make fsck loop.
 */
#ifndef SFS_FSCK_WALK_H
#define SFS_FSCK_WALK_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/inode.h"
#include "tools/fsck/fsck.h"

enum walk_mode { WALK_VALIDATE, WALK_PROBE, WALK_CLAIM, WALK_UNCLAIM };

#define WALK_KEYFIX_MAX 16
#define WALK_DUPFIX_MAX 16

struct walk_keyfix {
	uint64_t node;               /* tree block holding the index, 0 = the root */
	unsigned idx;
	uint32_t key, child_first;
};

/* A leaf extent mapping blocks the inode mapped earlier in the walk.
 * When those blocks are a run at one end of the extent, the extent is
 * trimmed by @head or @tail blocks; otherwise (both 0) it is dropped. */
struct walk_dupfix {
	uint64_t node;               /* tree block holding the extent, 0 = the root */
	unsigned idx;
	uint32_t head, tail;
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
	struct walk_dupfix dupfix[WALK_DUPFIX_MAX];
	unsigned ndupfix;
	uint64_t leaf_dups;          /* of dups, those in leaf extents noted in dupfix */
	/* The root inode's record when it was claimed as a non-directory:
	 * re-creating the root must give those blocks back first. */
	struct sfs_inode old_root;
	bool old_root_claimed;
	uint8_t *blk;                /* scratch for directory and xattr blocks */
	struct dir_damage dd;
	char why[256];
};

/* 0, or -EFSCORRUPTED with the reason in w->why (VALIDATE). */
int fsck_walk_inode(struct walk *w, const struct sfs_inode *in, enum walk_mode mode);
/*
 * Repair I10 after a CLAIM walk found self-duplicates: the first mapping of
 * each block (in logical order) is kept; a later leaf extent whose
 * already-mapped blocks are a run at its start or end is trimmed by that
 * run, any other is dropped; what it no longer maps becomes a hole.  The
 * inode's claims are then taken again from the repaired tree (w holds the
 * new counts).  Root changes go into @in (caller re-encodes).
 * -EOPNOTSUPP, changing nothing, when a duplicate is not a leaf extent (a
 * tree node or the xattr block) or the change would empty a tree block or
 * move its first key.
 */
int fsck_drop_self_dups(struct walk *w, struct sfs_inode *in);
/* Apply one collected key fix (root: into @in, caller re-encodes). */
int fsck_fix_key(struct fsck *f, struct sfs_inode *in, const struct walk_keyfix *k);

#endif
