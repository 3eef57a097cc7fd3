/*
 * Lock wrappers and the fs_reclaim dependency check.
 *
 * A class learns "taken in reclaim" from a blocking acquire by a thread in
 * reclaim; an allocation that may enter FS reclaim while holding a lock of
 * such a class is the deadlock: reclaim would wait for the lock its own
 * caller holds.  Both orders of discovery are reported.
 */
#include <errno.h>
#include <time.h>
#include "alloc/internal.h"

/* Would an allocation whose effective flags allow @ctx (MC_FS|MC_IO bits)
 * reach a shrinker that needs @needs? */
static int reaches(unsigned ctx, unsigned needs)
{
	return !(needs & ~ctx & (MC_FS | MC_IO));
}

static int held_by_me(struct mc_thread *t, struct mc_lock_class *c)
{
	unsigned n = t->nheld < MC_MAX_HELD ? t->nheld : MC_MAX_HELD;

	for (unsigned i = 0; i < n; i++)
		if (t->held[i] == c)
			return 1;
	return 0;
}

/* A blocking acquire by a thread in reclaim: learn it (before blocking). */
static void learn(struct mc_thread *t, struct mc_lock_class *c)
{
	unsigned needs = t->reclaim_needs;
	unsigned old = __atomic_load_n(&c->reclaim_needs, __ATOMIC_RELAXED);
	const char *site;

	if (held_by_me(t, c))
		mc_report(MC_REP_FS_RECLAIM_LOCK, NULL,
			  "reclaim is about to block on lock '%s' (%s:%d), which this thread "
			  "already holds: the allocation that entered reclaim deadlocks",
			  c->name, c->file, c->line);
	if (!__atomic_load_n(&c->taken_in_reclaim, __ATOMIC_RELAXED)) {
		__atomic_store_n(&c->reclaim_needs, needs, __ATOMIC_RELAXED);
		__atomic_store_n(&c->taken_in_reclaim, 1, __ATOMIC_RELEASE);
	} else if ((old & needs) != old) {
		__atomic_store_n(&c->reclaim_needs, old & needs, __ATOMIC_RELAXED);
	} else {
		return;
	}
	site = __atomic_load_n(&c->alloc_site, __ATOMIC_RELAXED);
	if (site && reaches(__atomic_load_n(&c->alloc_ctx, __ATOMIC_RELAXED), needs))
		mc_report(MC_REP_FS_RECLAIM_LOCK, NULL,
			  "lock '%s' (%s:%d) is taken in reclaim, but site %s allocated with "
			  "that reclaim allowed while holding it", c->name, c->file, c->line, site);
}

static void before_acquire(struct mc_lock_class *c)
{
	struct mc_thread *t = mc_thread();

	if (t->in_reclaim)
		learn(t, c);
}

static void acquired(struct mc_lock_class *c)
{
	struct mc_thread *t = mc_thread();

	if (t->nheld < MC_MAX_HELD)
		t->held[t->nheld] = c;
	t->nheld++;
}

static void released(struct mc_lock_class *c)
{
	struct mc_thread *t = mc_thread();

	/* Locks are usually released in reverse order; search from the top. */
	unsigned n = t->nheld < MC_MAX_HELD ? t->nheld : MC_MAX_HELD;
	for (unsigned i = n; i-- > 0;)
		if (t->held[i] == c) {
			for (unsigned j = i; j + 1 < n; j++)
				t->held[j] = t->held[j + 1];
			break;
		}
	t->nheld--;
}

