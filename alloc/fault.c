/*
 * Fault injection.  Rules are matched against a site's name once per rule
 * generation and the result cached in the site; the per-call cost when no
 * rule is installed is one relaxed load (mc_fault_active).  Readers hold a
 * read lock while they look at the rules, so a new spec can be installed
 * while other threads allocate.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "alloc/internal.h"

#define MAX_RULES 32
#define PAT_MAX   128

enum mode { M_NTH, M_EVERY, M_PROB, M_ALWAYS };

struct rule {
	char pat[PAT_MAX];
	enum mode mode;
	uint64_t n;
	double p;
	int per_thread;
	uint64_t times;
	uint64_t seed;
	_Atomic uint64_t injected;
};

_Atomic int mc_fault_active;
static pthread_rwlock_t fault_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct rule rules[MAX_RULES];
static int nrules;
static _Atomic unsigned fault_gen = 1;
static char spec_str[1024];

static int parse_rule(char *txt, struct rule *r, int no, char *err, size_t errlen)
{
	char *colon = strchr(txt, ':');
	char *save = NULL;
	int modes = 0;

	memset(r, 0, sizeof(*r));
	r->seed = 1;
	if (!colon || colon == txt) {
		snprintf(err, errlen, "fault rule %d ('%s'): expected PATTERN:MODE, e.g. "
			 "'journal.*:nth=3'", no, txt);
		return -EINVAL;
	}
	*colon = '\0';
	if (strlen(txt) >= PAT_MAX) {
		snprintf(err, errlen, "fault rule %d: pattern longer than %d bytes", no, PAT_MAX - 1);
		return -EINVAL;
	}
	strcpy(r->pat, txt);
	for (char *kv = strtok_r(colon + 1, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		char *val = eq ? eq + 1 : NULL, *end = NULL;

		if (eq)
			*eq = '\0';
		if (!strcmp(kv, "always") && !val) {
			r->mode = M_ALWAYS;
			modes++;
			continue;
		}
		if (!val || !*val)
			goto bad;
		errno = 0;
		if (!strcmp(kv, "nth") || !strcmp(kv, "every")) {
			r->mode = kv[0] == 'n' ? M_NTH : M_EVERY;
			r->n = strtoull(val, &end, 10);
			if (*end || !r->n || errno || val[0] == '-')
				goto bad;
			modes++;
		} else if (!strcmp(kv, "p")) {
			r->mode = M_PROB;
			r->p = strtod(val, &end);
			if (*end || errno || !(r->p >= 0.0 && r->p <= 1.0))
				goto bad;
			modes++;
		} else if (!strcmp(kv, "count")) {
			if (!strcmp(val, "thread"))
				r->per_thread = 1;
			else if (strcmp(val, "global"))
				goto bad;
		} else if (!strcmp(kv, "times") || !strcmp(kv, "seed")) {
			uint64_t v = strtoull(val, &end, 10);
			if (*end || errno || val[0] == '-')
				goto bad;
			*(kv[0] == 't' ? &r->times : &r->seed) = v;
		} else {
			snprintf(err, errlen, "fault rule %d ('%s'): unknown key '%s' (known: nth, "
				 "every, p, always, count, times, seed)", no, r->pat, kv);
			return -EINVAL;
		}
		continue;
bad:
		snprintf(err, errlen, "fault rule %d ('%s'): bad value for '%s': '%s'", no, r->pat,
			 kv, val ? val : "");
		return -EINVAL;
	}
	if (modes != 1) {
		snprintf(err, errlen, "fault rule %d ('%s'): needs exactly one of nth=, every=, "
			 "p=, always (got %d)", no, r->pat, modes);
		return -EINVAL;
	}
	return 0;
}

static int match(const char *name);

int mc_fault_set(const char *spec, char *err, size_t errlen)
{
	static struct rule parsed[MAX_RULES];
	static pthread_mutex_t set_lock = PTHREAD_MUTEX_INITIALIZER;
	char buf[sizeof(spec_str)];
	char *save = NULL;
	int n = 0, ret = 0;

	if (!spec)
		spec = "";
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "fault spec longer than %zu bytes", sizeof(buf) - 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&set_lock);
	strcpy(buf, spec);
	for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		if (!*tok)
			continue;
		if (n == MAX_RULES) {
			snprintf(err, errlen, "fault spec: more than %d rules", MAX_RULES);
			ret = -EINVAL;
			goto out;
		}
		ret = parse_rule(tok, &parsed[n], n + 1, err, errlen);
		if (ret)
			goto out;
		n++;
	}
	pthread_rwlock_wrlock(&fault_lock);
	for (int i = 0; i < n; i++) {
		memcpy(rules[i].pat, parsed[i].pat, PAT_MAX);
		rules[i].mode = parsed[i].mode;
		rules[i].n = parsed[i].n;
		rules[i].p = parsed[i].p;
		rules[i].per_thread = parsed[i].per_thread;
		rules[i].times = parsed[i].times;
		rules[i].seed = parsed[i].seed;
		atomic_store(&rules[i].injected, 0);
	}
	nrules = n;
	snprintf(spec_str, sizeof(spec_str), "%s", spec);
	/* Match every site now, under the write lock: counters restart
	 * exactly once per rule set, whatever threads are allocating. */
	unsigned gen = atomic_fetch_add(&fault_gen, 1) + 1;
	for (struct mc_site *s = mc_sites_begin(); s && s < mc_sites_end(); s++) {
		__atomic_store_n(&s->inj_rule, match(s->name), __ATOMIC_RELAXED);
		__atomic_store_n(&s->inj_calls, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&s->inj_gen, gen, __ATOMIC_RELEASE);
	}
	atomic_store(&mc_fault_active, n > 0);
	pthread_rwlock_unlock(&fault_lock);
