/*
 * Size classes and their central free lists.
 *
 * A span holds objects of one class.  Its header (first pages) carries a
 * bitmap of free slots and the site index of every allocated slot, so the
 * objects themselves are never written by the allocator: under ASan a free
 * object stays poisoned entirely.  Threads move objects between their
 * caches and the central lists in batches (mc_slab_refill / mc_slab_flush).
 */
#include <errno.h>
#include <string.h>
#include "alloc/internal.h"

static const uint32_t class_sizes[NCLASSES] = {
	16, 32, 48, 64, 80, 96, 112, 128,
	160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048,
	2560, 3072, 3584, 4096, 8192, 12288, 16384, 20480,
	24576, 28672, 32768,
};

struct mc_class_info mc_classes[NCLASSES];
static uint8_t small_idx[MC_SMALL_MAX / 16 + 1];   /* (size+15)/16 -> class */

struct central {
	pthread_mutex_t lock;
	struct span *partial;     /* spans with free slots */
} __attribute__((aligned(64)));
static struct central central[NCLASSES];

static size_t header_bytes(uint32_t nslots)
{
	size_t h = sizeof(struct span) + ((nslots + 63) / 64) * 8 + nslots * 2u;
	return (h + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
}

void mc_classes_init(void)
{
	for (int c = 0; c < NCLASSES; c++) {
		struct mc_class_info *ci = &mc_classes[c];
		uint32_t sz = class_sizes[c];
		uint32_t n = SPAN_SIZE / sz;

		while (header_bytes(n) + (size_t)n * sz > SPAN_SIZE)
			n--;
		ci->size = sz;
		ci->nslots = n;
		ci->data_off = (uint32_t)header_bytes(n);
		ci->recip = (uint32_t)(((1ull << 32) + sz - 1) / sz);
		ci->tc_max = 65536 / sz < 2 ? 2 : 65536 / sz > TC_MAX ? TC_MAX : 65536 / sz;
		ci->batch = ci->tc_max / 2 > 32 ? 32 : ci->tc_max / 2;
		pthread_mutex_init(&central[c].lock, NULL);
	}
	for (size_t i = 0; i <= MC_SMALL_MAX / 16; i++) {
		size_t want = i * 16;
		int c = 0;
		while (c < NCLASSES - 1 && class_sizes[c] < want)
			c++;
		small_idx[i] = (uint8_t)c;
	}
}

int mc_size_class(size_t size)
{
	if (unlikely(size > MC_SMALL_MAX))
		return -1;
	return small_idx[(size + 15) >> 4];
}

static struct span *span_new(int cls)
{
	const struct mc_class_info *ci = &mc_classes[cls];
	struct span *s = mc_span_get();

	if (!s)
		return NULL;
	memset(s, 0, ci->data_off);
	s->magic = SPAN_MAGIC;
	s->cls = (uint16_t)cls;
	s->nslots = ci->nslots;
	s->nfree = ci->nslots;
	s->data_off = ci->data_off;
	s->recip = ci->recip;
	s->size = ci->size;
	s->bitmap = (uint64_t *)(s + 1);
	s->site = (uint16_t *)(s->bitmap + (ci->nslots + 63) / 64);
	for (uint32_t i = 0; i < ci->nslots; i++) {
		s->bitmap[i / 64] |= 1ull << (i % 64);
		s->site[i] = SITE_FREE;
	}
	mc_poison((char *)s + s->data_off, (size_t)s->nslots * s->size);
	return s;
}

static void partial_add(struct central *ce, struct span *s)
{
	s->prev = NULL;
	s->next = ce->partial;
	if (ce->partial)
		ce->partial->prev = s;
	ce->partial = s;
	s->on_partial = 1;
}

static void partial_del(struct central *ce, struct span *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		ce->partial = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->on_partial = 0;
	s->next = s->prev = NULL;
}

int mc_slab_refill(struct mc_tcache *tc, int cls)
{
	struct central *ce = &central[cls];
	uint32_t want = mc_classes[cls].batch;
	int ret = 0;

	pthread_mutex_lock(&ce->lock);
	while (want) {
		struct span *s = ce->partial;
		if (!s) {
			s = span_new(cls);
			if (!s) {
				ret = tc->count ? 0 : -ENOMEM;
				break;
			}
			partial_add(ce, s);
		}
		for (uint32_t w = 0; want && s->nfree && w < (s->nslots + 63) / 64; w++) {
			while (want && s->bitmap[w]) {
				int b = __builtin_ctzll(s->bitmap[w]);
				s->bitmap[w] &= s->bitmap[w] - 1;
				s->nfree--;
				tc->slot[tc->count++] = (char *)s + s->data_off +
							(size_t)(w * 64 + b) * s->size;
				want--;
			}
		}
		if (!s->nfree)
			partial_del(ce, s);
	}
	pthread_mutex_unlock(&ce->lock);
	return ret;
}

/* Return the oldest @n objects of @tc to their spans. */
void mc_slab_flush(struct mc_tcache *tc, int cls, uint32_t n)
{
	struct central *ce = &central[cls];
	struct span *release = NULL;

	if (n > tc->count)
		n = tc->count;
	pthread_mutex_lock(&ce->lock);
	for (uint32_t i = 0; i < n; i++) {
		void *p = tc->slot[i];
		struct span *s = span_of(p);
		uint32_t slot = span_slot(s, p);

		s->bitmap[slot / 64] |= 1ull << (slot % 64);
		if (s->nfree++ == 0)
			partial_add(ce, s);
		if (s->nfree == s->nslots) {
			partial_del(ce, s);
			s->magic = 0;
			s->next = release;
			release = s;
		}
	}
	pthread_mutex_unlock(&ce->lock);
	memmove(tc->slot, tc->slot + n, (tc->count - n) * sizeof(void *));
	tc->count -= n;
	while (release) {
		struct span *s = release;
		release = s->next;
		mc_span_put(s);
	}
}
