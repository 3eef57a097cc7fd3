/*
 * The budget: configuration, watermarks and reserves derived from it, and
 * the charge/uncharge arithmetic of the slow path.  The fast path's batched
 * charge is in mem.c.
 */
#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "alloc/internal.h"

struct mc_global g = {
	.thread_lock = PTHREAD_MUTEX_INITIALIZER,
	.limit_low = (size_t)INT64_MAX, .limit_min = (size_t)INT64_MAX,
	.limit_atomic = (size_t)INT64_MAX, .limit_all = (size_t)INT64_MAX,
	.near = (size_t)INT64_MAX,
	.cfg = { .batch = 32 * 1024, .nofail_warn_size = 64 * 1024, .nofail_fault_loops = 3,
		 .debug_retry = 1 },
	.io_flusher = -1,
};

void mc_config_defaults(struct mc_config *c)
{
	memset(c, 0, sizeof(*c));
	c->background_reclaim = 1;
	c->debug_retry = 1;
}

int mc_parse_size(const char *s, size_t *out)
{
	char *end;
	double v;
	double mul = 1;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case 'K': mul = 1024.0; end++; break;
	case 'M': mul = 1024.0 * 1024; end++; break;
	case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	}
	if (*end == 'i' || *end == 'I')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || !isfinite(v) || v < 0 || v * mul >= 9.0e18)
		return -EINVAL;
	*out = (size_t)(v * mul);
	return 0;
}

