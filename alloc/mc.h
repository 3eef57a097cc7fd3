/*
 * alloc/: the memory-context library.  Include this one header.
 *
 * mc_init() applies a configuration (budget, policies), reads SCOPEFS_FAULT
 * (fault spec) and SCOPEFS_ALLOC (config string) from the environment, and
 * starts the background reclaimer and the stall watchdog.  Allocation works
 * before mc_init() with an unlimited budget.  The library knows nothing
 * about filesystems.
 */
#ifndef MC_MC_H
#define MC_MC_H

#include <pthread.h>
#include "alloc/flags.h"
#include "alloc/scope.h"
#include "alloc/site.h"
#include "alloc/mem.h"
#include "alloc/budget.h"
#include "alloc/fault.h"
#include "alloc/report.h"
#include "alloc/lock.h"
#include "alloc/shrinker.h"
#include "alloc/reclaim.h"
#include "alloc/throttle.h"
#include "alloc/clock.h"
#include "alloc/mempool.h"
#include "alloc/retry.h"
#include "alloc/stats.h"

/* NULL cfg = defaults.  -EINVAL with a message in @err on a bad config or env. */
int mc_init(const struct mc_config *cfg, char *err, size_t errlen);
/* Stop the library's threads (reclaimer, watchdog).  Allocation still works. */
void mc_shutdown(void);

/*
 * Mark the calling thread as an I/O server (PR_SET_IO_FLUSHER) so the host
 * kernel's reclaim does not recurse into the filesystem it serves.  Needs
 * CAP_SYS_RESOURCE; when refused it is logged once and recorded in the
 * statistics.  Returns 0 or -errno.
 */
int mc_set_io_flusher(void);

/*
 * Start a thread of the filesystem's I/O path (writeback, commit, the FUSE
 * daemon's workers): it marks itself PR_SET_IO_FLUSHER (a refusal is
 * recorded in the statistics, silently: the program says it once by
 * calling mc_set_io_flusher itself) and is named @name (15 characters at most, as
 * pthread_setname_np allows) before running @fn.  0 or -errno.
 */
int mc_thread_create(pthread_t *th, const char *name, void *(*fn)(void *), void *arg);
/* 1 if the calling thread has PR_SET_IO_FLUSHER, 0 if not, -errno if the
 * kernel cannot say. */
int mc_io_flusher_get(void);

#endif
