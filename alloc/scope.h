/*
 * Thread-local allocation scopes (seed 001, memalloc_nofs_save & co).
 *
 * Inside a NOFS scope every allocation of this thread loses MC_FS; inside a
 * NOIO scope it loses MC_IO and MC_FS; whatever flags the call site passed,
 * on the small and on the large (mmap) path alike.  MEMALLOC marks a thread
 * that is itself reclaiming: it may use the reclaim reserve and never
 * recurses into reclaim.
 *
 * save() returns a token; restore() takes exactly that token.  Scopes nest;
 * restoring out of order is reported (it would silently widen the scope).
 * There is deliberately no NOFAIL scope: NOFAIL belongs to a call site.
 */
#ifndef MC_SCOPE_H
#define MC_SCOPE_H

#include "alloc/flags.h"

typedef unsigned int mc_scope_t;

#define MC_SCOPE_NOFS      0x1u
#define MC_SCOPE_NOIO      0x2u
#define MC_SCOPE_MEMALLOC  0x4u

mc_scope_t mc_nofs_save(void);
void mc_nofs_restore(mc_scope_t token);
mc_scope_t mc_noio_save(void);
void mc_noio_restore(mc_scope_t token);
mc_scope_t mc_memalloc_save(void);
void mc_memalloc_restore(mc_scope_t token);

/* The scope bits in force for this thread (MC_SCOPE_*). */
unsigned int mc_scope_current(void);
/* Nesting depth of saves not yet restored on this thread. */
unsigned int mc_scope_depth(void);
/* Flags an allocation with @f would really run with on this thread. */
mc_flags_t mc_effective_flags(mc_flags_t f);

#endif