/* An allocation that may run direct reclaim with @eff, holding locks. */
void mc_check_locks_alloc(struct mc_thread *t, const struct mc_site *site, mc_flags_t eff)
{
	unsigned n = t->nheld < MC_MAX_HELD ? t->nheld : MC_MAX_HELD;
	unsigned ctx = eff & (MC_FS | MC_IO);

	for (unsigned i = 0; i < n; i++) {
		struct mc_lock_class *c = t->held[i];
		if (!__atomic_load_n(&c->alloc_site, __ATOMIC_RELAXED))
			__atomic_store_n(&c->alloc_site, site->name, __ATOMIC_RELAXED);
		__atomic_fetch_or(&c->alloc_ctx, ctx, __ATOMIC_RELAXED);
		if (__atomic_load_n(&c->taken_in_reclaim, __ATOMIC_ACQUIRE) &&
		    reaches(ctx, __atomic_load_n(&c->reclaim_needs, __ATOMIC_RELAXED)))
			mc_report(MC_REP_FS_RECLAIM_LOCK, site,
				  "allocation may enter reclaim that takes lock '%s' (%s:%d), which "
				  "this thread holds: narrow the scope (NOFS/NOIO) or drop the lock",
				  c->name, c->file, c->line);
	}
}

unsigned mc_locks_held(void)
{
	return mc_thread()->nheld;
}

void mc_mutex_init_class(mc_mutex_t *m, struct mc_lock_class *cls)
{
	pthread_mutex_init(&m->m, NULL);
	m->cls = cls;
}
void mc_mutex_destroy(mc_mutex_t *m) { pthread_mutex_destroy(&m->m); }
void mc_mutex_lock(mc_mutex_t *m)
{
	before_acquire(m->cls);
	pthread_mutex_lock(&m->m);
	acquired(m->cls);
}
int mc_mutex_trylock(mc_mutex_t *m)
{
	if (pthread_mutex_trylock(&m->m))
		return 0;
	acquired(m->cls);
	return 1;
}
void mc_mutex_unlock(mc_mutex_t *m)
{
	released(m->cls);
	pthread_mutex_unlock(&m->m);
}

void mc_rwlock_init_class(mc_rwlock_t *l, struct mc_lock_class *cls)
{
	pthread_rwlock_init(&l->l, NULL);
	l->cls = cls;
}
void mc_rwlock_destroy(mc_rwlock_t *l) { pthread_rwlock_destroy(&l->l); }
void mc_read_lock(mc_rwlock_t *l)
{
	before_acquire(l->cls);
	pthread_rwlock_rdlock(&l->l);
	acquired(l->cls);
}
void mc_write_lock(mc_rwlock_t *l)
{
	before_acquire(l->cls);
	pthread_rwlock_wrlock(&l->l);
	acquired(l->cls);
}
int mc_read_trylock(mc_rwlock_t *l)
{
	if (pthread_rwlock_tryrdlock(&l->l))
		return 0;
	acquired(l->cls);
	return 1;
}
int mc_write_trylock(mc_rwlock_t *l)
{
	if (pthread_rwlock_trywrlock(&l->l))
		return 0;
	acquired(l->cls);
	return 1;
}
void mc_rw_unlock(mc_rwlock_t *l)
{
	released(l->cls);
	pthread_rwlock_unlock(&l->l);
}

void mc_spin_init_class(mc_spinlock_t *s, struct mc_lock_class *cls)
{
	pthread_spin_init(&s->s, PTHREAD_PROCESS_PRIVATE);
	s->cls = cls;
}
void mc_spin_destroy(mc_spinlock_t *s) { pthread_spin_destroy(&s->s); }
void mc_spin_lock(mc_spinlock_t *s)
{
	before_acquire(s->cls);
	pthread_spin_lock(&s->s);
	acquired(s->cls);
}
int mc_spin_trylock(mc_spinlock_t *s)
{
	if (pthread_spin_trylock(&s->s))
		return 0;
	acquired(s->cls);
	return 1;
}
void mc_spin_unlock(mc_spinlock_t *s)
{
	released(s->cls);
	pthread_spin_unlock(&s->s);
}

void mc_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

void mc_cond_wait(pthread_cond_t *c, mc_mutex_t *m)
{
	pthread_cond_wait(c, &m->m);
}

int mc_cond_timedwait(pthread_cond_t *c, mc_mutex_t *m, uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000ull),
			       .tv_nsec = (long)(deadline_ns % 1000000000ull) };
	return pthread_cond_timedwait(c, &m->m, &ts) == ETIMEDOUT ? ETIMEDOUT : 0;
}
