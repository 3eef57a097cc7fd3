/*
 * The large path (the vmalloc analogue): one SPAN-aligned mapping per
 * allocation, a header page in front of the object.  Because the object
 * starts one page into an aligned region, span_of() finds the header for
 * small and large objects alike.  Scopes, budget and injection are applied
 * by the caller exactly as for the small path.
 */
#include "alloc/internal.h"

static size_t large_len(size_t size)
{
	return PAGE_SZ + ((size + PAGE_SZ - 1) & ~(PAGE_SZ - 1));
}

size_t mc_large_charge(size_t size)
{
	return large_len(size);
}

void *mc_large_alloc(size_t size, uint32_t site_idx)
{
	size_t len = large_len(size);
	struct span *s = mc_map_aligned(len);

	if (!s)
		return NULL;
	s->magic = LARGE_MAGIC;
	s->map_len = len;
	s->req = size;
	s->site_idx = site_idx;
	/* Under ASan the page-rounding tail is out of bounds, as on the small path. */
	mc_poison((char *)s + PAGE_SZ + size, len - PAGE_SZ - size);
	return (char *)s + PAGE_SZ;
}

size_t mc_large_free(struct span *s)
{
	size_t len = s->map_len;

	s->magic = 0;
	mc_unmap(s, len);
	return len;
}
