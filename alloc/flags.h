/*
 * Allocation flags: what an allocation may do to find memory.
 *
 * Contract (the kernel's gfp meanings, see DESIGN.md "alloc/"):
 *   MC_DIRECT_RECLAIM  may sleep and run direct reclaim in the caller's thread
 *   MC_WAKE            may wake the background reclaimer when memory is short;
 *                      set even for NOWAIT and ATOMIC, like __GFP_KSWAPD_RECLAIM
 *   MC_IO              reclaim on our behalf may start block I/O
 *   MC_FS              reclaim on our behalf may call into filesystem code
 *                      (FS shrinkers, FS locks, FS writeback)
 * Modifiers:
 *   MC_NOFAIL          never returns NULL; loops inside the allocator.  A
 *                      property of the call site, never of a scope (seed 002).
 *   MC_RETRY_MAYFAIL   retry while reclaim makes progress, then fail
 *   MC_NORETRY         one reclaim attempt, then fail
 *   MC_HIGH            may use the atomic reserve
 *   MC_ZERO            zero the memory
 *   MC_NOWARN          no failure report
 * Scopes (scope.h) strip MC_FS / MC_IO from every allocation made inside them;
 * code under a journal handle therefore passes plain MC_KERNEL.
 */
#ifndef MC_FLAGS_H
#define MC_FLAGS_H

typedef unsigned int mc_flags_t;

#define MC_DIRECT_RECLAIM  0x0001u
#define MC_WAKE            0x0002u
#define MC_IO              0x0004u
#define MC_FS              0x0008u
#define MC_NOFAIL          0x0010u
#define MC_RETRY_MAYFAIL   0x0020u
#define MC_NORETRY         0x0040u
#define MC_HIGH            0x0080u
#define MC_ZERO            0x0100u
#define MC_NOWARN          0x0200u
#define MC_FLAGS_ALL       0x03ffu

#define MC_RECLAIM_MASK    (MC_DIRECT_RECLAIM | MC_WAKE)

#define MC_KERNEL  (MC_DIRECT_RECLAIM | MC_WAKE | MC_IO | MC_FS)
#define MC_NOFS    (MC_DIRECT_RECLAIM | MC_WAKE | MC_IO)
#define MC_NOIO    (MC_DIRECT_RECLAIM | MC_WAKE)
#define MC_NOWAIT  (MC_WAKE)
#define MC_ATOMIC  (MC_WAKE | MC_HIGH)

static inline int mc_may_reclaim(mc_flags_t f) { return (f & MC_DIRECT_RECLAIM) != 0; }
static inline int mc_may_wake(mc_flags_t f)    { return (f & MC_WAKE) != 0; }
static inline int mc_may_io(mc_flags_t f)      { return (f & MC_IO) != 0; }
static inline int mc_may_fs(mc_flags_t f)      { return (f & MC_FS) != 0; }
static inline int mc_is_nofail(mc_flags_t f)   { return (f & MC_NOFAIL) != 0; }

/* "KERNEL|NOFAIL" style rendering into buf; returns buf. */
const char *mc_flags_str(mc_flags_t f, char *buf, unsigned long len);

#endif
