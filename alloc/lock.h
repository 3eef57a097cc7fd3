/*
 * Lock wrappers for fs/ and journal/ (lockdep's fs_reclaim map, in small).
 *
 * Each lock belongs to a class named where it is initialised.  When a
 * thread running reclaim (a shrinker callback, the writeback kick) takes a
 * lock with a blocking acquire, its class is learned as "taken in reclaim",
 * together with what that reclaim context needed (the shrinker's MC_FS /
 * MC_IO mask).  Learning happens before the acquire, so a reclaimer about
 * to block on a lock its own thread holds is reported instead of hanging.
 * Try-locks never teach: a shrinker that only try-locks cannot deadlock
 * against its caller.  An allocation that may run direct reclaim while the
 * thread holds a learned lock is reported (MC_REP_FS_RECLAIM_LOCK) when its
 * effective flags admit a shrinker that takes that lock: a NOFS scope
 * protects against locks taken by FS shrinkers only.  The report also fires
 * when the class is learned after such an allocation was seen.
 */
#ifndef MC_LOCK_H
#define MC_LOCK_H

#include <pthread.h>
#include <stdint.h>

struct mc_lock_class {
	const char *name;
	const char *file;
	int line;
	int taken_in_reclaim;            /* learned: blocking acquire in reclaim */
	unsigned reclaim_needs;          /* least demanding context (MC_FS|MC_IO bits a
					    shrinker needed) seen taking it */
	const char *alloc_site;          /* a site that allocated with direct reclaim
					    while holding it */
	unsigned alloc_ctx;              /* union of MC_FS|MC_IO those allocations allowed */
};

#define MC_LOCK_CLASS(var, cname)                                              \
	static struct mc_lock_class var = { .name = (cname), .file = __FILE__, \
					    .line = __LINE__ }

typedef struct { pthread_mutex_t m; struct mc_lock_class *cls; } mc_mutex_t;
typedef struct { pthread_rwlock_t l; struct mc_lock_class *cls; } mc_rwlock_t;
typedef struct { pthread_spinlock_t s; struct mc_lock_class *cls; } mc_spinlock_t;

void mc_mutex_init_class(mc_mutex_t *m, struct mc_lock_class *cls);
void mc_rwlock_init_class(mc_rwlock_t *l, struct mc_lock_class *cls);
void mc_spin_init_class(mc_spinlock_t *s, struct mc_lock_class *cls);
#define mc_mutex_init(m, cname) do { MC_LOCK_CLASS(__mc_lc, cname); mc_mutex_init_class((m), &__mc_lc); } while (0)
#define mc_rwlock_init(l, cname) do { MC_LOCK_CLASS(__mc_lc, cname); mc_rwlock_init_class((l), &__mc_lc); } while (0)
#define mc_spin_init(s, cname) do { MC_LOCK_CLASS(__mc_lc, cname); mc_spin_init_class((s), &__mc_lc); } while (0)

void mc_mutex_destroy(mc_mutex_t *m);
void mc_mutex_lock(mc_mutex_t *m);
int mc_mutex_trylock(mc_mutex_t *m);   /* 1 = acquired */
void mc_mutex_unlock(mc_mutex_t *m);

void mc_rwlock_destroy(mc_rwlock_t *l);
void mc_read_lock(mc_rwlock_t *l);
void mc_write_lock(mc_rwlock_t *l);
int mc_read_trylock(mc_rwlock_t *l);
int mc_write_trylock(mc_rwlock_t *l);
void mc_rw_unlock(mc_rwlock_t *l);

void mc_spin_destroy(mc_spinlock_t *s);
void mc_spin_lock(mc_spinlock_t *s);
int mc_spin_trylock(mc_spinlock_t *s);
void mc_spin_unlock(mc_spinlock_t *s);

/* Condition wait on a wrapped mutex (the mutex stays held for the checks). */
void mc_cond_wait(pthread_cond_t *c, mc_mutex_t *m);
/* Absolute CLOCK_MONOTONIC deadline; 0 = woken, ETIMEDOUT = deadline passed. */
int mc_cond_timedwait(pthread_cond_t *c, mc_mutex_t *m, uint64_t deadline_ns);
void mc_cond_init(pthread_cond_t *c);   /* CLOCK_MONOTONIC condition */

/* Number of wrapped locks this thread holds. */
unsigned mc_locks_held(void);

#endif
