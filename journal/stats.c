/* Journal statistics: a snapshot, printable as text or JSON. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "journal/internal.h"

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define NHIST (sizeof(((struct jnl_raw_stats *)0)->commit_hist) / sizeof(uint64_t))

/* Upper bound (ns) of the bucket holding the @q-th quantile (0..1). */
static uint64_t quantile(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q), seen = 0;

	if (!total)
		return 0;
	for (unsigned b = 0; b < NHIST; b++) {
		seen += hist[b];
		if (seen > want)
			return (2ull << b) * 1000ull;
	}
	return (2ull << (NHIST - 1)) * 1000ull;
}

void jnl_get_stats(struct jnl_journal *j, struct jnl_stats *o)
{
	const struct jnl_raw_stats *s = &j->st;
	uint64_t hist[NHIST];

	memset(o, 0, sizeof(*o));
	o->handles = LOAD(s->handles);
	o->nested_handles = LOAD(s->nested_handles);
	o->nofail_handles = LOAD(s->nofail_handles);
	o->commits = LOAD(s->commits);
	o->commits_interval = LOAD(s->commits_interval);
	o->commits_size = LOAD(s->commits_size);
	o->commits_requested = LOAD(s->commits_requested);
	o->commits_close = LOAD(s->commits_close);
	o->copies_logged = LOAD(s->copies_logged);
	o->revoke_records = LOAD(s->revoke_records);
	o->log_blocks_written = LOAD(s->log_blocks_written);
	o->bytes_logged = o->log_blocks_written * j->bsize;
	o->log_flushes = LOAD(s->log_flushes);
	o->wraps = LOAD(s->wraps);
	o->frozen_copies = LOAD(s->frozen_copies);
	o->frozen_from_reserve = LOAD(s->frozen_from_reserve);
	o->capture_waits = LOAD(s->capture_waits);
	o->checkpoint_waits = LOAD(s->checkpoint_waits);
	o->checkpoints = LOAD(s->checkpoints);
	o->checkpoint_writes = LOAD(s->checkpoint_writes);
	o->checkpoint_forced_commits = LOAD(s->checkpoint_forced_commits);
	o->tail_updates = LOAD(s->tail_updates);
	o->fsync_fast = LOAD(s->fsync_fast);
	o->fsync_commit = LOAD(s->fsync_commit);
	o->aborts = LOAD(s->aborts);
	o->rsv_taken = LOAD(s->rsv_taken);
	o->rsv_waits = LOAD(s->rsv_waits);
	o->rsv_refused = LOAD(s->rsv_refused);
	o->rsv_started = LOAD(s->rsv_started);
	o->rsv_returned = LOAD(s->rsv_returned);
	o->rsv_txn_allocs = LOAD(s->rsv_txn_allocs);
	o->commit_ns_total = LOAD(s->commit_ns_total);
	o->commit_ns_max = LOAD(s->commit_ns_max);
	for (unsigned b = 0; b < NHIST; b++)
		hist[b] = LOAD(s->commit_hist[b]);
	o->commit_ns_p50 = quantile(hist, o->commits, 0.50);
	o->commit_ns_p99 = quantile(hist, o->commits, 0.99);

	mc_mutex_lock(&j->state_lock);
	o->log_blocks = j->log_len;
	o->log_used = j->used;
	o->max_txn_blocks = j->max_txn;
	o->log_head = j->head;
	o->log_tail = j->tail;
	o->checkpoint_buffers = __atomic_load_n(&j->nr_cp, __ATOMIC_RELAXED);
	o->rsv_held = j->rsv_held;
	o->rsv_blocks = j->rsv_blocks;
	o->rsv_cap = j->rsv_cap;
	o->running_tid = j->running ? j->running->tid : 0;
	o->committed_tid = j->commit_seq;
	o->tail_tid = j->tail_seq;
	mc_mutex_unlock(&j->state_lock);
	o->errno_ = jnl_errno(j);
}

