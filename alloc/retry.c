/* Operation boundaries and the one sanctioned retry. */
#include "alloc/internal.h"

void mc_op_begin(void)
{
	struct mc_thread *t = mc_thread();

	if (t->op_depth++ == 0)
		t->op_seq++;
}

void mc_op_end(void)
{
	struct mc_thread *t = mc_thread();

	if (t->op_depth && --t->op_depth == 0)
		t->fail_site = NULL;
}

uint64_t mc_op_current(void)
{
	struct mc_thread *t = mc_thread();

	return t->op_depth ? t->op_seq : 0;
}

void *mc_retry_once_site(struct mc_site *site, size_t size, mc_flags_t flags,
			 mc_help_fn help, void *arg)
{
	struct mc_thread *t;
	void *p = mc_alloc_site(site, size, flags);

	if (p)
		return p;
	/* Help progress first (e.g. shrink our own cache), then one retry. */
	if (help)
		help(arg);
	t = mc_thread();
	t->in_retry_helper++;
	p = mc_alloc_site(site, size, flags);
	t->in_retry_helper--;
	/* The operation has its memory: a later call here is a new request,
	 * not a retry of the one that failed. */
	if (p && t->fail_site == site)
		t->fail_site = NULL;
	return p;
}
