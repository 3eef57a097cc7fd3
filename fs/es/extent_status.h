/*
 * The extent status cache: per inode, what is known about each range of
 * logical blocks -- written, unwritten, delayed (reserved, not yet
 * allocated) or a hole -- so lookups need not walk the on-disk tree
 * (ext4's extents_status).
 *
 * Each tree is a set of non-overlapping extents ordered by logical block,
 * kept in a B+tree: leaves of up to SFS_ES_LEAF extents (sorted arrays)
 * under inner nodes of 64 keys (O(log n) lookup, insert and range
 * removal).  Why not one node per extent (the first version, a treap): a
 * lookup in 10^5 single-block extents chased ~25 pointers through cold
 * memory and lost to the warm on-disk tree (955 vs 629 ns); a leaf is
 * searched inside a few cache lines and three inner levels cover 10^6
 * extents.  A per-tree hint (the leaf of the last lookup and its span)
 * skips the descent for sequential lookups.  Absent ranges are unknown:
 * the caller reads the on-disk tree and inserts what it finds, holes
 * included.  Every change leaves the tree exact.
 *
 * Memory (seed 000).  A change allocates only to split one full leaf (and
 * the full inner nodes above it): inserting into a full leaf, or removing
 * the middle of a cached extent (it splits in two) held in a full leaf.
 * The nodes needed are counted under the tree lock and allocated outside
 * it.  Outside truncate that allocation may fail: the cache first gives
 * back some of its own entries and retries once, through alloc/'s
 * annotated helper, then returns -ENOMEM with the tree unchanged.  Inside
 * truncate the caller passes SFS_ES_NOFAIL and the allocation cannot fail
 * (it loops inside the allocator).
 *
 * Reclaim.  All trees of a cache share one LRU (by last lookup); the
 * cache's shrinker frees unused extents (and leaves they empty) from the
 * coldest trees.
 * It needs neither MC_FS nor MC_IO: it touches only memory, and takes a
 * tree's lock with a try-lock, skipping trees in use, so it cannot
 * deadlock against a thread that holds a tree lock and allocates (the
 * kernel's ext4_es_scan does the same with write_trylock).  Delayed
 * extents are never shrunk: they are the only record of a reservation.
 *
 * Locking: each tree has its own lock (taken inside every call; callers
 * hold nothing of ours).  Lock order: tree lock > cache LRU lock.
 */
#ifndef SFS_EXTENT_STATUS_H
#define SFS_EXTENT_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include "alloc/mc.h"

enum sfs_es_state {
	SFS_ES_WRITTEN = 1,     /* mapped, data on disk */
	SFS_ES_UNWRITTEN,       /* mapped, reads as zeros (preallocated) */
	SFS_ES_DELAYED,         /* no block yet: space reserved at write time */
	SFS_ES_HOLE,            /* known not mapped */
};

struct sfs_es_extent {
	uint32_t lblk;          /* first logical block */
	uint32_t len;           /* blocks (>= 1) */
	uint64_t pblk;          /* first physical block (WRITTEN / UNWRITTEN), else 0 */
	enum sfs_es_state state;
};

struct sfs_es_node;
struct sfs_es_cache;

/* Extents per leaf: a leaf is one allocation of about 900 bytes. */
#define SFS_ES_LEAF 32

struct sfs_es_tree {
	mc_mutex_t lock;
	struct sfs_es_node *root;    /* B+tree of leaves (extent_status.c) */
	unsigned height;             /* inner levels above the leaves */
	struct sfs_es_node *hint;    /* leaf of the last lookup, or NULL (cleared by changes) */
	uint64_t hint_lo, hint_hi;   /* its span: first start, next leaf's first start */
	struct sfs_es_cache *cache;
	uint64_t nodes;          /* extents cached */
	uint64_t leaves;         /* leaves holding them */
	uint64_t lru_stamp;      /* last use, for the shrinker */
	struct sfs_es_tree *lru_prev, *lru_next;  /* cache LRU, under the cache's lock */
	bool on_lru;
	unsigned pinned;         /* owner allocating outside the lock: the shrinker skips it */
};

/* Flags for insert / remove. */
#define SFS_ES_NOFAIL 0x1u      /* truncate: the split allocation must not fail */
#define SFS_ES_HINT   0x2u      /* a fill from the on-disk tree: may fail, no retry */

struct sfs_es_cache *sfs_es_cache_create(const char *name);
/* Every tree must have been destroyed. */
void sfs_es_cache_destroy(struct sfs_es_cache *c);

void sfs_es_tree_init(struct sfs_es_tree *t, struct sfs_es_cache *c);
void sfs_es_tree_destroy(struct sfs_es_tree *t);

/* The extent containing @lblk: 1 and *out, or 0 when @lblk is not cached. */
int sfs_es_lookup(struct sfs_es_tree *t, uint32_t lblk, struct sfs_es_extent *out);
/* The first cached extent starting at or after @lblk: 1 / 0. */
int sfs_es_next(struct sfs_es_tree *t, uint32_t lblk, struct sfs_es_extent *out);
/* Record @e (replacing whatever was cached over its range); adjacent
 * extents of the same state and contiguous blocks merge.  0 or -ENOMEM
 * (never with SFS_ES_NOFAIL; the tree is then unchanged). */
int sfs_es_insert(struct sfs_es_tree *t, const struct sfs_es_extent *e, unsigned flags);
/* Forget [lblk, lblk + len).  0 or -ENOMEM as for insert. */
int sfs_es_remove(struct sfs_es_tree *t, uint32_t lblk, uint32_t len, unsigned flags);
/* Blocks in DELAYED state within [lblk, lblk + len) (reservations). */
uint64_t sfs_es_count_delayed(struct sfs_es_tree *t, uint32_t lblk, uint32_t len);
/* Visit every cached extent in order; stop early when fn returns non-zero. */
int sfs_es_walk(struct sfs_es_tree *t, int (*fn)(const struct sfs_es_extent *, void *), void *arg);

/* Tests: check the tree's invariants (leaves ordered and non-overlapping,
 * 1..SFS_ES_LEAF extents each, keys, heap order, counts); 0 or -EUCLEAN. */
int sfs_es_check(struct sfs_es_tree *t);

/* Free up to @nr cached extents (not delayed ones) from the coldest trees
 * that are not in use; returns how many were freed. */
uint64_t sfs_es_shrink(struct sfs_es_cache *c, uint64_t nr);

struct sfs_es_stats {
	uint64_t lookups, hits, inserts, removes, splits, merges;
	uint64_t nodes, trees, shrunk, shrink_skipped_busy, enomem, retried;
	uint64_t leaves;
};
void sfs_es_stats(struct sfs_es_cache *c, struct sfs_es_stats *out);

#endif
