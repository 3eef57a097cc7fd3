/*
 * Mempools: a guaranteed minimum of preallocated elements for paths that
 * must make progress to free memory (writeback, commit).
 *
 * Allocation order: a plain allocation without direct reclaim, then an
 * element from the pool, then (if the flags allow sleeping) wait for an
 * element to be returned.  Taking a second element from the reserve while
 * this thread still holds one it has not returned is reported
 * (MC_REP_MEMPOOL_DOUBLE): the second wait could depend on the first
 * element, which only this thread can return (seed 002).
 */
#ifndef MC_MEMPOOL_H
#define MC_MEMPOOL_H

#include <stddef.h>
#include "alloc/flags.h"

struct mc_mempool;

struct mc_mempool *mc_mempool_create(const char *name, unsigned min_nr, size_t elem_size);
void mc_mempool_destroy(struct mc_mempool *pool);
void *mc_mempool_alloc(struct mc_mempool *pool, mc_flags_t flags);
void mc_mempool_free(struct mc_mempool *pool, void *elem);
/* Elements currently in the reserve. */
unsigned mc_mempool_reserve_count(struct mc_mempool *pool);

#endif
