/*
 * The statistics hook: what the allocator, the inode cache and the extent
 * tree did, the space counters, then the buffer cache's and the
 * journal's own figures.  Memory figures are those of alloc/ (mc_stats);
 * the host kernel's and FUSE's page caches are outside them.
 */
#include <inttypes.h>
#include <stdio.h>

#include "fs/pagecache/pagecache.h"
#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/inode.h"

#define LOAD(f) atomic_load_explicit(&fs->stats.f, memory_order_relaxed)

static const struct {
	const char *name;
	size_t off;
} counters[] = {
#define C(f) { #f, offsetof(struct sfs_fs_stats, f) }
	C(alloc_calls), C(alloc_blocks), C(alloc_goal_hits), C(alloc_partial), C(alloc_enospc),
	C(alloc_groups_scanned), C(alloc_window_hits), C(alloc_window_discards),
	C(alloc_lazy_inits), C(free_calls), C(free_blocks), C(busy_released),
	C(inode_allocs), C(inode_frees), C(inode_reads), C(inode_writes),
	C(icache_hits), C(icache_misses), C(icache_shrunk),
	C(ext_lookups), C(ext_inserts), C(ext_merges), C(ext_splits), C(ext_grows),
	C(ext_shrinks), C(ext_removes), C(ext_converts), C(ext_node_frees),
	C(restarts), C(commit_retries), C(errors), C(orphans_finished),
#undef C
};

void sfs_fs_print_stats(struct sfs_fs *fs, FILE *f, int json)
{
	struct sfs_block_counts c;
	struct sfs_icache_stats ic;
	struct sfs_bcache_stats bs;
	uint64_t inodes_free;

	sfs_balloc_counts(fs, &c);
	sfs_icache_stats(fs, &ic);
	sfs_bcache_stats(fs->bc, &bs);
	mc_spin_lock(&fs->cnt_lock);
	inodes_free = fs->inodes_free;
	mc_spin_unlock(&fs->cnt_lock);

	if (json) {
		fprintf(f, "{\"fs\":{");
		for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
			fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", counters[i].name,
				atomic_load((_Atomic uint64_t *)((char *)&fs->stats + counters[i].off)));
		fprintf(f, ",\"blocks_free\":%" PRIu64 ",\"blocks_busy\":%" PRIu64
			",\"blocks_windows\":%" PRIu64 ",\"blocks_reserved_dirty\":%" PRIu64
			",\"root_reserve\":%" PRIu64 ",\"fs_reserve\":%" PRIu64
			",\"inodes_free\":%" PRIu64 ",\"inodes_cached\":%" PRIu64
			",\"inodes_lru\":%" PRIu64 ",\"extent_index_blocks\":%zu},", c.free, c.busy,
			c.windows, c.dirty, c.root_resv, c.fs_resv, inodes_free, ic.cached, ic.lru,
			sfs_ext_index_pinned(fs));
		fprintf(f, "\"buffers\":{\"buffers\":%" PRIu64 ",\"dirty\":%" PRIu64
			",\"hits\":%" PRIu64 ",\"misses\":%" PRIu64 ",\"reads\":%" PRIu64
			",\"writes\":%" PRIu64 ",\"evicted\":%" PRIu64 "}", bs.buffers, bs.dirty,
			bs.hits, bs.misses, bs.reads, bs.writes, bs.evicted);
		fprintf(f, ",\"pagecache\":");
		sfs_pc_print_stats(fs, f, 1);
		if (fs->j) {
			fprintf(f, ",\"journal\":");
			jnl_print_stats(fs->j, f, 1);
		}
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, "scopefs %s: %u-byte blocks, %u groups\n", fs->path, fs->bsize,
		fs->sbi->geo.group_count);
	fprintf(f, "  blocks: %" PRIu64 " free, %" PRIu64 " busy until commit, %" PRIu64
		" in preallocation windows, %" PRIu64 " reserved for delayed allocation\n",
		c.free, c.busy, c.windows, c.dirty);
	fprintf(f, "  reserves: %" PRIu64 " for privileged users, %" PRIu64 " for removals\n",
		c.root_resv, c.fs_resv);
	fprintf(f, "  inodes: %" PRIu64 " free, %" PRIu64 " cached (%" PRIu64 " unreferenced)\n",
		inodes_free, ic.cached, ic.lru);
	fprintf(f, "  extent index: %zu tree blocks pinned\n", sfs_ext_index_pinned(fs));
	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++)
		fprintf(f, "  %-22s %" PRIu64 "\n", counters[i].name,
			atomic_load((_Atomic uint64_t *)((char *)&fs->stats + counters[i].off)));
	fprintf(f, "  buffer cache: %" PRIu64 " buffers (%" PRIu64 " dirty), %" PRIu64 " hits, %"
		PRIu64 " misses, %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " evicted\n",
		bs.buffers, bs.dirty, bs.hits, bs.misses, bs.reads, bs.writes, bs.evicted);
	fprintf(f, "  ");
	sfs_pc_print_stats(fs, f, 0);
	if (fs->j)
		jnl_print_stats(fs->j, f, 0);
}
