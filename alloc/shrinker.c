/*
 * The shrinker list and one reclaim pass over it.
 *
 * shrinker_lock protects the list only; callbacks run without it (a
 * callback may allocate, take its own locks, even unregister another
 * shrinker), pinned by s->active.  unregister() marks the shrinker dead,
 * waits for its callbacks, and only then unlinks it, so a pass that comes
 * back from a callback can always follow s->next.  A shrinker must not
 * unregister itself from its own callback.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include "alloc/internal.h"

static pthread_mutex_t shrinker_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t shrinker_idle = PTHREAD_COND_INITIALIZER;
static struct mc_shrinker *shrinkers;

int mc_shrinker_register(struct mc_shrinker *s)
{
	if (!s->count || !s->scan || (s->needs & ~(MC_FS | MC_IO)))
		return -EINVAL;
	pthread_mutex_lock(&shrinker_lock);
	s->active = 0;
	s->registered = 1;
	s->next = shrinkers;
	shrinkers = s;
	pthread_mutex_unlock(&shrinker_lock);
	return 0;
}

void mc_shrinker_unregister(struct mc_shrinker *s)
{
	pthread_mutex_lock(&shrinker_lock);
	s->registered = 0;                      /* passes skip it from now on */
	while (s->active)
		pthread_cond_wait(&shrinker_idle, &shrinker_lock);
	for (struct mc_shrinker **pp = &shrinkers; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_unlock(&shrinker_lock);
}

/*
 * One pass: ask every shrinker the context allows for a share of its
 * objects, proportional to how far we are from the goal.  Returns objects
 * freed; *skipped counts shrinkers the context excluded.
 */
size_t mc_shrink_pass(mc_flags_t eff, size_t bytes_wanted, int background, int priority)
{
	struct mc_thread *t = mc_thread();
	mc_scope_t tok = mc_memalloc_save();
	size_t freed = 0;
	struct mc_shrinker *s;

	t->in_reclaim++;
	pthread_mutex_lock(&shrinker_lock);
	for (s = shrinkers; s; s = s->next) {
		struct mc_shrink_control sc = { .flags = eff, .background = background };
		size_t count, n;

		if (!s->registered)
			continue;
		if (s->needs & ~eff & (MC_FS | MC_IO)) {
			__atomic_fetch_add(&s->skipped_ctx, 1, __ATOMIC_RELAXED);
			continue;
		}
		s->active++;
		pthread_mutex_unlock(&shrinker_lock);
		/* Locks taken from here on are learned as reachable from any
		 * reclaim whose context admits this shrinker. */
		t->reclaim_needs = s->needs;
		__atomic_fetch_add(&s->calls, 1, __ATOMIC_RELAXED);
		count = s->count(s, &sc);
		if (count) {
			/* priority 0 = scan everything; each level halves the share,
			 * but always at least enough objects to cover the request. */
			size_t share = count >> priority;
			size_t goal = bytes_wanted / 64 + 32;
			sc.nr_to_scan = share > goal ? share : (goal < count ? goal : count);
			n = s->scan(s, &sc);
			if (n != MC_SHRINK_STOP) {
				freed += n;
				__atomic_fetch_add(&s->freed, n, __ATOMIC_RELAXED);
			}
		}
		pthread_mutex_lock(&shrinker_lock);
		if (--s->active == 0 && !s->registered)
			pthread_cond_broadcast(&shrinker_idle);
	}
	pthread_mutex_unlock(&shrinker_lock);
	t->in_reclaim--;
	mc_memalloc_restore(tok);
	return freed;
}

void mc_shrinkers_print(FILE *f, int json)
{
	int first = 1;

	pthread_mutex_lock(&shrinker_lock);
	for (struct mc_shrinker *s = shrinkers; s; s = s->next) {
		if (json) {
			fprintf(f, "%s{\"name\":", first ? "" : ",");
			mc_json_str(f, s->name);
			fprintf(f, ",\"needs\":\"%s%s\",\"calls\":%llu,\"freed\":%llu,"
				"\"skipped_for_context\":%llu}", s->needs & MC_FS ? "fs" : "",
				s->needs & MC_IO ? "io" : "", (unsigned long long)s->calls,
				(unsigned long long)s->freed, (unsigned long long)s->skipped_ctx);
		} else
			fprintf(f, "  shrinker %-20s needs %-5s calls %-8llu freed %-10llu "
				"skipped(context) %llu\n", s->name,
				s->needs == 0 ? "-" : s->needs == MC_FS ? "fs" : s->needs == MC_IO ?
				"io" : "fs+io", (unsigned long long)s->calls,
				(unsigned long long)s->freed, (unsigned long long)s->skipped_ctx);
		first = 0;
	}
	pthread_mutex_unlock(&shrinker_lock);
}
