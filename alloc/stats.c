/*
 * Statistics snapshot and printing (text for people, JSON for tools).
 * Sums the per-thread counters under the thread lock, so figures are exact
 * at a quiescent point and within the batching bound while threads run.
 */
#include <stdlib.h>
#include <string.h>
#include "alloc/internal.h"

void mc_stats_snapshot(struct mc_stats *o)
{
	memset(o, 0, sizeof(*o));
	mc_budget_snapshot(&o->budget);
	pthread_mutex_lock(&g.thread_lock);
	o->allocs = atomic_load(&g.dead_allocs);
	o->frees = atomic_load(&g.dead_frees);
	for (struct mc_thread *t = g.threads; t; t = t->next) {
		o->allocs += __atomic_load_n(&t->allocs, __ATOMIC_RELAXED);
		o->frees += __atomic_load_n(&t->frees, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&g.thread_lock);
	o->failures = atomic_load(&g.failures);
	o->large_allocs = atomic_load(&g.large_allocs);
	o->slowpath = atomic_load(&g.slowpath);
	o->nofail_calls = atomic_load(&g.nofail_calls);
	o->nofail_loops = atomic_load(&g.nofail_loops);
	o->injected = atomic_load(&g.injected);
	o->nofail_injected_loops = atomic_load(&g.nofail_injected_loops);
	o->reclaim_direct = atomic_load(&g.reclaim_direct);
	o->reclaim_background = atomic_load(&g.reclaim_background);
	o->reclaim_explicit = atomic_load(&g.reclaim_explicit);
	o->reclaim_freed_bytes = atomic_load(&g.reclaim_freed);
	o->background_wakeups = atomic_load(&g.bg_wakeups);
	o->background_sleeps = mc_background_sleeps();
	mc_throttle_stats(o->throttle, o->throttle_ns, &o->wb_submitted, &o->wb_completed,
			  &o->wb_kicks);
	o->wb_inflight = mc_writeback_inflight();
	o->reserve_atomic_uses = atomic_load(&g.res_atomic);
	o->reserve_reclaim_uses = atomic_load(&g.res_reclaim);
	o->reserve_kernel_min_uses = atomic_load(&g.res_kmin);
	o->reserve_kernel_nowmark_uses = atomic_load(&g.res_knowmark);
	o->reserve_user_refusals = atomic_load(&g.res_user_waits);
	o->stalls = atomic_load(&g.stalls);
	o->max_wait_ns = atomic_load(&g.max_wait_ns);
	for (int k = 0; k < MC_REP_KINDS; k++)
		o->reports[k] = atomic_load(&g.reports[k]);
	o->io_flusher = g.io_flusher;
	o->io_flusher_errno = g.io_flusher_errno;
}

struct site_row {
	const struct mc_site *s;
	struct mc_site_counts c;
};

static int by_live(const void *a, const void *b)
{
	const struct site_row *x = a, *y = b;
	if (x->c.live_bytes != y->c.live_bytes)
		return x->c.live_bytes < y->c.live_bytes ? 1 : -1;
	return x->c.calls < y->c.calls ? 1 : x->c.calls > y->c.calls ? -1 : 0;
}

/* Top sites by live bytes; the rows are scratch memory outside the budget
 * (statistics must work when the budget is exhausted). */
static unsigned top_sites(struct site_row *rows, unsigned top)
{
	size_t n = mc_site_count();
	unsigned kept = 0;

	if (!top)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct site_row r = { &mc_sites_begin()[i], { 0, 0 } };
		mc_site_counts(r.s, &r.c);
		if (!r.c.calls)
			continue;
		if (kept < top) {
			rows[kept++] = r;
		} else if (by_live(&r, &rows[kept - 1]) < 0) {
			rows[kept - 1] = r;
		} else {
			continue;
		}
		qsort(rows, kept, sizeof(*rows), by_live);
	}
	return kept;
}

#define U(x) ((unsigned long long)(x))

