/*
 * Reclaim: direct reclaim in the allocation slow path, the background
 * reclaimer (kswapd analogue), and the writeback accounting that reclaim
 * throttles on (seed 000, Mel Gorman's reclaim_throttle).
 *
 * Direct reclaim never writes dirty data itself: it frees what shrinkers
 * allow, wakes the writeback side through the kick callback the filesystem
 * registers, and throttles (throttle.h).  The I/O layer reports pages it
 * submits and completes; completion reporting never sleeps.
 */
#ifndef MC_RECLAIM_H
#define MC_RECLAIM_H

#include <stddef.h>
#include "alloc/flags.h"

/* I/O layer: writeback submitted / completed, in 4 KiB pages. */
void mc_writeback_submitted(size_t pages);
void mc_writeback_completed(size_t pages);
size_t mc_writeback_inflight(void);

/*
 * Filesystem: reclaim asks writeback to clean about @pages pages.  Must not
 * block.  One kicker per mounted filesystem: a kick calls every one
 * registered.  Unregistering waits for a kick running the kicker (so its
 * @arg may be freed after), and must not be done from its own callback.
 */
typedef void (*mc_wb_kick_fn)(void *arg, size_t pages);
struct mc_wb_kicker {
	mc_wb_kick_fn fn;
	void *arg;
	/* private */
	struct mc_wb_kicker *next;
	unsigned active;
	int registered;
};
void mc_writeback_kicker_register(struct mc_wb_kicker *k);
void mc_writeback_kicker_unregister(struct mc_wb_kicker *k);

/* Run reclaim for @bytes with @flags' context (scopes apply); returns bytes freed. */
size_t mc_reclaim(size_t bytes, mc_flags_t flags);
/* Drop every cache a shrinker will let go (control client "drop caches"). */
size_t mc_drop_caches(void);
/* Wake the background reclaimer. */
void mc_wake_background_reclaim(void);

#endif
