/*
 * The on-disk extent tree of an inode (ext4's design).
 *
 * The root (four entries) lives in the inode; below it, index and leaf
 * blocks of (block size - 80) / 16 entries (fs/format/extent.h).  Depth
 * grows by one when the root is full (its entries move to a new block)
 * and shrinks when the root's only child fits back in the root.  The
 * debug option fanout=N caps every node at N entries (N >= 3) so that
 * deep trees appear with few extents; nodes still say their full
 * capacity on disk, so such a tree is an ordinary tree to every reader.
 *
 * Invariants, checked by sfs_ext_check() (and fsck):
 *  - extents sorted by logical block, non-overlapping, 1..32768 blocks,
 *    inside the data area; no two adjacent extents of one leaf that
 *    could merge need be merged (merging is an optimisation);
 *  - every index key equals the first logical block of its child; keys
 *    strictly increasing; children exactly one level deeper;
 *  - no node below the root is empty; a root of depth > 0 is not empty;
 *  - every node block is owned by the inode, names itself, and verifies;
 *  - the inode's block count = data blocks + tree blocks (+ xattr block).
 *
 * Failure atomicity: every step acquires what can fail first (trans.h);
 * an operation that returns -ENOMEM or -ENOSPC may have done some of its
 * steps (a split) but leaves the tree valid and the block counts exact.
 * NOFAIL: SFS_EXT_NOFAIL makes every allocation of the operation -- the
 * path, buffer reads (SFS_BUF_NOFAIL), the allocator's bitmap reads --
 * unable to fail on ENOMEM (truncate, seed 000's EXT4_EX_NOFAIL).
 *
 * Locking: callers hold ip->data_sem, for reading (lookups, walks) or
 * writing (changes); changes run under a handle.  The tree code drops and
 * retakes data_sem (write) only around a handle restart.
 */
#ifndef SFS_EXTENT_TREE_H
#define SFS_EXTENT_TREE_H

#include "fs/format/extent.h"
#include "fs/format/verify.h"
#include "fs/inode.h"
#include "fs/trans.h"

#define SFS_EXT_NOFAIL       0x1u   /* no allocation may fail */
#define SFS_EXT_USE_RESERVE  0x2u   /* tree blocks may come from the filesystem reserve */

#define SFS_EXT_MAX_DEPTH    SFS_EXTENT_MAX_DEPTH
#define SFS_EXT_LBLK_END     (1ull << 32)   /* one past the largest logical block */

static inline bool sfs_ext_unwritten(const struct sfs_extent *e)
{
	return e->flags & SFS_EXTENT_FL_UNWRITTEN;
}
static inline uint64_t sfs_ext_end(const struct sfs_extent *e)
{
	return (uint64_t)e->lblk + e->len;
}

/* ---- the path from the root to a leaf (extent_path.c) ---- */

/* Keys a node search samples first (extent_path.c). */
#define SFS_EXT_SAMPLES      16u

/* A tree block's twin in the index cache (below). */
struct sfs_ext_cnode {
	/* what a lookup reads first */
	uint64_t blk;                /* the node's block */
	uint8_t *node;               /* its node header in the pinned buffer */
	struct sfs_buf *bh;          /* pinned while the twin lives */
	unsigned nkids;              /* 0: a leaf */
	unsigned hint;               /* entries when filled: what to prefetch */
	/* The node's shape and every stride-th key, taken by a lookup and
	 * valid while ip->ext_seq + 1 == sum_seq (the node unchanged): the
	 * search then reads one stretch of the node, not its header and
	 * samples first (extent_path.c).  Fields written atomically: lookups
	 * holding data_sem for reading fill it concurrently, with equal values. */
	uint64_t sum_seq;
	uint16_t sum_entries, sum_max, sum_stride, sum_n;
	uint32_t sum_key[SFS_EXT_SAMPLES];
	struct sfs_ext_cnode *kid[]; /* by entry; NULL = not known yet */
};

struct sfs_ext_level {
	struct sfs_buf *bh;          /* NULL at level 0: the root in the inode */
	struct sfs_ext_cnode *cn;    /* its twin in the index cache, if any */
	bool borrowed;               /* bh pinned by the index cache, not by the path */
	uint8_t *node;               /* the node header */
	unsigned entries;
	unsigned max;                /* capacity, after the debug cap */
	int pos;                     /* entry followed (index) / found (leaf), -1 = none */
};

