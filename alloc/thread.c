/*
 * Per-thread state: scopes, object caches, batched byte counters, per-site
 * counters, held locks.  Created on a thread's first allocation, folded into
 * the globals and unmapped when the thread exits.  The state itself is
 * mapped directly (library overhead, not charged to the budget).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "alloc/internal.h"

__thread struct mc_thread *mc_self __attribute__((tls_model("initial-exec")));

static pthread_key_t thread_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t next_tid = 1;

static void thread_exit(void *arg);

static void key_init(void)
{
	pthread_key_create(&thread_key, thread_exit);
}

static void *map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "scopefs-alloc: cannot map thread state: out of address space\n");
		abort();
	}
	return p;
}

static size_t sites_len(size_t n)
{
	return (n * sizeof(struct site_ctr) + PAGE_SZ - 1) & ~(PAGE_SZ - 1);
}

void mc_global_init_once(void);

struct mc_thread *mc_thread_init(void)
{
	struct mc_thread *t;

	mc_global_init_once();
	pthread_once(&key_once, key_init);
	t = map_zeroed(sizeof(*t));
	t->nsites = mc_site_count();
	if (t->nsites)
		t->sites = map_zeroed(sites_len(t->nsites));
	t->tid = atomic_fetch_add(&next_tid, 1);
	t->rng = 0x9e3779b97f4a7c15ull * t->tid;
	t->reserve_slot = 0;
	pthread_mutex_lock(&g.thread_lock);
	t->next = g.threads;
	if (g.threads)
		g.threads->prev = t;
	g.threads = t;
	g.nthreads++;
	mc_budget_retune();
	pthread_mutex_unlock(&g.thread_lock);
	mc_self = t;
	pthread_setspecific(thread_key, t);
	return t;
}

void mc_fold(struct mc_thread *t)
{
	mc_fold_delta(t, t->delta);
}

/* Move @d (the thread's new, not yet stored, delta) into g.used. */
void mc_fold_delta(struct mc_thread *t, int64_t d)
{
	if (!d) {
		__atomic_store_n(&t->delta, 0, __ATOMIC_RELAXED);
		return;
	}
	/* Seqcount so a snapshot never sees d in both places or in neither. */
	__atomic_store_n(&t->fold_seq, t->fold_seq + 1, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	int64_t now = atomic_fetch_add_explicit(&g.used, d, memory_order_relaxed) + d;
	__atomic_store_n(&t->delta, 0, __ATOMIC_RELAXED);
	atomic_thread_fence(memory_order_release);
	__atomic_store_n(&t->fold_seq, t->fold_seq + 1, __ATOMIC_RELAXED);
	int64_t pk = atomic_load_explicit(&g.peak, memory_order_relaxed);
	while (now > pk && !atomic_compare_exchange_weak(&g.peak, &pk, now))
		;
}

void mc_thread_drain(struct mc_thread *t)
{
	for (int c = 0; c < NCLASSES; c++)
		if (t->tc[c].count)
			mc_slab_flush(&t->tc[c], c, t->tc[c].count);
}

static void thread_exit(void *arg)
{
	struct mc_thread *t = arg;

	mc_thread_drain(t);
	pthread_mutex_lock(&g.thread_lock);
	mc_fold(t);
	mc_site_fold_thread(t);
	atomic_fetch_add(&g.dead_allocs, t->allocs);
	atomic_fetch_add(&g.dead_frees, t->frees);
	if (t->prev)
		t->prev->next = t->next;
	else
		g.threads = t->next;
	if (t->next)
		t->next->prev = t->prev;
	g.nthreads--;
	mc_budget_retune();
	pthread_mutex_unlock(&g.thread_lock);
	if (t->reserve_slot)
		atomic_fetch_sub(&g.reserve_users, 1);
	mc_self = NULL;
	if (t->sites)
		munmap(t->sites, sites_len(t->nsites));
	munmap(t, sizeof(*t));
}
