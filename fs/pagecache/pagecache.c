/*
 * The page cache of a mount: creation with its writeback thread and
 * mempool, writing everything back (sync, unmount), statistics.
 */
#include <errno.h>

#include "fs/extent_tree.h"
#include "fs/pagecache/pc_internal.h"

int pc_thread_start(struct sfs_pcache *pc);
void pc_thread_stop(struct sfs_pcache *pc);
long pc_writeback_one(struct sfs_pcache *pc, struct pc_map *m);

/* Batches a writeback can always get: the thread's and one fsync's. */
#define WB_POOL_MIN 2u

struct sfs_pcache *pc_of(struct sfs_fs *fs)
{
	return fs->pc;
}

int sfs_pc_init(struct sfs_fs *fs)
{
	struct sfs_pcache *pc = mc_zalloc(sizeof(*pc), MC_KERNEL);
	int ret;

	if (!pc)
		return -ENOMEM;
	pc->fs = fs;
	ret = pc_index_init(pc);
	if (ret) {
		mc_free(pc);
		return ret;
	}
	pc->wb_pool = mc_mempool_create("pc.wb_batch", WB_POOL_MIN, sizeof(struct pc_batch));
	if (!pc->wb_pool) {
		pc_index_destroy(pc);
		mc_free(pc);
		return -ENOMEM;
	}
	fs->pc = pc;
	ret = pc_thread_start(pc);
	if (ret) {
		fs->pc = NULL;
		mc_mempool_destroy(pc->wb_pool);
		pc_index_destroy(pc);
		mc_free(pc);
	}
	return ret;
}

int sfs_pc_sync_all(struct sfs_fs *fs)
{
	struct sfs_pcache *pc = pc_of(fs);
	int err = 0;

	if (!pc)
		return 0;
	/* Round-robin over the inodes with dirty pages until a whole round
	 * writes nothing (an inode being freed has its pages dropped). */
	for (;;) {
		uint64_t maps = 0, written = 0;

		mc_mutex_lock(&pc->lock);
		for (struct pc_list *p = pc->dirty_maps.next; p != &pc->dirty_maps; p = p->next)
			maps++;
		mc_mutex_unlock(&pc->lock);
		if (!maps)
			break;
		for (uint64_t i = 0; i < maps; i++) {
			struct pc_map *m = NULL;
			long r;

			mc_mutex_lock(&pc->lock);
			if (!pc_list_empty(&pc->dirty_maps)) {
				m = pc_entry(pc->dirty_maps.next, struct pc_map, dlink);
				pc_list_del(&m->dlink);
				pc_list_add_tail(&pc->dirty_maps, &m->dlink);
				m->users++;
			}
			mc_mutex_unlock(&pc->lock);
			if (!m)
				break;
			r = pc_writeback_one(pc, m);
			if (r < 0 && !err)
				err = (int)r;
			if (r > 0)
				written += (uint64_t)r;
		}
		if (!written)
			break;
	}
	/* Batches of the thread still in flight end before this returns. */
	mc_mutex_lock(&pc->lock);
	while (pc->nr_wb)
		mc_cond_wait(&pc->cond, &pc->lock);
	mc_mutex_unlock(&pc->lock);
	return err;
}

void sfs_pc_destroy(struct sfs_fs *fs)
{
	struct sfs_pcache *pc = pc_of(fs);

	if (!pc)
		return;
	pc_thread_stop(pc);
	fs->pc = NULL;
	/* Dirty pages left (a shut-down filesystem): their reservations die
	 * with the mount. */
	mc_mempool_destroy(pc->wb_pool);
	pc_index_destroy(pc);
	mc_free(pc);
}

void sfs_pc_stop_thread(struct sfs_fs *fs)
{
	if (!fs->pc)
		return;
	pc_thread_stop(fs->pc);
	/* Before the journal closes: nothing dirty is written after this
	 * (a shut-down filesystem's pages are discarded). */
	pc_jrsv_release_all(fs->pc);
}

