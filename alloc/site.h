/*
 * Call-site registry (the kernel's allocation-profiling codetags).
 *
 * Every allocation macro places a static descriptor in the ELF section
 * "mc_sites", so all sites linked into the program can be listed whether or
 * not they ever ran.  A site's name is stable across edits: the enclosing
 * function's name unless the call site names itself (mc_alloc_named).
 * Names are what fault injection matches (fnmatch patterns).
 *
 * Hot counters (calls, live bytes) are kept per thread and summed on
 * snapshot; rare events are atomics in the descriptor itself.
 */
#ifndef MC_SITE_H
#define MC_SITE_H

#include <stddef.h>
#include <stdint.h>

struct mc_site {
	const char *name;        /* stable name used by fault injection */
	const char *file;
	const char *func;
	int line;
	unsigned int warned;     /* debug checks already reported (bits) */
	/* rare-event counters, atomics */
	uint64_t failures;       /* NULL returns */
	uint64_t nofail_loops;   /* slow-path iterations of NOFAIL calls */
	uint64_t throttled_ns;   /* time spent throttled in reclaim */
	uint64_t injected;       /* failures injected (or NOFAIL loops forced) */
	uint64_t slowpath;       /* entries into the allocation slow path */
	/* fault-injection cache: rule matched at generation inj_gen */
	unsigned int inj_gen;
	int inj_rule;
	/* counters of threads that exited, folded in */
	uint64_t dead_calls;
	int64_t dead_live;
	uint64_t inj_calls;       /* calls counted by the matching rule (count=global) */
} __attribute__((aligned(16)));

#define MC_SITE_SECTION mc_sites

#define MC_DEFINE_SITE(var, sname)                                            \
	static struct mc_site var                                             \
	__attribute__((section("mc_sites"), used, aligned(16))) = {           \
		.name = (sname), .file = __FILE__, .func = __func__,          \
		.line = __LINE__, .inj_rule = -1 }

/* All registered sites (section bounds); count and index of one. */
struct mc_site *mc_sites_begin(void);
struct mc_site *mc_sites_end(void);
size_t mc_site_count(void);
static inline size_t mc_site_index(const struct mc_site *s)
{
	return (size_t)(s - mc_sites_begin());
}
/* First site named exactly @name, or NULL. */
struct mc_site *mc_site_find(const char *name);

struct mc_site_counts {
	uint64_t calls;
	int64_t live_bytes;
};
/* Exact at a quiescent point: sums every live thread's counters. */
void mc_site_counts(const struct mc_site *s, struct mc_site_counts *out);

#endif
