/*
 * Spans: SPAN_SIZE-aligned regions the library maps itself.  Fresh spans are
 * carved from chunks; empty spans come back to a cache, and beyond a small
 * retained amount their pages are given back with MADV_DONTNEED so resident
 * memory follows live memory.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include "alloc/internal.h"

#define CHUNK_SPANS   16
#define RETAIN_SPANS  8      /* empty spans kept resident for reuse: 2 MiB */

static pthread_mutex_t span_lock = PTHREAD_MUTEX_INITIALIZER;
static struct span *free_spans;        /* empty, possibly decommitted */
static unsigned nfree_resident;
static char *chunk_next, *chunk_end;

void *mc_map_aligned(size_t len)
{
	size_t over = len + SPAN_SIZE;
	char *p = mmap(NULL, over, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uintptr_t a = ((uintptr_t)p + SPAN_SIZE - 1) & SPAN_MASK;
	size_t head = a - (uintptr_t)p, tail = over - head - len;
	if (head)
		munmap(p, head);
	if (tail)
		munmap((char *)a + len, tail);
	atomic_fetch_add_explicit(&g.mapped, len, memory_order_relaxed);
	return (void *)a;
}

void mc_unmap(void *p, size_t len)
{
#ifdef MC_ASAN
	/* The range may be mapped again by anyone: leave no stale poison. */
	mc_unpoison(p, len);
#endif
	munmap(p, len);
	atomic_fetch_sub_explicit(&g.mapped, len, memory_order_relaxed);
}

struct span *mc_span_get(void)
{
	struct span *s = NULL;

	pthread_mutex_lock(&span_lock);
	if (free_spans) {
		s = free_spans;
		free_spans = s->next;
		if (s->pad) { /* still resident */
			nfree_resident--;
			atomic_fetch_sub_explicit(&g.retained, SPAN_SIZE, memory_order_relaxed);
		}
		goto out;
	}
	if (chunk_next == chunk_end) {
		char *c = mc_map_aligned(CHUNK_SPANS * SPAN_SIZE);
		if (!c)
			goto out;
		chunk_next = c;
		chunk_end = c + CHUNK_SPANS * SPAN_SIZE;
	}
	s = (struct span *)chunk_next;
	chunk_next += SPAN_SIZE;
out:
	pthread_mutex_unlock(&span_lock);
	if (s)
		mc_unpoison(s, SPAN_SIZE);
	return s;
}

void mc_span_put(struct span *s)
{
	int decommit;

	pthread_mutex_lock(&span_lock);
	decommit = nfree_resident >= RETAIN_SPANS;
	if (!decommit) {
		nfree_resident++;
		atomic_fetch_add_explicit(&g.retained, SPAN_SIZE, memory_order_relaxed);
	}
	pthread_mutex_unlock(&span_lock);
	s->magic = 0;          /* a stale pointer into it is now a bad free */
	s->pad = !decommit;
	/*
	 * Drop the pages before the span is on the free list, never after: once
	 * it is there another thread may take it and carve live objects into
	 * it, which a late MADV_DONTNEED would silently zero.  The header page
	 * stays (it links the free list).
	 */
	if (decommit)
		madvise((char *)s + PAGE_SZ, SPAN_SIZE - PAGE_SZ, MADV_DONTNEED);
	pthread_mutex_lock(&span_lock);
	s->next = free_spans;
	free_spans = s;
	pthread_mutex_unlock(&span_lock);
}
