/*
 * The writeback thread and the dirty limits.
 *
 * The thread (started with mc_thread_create: PR_SET_IO_FLUSHER) wakes
 * every interval_ms, when a writer passes the background limit, and when
 * direct reclaim kicks it (alloc/'s writeback-kick callback: a counter
 * and a semaphore post, no lock, as the callback runs inside reclaim).
 * It writes inodes a batch at a time, round-robin, until the dirty count
 * is under the background limit and every kicked page is done (or, on a
 * periodic wake, until nothing is dirty).
 *
 * balance_dirty_pages: a writer above the dirty limit sleeps for as long
 * as the measured writeback rate needs to write what it dirtied (between
 * 1 ms and 200 ms), again while it stays above, woken early when writeback
 * brings the count under the limit.
 */
#include <errno.h>
#include <time.h>

#include "fs/extent_tree.h"
#include "fs/pagecache/pc_internal.h"

uint64_t pc_dirty_limit(bool background)
{
	struct mc_config c;
	unsigned pct = background ? (pc_tun.background_ratio_pct ? pc_tun.background_ratio_pct : 10)
				  : (pc_tun.dirty_ratio_pct ? pc_tun.dirty_ratio_pct : 20);
	uint64_t bytes;

	mc_config_get(&c);
	if (c.budget)
		bytes = (uint64_t)c.budget / 100 * pct;
	else
		bytes = (pc_tun.dirty_min_bytes ? pc_tun.dirty_min_bytes : 64ull << 20) / 20 * pct / 5;
	return bytes / 4096 ? bytes / 4096 : 1;
}

void pc_kick(struct sfs_pcache *pc)
{
	PC_STAT(pc, kicks, 1);
	sem_post(&pc->kick);
}

/* alloc/'s writeback kick: runs inside reclaim, takes no lock. */
static void reclaim_kick(void *arg, size_t pages)
{
	struct sfs_pcache *pc = arg;

	atomic_fetch_add(&pc->kick_pages, pages);
	pc_kick(pc);
}

/* The next inode with dirty pages, used; rotated to the back. */
static struct pc_map *next_dirty(struct sfs_pcache *pc)
{
	struct pc_map *m = NULL;

	mc_mutex_lock(&pc->lock);
	if (!pc_list_empty(&pc->dirty_maps)) {
		m = pc_entry(pc->dirty_maps.next, struct pc_map, dlink);
		pc_list_del(&m->dlink);
		pc_list_add_tail(&pc->dirty_maps, &m->dlink);
		m->users++;
	}
	mc_mutex_unlock(&pc->lock);
	return m;
}

/* One batch of @m; pages written, or -errno.  Drops the use count. */
long pc_writeback_one(struct sfs_pcache *pc, struct pc_map *m)
{
	long r = pc_writeback_map(pc, m, 0, SFS_EXT_LBLK_END, SFS_PC_BATCH);

	mc_mutex_lock(&pc->lock);
	m->users--;
	pc_map_maybe_free(pc, m);
	mc_mutex_unlock(&pc->lock);
	return r;
}

static void *wb_thread(void *arg)
{
	struct sfs_pcache *pc = arg;

	while (!atomic_load(&pc->stop)) {
		unsigned ms = pc_tun.interval_ms ? pc_tun.interval_ms : 1000;
		struct timespec ts;
		bool periodic;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (long)(ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		periodic = sem_timedwait(&pc->kick, &ts) != 0;
		if (atomic_load(&pc->stop))
			break;
		PC_STAT(pc, thread_rounds, 1);
		for (;;) {
			uint64_t dirty, want = atomic_load(&pc->kick_pages);
			struct pc_map *m;
			mc_scope_t tok;
			long r;

			bool drain;

			mc_mutex_lock(&pc->lock);
			dirty = pc->nr_dirty;
			/* writers waiting for journal credits: writeback of
			 * the inodes holding them gives them back */
			if (pc->rsv_drain && pc->nr_jrsv <= pc->rsv_drain_to)
				pc->rsv_drain = false;
			drain = pc->rsv_drain;
			mc_mutex_unlock(&pc->lock);
			if (!dirty || atomic_load(&pc->stop))
				break;
			if (!periodic && !want && dirty <= pc_dirty_limit(true) && !drain)
				break;
			m = next_dirty(pc);
			if (!m)
				break;
			/* One batch, one operation; in MEMALLOC context: what the
			 * batch allocates beyond its mempool element (a handle,
			 * tree buffers) may come from the reclaim reserve, so
			 * writeback moves with no clean memory left. */
			mc_op_begin();
			tok = mc_memalloc_save();
			r = pc_writeback_one(pc, m);
			mc_memalloc_restore(tok);
			mc_op_end();
			if (r > 0) {
				uint64_t w = atomic_load(&pc->kick_pages);

				while (w && !atomic_compare_exchange_weak(&pc->kick_pages, &w,
									  w > (uint64_t)r ? w - (uint64_t)r : 0))
					;
			} else {
				break;   /* an error or nothing done: the next round */
			}
		}
	}
	return NULL;
}

int pc_thread_start(struct sfs_pcache *pc)
{
	int ret;

	sem_init(&pc->kick, 0, 0);
	ret = mc_thread_create(&pc->thread, "sfs-writeback", wb_thread, pc);
	if (ret) {
		sem_destroy(&pc->kick);
		return ret;
	}
	pc->thread_started = true;
	pc->kicker = (struct mc_wb_kicker){ .fn = reclaim_kick, .arg = pc };
	mc_writeback_kicker_register(&pc->kicker);
	return 0;
}

void pc_thread_stop(struct sfs_pcache *pc)
{
	if (!pc->thread_started)
		return;
	mc_writeback_kicker_unregister(&pc->kicker);
	atomic_store(&pc->stop, true);
	sem_post(&pc->kick);
	pthread_join(pc->thread, NULL);
	sem_destroy(&pc->kick);
	pc->thread_started = false;
}

void sfs_pc_balance(struct sfs_fs *fs, size_t pages)
{
	struct sfs_pcache *pc = pc_of(fs);
	uint64_t limit = pc_dirty_limit(false), t0 = 0;

	if (!pc || !pages)
		return;
	mc_mutex_lock(&pc->lock);
	while (pc->nr_dirty + pc->nr_wb > limit && !atomic_load(&pc->stop)) {
		uint64_t rate = mc_writeback_rate(), pause;

		/* the time writeback needs for what this writer dirtied */
		pause = rate ? (uint64_t)pages * 1000000000ull / rate : 10000000ull;
		if (pause < 1000000ull)
			pause = 1000000ull;
		if (pause > 200000000ull)
			pause = 200000000ull;
		if (!t0)
			t0 = mc_monotonic_ns();
		pc_kick(pc);
		PC_STAT(pc, balance_sleeps, 1);
		mc_cond_timedwait(&pc->balance, &pc->lock, mc_monotonic_ns() + pause);
	}
	mc_mutex_unlock(&pc->lock);
	if (t0)
		PC_STAT(pc, balance_ns, mc_monotonic_ns() - t0);
}