void jnl_print_stats(struct jnl_journal *j, FILE *f, int json)
{
	struct jnl_stats s;
	uint64_t avg;

	jnl_get_stats(j, &s);
	avg = s.commits ? s.commit_ns_total / s.commits : 0;
	if (json) {
		fprintf(f, "{\"handles\":%" PRIu64 ",\"nested_handles\":%" PRIu64
			",\"nofail_handles\":%" PRIu64 ",\"commits\":%" PRIu64
			",\"commits_interval\":%" PRIu64 ",\"commits_size\":%" PRIu64
			",\"commits_requested\":%" PRIu64 ",\"commits_close\":%" PRIu64
			",\"copies_logged\":%" PRIu64 ",\"revoke_records\":%" PRIu64
			",\"log_blocks_written\":%" PRIu64 ",\"bytes_logged\":%" PRIu64
			",\"log_flushes\":%" PRIu64 ",\"wraps\":%" PRIu64
			",\"frozen_copies\":%" PRIu64 ",\"frozen_from_reserve\":%" PRIu64
			",\"capture_waits\":%" PRIu64 ",\"checkpoint_waits\":%" PRIu64
			",\"checkpoints\":%" PRIu64 ",\"checkpoint_writes\":%" PRIu64
			",\"checkpoint_forced_commits\":%" PRIu64 ",\"tail_updates\":%" PRIu64
			",\"rsv_taken\":%" PRIu64 ",\"rsv_waits\":%" PRIu64
			",\"rsv_refused\":%" PRIu64 ",\"rsv_started\":%" PRIu64
			",\"rsv_returned\":%" PRIu64 ",\"rsv_txn_allocs\":%" PRIu64
			",\"rsv_held\":%" PRIu64 ",\"rsv_blocks\":%" PRIu64 ",\"rsv_cap\":%" PRIu64
			",\"fsync_fast\":%" PRIu64 ",\"fsync_commit\":%" PRIu64
			",\"commit_ns_avg\":%" PRIu64 ",\"commit_ns_p50\":%" PRIu64
			",\"commit_ns_p99\":%" PRIu64 ",\"commit_ns_max\":%" PRIu64
			",\"aborts\":%" PRIu64 ",\"log_blocks\":%" PRIu64 ",\"log_used\":%" PRIu64
			",\"max_txn_blocks\":%" PRIu64 ",\"log_head\":%" PRIu64
			",\"log_tail\":%" PRIu64 ",\"checkpoint_buffers\":%" PRIu64
			",\"running_tid\":%" PRIu64
			",\"committed_tid\":%" PRIu64 ",\"tail_tid\":%" PRIu64 ",\"errno\":%d}\n",
			s.handles, s.nested_handles, s.nofail_handles, s.commits,
			s.commits_interval, s.commits_size, s.commits_requested, s.commits_close,
			s.copies_logged, s.revoke_records, s.log_blocks_written, s.bytes_logged,
			s.log_flushes, s.wraps, s.frozen_copies, s.frozen_from_reserve,
			s.capture_waits, s.checkpoint_waits, s.checkpoints, s.checkpoint_writes,
			s.checkpoint_forced_commits, s.tail_updates, s.rsv_taken, s.rsv_waits,
			s.rsv_refused, s.rsv_started, s.rsv_returned, s.rsv_txn_allocs, s.rsv_held,
			s.rsv_blocks, s.rsv_cap, s.fsync_fast, s.fsync_commit,
			avg, s.commit_ns_p50, s.commit_ns_p99, s.commit_ns_max, s.aborts,
			s.log_blocks, s.log_used, s.max_txn_blocks, s.log_head, s.log_tail,
			s.checkpoint_buffers, s.running_tid,
			s.committed_tid, s.tail_tid, s.errno_);
		return;
	}
	fprintf(f, "journal: %" PRIu64 " log blocks, %" PRIu64 " used, transactions up to %" PRIu64
		" blocks; committed tid %" PRIu64 ", running %" PRIu64 ", tail %" PRIu64 "%s\n",
		s.log_blocks, s.log_used, s.max_txn_blocks, s.committed_tid, s.running_tid,
		s.tail_tid, s.errno_ ? " (ERROR)" : "");
	fprintf(f, "  handles %" PRIu64 " (nested %" PRIu64 ", NOFAIL %" PRIu64 ")\n",
		s.handles, s.nested_handles, s.nofail_handles);
	fprintf(f, "  commits %" PRIu64 " (interval %" PRIu64 ", size %" PRIu64 ", requested %" PRIu64
		", close %" PRIu64 "); latency avg %" PRIu64 " us, p50 <%" PRIu64 " us, p99 <%" PRIu64
		" us, max %" PRIu64 " us\n",
		s.commits, s.commits_interval, s.commits_size, s.commits_requested,
		s.commits_close, avg / 1000, s.commit_ns_p50 / 1000, s.commit_ns_p99 / 1000,
		s.commit_ns_max / 1000);
	fprintf(f, "  logged %" PRIu64 " copies, %" PRIu64 " revoke records, %" PRIu64
		" log blocks (%" PRIu64 " bytes), %" PRIu64 " flushes, %" PRIu64 " wraps\n",
		s.copies_logged, s.revoke_records, s.log_blocks_written, s.bytes_logged,
		s.log_flushes, s.wraps);
	fprintf(f, "  frozen copies %" PRIu64 " (%" PRIu64 " from the reserve), capture waits %" PRIu64
		"\n", s.frozen_copies, s.frozen_from_reserve, s.capture_waits);
	fprintf(f, "  checkpoint waits %" PRIu64 ", checkpoints %" PRIu64 ", blocks written home %" PRIu64
		", forced commits %" PRIu64 ", tail updates %" PRIu64 ", buffers pinned %" PRIu64 "\n",
		s.checkpoint_waits, s.checkpoints, s.checkpoint_writes,
		s.checkpoint_forced_commits, s.tail_updates, s.checkpoint_buffers);
	fprintf(f, "  reservations: %" PRIu64 " held (%" PRIu64 " of %" PRIu64 " log blocks); taken %"
		PRIu64 " (waited %" PRIu64 ", refused %" PRIu64 "), started %" PRIu64 ", returned %"
		PRIu64 ", spare-less starts %" PRIu64 "\n", s.rsv_held, s.rsv_blocks, s.rsv_cap,
		s.rsv_taken, s.rsv_waits, s.rsv_refused, s.rsv_started, s.rsv_returned,
		s.rsv_txn_allocs);
	fprintf(f, "  fsync: %" PRIu64 " barrier only, %" PRIu64 " with a commit; aborts %" PRIu64
		", errno %d\n", s.fsync_fast, s.fsync_commit, s.aborts, s.errno_);
}
