/*
 * The call-site registry: the linker gathers every MC_DEFINE_SITE into the
 * section "mc_sites" and provides its bounds.  Hot counters live in the
 * per-thread arrays and are summed here.
 */
#include <string.h>
#include "alloc/internal.h"

struct mc_site *mc_sites_begin(void) { return __start_mc_sites; }
struct mc_site *mc_sites_end(void) { return __stop_mc_sites; }

size_t mc_site_count(void)
{
	return __start_mc_sites ? (size_t)(__stop_mc_sites - __start_mc_sites) : 0;
}

struct mc_site *mc_site_find(const char *name)
{
	for (struct mc_site *s = __start_mc_sites; s && s < __stop_mc_sites; s++)
		if (!strcmp(s->name, name))
			return s;
	return NULL;
}

void mc_site_counts(const struct mc_site *s, struct mc_site_counts *out)
{
	size_t idx = mc_site_index(s);

	pthread_mutex_lock(&g.thread_lock);
	out->calls = __atomic_load_n(&s->dead_calls, __ATOMIC_RELAXED);
	out->live_bytes = __atomic_load_n(&s->dead_live, __ATOMIC_RELAXED);
	for (struct mc_thread *t = g.threads; t; t = t->next) {
		if (idx >= t->nsites)
			continue;
		out->calls += __atomic_load_n(&t->sites[idx].calls, __ATOMIC_RELAXED);
		out->live_bytes += __atomic_load_n(&t->sites[idx].live, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&g.thread_lock);
}

/* Called with g.thread_lock held when @t exits. */
void mc_site_fold_thread(struct mc_thread *t)
{
	for (size_t i = 0; i < t->nsites; i++) {
		struct mc_site *s = &__start_mc_sites[i];
		if (!t->sites[i].calls && !t->sites[i].live)
			continue;
		__atomic_fetch_add(&s->dead_calls, t->sites[i].calls, __ATOMIC_RELAXED);
		__atomic_fetch_add(&s->dead_live, t->sites[i].live, __ATOMIC_RELAXED);
	}
}