struct sfs_ext_path {
	struct sfs_inode_info *ip;
	unsigned depth;
	unsigned flags;              /* SFS_EXT_NOFAIL */
	struct sfs_ext_level lv[SFS_EXT_MAX_DEPTH + 1];
};

/* Path to the leaf where @lblk is or would be.  Reads verified nodes;
 * -EUCLEAN (reported) on a node that breaks the tree's structure. */
int sfs_ext_find(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
		 struct sfs_ext_path **out);
void sfs_ext_path_free(struct sfs_ext_path *p);
/* Move the path to the next / previous leaf: 1 moved, 0 none, -errno. */
int sfs_ext_path_next_leaf(struct sfs_ext_path *p);
/* First logical block of the leaf after the path's one (2^32 if none). */
uint64_t sfs_ext_path_next_key(const struct sfs_ext_path *p);
/* Depth from the root header. */
unsigned sfs_ext_depth(struct sfs_inode_info *ip);

/* ---- lookups (extent_path.c) ---- */

/* The extent containing @lblk: 1 and *e; or 0 and the hole around it
 * (*e = { lblk, len up to the next extent, capped at 32768 }). */
int sfs_ext_lookup(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
		   struct sfs_extent *e);
/* First extent ending after @lblk (search right): 1 / 0 none. */
int sfs_ext_next(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, struct sfs_extent *e);
/* Last extent starting at or before @lblk (search left): 1 / 0 none. */
int sfs_ext_prev(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, struct sfs_extent *e);
/* Every extent from @lblk on, in order; @fn returns non-zero to stop
 * (that value is returned). */
typedef int (*sfs_ext_walk_fn)(void *arg, const struct sfs_extent *e);
int sfs_ext_walk(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, sfs_ext_walk_fn fn,
		 void *arg);

/* ---- changes ---- */

/* Credits one insert / convert step may need at the current depth. */
unsigned sfs_ext_credits(struct sfs_inode_info *ip);
/* Credits one removal step may need. */
unsigned sfs_ext_remove_credits(struct sfs_inode_info *ip);

/* Map [e->lblk, +len) to e->pblk (a hole: -EEXIST if it overlaps),
 * merging with a neighbour in its leaf when contiguous (extent_insert.c). */
int sfs_ext_insert(struct sfs_trans *t, struct sfs_inode_info *ip, const struct sfs_extent *e,
		   unsigned flags);
/* Unmap [start, end) and free its blocks (deferred until commit), however
 * the range cuts the extents; empty tree blocks are freed and the tree
 * shrinks.  Long removals restart the handle (data_sem is dropped around
 * the restart).  *freed, if given, gets the blocks freed. */
int sfs_ext_remove(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t start, uint64_t end,
		   unsigned flags, uint64_t *freed);
/* Unwritten -> written over [lblk, lblk + len), splitting extents as
 * needed; holes and written blocks are left alone (extent_convert.c). */
int sfs_ext_mark_written(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
			 uint32_t len, unsigned flags);

/* Move every extent starting at or after @from by @amount blocks, left
 * (collapse: [from - amount, from) must be empty) or right (insert;
 * -EFBIG if the last extent would pass 2^32).  Restarts the handle between
 * leaves (extent_shift.c). */
int sfs_ext_shift(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t from, uint32_t amount,
		  bool left, unsigned flags);
/* Make @lblk the start of an extent when an extent covers it (one more
 * entry; may split a leaf). */
int sfs_ext_split_at(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
		     unsigned flags);

/* ---- checking (extent_check.c) ---- */

struct sfs_ext_stats {
	unsigned depth;
	uint64_t nodes;              /* tree blocks */
	uint64_t extents;
	uint64_t blocks;             /* data blocks mapped */
	uint64_t unwritten;          /* of which unwritten */
};
/* Walk everything and check the invariants above; 0 or -EUCLEAN with the
 * first violation in @why.  data_sem held (either way). */
int sfs_ext_check(struct sfs_inode_info *ip, struct sfs_ext_stats *st, char *why, size_t len);