void sfs_pc_stats(struct sfs_fs *fs, struct sfs_pc_stats *o)
{
	struct sfs_pcache *pc = pc_of(fs);

	*o = (struct sfs_pc_stats){ 0 };
	if (!pc)
		return;
	mc_mutex_lock(&pc->lock);
	o->pages = pc->nr_pages;
	o->clean = pc->nr_clean;
	o->dirty = pc->nr_dirty;
	o->writeback = pc->nr_wb;
	o->delayed = pc->nr_delayed;
	o->reserved_md = pc->nr_md;
	o->jrsv = pc->nr_jrsv;
	mc_mutex_unlock(&pc->lock);
#define G(f) o->f = atomic_load(&pc->st.f)
	G(reads); G(read_pages); G(ra_pages); G(hits); G(writes); G(dirtied);
	G(wb_batches); G(wb_pages); G(wb_allocs); G(wb_errors); G(shrunk);
	G(shrink_no_clean); G(balance_sleeps); G(balance_ns); G(discarded);
	G(kicks); G(thread_rounds); G(bios);
	G(jrsv_waits); G(jrsv_misses); G(wb_rsv_starts); G(wb_plain_starts);
#undef G
	o->dirty_limit = pc_dirty_limit(false);
	o->bg_limit = pc_dirty_limit(true);
}

void sfs_pc_print_stats(struct sfs_fs *fs, FILE *f, int json)
{
	struct sfs_pc_stats s;

	sfs_pc_stats(fs, &s);
#define U(x) (unsigned long long)(x)
	if (json) {
		fprintf(f, "{\"pages\":%llu,\"clean\":%llu,\"dirty\":%llu,\"writeback\":%llu,"
			"\"delayed\":%llu,\"reserved_md\":%llu,\"reads\":%llu,\"read_pages\":%llu,"
			"\"ra_pages\":%llu,\"hits\":%llu,\"writes\":%llu,\"dirtied\":%llu,"
			"\"wb_batches\":%llu,\"wb_pages\":%llu,\"wb_allocs\":%llu,\"wb_errors\":%llu,"
			"\"shrunk\":%llu,\"shrink_no_clean\":%llu,\"balance_sleeps\":%llu,"
			"\"balance_ns\":%llu,\"discarded\":%llu,\"kicks\":%llu,\"dirty_limit\":%llu,"
			"\"bios\":%llu,\"jrsv\":%llu,\"jrsv_waits\":%llu,\"jrsv_misses\":%llu,"
			"\"wb_rsv_starts\":%llu,\"wb_plain_starts\":%llu}",
			U(s.pages), U(s.clean), U(s.dirty), U(s.writeback), U(s.delayed),
			U(s.reserved_md), U(s.reads), U(s.read_pages), U(s.ra_pages), U(s.hits),
			U(s.writes), U(s.dirtied), U(s.wb_batches), U(s.wb_pages), U(s.wb_allocs),
			U(s.wb_errors), U(s.shrunk), U(s.shrink_no_clean), U(s.balance_sleeps),
			U(s.balance_ns), U(s.discarded), U(s.kicks), U(s.dirty_limit), U(s.bios),
			U(s.jrsv), U(s.jrsv_waits), U(s.jrsv_misses), U(s.wb_rsv_starts),
			U(s.wb_plain_starts));
		return;
	}
	fprintf(f, "page cache: %llu pages (%llu clean, %llu dirty, %llu writeback, %llu delayed), "
		"%llu tree blocks reserved\n", U(s.pages), U(s.clean), U(s.dirty), U(s.writeback),
		U(s.delayed), U(s.reserved_md));
	fprintf(f, "  reads %llu (%llu pages read, %llu read ahead, %llu hits), writes %llu "
		"(%llu pages dirtied)\n", U(s.reads), U(s.read_pages), U(s.ra_pages), U(s.hits),
		U(s.writes), U(s.dirtied));
	fprintf(f, "  writeback %llu batches, %llu pages, %llu allocations, %llu errors; "
		"discarded %llu; %llu device requests\n", U(s.wb_batches), U(s.wb_pages),
		U(s.wb_allocs), U(s.wb_errors), U(s.discarded), U(s.bios));
	fprintf(f, "  shrunk %llu (no clean page while dirty: %llu); balance sleeps %llu "
		"(%.3f s); kicks %llu; limits %llu / %llu pages\n", U(s.shrunk),
		U(s.shrink_no_clean), U(s.balance_sleeps), (double)s.balance_ns / 1e9, U(s.kicks),
		U(s.dirty_limit), U(s.bg_limit));
	fprintf(f, "  journal reservations: %llu held, %llu writer waits, %llu gone without; "
		"writeback handles %llu reserved, %llu ordinary\n", U(s.jrsv), U(s.jrsv_waits),
		U(s.jrsv_misses), U(s.wb_rsv_starts), U(s.wb_plain_starts));
#undef U
}
