/*
 * Operation boundaries and the one allowed retry (seed 000, Michal Hocko).
 *
 * An open-coded loop around the allocator is a defect: NOFAIL does that job
 * inside the allocator.  The one allowed pattern is "do something that helps
 * progress (shrink my own cache), then retry once"; it goes through
 * mc_alloc_retry_once().  With the retry detector on, a site called again by
 * the same thread after it returned NULL, within the same operation, is
 * reported (MC_REP_OPEN_RETRY).  fs/ marks operations with mc_op_begin()/
 * mc_op_end() (cheap: a thread-local counter).
 */
#ifndef MC_RETRY_H
#define MC_RETRY_H

#include <stddef.h>
#include <stdint.h>
#include "alloc/flags.h"
#include "alloc/site.h"

void mc_op_begin(void);
void mc_op_end(void);
/* A number naming the calling thread's current operation (0 outside one):
 * an optional allocation that failed (a cache fill) can be left alone for
 * the rest of the operation instead of being tried again. */
uint64_t mc_op_current(void);

typedef void (*mc_help_fn)(void *arg);
void *mc_retry_once_site(struct mc_site *site, size_t size, mc_flags_t flags,
			 mc_help_fn help, void *arg);
#define mc_alloc_retry_once_named(sname, size, flags, help, arg) ({            \
	MC_DEFINE_SITE(__mc_site, sname);                                      \
	mc_retry_once_site(&__mc_site, (size), (flags), (help), (arg)); })
#define mc_alloc_retry_once(size, flags, help, arg)                             \
	mc_alloc_retry_once_named(__func__, size, flags, help, arg)

#endif