/* ---- the index cache (extent_cache.c) ----
 *
 * An in-memory twin of each tree block lookups go through: it pins the
 * block's buffer, points straight at its children's twins, and keeps the
 * node's entry count and every stride-th key while the tree is unchanged
 * (sum_seq == ip->ext_seq + 1).  Only the read-only lookups
 * (sfs_ext_lookup/next/prev/walk) use it; their path borrows the pinned
 * buffers, which is safe because twins are freed only with data_sem held
 * for writing, and a lookup holds data_sem throughout (a walk's callback
 * must not change the tree).  A change to an index node or the root drops
 * every twin of the inode (sfs_ext_level_end); a leaf change only
 * outdates the samples (ext_seq).  The shrinker "sfs_extent_index" drops
 * the twins of inodes whose data_sem it can take; destroying the inode
 * frees them.  A twin is used only while its block number is the one its
 * parent's entry names: entries that moved cost a miss.  A tree block is
 * freed (and its number reused) only by a change to its parent, which
 * drops the twins first.
 */
/* The mount's index: the list of inodes with twins and its shrinker
 * (created before the inode cache, destroyed after it). */
int sfs_ext_index_create(struct sfs_fs *fs);
void sfs_ext_index_destroy(struct sfs_fs *fs);
/* Tree blocks the mount's index pins now (statistics, tests). */
size_t sfs_ext_index_pinned(struct sfs_fs *fs);
/* The root's twin (created on first use), NULL without memory. */
struct sfs_ext_cnode *sfs_ext_cache_root(struct sfs_inode_info *ip);
/* The twin of entry @pos's child if it is block @blk's, else NULL. */
struct sfs_ext_cnode *sfs_ext_cache_kid(struct sfs_ext_cnode *n, int pos, uint64_t blk);
/* Install a twin for entry @pos's child @bh (a verified node at @depth):
 * the twin, or NULL (no memory, an outdated twin there, or pinning more
 * would pass half the buffer cache's cap). */
struct sfs_ext_cnode *sfs_ext_cache_fill(struct sfs_inode_info *ip, struct sfs_ext_cnode *n,
					 int pos, struct sfs_buf *bh, unsigned depth);
/* data_sem held for writing: forget every twin of @ip. */
void sfs_ext_cache_drop(struct sfs_inode_info *ip);
/* The inode is being freed. */
void sfs_ext_cache_destroy(struct sfs_inode_info *ip);

/* ---- internals shared by the extent_*.c files ---- */

/* Path flag of the read-only lookups: descend through the index cache,
 * borrowing its buffers. */
#define SFS_EXT_BORROW       0x100u

unsigned sfs_ext_cap(struct sfs_fs *fs, unsigned capacity);
void sfs_ext_level_load(struct sfs_fs *fs, struct sfs_ext_level *l);
void sfs_ext_set_entries(struct sfs_ext_level *l, unsigned n);
uint32_t sfs_ext_level_key(const struct sfs_ext_level *l, unsigned depth_of_node);
/* Take write access to level @L (the inode's table block for the root). */
int sfs_ext_level_access(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L);
/* Around a change of level @L: lock the block (begin); stamp, log and
 * unlock it, or for the root copy it to the inode and log that (end). */
void sfs_ext_level_begin(struct sfs_ext_path *p, unsigned L);
int sfs_ext_level_end(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L);
/* Entry slots. */
static inline uint8_t *sfs_ext_slot(const struct sfs_ext_level *l, unsigned i)
{
	return l->node + sizeof(struct sfs_disk_extent_hdr) + (size_t)i * 16;
}
void sfs_ext_slot_insert(struct sfs_ext_level *l, unsigned i, unsigned count);
void sfs_ext_slot_delete(struct sfs_ext_level *l, unsigned i, unsigned count);
/* Prepare / apply the index-key corrections above level @L after its
 * first key changed: access every ancestor whose key must follow. */
int sfs_ext_keys_access(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L);
int sfs_ext_keys_fix(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L);
/* Make the leaf where @lblk belongs have @need free entries, splitting
 * (and growing) as needed; returns the path to it (extent_insert.c). */
int sfs_ext_make_room(struct sfs_trans *t, struct sfs_inode_info *ip, uint32_t lblk,
		      unsigned need, unsigned flags, struct sfs_ext_path **out);
/* Merge leaf entry @i with its neighbours where contiguous; returns the
 * index the merged extent ends up at. */
unsigned sfs_ext_leaf_merge(struct sfs_fs *fs, struct sfs_ext_level *l, unsigned i);
bool sfs_ext_mergeable(const struct sfs_extent *a, const struct sfs_extent *b);
/* A goal for a new tree block: near the inode's data. */
uint64_t sfs_ext_tree_goal(const struct sfs_ext_path *p);
/* Report a structural problem of the tree (returns -EUCLEAN). */
int sfs_ext_corrupt(struct sfs_inode_info *ip, uint64_t blk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
