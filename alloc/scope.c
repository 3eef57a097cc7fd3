/*
 * Scope save/restore.  The token records the previous scope bits and the
 * nesting depth at save time, so a restore out of order (which would
 * silently widen or narrow the scope of an enclosing save) is reported.
 */
#include "alloc/internal.h"

#define TOKEN(depth, bits) (((depth) << 8) | (bits))
#define TOKEN_BITS(tok)    ((tok) & 0xffu)
#define TOKEN_DEPTH(tok)   ((tok) >> 8)

static mc_scope_t scope_save(unsigned bit)
{
	struct mc_thread *t = mc_thread();
	mc_scope_t tok = TOKEN(t->scope_depth, t->scope);

	t->scope |= bit;
	t->scope_depth++;
	return tok;
}

static void scope_restore(mc_scope_t tok, const char *what)
{
	struct mc_thread *t = mc_thread();

	if (TOKEN_DEPTH(tok) + 1 != t->scope_depth)
		mc_report(MC_REP_SCOPE_MISMATCH, NULL,
			  "%s_restore out of order: token from depth %u, current depth %u",
			  what, TOKEN_DEPTH(tok), t->scope_depth);
	if ((t->scope & MC_SCOPE_MEMALLOC) && !(TOKEN_BITS(tok) & MC_SCOPE_MEMALLOC) &&
	    t->reserve_slot) {
		/* Leaving reclaim context releases this thread's reserve slot. */
		t->reserve_slot = 0;
		atomic_fetch_sub(&g.reserve_users, 1);
	}
	t->scope = TOKEN_BITS(tok);
	t->scope_depth = TOKEN_DEPTH(tok);
}

/* NOFS: reclaim from this thread must not call back into the filesystem,
 * which may hold the locks or the transaction this thread holds. */
mc_scope_t mc_nofs_save(void) { return scope_save(MC_SCOPE_NOFS); }
void mc_nofs_restore(mc_scope_t tok) { scope_restore(tok, "nofs"); }
/* NOIO: reclaim must not issue I/O (this thread is on the I/O path). */
mc_scope_t mc_noio_save(void) { return scope_save(MC_SCOPE_NOIO); }
void mc_noio_restore(mc_scope_t tok) { scope_restore(tok, "noio"); }
/* MEMALLOC: this thread is reclaiming; it must not recurse into reclaim. */
mc_scope_t mc_memalloc_save(void) { return scope_save(MC_SCOPE_MEMALLOC); }
void mc_memalloc_restore(mc_scope_t tok) { scope_restore(tok, "memalloc"); }

unsigned int mc_scope_current(void) { return mc_thread()->scope; }
unsigned int mc_scope_depth(void) { return mc_thread()->scope_depth; }
