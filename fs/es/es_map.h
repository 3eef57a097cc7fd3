/*
 * An inode's extent tree seen through its status cache (ip->es).
 *
 * Lookups ask the cache first and fill it from the on-disk tree on a miss,
 * holes included, so a second lookup of the same range walks nothing.
 * Exactness: the tree's change functions (insert, remove, mark_written,
 * shift) forget the range they change from the cache *before* changing
 * the tree -- forgetting may need an allocation (removing the middle of a
 * cached extent splits it), and that is the step that may fail, with
 * nothing changed yet.  With SFS_EXT_NOFAIL (truncate) the forget passes
 * SFS_ES_NOFAIL and cannot fail (seed 000's ext4_es_remove_extent).
 *
 * Fills and the handle restarts of a long change: the tree code drops
 * data_sem around a restart, so a lookup may fill the cache from a tree
 * half-way through a change; such a change forgets its range once more
 * (NOFAIL: it is past the point of failing) when it has restarted.
 *
 * Locking: callers hold ip->data_sem (read for lookups, write for
 * changes); the cache's tree lock nests inside it.
 */
#ifndef SFS_ES_MAP_H
#define SFS_ES_MAP_H

#include "fs/extent_tree.h"

/*
 * What @lblk is: 0 and *out, the cached range holding it -- WRITTEN or
 * UNWRITTEN with its blocks, or HOLE (as far as known; at least @lblk
 * itself) -- which may start before @lblk and be longer than one on-disk
 * extent (contiguous cached extents merge).  -errno from the tree on a
 * miss.
 */
int sfs_es_map_lookup(struct sfs_inode_info *ip, uint32_t lblk, unsigned eflags,
		      struct sfs_es_extent *out);

/* Forget [start, end) (end up to 2^32).  @eflags: SFS_EXT_NOFAIL makes it
 * unable to fail; otherwise -ENOMEM with the cache unchanged. */
int sfs_es_forget(struct sfs_inode_info *ip, uint64_t start, uint64_t end, unsigned eflags);

/* Cache lookups bypassed (benchmarks, tests): process-wide. */
void sfs_es_map_bypass(bool on);

#endif
