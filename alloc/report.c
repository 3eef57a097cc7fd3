/*
 * Debug-check and watchdog reports: counted, printed to stderr, handed to
 * the test's handler, and fatal under debug_abort for the kinds that mean a
 * deadlock risk or memory corruption.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "alloc/internal.h"

static mc_report_fn handler;
static void *handler_arg;

static const char *const kind_names[MC_REP_KINDS] = {
	[MC_REP_FS_RECLAIM_LOCK] = "fs-reclaim-lock",
	[MC_REP_REDUNDANT_NOFS] = "redundant-nofs",
	[MC_REP_NOFAIL_NORECLAIM] = "nofail-noreclaim",
	[MC_REP_NOFAIL_LARGE] = "nofail-large",
	[MC_REP_SCOPE_MISMATCH] = "scope-mismatch",
	[MC_REP_BAD_FREE] = "bad-free",
	[MC_REP_OPEN_RETRY] = "open-coded-retry",
	[MC_REP_MEMPOOL_DOUBLE] = "mempool-double-take",
	[MC_REP_STALL] = "stall",
};

const char *mc_report_kind_name(enum mc_report_kind kind)
{
	return kind < MC_REP_KINDS ? kind_names[kind] : "?";
}

void mc_set_report_handler(mc_report_fn fn, void *arg)
{
	handler_arg = arg;
	__atomic_store_n(&handler, fn, __ATOMIC_RELEASE);
}

uint64_t mc_report_count(enum mc_report_kind kind)
{
	return kind < MC_REP_KINDS ? atomic_load(&g.reports[kind]) : 0;
}

static int fatal(enum mc_report_kind kind)
{
	switch (kind) {
	case MC_REP_FS_RECLAIM_LOCK:
	case MC_REP_SCOPE_MISMATCH:
	case MC_REP_BAD_FREE:
	case MC_REP_OPEN_RETRY:
	case MC_REP_MEMPOOL_DOUBLE:
	case MC_REP_STALL:
		return 1;
	default:
		return 0;
	}
}

void mc_report(enum mc_report_kind kind, const struct mc_site *site, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	mc_report_fn fn = __atomic_load_n(&handler, __ATOMIC_ACQUIRE);

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	atomic_fetch_add(&g.reports[kind], 1);
	if (fn && fn(kind, site, msg, handler_arg))
		return;
	if (site)
		fprintf(stderr, "scopefs-alloc: %s: site %s (%s:%d): %s\n", kind_names[kind],
			site->name, site->file, site->line, msg);
	else
		fprintf(stderr, "scopefs-alloc: %s: %s\n", kind_names[kind], msg);
	if (g.cfg.debug_abort > 0 && fatal(kind))
		abort();
}