/* "100ms", "2s", "50us", "10ns"; a bare number is milliseconds. */
static int parse_duration(const char *s, uint64_t *ns)
{
	char *end;
	double v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	if (!*end || !strcmp(end, "ms"))
		v *= 1e6;
	else if (!strcmp(end, "s"))
		v *= 1e9;
	else if (!strcmp(end, "us"))
		v *= 1e3;
	else if (strcmp(end, "ns"))
		return -EINVAL;
	if (v > 1e18)
		return -EINVAL;
	*ns = (uint64_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > 1u << 30)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int parse_bool(const char *s, int *out)
{
	if (!s || !strcmp(s, "1") || !strcasecmp(s, "on") || !strcasecmp(s, "yes")) {
		*out = 1;
		return 0;
	}
	if (!strcmp(s, "0") || !strcasecmp(s, "off") || !strcasecmp(s, "no")) {
		*out = -1;
		return 0;
	}
	return -EINVAL;
}

static int parse_one(struct mc_config *c, const char *key, const char *val,
		     char *err, size_t errlen)
{
	static const struct { const char *key; size_t off; } sizes[] = {
		{ "budget", offsetof(struct mc_config, budget) },
		{ "min", offsetof(struct mc_config, wmark_min) },
		{ "low", offsetof(struct mc_config, wmark_low) },
		{ "high", offsetof(struct mc_config, wmark_high) },
		{ "atomic_reserve", offsetof(struct mc_config, atomic_reserve) },
		{ "reclaim_reserve", offsetof(struct mc_config, reclaim_reserve) },
		{ "batch", offsetof(struct mc_config, batch) },
		{ "nofail_warn", offsetof(struct mc_config, nofail_warn_size) },
	};
	static const struct { const char *key; size_t off; } durs[] = {
		{ "throttle_timeout", offsetof(struct mc_config, throttle_timeout_ns) },
		{ "congestion_sleep", offsetof(struct mc_config, congestion_sleep_ns) },
		{ "stall", offsetof(struct mc_config, stall_ns) },
	};
	static const struct { const char *key; size_t off; } uints[] = {
		{ "reserve_users", offsetof(struct mc_config, reserve_users_max) },
		{ "cluster", offsetof(struct mc_config, writeback_cluster) },
		{ "nofail_fault_loops", offsetof(struct mc_config, nofail_fault_loops) },
	};
	static const struct { const char *key; size_t off; } bools[] = {
		{ "background", offsetof(struct mc_config, background_reclaim) },
		{ "debug_abort", offsetof(struct mc_config, debug_abort) },
		{ "debug_retry", offsetof(struct mc_config, debug_retry) },
	};
	char *base = (char *)c;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (!strcmp(key, sizes[i].key)) {
			if (mc_parse_size(val, (size_t *)(base + sizes[i].off)) == 0)
				return 0;
			snprintf(err, errlen, "alloc option '%s': '%s' is not a size (e.g. 64M, 512K)",
				 key, val ? val : "");
			return -EINVAL;
		}
	for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++)
		if (!strcmp(key, durs[i].key)) {
			if (parse_duration(val, (uint64_t *)(base + durs[i].off)) == 0)
				return 0;
			snprintf(err, errlen,
				 "alloc option '%s': '%s' is not a duration (e.g. 100ms, 2s)",
				 key, val ? val : "");
			return -EINVAL;
		}
	for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++)
		if (!strcmp(key, uints[i].key)) {
			if (parse_uint(val, (unsigned *)(base + uints[i].off)) == 0)
				return 0;
			snprintf(err, errlen, "alloc option '%s': '%s' is not a count", key,
				 val ? val : "");
			return -EINVAL;
		}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
		if (!strcmp(key, bools[i].key)) {
			if (parse_bool(val, (int *)(base + bools[i].off)) == 0) {
				if (!strcmp(key, "debug_abort") && c->debug_abort < 0)
					c->debug_abort = 0;
				return 0;
			}
			snprintf(err, errlen, "alloc option '%s': '%s' is not on/off", key, val);
			return -EINVAL;
		}
	if (!strcmp(key, "reserve")) {
		if (val && !strcmp(val, "none"))
			c->reserve_policy = MC_RESERVE_NONE;
		else if (val && !strcmp(val, "kernel"))
			c->reserve_policy = MC_RESERVE_KERNEL;
		else
			goto bad_choice;
		return 0;
	}
	if (!strcmp(key, "policy")) {
		if (val && !strcmp(val, "writeback"))
			c->throttle_policy = MC_POLICY_WRITEBACK;
		else if (val && !strcmp(val, "congestion"))
			c->throttle_policy = MC_POLICY_CONGESTION;
		else if (val && !strcmp(val, "rate"))
			c->throttle_policy = MC_POLICY_RATE;
		else
			goto bad_choice;
		return 0;
	}
	snprintf(err, errlen, "alloc option '%s' is unknown (known: budget, min, low, high, "
		 "atomic_reserve, reclaim_reserve, reserve_users, batch, reserve, policy, "
		 "throttle_timeout, congestion_sleep, cluster, stall, nofail_fault_loops, "
		 "nofail_warn, background, debug_abort, debug_retry)", key);
	return -EINVAL;
bad_choice:
	snprintf(err, errlen, "alloc option '%s': '%s' is not one of %s", key, val ? val : "",
		 !strcmp(key, "reserve") ? "none, kernel" : "writeback, congestion, rate");
	return -EINVAL;
}