/* Names come from code, but a file path may hold anything: escape. */
void mc_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void print_text(FILE *f, const struct mc_stats *s, struct site_row *rows, unsigned n)
{
	const struct mc_budget_snap *b = &s->budget;

	fprintf(f, "memory (alloc/ only; the kernel's page cache is outside the budget)\n");
	if (b->budget)
		fprintf(f, "  budget %zu  used %zu (approx %zu, drift bound %zu)  peak %zu\n",
			b->budget, b->used, b->used_approx, b->max_drift, b->peak_used);
	else
		fprintf(f, "  budget unlimited  used %zu (approx %zu, drift bound %zu)  peak %zu\n",
			b->used, b->used_approx, b->max_drift, b->peak_used);
	fprintf(f, "  watermarks min %zu low %zu high %zu  reserves atomic %zu reclaim %zu\n",
		b->wmark_min, b->wmark_low, b->wmark_high, b->atomic_reserve, b->reclaim_reserve);
	fprintf(f, "  mapped %zu  retained-empty %zu  threads %u\n", b->mapped_bytes,
		b->retained_bytes, b->threads);
	fprintf(f, "allocations %llu  frees %llu  failures %llu  large %llu  slowpath %llu\n",
		U(s->allocs), U(s->frees), U(s->failures), U(s->large_allocs), U(s->slowpath));
	fprintf(f, "nofail calls %llu  loops %llu (forced by injection %llu)  injected %llu\n",
		U(s->nofail_calls), U(s->nofail_loops), U(s->nofail_injected_loops),
		U(s->injected));
	fprintf(f, "reclaim direct %llu  background %llu (wakeups %llu, writeback waits %llu)  explicit %llu  freed %llu bytes\n",
		U(s->reclaim_direct), U(s->reclaim_background), U(s->background_wakeups),
		U(s->background_sleeps), U(s->reclaim_explicit), U(s->reclaim_freed_bytes));
	for (int r = 0; r < MC_THROTTLE_NR; r++)
		fprintf(f, "throttle %-10s woken %llu  timeout %llu  computed %llu  no-wait %llu  asleep %.3f s\n",
			mc_throttle_reason_name(r), U(s->throttle[r][MC_WAIT_WOKEN]),
			U(s->throttle[r][MC_WAIT_TIMEOUT]), U(s->throttle[r][MC_WAIT_COMPUTED]),
			U(s->throttle[r][MC_WAIT_NONE]), (double)s->throttle_ns[r] / 1e9);
	fprintf(f, "writeback submitted %llu  completed %llu  in flight %llu pages  kicks %llu\n",
		U(s->wb_submitted), U(s->wb_completed), U(s->wb_inflight), U(s->wb_kicks));
	fprintf(f, "reserves atomic %llu  reclaim %llu  kernel-min %llu  kernel-nowmark %llu  refused at user cap %llu\n",
		U(s->reserve_atomic_uses), U(s->reserve_reclaim_uses),
		U(s->reserve_kernel_min_uses), U(s->reserve_kernel_nowmark_uses),
		U(s->reserve_user_refusals));
	fprintf(f, "stalls %llu  longest wait %.3f s  io_flusher %s\n", U(s->stalls),
		(double)s->max_wait_ns / 1e9,
		s->io_flusher == 1 ? "set" : s->io_flusher == 0 ? "refused" : "not tried");
	fprintf(f, "reports:");
	for (int k = 0; k < MC_REP_KINDS; k++)
		fprintf(f, " %s=%llu", mc_report_kind_name(k), U(s->reports[k]));
	fprintf(f, "\n");
	mc_shrinkers_print(f, 0);
	fprintf(f, "top sites by live bytes:\n");
	for (unsigned i = 0; i < n; i++) {
		const struct mc_site *st = rows[i].s;
		fprintf(f, "  %-28s %10lld live %10llu calls %6llu fail %6llu nofail-loops %8.3f s throttled  %s:%d\n",
			st->name, (long long)rows[i].c.live_bytes, U(rows[i].c.calls),
			U(st->failures), U(st->nofail_loops), (double)st->throttled_ns / 1e9,
			st->file, st->line);
	}
}

