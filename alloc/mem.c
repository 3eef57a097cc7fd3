/*
 * mc_alloc / mc_free: the fast paths.  Everything an allocation is checked
 * against happens here, in this order: effective flags from the scopes,
 * debug checks (locks held, redundant NOFS, NOFAIL misuse, open-coded
 * retry), fault injection, budget charge (slow path when the low watermark
 * is crossed), then memory from the thread cache or the large path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc/internal.h"

#define W_NOFS        0x1u
#define W_NOFAIL_NR   0x2u
#define W_NOFAIL_BIG  0x4u

/* Single-writer counters that snapshots read from other threads. */
#define TADD(x, d) __atomic_store_n(&(x), (x) + (d), __ATOMIC_RELAXED)

static inline mc_flags_t eff_flags(mc_flags_t f, unsigned scope)
{
	if (scope & MC_SCOPE_NOFS)
		f &= ~MC_FS;
	if (scope & MC_SCOPE_NOIO)
		f &= ~(MC_FS | MC_IO);
	/* A reclaiming thread never recurses into reclaim. */
	if (scope & MC_SCOPE_MEMALLOC)
		f &= ~MC_DIRECT_RECLAIM;
	return f;
}

mc_flags_t mc_effective_flags(mc_flags_t f)
{
	return eff_flags(f, mc_thread()->scope);
}

static int warn_once(struct mc_site *site, unsigned bit)
{
	return !(__atomic_fetch_or(&site->warned, bit, __ATOMIC_RELAXED) & bit);
}

static void __attribute__((noinline))
debug_checks(struct mc_thread *t, struct mc_site *site, size_t size, mc_flags_t flags,
	     mc_flags_t eff)
{
	char b[96];

	if ((eff & MC_DIRECT_RECLAIM) && t->nheld)
		mc_check_locks_alloc(t, site, eff);
	/* Michal Hocko's aid: the scope already strips what the flags strip;
	 * the flag is noise that hides which code really needs it. */
	mc_flags_t call_strips = ~flags & (MC_FS | MC_IO);
	mc_flags_t scope_strips = (t->scope & MC_SCOPE_NOIO) ? (MC_FS | MC_IO) :
				  (t->scope & MC_SCOPE_NOFS) ? MC_FS : 0;
	if (call_strips && !(call_strips & ~scope_strips) && (flags & MC_DIRECT_RECLAIM) &&
	    warn_once(site, W_NOFS))
		mc_report(MC_REP_REDUNDANT_NOFS, site,
			  "explicit %s inside a NOFS scope: drop the flag, the scope covers it",
			  mc_flags_str(flags, b, sizeof(b)));
	if (flags & MC_NOFAIL) {
		if (!(flags & MC_DIRECT_RECLAIM) && warn_once(site, W_NOFAIL_NR))
			mc_report(MC_REP_NOFAIL_NORECLAIM, site,
				  "NOFAIL without direct reclaim (%s): it can only wait for others",
				  mc_flags_str(flags, b, sizeof(b)));
		if (size > g.cfg.nofail_warn_size && warn_once(site, W_NOFAIL_BIG))
			mc_report(MC_REP_NOFAIL_LARGE, site, "NOFAIL of %zu bytes (warn above %zu)",
				  size, g.cfg.nofail_warn_size);
	}
	if (t->fail_site == site && t->fail_op == t->op_seq && t->op_depth &&
	    !t->in_retry_helper && g.cfg.debug_retry > 0)
		mc_report(MC_REP_OPEN_RETRY, site,
			  "called again after returning NULL in the same operation: an open-coded "
			  "retry loop (use MC_NOFAIL or mc_alloc_retry_once)");
}

/* Charge without the slow path if we stay above the low watermark. */
static inline int fast_charge(struct mc_thread *t, size_t bytes)
{
	int64_t d = t->delta + (int64_t)bytes;
	int64_t used = atomic_load_explicit(&g.used, memory_order_relaxed) + d;

	if (unlikely(used > (int64_t)g.limit_low))
		return 0;
	if (unlikely(d > (int64_t)g.batch || used > (int64_t)g.near))
		mc_fold_delta(t, d);
	else
		__atomic_store_n(&t->delta, d, __ATOMIC_RELAXED);
	return 1;
}

