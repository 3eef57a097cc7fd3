/*
 * The allocator every allocation of fs/ and journal/ goes through.
 *
 * Small requests (<= MC_SMALL_MAX) come from size classes carved out of
 * 256 KiB spans mapped by the library itself; larger ones take the large
 * path (one mapping each, the vmalloc analogue).  Both paths honour the
 * thread's scopes, the budget, fault injection and NOFAIL identically.
 * Power-of-two sizes up to 4096 are naturally aligned and every multiple of
 * 4096 is page aligned, so block buffers are fit for O_DIRECT.
 *
 * Accounting is in allocated (size-class rounded) bytes.  MC_ZERO clears the
 * whole usable size, so mc_realloc(..., MC_ZERO) of a zeroed object yields
 * zeros past the old size (krealloc's contract).  NULL is returned
 * only when the flags allow failure; MC_NOFAIL never returns NULL.
 * mc_free(NULL) is a no-op; freeing a pointer the library did not hand out
 * is reported and aborts.
 */
#ifndef MC_MEM_H
#define MC_MEM_H

#include <stddef.h>
#include "alloc/flags.h"
#include "alloc/site.h"

#define MC_SMALL_MAX (32u * 1024)
/* Larger requests fail (NOFAIL ones abort): no budget could admit them. */
#define MC_MAX_ALLOC ((size_t)1 << 46)

void *mc_alloc_site(struct mc_site *site, size_t size, mc_flags_t flags);
void *mc_realloc_site(struct mc_site *site, void *p, size_t size, mc_flags_t flags);
void mc_free(void *p);
/* Usable size of an allocation (its size class). */
size_t mc_usable_size(const void *p);

#define mc_alloc_named(sname, size, flags) ({                                  \
	MC_DEFINE_SITE(__mc_site, sname);                                      \
	mc_alloc_site(&__mc_site, (size), (flags)); })
#define mc_alloc(size, flags)   mc_alloc_named(__func__, size, flags)
#define mc_zalloc(size, flags)  mc_alloc_named(__func__, size, (flags) | MC_ZERO)
#define mc_calloc(n, size, flags) ({                                           \
	size_t __mc_n = (n), __mc_sz = (size), __mc_tot;                       \
	__builtin_mul_overflow(__mc_n, __mc_sz, &__mc_tot) ? NULL :            \
		mc_alloc_named(__func__, __mc_tot, (flags) | MC_ZERO); })
#define mc_realloc(p, size, flags) ({                                          \
	MC_DEFINE_SITE(__mc_site, __func__);                                   \
	mc_realloc_site(&__mc_site, (p), (size), (flags)); })
#define mc_strdup(s, flags) ({                                                 \
	const char *__mc_s = (s);                                              \
	size_t __mc_l = __builtin_strlen(__mc_s) + 1;                          \
	char *__mc_d = mc_alloc_named(__func__, __mc_l, (flags));              \
	if (__mc_d) __builtin_memcpy(__mc_d, __mc_s, __mc_l);                  \
	__mc_d; })

#endif
