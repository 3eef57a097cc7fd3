/*
 * Shrinkers: caches that give memory back under pressure.
 *
 * A shrinker declares what reclaim context it needs (MC_FS, MC_IO).  Direct
 * reclaim calls only the shrinkers the allocation's effective flags allow
 * (so nothing that needs FS runs inside a NOFS scope); the background
 * reclaimer may call them all.  Callbacks run in MEMALLOC context: their own
 * allocations may use the reclaim reserve and never recurse into reclaim.
 * A callback must not wait for writeback or for a journal commit; it may
 * kick them.  scan() returns objects freed or MC_SHRINK_STOP.
 * unregister() waits for callbacks in flight.
 */
#ifndef MC_SHRINKER_H
#define MC_SHRINKER_H

#include <stddef.h>
#include <stdint.h>
#include "alloc/flags.h"

#define MC_SHRINK_STOP ((size_t)-1)

struct mc_shrink_control {
	mc_flags_t flags;      /* effective flags of the reclaim on whose behalf we run */
	size_t nr_to_scan;     /* objects to look at */
	size_t nr_scanned;     /* set by scan() if it looked at a different number */
	int background;        /* 1 when called by the background reclaimer */
};

struct mc_shrinker {
	const char *name;
	mc_flags_t needs;      /* MC_FS and/or MC_IO, or 0 */
	size_t (*count)(struct mc_shrinker *, struct mc_shrink_control *);
	size_t (*scan)(struct mc_shrinker *, struct mc_shrink_control *);
	void *priv;
	/* private to alloc/ */
	struct mc_shrinker *next;
	unsigned active;       /* callbacks in flight */
	int registered;
	uint64_t calls, freed, skipped_ctx;
};

int mc_shrinker_register(struct mc_shrinker *s);
void mc_shrinker_unregister(struct mc_shrinker *s);

#endif