int mc_config_parse(struct mc_config *cfg, const char *opts, char *err, size_t errlen)
{
	char buf[1024];
	char *save = NULL;

	if (!opts)
		return 0;
	if (strlen(opts) >= sizeof(buf)) {
		snprintf(err, errlen, "alloc options: string longer than %zu bytes", sizeof(buf) - 1);
		return -EINVAL;
	}
	strcpy(buf, opts);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		int ret;

		if (eq)
			*eq = '\0';
		ret = parse_one(cfg, tok, eq ? eq + 1 : NULL, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static size_t clampsz(size_t v, size_t lo, size_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Fill derived values; -EINVAL if the explicit ones contradict each other. */
static int derive(struct mc_config *c, char *err, size_t errlen)
{
	size_t b = c->budget;

	/* Large budgets tolerate a large drift; small ones fold often. */
	if (!c->batch)
		c->batch = b ? clampsz(b / 256, 1024, 256 * 1024) : 256 * 1024;
	if (!c->reserve_users_max)
		c->reserve_users_max = 4;
	if (!c->throttle_timeout_ns)
		c->throttle_timeout_ns = 100000000ull;
	if (!c->congestion_sleep_ns)
		c->congestion_sleep_ns = 100000000ull;
	if (!c->writeback_cluster)
		c->writeback_cluster = 32;
	if (!c->stall_ns)
		c->stall_ns = 10000000000ull;
	if (!c->nofail_fault_loops)
		c->nofail_fault_loops = 3;
	if (!c->nofail_warn_size)
		c->nofail_warn_size = 64 * 1024;
	if (!c->debug_retry)
		c->debug_retry = 1;
	if (!b)
		return 0;
	if (b < 64 * 1024) {
		snprintf(err, errlen, "alloc budget %zu bytes is below the minimum of 64K", b);
		return -EINVAL;
	}
	if (!c->atomic_reserve)
		c->atomic_reserve = b / 100;
	if (!c->reclaim_reserve)
		c->reclaim_reserve = b / 100;
	if (!c->wmark_min)
		c->wmark_min = c->atomic_reserve + c->reclaim_reserve;
	if (!c->wmark_low)
		c->wmark_low = c->wmark_min + b / 32;
	if (!c->wmark_high)
		c->wmark_high = c->wmark_low + b / 32;
	if (c->atomic_reserve + c->reclaim_reserve > c->wmark_min) {
		snprintf(err, errlen, "alloc: min watermark %zu is below the reserves it must "
			 "hold (atomic %zu + reclaim %zu)", c->wmark_min, c->atomic_reserve,
			 c->reclaim_reserve);
		return -EINVAL;
	}
	if (c->wmark_min > c->wmark_low || c->wmark_low > c->wmark_high || c->wmark_high >= b) {
		snprintf(err, errlen, "alloc: watermarks must satisfy min <= low <= high < budget "
			 "(min %zu, low %zu, high %zu, budget %zu)", c->wmark_min, c->wmark_low,
			 c->wmark_high, b);
		return -EINVAL;
	}
	return 0;
}

int mc_configure(const struct mc_config *in, char *err, size_t errlen)
{
	int ret;

	mc_global_init_once();
	ret = mc_apply_config(in, err, errlen);
	/* After mc_init() the reclaimer follows the configuration. */
	if (!ret && g.threads_started) {
		if (g.cfg.background_reclaim > 0)
			mc_reclaim_start_thread();
		else
			mc_reclaim_stop_thread();
	}
	return ret;
}

int mc_apply_config(const struct mc_config *in, char *err, size_t errlen)
{
	struct mc_config c = *in;
	int ret;

	ret = derive(&c, err, errlen);
	if (ret)
		return ret;
	pthread_mutex_lock(&g.thread_lock);
	g.cfg = c;
	if (!c.budget) {
		g.limited = 0;
		g.limit_low = g.limit_min = g.limit_atomic = g.limit_all = (size_t)INT64_MAX;
	} else {
		g.limit_all = c.budget;
		g.limit_atomic = c.budget - c.reclaim_reserve;
		g.limit_min = c.budget - c.wmark_min;
		g.limit_low = c.budget - c.wmark_low;
		g.limited = 1;
	}
	mc_budget_retune();
	pthread_mutex_unlock(&g.thread_lock);
	return 0;
}

/*
 * Every thread may hold up to one batch unfolded, so the global figure can
 * lag the truth by threads x batch (the kernel's percpu drift).  Keep that
 * lag inside the gap between the low and min watermarks, and fold every
 * change once usage is within that lag of the low watermark: then the
 * fast path can never carry usage past min, however many threads run.
 */
void mc_budget_retune(void)
{
	size_t n = g.nthreads ? g.nthreads : 1;
	size_t b = g.cfg.batch;

	if (!g.limited) {
		g.batch = b;
		g.near = (size_t)INT64_MAX;
		return;
	}
	if (b > (g.cfg.wmark_low - g.cfg.wmark_min) / n)
		b = (g.cfg.wmark_low - g.cfg.wmark_min) / n;
	g.batch = b;
	g.near = g.limit_low > n * b ? g.limit_low - n * b : 0;
}

void mc_config_get(struct mc_config *out)
{
	*out = g.cfg;
}

static size_t level_limit(enum mc_level l)
{
	switch (l) {
	case LVL_LOW: return g.limit_low;
	case LVL_MIN: return g.limit_min;
	case LVL_ATOMIC: return g.limit_atomic;
	default: return g.limit_all;
	}
}

int mc_try_charge(struct mc_thread *t, size_t bytes, enum mc_level level)
{
	int64_t lim = (int64_t)level_limit(level);
	int64_t now;

	mc_fold(t);
	now = atomic_fetch_add(&g.used, (int64_t)bytes) + (int64_t)bytes;
	if (now > lim) {
		atomic_fetch_sub(&g.used, (int64_t)bytes);
		return 0;
	}
	int64_t pk = atomic_load_explicit(&g.peak, memory_order_relaxed);
	while (now > pk && !atomic_compare_exchange_weak(&g.peak, &pk, now))
		;
	return 1;
}

size_t mc_used_approx(void)
{
	int64_t u = atomic_load(&g.used);
	return u > 0 ? (size_t)u : 0;
}

/*
 * Read g.used and every thread's delta as of one instant: retry while any
 * thread folded in between (each fold is a handful of instructions).
 * Called with g.thread_lock held.
 */
static void read_consistent(int64_t *approx, int64_t *exact)
{
	for (int tries = 0; tries < 1000; tries++) {
		int stable = 1;
		int64_t a, e;

		for (struct mc_thread *t = g.threads; t; t = t->next) {
			unsigned s;
			while ((s = __atomic_load_n(&t->fold_seq, __ATOMIC_ACQUIRE)) & 1)
				;
			t->snap_seq = s;
		}
		a = e = atomic_load(&g.used);
		for (struct mc_thread *t = g.threads; t; t = t->next)
			e += __atomic_load_n(&t->delta, __ATOMIC_RELAXED);
		atomic_thread_fence(memory_order_acquire);
		for (struct mc_thread *t = g.threads; t; t = t->next)
			if (__atomic_load_n(&t->fold_seq, __ATOMIC_RELAXED) != t->snap_seq)
				stable = 0;
		*approx = a;
		*exact = e;
		if (stable)
			return;
	}
}

size_t mc_used_exact(void)
{
	int64_t a, u;

	pthread_mutex_lock(&g.thread_lock);
	read_consistent(&a, &u);
	pthread_mutex_unlock(&g.thread_lock);
	return u > 0 ? (size_t)u : 0;
}

void mc_budget_snapshot(struct mc_budget_snap *o)
{
	int64_t approx, exact;

	memset(o, 0, sizeof(*o));
	/* One pass under the lock: the global figure and the per-thread deltas
	 * are read together, so exact - approx is the real drift. */
	pthread_mutex_lock(&g.thread_lock);
	read_consistent(&approx, &exact);
	o->threads = g.nthreads;
	pthread_mutex_unlock(&g.thread_lock);
	o->used = exact > 0 ? (size_t)exact : 0;
	o->used_approx = approx > 0 ? (size_t)approx : 0;
	o->budget = g.cfg.budget;
	o->wmark_min = g.cfg.wmark_min;
	o->wmark_low = g.cfg.wmark_low;
	o->wmark_high = g.cfg.wmark_high;
	o->atomic_reserve = g.cfg.atomic_reserve;
	o->reclaim_reserve = g.cfg.reclaim_reserve;
	o->peak_used = (size_t)atomic_load(&g.peak);
	o->mapped_bytes = atomic_load(&g.mapped);
	o->retained_bytes = atomic_load(&g.retained);
	/* Each thread holds at most one batch unfolded, either sign (a thread
	 * may still hold one of the configured size until it next allocates). */
	o->max_drift = (size_t)o->threads * g.cfg.batch;
}
