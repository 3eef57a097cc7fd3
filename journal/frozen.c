/*
 * Frozen copies: the committing transaction's contents of a buffer that a
 * newer transaction is about to change.
 *
 * Where the memory comes from, in order:
 *  1. the frozen reserve, blocks preallocated at open: taking one never
 *     allocates, never reclaims, never waits;
 *  2. a fresh allocation with the handle's flags (NOFAIL for a NOFAIL
 *     handle), made by the modifying thread, never by the commit;
 *  3. failing both, no copy at all: the modifier waits until the commit
 *     has copied the buffer into its staging ring (transaction.c).
 * The commit thread only ever gives frozen memory back: it copies the frozen
 * block into the ring and returns it here at once.  So the commit path --
 * what frees memory -- never waits for an allocation, and a frozen copy
 * never fails a handle.  A reserve of our own rather than an mc_mempool:
 * a thread that freezes several buffers holds several elements until the
 * commit returns them, which a mempool rightly reports as a hazard
 * (MC_REP_MEMPOOL_DOUBLE); here the fallback of (3) needs no element.
 *
 * The reserve's free list is under list_lock.
 */
#include <errno.h>

#include "journal/internal.h"

int jnl_frozen_init(struct jnl_journal *j)
{
	unsigned n = j->cfg.frozen_reserve, i;

	j->frozen_mem = mc_alloc_named("journal.frozen_reserve", (size_t)n * j->bsize, MC_KERNEL);
	j->frozen_free = mc_calloc(n, sizeof(void *), MC_KERNEL);
	if (!j->frozen_mem || !j->frozen_free) {
		jnl_frozen_destroy(j);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		j->frozen_free[i] = (uint8_t *)j->frozen_mem + (size_t)i * j->bsize;
	j->frozen_nfree = n;
	return 0;
}

void jnl_frozen_destroy(struct jnl_journal *j)
{
	mc_free(j->frozen_mem);
	mc_free(j->frozen_free);
	j->frozen_mem = NULL;
	j->frozen_free = NULL;
	j->frozen_nfree = 0;
}

/* list_lock held. */
void *jnl_frozen_take_reserve(struct jnl_journal *j)
{
	return j->frozen_nfree ? j->frozen_free[--j->frozen_nfree] : NULL;
}

/* list_lock held when @reserved. */
void jnl_frozen_put(struct jnl_journal *j, void *p, bool reserved)
{
	if (reserved)
		j->frozen_free[j->frozen_nfree++] = p;
	else
		mc_free(p);
}