out:
	pthread_mutex_unlock(&set_lock);
	return ret;
}

void mc_fault_get(char *buf, size_t len)
{
	pthread_rwlock_rdlock(&fault_lock);
	snprintf(buf, len, "%s", spec_str);
	pthread_rwlock_unlock(&fault_lock);
}

uint64_t mc_rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static int match(const char *name)
{
	for (int i = 0; i < nrules; i++)
		if (!fnmatch(rules[i].pat, name, 0))
			return i;
	return -1;
}

int mc_fault_check(struct mc_thread *t, struct mc_site *site)
{
	size_t idx = mc_site_index(site);
	unsigned gen;
	struct rule *r;
	uint64_t n;
	int hit = 0;

	/* Fast exit, no lock: this site was matched against the current rules
	 * and no rule names it.  Only sites that a rule names pay for the lock. */
	gen = atomic_load(&fault_gen);
	if (__atomic_load_n(&site->inj_gen, __ATOMIC_ACQUIRE) == gen &&
	    __atomic_load_n(&site->inj_rule, __ATOMIC_RELAXED) < 0)
		return 0;
	pthread_rwlock_rdlock(&fault_lock);
	gen = atomic_load(&fault_gen);
	if (site->inj_rule < 0)
		goto out;
	r = &rules[site->inj_rule];
	if (r->times && atomic_load(&r->injected) >= r->times)
		goto out;
	if (t->inj_gen != gen) {
		for (size_t i = 0; i < t->nsites; i++)
			t->sites[i].inj_calls = 0;
		t->inj_gen = gen;
		t->rng = (r->seed + 1) * 0x9e3779b97f4a7c15ull ^ t->tid;
	}
	if (r->per_thread)
		n = ++t->sites[idx].inj_calls;
	else
		n = __atomic_add_fetch(&site->inj_calls, 1, __ATOMIC_RELAXED);
	switch (r->mode) {
	case M_NTH: hit = n == r->n; break;
	case M_EVERY: hit = n % r->n == 0; break;
	case M_PROB: hit = (double)(mc_rng_next(&t->rng) >> 11) / 9007199254740992.0 < r->p; break;
	case M_ALWAYS: hit = 1; break;
	}
	if (hit && r->times && atomic_fetch_add(&r->injected, 1) >= r->times)
		hit = 0;
	else if (hit && !r->times)
		atomic_fetch_add(&r->injected, 1);
	if (hit) {
		__atomic_fetch_add(&site->injected, 1, __ATOMIC_RELAXED);
		atomic_fetch_add(&g.injected, 1);
	}
out:
	pthread_rwlock_unlock(&fault_lock);
	return hit;
}