static void print_json(FILE *f, const struct mc_stats *s, struct site_row *rows, unsigned n)
{
	const struct mc_budget_snap *b = &s->budget;

	fprintf(f, "{\"note\":\"alloc/ memory only; the kernel page cache is outside the budget\",");
	fprintf(f, "\"budget\":{\"budget\":%zu,\"used\":%zu,\"used_approx\":%zu,\"max_drift\":%zu,"
		"\"peak\":%zu,\"wmark_min\":%zu,\"wmark_low\":%zu,\"wmark_high\":%zu,"
		"\"atomic_reserve\":%zu,\"reclaim_reserve\":%zu,\"mapped\":%zu,\"retained\":%zu,"
		"\"threads\":%u},", b->budget, b->used, b->used_approx, b->max_drift, b->peak_used,
		b->wmark_min, b->wmark_low, b->wmark_high, b->atomic_reserve, b->reclaim_reserve,
		b->mapped_bytes, b->retained_bytes, b->threads);
	fprintf(f, "\"allocs\":%llu,\"frees\":%llu,\"failures\":%llu,\"large_allocs\":%llu,"
		"\"slowpath\":%llu,\"nofail_calls\":%llu,\"nofail_loops\":%llu,"
		"\"nofail_injected_loops\":%llu,\"injected\":%llu,",
		U(s->allocs), U(s->frees), U(s->failures), U(s->large_allocs), U(s->slowpath),
		U(s->nofail_calls), U(s->nofail_loops), U(s->nofail_injected_loops), U(s->injected));
	fprintf(f, "\"reclaim\":{\"direct\":%llu,\"background\":%llu,\"background_wakeups\":%llu,"
		"\"background_writeback_waits\":%llu,\"explicit\":%llu,\"freed_bytes\":%llu},",
		U(s->reclaim_direct), U(s->reclaim_background), U(s->background_wakeups),
		U(s->background_sleeps), U(s->reclaim_explicit), U(s->reclaim_freed_bytes));
	fprintf(f, "\"throttle\":{");
	for (int r = 0; r < MC_THROTTLE_NR; r++) {
		fprintf(f, "%s\"%s\":{", r ? "," : "", mc_throttle_reason_name(r));
		for (int w = 0; w < MC_WAIT_NR; w++)
			fprintf(f, "\"%s\":%llu,", mc_wait_end_name(w), U(s->throttle[r][w]));
		fprintf(f, "\"asleep_ns\":%llu}", U(s->throttle_ns[r]));
	}
	fprintf(f, "},\"writeback\":{\"submitted\":%llu,\"completed\":%llu,\"inflight\":%llu,"
		"\"kicks\":%llu},", U(s->wb_submitted), U(s->wb_completed), U(s->wb_inflight),
		U(s->wb_kicks));
	fprintf(f, "\"reserves\":{\"atomic\":%llu,\"reclaim\":%llu,\"kernel_min\":%llu,"
		"\"kernel_nowmark\":%llu,\"user_cap_refusals\":%llu},", U(s->reserve_atomic_uses),
		U(s->reserve_reclaim_uses), U(s->reserve_kernel_min_uses),
		U(s->reserve_kernel_nowmark_uses), U(s->reserve_user_refusals));
	fprintf(f, "\"stalls\":%llu,\"max_wait_ns\":%llu,\"io_flusher\":%d,\"reports\":{",
		U(s->stalls), U(s->max_wait_ns), s->io_flusher);
	for (int k = 0; k < MC_REP_KINDS; k++)
		fprintf(f, "%s\"%s\":%llu", k ? "," : "", mc_report_kind_name(k), U(s->reports[k]));
	fprintf(f, "},\"shrinkers\":[");
	mc_shrinkers_print(f, 1);
	fprintf(f, "],\"sites\":[");
	for (unsigned i = 0; i < n; i++) {
		const struct mc_site *st = rows[i].s;
		fprintf(f, "%s{\"name\":", i ? "," : "");
		mc_json_str(f, st->name);
		fprintf(f, ",\"file\":");
		mc_json_str(f, st->file);
		fprintf(f, ",\"line\":%d,\"live\":%lld,\"calls\":%llu,\"failures\":%llu,"
			"\"nofail_loops\":%llu,\"throttled_ns\":%llu,\"injected\":%llu}", st->line,
			(long long)rows[i].c.live_bytes, U(rows[i].c.calls), U(st->failures),
			U(st->nofail_loops), U(st->throttled_ns), U(st->injected));
	}
	fprintf(f, "]}\n");
}

void mc_stats_print(FILE *f, int json, unsigned top)
{
	struct site_row rows[64];
	struct mc_stats s;
	unsigned n;

	if (top > 64)
		top = 64;
	mc_stats_snapshot(&s);
	n = top_sites(rows, top);
	if (json)
		print_json(f, &s, rows, n);
	else
		print_text(f, &s, rows, n);
}
