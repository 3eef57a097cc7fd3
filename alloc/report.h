/*
 * Reports from the debug checks and the watchdog.
 *
 * Every report is counted by kind, printed once to stderr with the site, and
 * passed to an optional handler (tests capture reports with it).  With
 * debug_abort set (the test suites set it), the kinds that indicate a
 * deadlock risk or memory corruption abort the process.
 */
#ifndef MC_REPORT_H
#define MC_REPORT_H

#include <stdint.h>

enum mc_report_kind {
	MC_REP_FS_RECLAIM_LOCK,  /* FS-reclaim-capable allocation holding a lock reclaim takes */
	MC_REP_REDUNDANT_NOFS,   /* explicit NOFS flags inside a NOFS scope */
	MC_REP_NOFAIL_NORECLAIM, /* NOFAIL without direct reclaim */
	MC_REP_NOFAIL_LARGE,     /* NOFAIL above nofail_warn_size */
	MC_REP_SCOPE_MISMATCH,   /* restore with a token out of nesting order */
	MC_REP_BAD_FREE,         /* pointer not from this allocator, or double free */
	MC_REP_OPEN_RETRY,       /* site called again after NULL in the same operation */
	MC_REP_MEMPOOL_DOUBLE,   /* thread took a second mempool element while holding one */
	MC_REP_STALL,            /* allocation waited longer than the stall threshold */
	MC_REP_KINDS
};

struct mc_site;
/* Return non-zero to consume the report (no abort even with debug_abort). */
typedef int (*mc_report_fn)(enum mc_report_kind kind, const struct mc_site *site,
			    const char *msg, void *arg);

void mc_set_report_handler(mc_report_fn fn, void *arg);
uint64_t mc_report_count(enum mc_report_kind kind);
const char *mc_report_kind_name(enum mc_report_kind kind);

#endif