static inline void uncharge(struct mc_thread *t, size_t bytes)
{
	int64_t d = t->delta - (int64_t)bytes;

	if (unlikely(d < -(int64_t)g.batch ||
		     atomic_load_explicit(&g.used, memory_order_relaxed) > (int64_t)g.near))
		mc_fold_delta(t, d);
	else
		__atomic_store_n(&t->delta, d, __ATOMIC_RELAXED);
}

void mc_uncharge(struct mc_thread *t, size_t bytes)
{
	uncharge(t, bytes);
}

/*
 * MC_ZERO clears the whole usable size, so a later mc_realloc(..., MC_ZERO)
 * that grows the object in place or copies it finds zeros past the old
 * request (krealloc's __GFP_ZERO contract).  Under ASan only the requested
 * bytes are accessible, so only those are touched.
 */
static void zero_usable(void *p, int cls, size_t size)
{
#ifdef MC_ASAN
	(void)cls;
	memset(p, 0, size);
#else
	memset(p, 0, cls >= 0 ? mc_classes[cls].size : size);
#endif
}

static void *fail(struct mc_thread *t, struct mc_site *site)
{
	__atomic_fetch_add(&site->failures, 1, __ATOMIC_RELAXED);
	atomic_fetch_add_explicit(&g.failures, 1, memory_order_relaxed);
	t->fail_site = site;
	t->fail_op = t->op_seq;
	return NULL;
}

void *mc_alloc_site(struct mc_site *site, size_t size, mc_flags_t flags)
{
	struct mc_thread *t = mc_thread();
	mc_flags_t eff = eff_flags(flags, t->scope);
	size_t idx = mc_site_index(site);
	unsigned forced = 0;
	size_t charge;
	void *p;
	int cls;

	if (unlikely(t->nheld || (t->scope & (MC_SCOPE_NOFS | MC_SCOPE_NOIO)) ||
		     (flags & MC_NOFAIL) || t->fail_site == site))
		debug_checks(t, site, size, flags, eff);
	if (unlikely(atomic_load_explicit(&mc_fault_active, memory_order_relaxed)) &&
	    mc_fault_check(t, site)) {
		if (!(flags & MC_NOFAIL))
			return fail(t, site);
		/* Never fail NOFAIL: make it go round the slow path instead. */
		forced = g.cfg.nofail_fault_loops;
	}
	cls = mc_size_class(size);
	if (unlikely(cls < 0 && size > MC_MAX_ALLOC)) {
		/* No budget admits it and the size arithmetic would wrap. */
		if (flags & MC_NOFAIL) {
			fprintf(stderr, "scopefs-alloc: %s: NOFAIL request of %zu bytes is impossible\n",
				site->name, size);
			abort();
		}
		return fail(t, site);
	}
	charge = cls >= 0 ? mc_classes[cls].size : mc_large_charge(size);
	if (unlikely(forced || !fast_charge(t, charge)) &&
	    !mc_slowpath(t, site, charge, eff | (flags & (MC_NOFAIL | MC_RETRY_MAYFAIL |
							    MC_NORETRY | MC_HIGH)), forced))
		return fail(t, site);

	if (likely(cls >= 0)) {
		struct mc_tcache *tc = &t->tc[cls];
		struct span *s;

		if (unlikely(!tc->count) && mc_slab_refill(tc, cls))
			goto no_map;
		p = tc->slot[--tc->count];
		s = span_of(p);
		s->site[span_slot(s, p)] = (uint16_t)idx;
		mc_unpoison(p, size);
	} else {
		p = mc_large_alloc(size, (uint32_t)idx);
		if (!p)
			goto no_map;
		atomic_fetch_add_explicit(&g.large_allocs, 1, memory_order_relaxed);
	}
	TADD(t->sites[idx].calls, 1);
	TADD(t->sites[idx].live, (int64_t)charge);
	TADD(t->allocs, 1);
	if (flags & MC_ZERO)
		zero_usable(p, cls, size);
	return p;

no_map:
	/* The host refused address space: no reclaim of ours can help. */
	uncharge(t, charge);
	if (flags & MC_NOFAIL) {
		fprintf(stderr, "scopefs-alloc: %s: host mmap failed for a NOFAIL allocation\n",
			site->name);
		abort();
	}
	return fail(t, site);
}

static void __attribute__((noreturn)) bad_free(const void *p, const char *why)
{
	mc_report(MC_REP_BAD_FREE, NULL, "mc_free(%p): %s", p, why);
	abort();
}

void mc_free(void *p)
{
	struct mc_thread *t;
	struct span *s;
	size_t size;
	uint32_t idx;

	if (!p)
		return;
	t = mc_thread();
	s = span_of(p);
	if (likely(s->magic == SPAN_MAGIC)) {
		uint32_t slot = span_slot(s, p);
		struct mc_tcache *tc;

		if (unlikely(slot >= s->nslots ||
			     (char *)p != (char *)s + s->data_off + (size_t)slot * s->size))
			bad_free(p, "not the start of an object");
		/* The site slot says it all: SITE_FREE from the free until the
		 * next allocation of this slot, whatever cache holds it. */
		idx = s->site[slot];
		if (unlikely(idx == SITE_FREE))
			bad_free(p, "double free");
		s->site[slot] = SITE_FREE;
		size = s->size;
		mc_poison(p, size);
		tc = &t->tc[s->cls];
		if (unlikely(tc->count >= mc_classes[s->cls].tc_max))
			mc_slab_flush(tc, s->cls, mc_classes[s->cls].tc_max / 2);
		tc->slot[tc->count++] = p;
	} else if (s->magic == LARGE_MAGIC && (char *)p == (char *)s + PAGE_SZ) {
		idx = s->site_idx;
		size = mc_large_free(s);
	} else {
		bad_free(p, "not allocated by alloc/ (or already freed)");
	}
	uncharge(t, size);
	TADD(t->sites[idx].live, -(int64_t)size);
	TADD(t->frees, 1);
	TADD(t->freed_bytes, size);
	if (unlikely(atomic_load_explicit(&mc_noprogress_waiters, memory_order_relaxed)))
		mc_throttle_note_free(size);
}

size_t mc_usable_size(const void *p)
{
	const struct span *s = span_of(p);

	if (s->magic == SPAN_MAGIC)
		return s->size;
	if (s->magic == LARGE_MAGIC)
		return s->map_len - PAGE_SZ;
	return 0;
}

void *mc_realloc_site(struct mc_site *site, void *p, size_t size, mc_flags_t flags)
{
	size_t old;
	void *n;

	if (!p)
		return mc_alloc_site(site, size, flags);
	if (!size) {
		mc_free(p);
		return NULL;
	}
	old = mc_usable_size(p);
#ifdef MC_ASAN
	/* Only the bytes asked for are unpoisoned: copy no more than those. */
	const char *first_bad = __asan_region_is_poisoned(p, old);
	size_t avail = first_bad ? (size_t)(first_bad - (char *)p) : old;
#else
	size_t avail = old;
#endif
	if (size <= old && size > old / 2) {
		/* Same class: keep it; under ASan expose exactly the new size. */
		mc_poison(p, old);
		mc_unpoison(p, size);
		if ((flags & MC_ZERO) && size > avail)
			memset((char *)p + avail, 0, size - avail);
		return p;
	}
	n = mc_alloc_site(site, size, flags & ~MC_ZERO);
	if (!n)
		return NULL;
	memcpy(n, p, avail < size ? avail : size);
	if ((flags & MC_ZERO) && size > avail)
		memset((char *)n + avail, 0, size - avail);
	mc_free(p);
	return n;
}
