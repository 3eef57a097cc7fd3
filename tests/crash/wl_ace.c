/*
 * ACE-style workloads (CrashMonkey's Automatic Crash Explorer): every
 * bounded sequence of core operations over a tiny object set, each
 * operation followed or not by a persistence point, enumerated
 * systematically.  Sequence number N is the "seed": the harness runs every
 * N in the set and `--workload ace --seed N` reproduces one.
 *
 * The operations are those that exist today; later issues add theirs to
 * the table (allocate, write-allocate, remove range with the extent tree;
 * create, link, unlink, rename... with the namespace; truncate, punch,
 * collapse, insert with the truncate family; page-cache writes).
 *   write X    a handle changes metadata block X
 *   data X     a handle changes metadata block X and, in ordered mode,
 *              data block X that it points to
 * Persistence after an operation: none, commit (jnl_force_commit), or
 * fsync (jnl_fsync of the handle's transaction, the fast path when it is
 * already committed).  Objects: two (A, B).  Lengths: 1-2 in `quick`
 * (156 sequences), 1-3 in `full` (1,884).
 *
 * Oracle: the metadata blocks equal the state after some prefix of the
 * sequence no shorter than the last acknowledged operation, and each data
 * block is no older than what that prefix wrote to it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "alloc/mc.h"
#include "kit.h"
#include "workload.h"

#define NOBJ 2u
#define META (KIT_JSTART + KIT_JBLOCKS)
#define DATA (META + NOBJ)
#define NBLOCKS (DATA + NOBJ + 1)
#define CHOICES 12u            /* op (2) x object (2) x persistence (3) */
#define MAXLEN 3u

enum { OP_WRITE, OP_DATA };
enum { P_NONE, P_COMMIT, P_FSYNC };

struct step {
	unsigned op, obj, persist;
};

static unsigned count_len(unsigned len)
{
	unsigned n = 1;
	while (len--)
		n *= CHOICES;
	return n;
}

static unsigned ace_count(int full)
{
	unsigned n = 0;
	for (unsigned len = 1; len <= (full ? 3u : 2u); len++)
		n += count_len(len);
	return n;
}

/* Sequence @id: its steps, returns its length. */
static unsigned decode(unsigned id, struct step *s)
{
	unsigned len = 1;

	while (id >= count_len(len)) {
		id -= count_len(len);
		len++;
	}
	for (unsigned i = 0; i < len; i++) {
		unsigned c = id % CHOICES;
		id /= CHOICES;
		s[i].op = c / 6;
		s[i].obj = (c / 3) % 2;
		s[i].persist = c % 3;
	}
	return len;
}

static const char *describe_seq(const struct step *s, unsigned len, char *buf, size_t n)
{
	static const char *const ops[] = { "write", "data" }, *const ps[] = { "", "+commit",
									       "+fsync" };
	size_t k = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < len && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s %c%s", i ? "; " : "", ops[s[i].op],
				      'A' + s[i].obj, ps[s[i].persist]);
	return buf;
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	(void)seed;
	return kit_format_journal(path, NBLOCKS, err, errlen);
}

static int run_common(const char *path, const char *opts, unsigned id, int unsafe, char *err,
		      size_t errlen)
{
	struct sfs_bcache_opts co = { .block_size = KIT_BSZ, .name = "crash_ace_buffers" };
	/* Commits only where the sequence asks for them, and at the close. */
	struct jnl_config cfg = { .mode = JNL_DATA_ORDERED, .commit_interval_ms = 60000,
				  .unsafe_no_preflush = unsafe };
	struct step s[MAXLEN];
	unsigned len = decode(id, s);
	struct sfs_bdev *b = NULL;
	struct sfs_bcache *c = NULL;
	struct jnl_journal *j = NULL;
	struct kit_data df;
	struct jnl_area a;
	char label[32];
	int ret;

	kit_area(&a);
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (!ret)
		ret = kit_data_init(&df, b, DATA, NOBJ);
	if (!ret)
		ret = sfs_bcache_create(b, &co, &c);
	if (!ret)
		ret = jnl_open(c, &a, &cfg, NULL, &j);
	for (unsigned i = 0; i < len && !ret; i++) {
		struct jnl_handle *h;
		jnl_tid_t tid;

		ret = jnl_start(j, 4, 0, &h);
		if (ret)
			break;
		ret = kit_change(c, h, META + s[i].obj, i + 1);
		if (!ret && s[i].op == OP_DATA)
			ret = kit_data_write(&df, h, s[i].obj, i + 1);
		tid = jnl_handle_tid(h);
		int sret = jnl_stop(h);
		ret = ret ? ret : sret;
		if (ret || s[i].persist == P_NONE)
			continue;
		ret = s[i].persist == P_COMMIT ? jnl_force_commit(j) : jnl_fsync(j, tid);
		snprintf(label, sizeof(label), "ack %u", i + 1);
		if (!ret)
			sfs_bdev_log_mark(b, label);
	}
	if (ret)
		snprintf(err, errlen, "journal: %s", strerror(-ret));
	if (j) {
		/* Unmount: commit (writing the ordered data), then let go. */
		int fret = jnl_force_commit(j);
		kit_data_release(&df, j);
		int cret = jnl_close(j);
		if (!ret && (fret || cret)) {
			ret = fret ? fret : cret;
			snprintf(err, errlen, "close: %s", strerror(-ret));
		}
	} else if (b) {
		kit_data_release(&df, NULL);
	}
	if (c)
		sfs_bcache_destroy(c);
	if (b)
		sfs_bdev_close(b);
	return ret;
}

static int run(const char *path, const char *opts, unsigned id, char *err, size_t errlen)
{
	return run_common(path, opts, id, 0, err, errlen);
}

static int run_unsafe(const char *path, const char *opts, unsigned id, char *err, size_t errlen)
{
	return run_common(path, opts, id, 1, err, errlen);
}

static int check(const char *path, const char *opts, const char *mark, unsigned id, char *err,
		 size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s), acked = 0;
	unsigned char *img = mc_alloc(2 * NOBJ * KIT_BSZ, MC_KERNEL);
	long meta[NOBJ], data[NOBJ];
	struct sfs_bdev *b;
	char seq[160];
	int ret;

	if (mark)
		sscanf(mark, "ack %u", &acked);
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (ret)
		goto out_free;
	ret = kit_recover(b, err, errlen);
	if (!ret)
		ret = sfs_bdev_read(b, img, 2 * NOBJ * KIT_BSZ, (uint64_t)META * KIT_BSZ);
	sfs_bdev_close(b);
	if (ret)
		goto out;
	for (unsigned o = 0; o < NOBJ; o++) {
		meta[o] = kit_version(img + o * KIT_BSZ, META + o);
		data[o] = kit_version(img + (NOBJ + o) * KIT_BSZ, DATA + o);
	}
	/* Find a prefix k >= acked whose metadata the image holds exactly. */
	for (unsigned k = acked; k <= len; k++) {
		long want_meta[NOBJ] = { 0 }, want_data[NOBJ] = { 0 };
		int match = 1;

		for (unsigned i = 0; i < k; i++) {
			want_meta[s[i].obj] = i + 1;
			if (s[i].op == OP_DATA)
				want_data[s[i].obj] = i + 1;
		}
		for (unsigned o = 0; o < NOBJ; o++)
			match &= meta[o] == want_meta[o];
		if (!match)
			continue;
		for (unsigned o = 0; o < NOBJ; o++) {
			int legit = data[o] == 0 || (data[o] > 0 && (unsigned)data[o] <= len &&
				    s[data[o] - 1].op == OP_DATA && s[data[o] - 1].obj == o);
			if (!legit || data[o] < want_data[o]) {
				snprintf(err, errlen, "[%s] prefix %u recovered but data %c is at %ld, "
					 "needs >= %ld", describe_seq(s, len, seq, sizeof(seq)), k,
					 'A' + o, data[o], want_data[o]);
				ret = -1;
				goto out;
			}
		}
		ret = 0;
		goto out;
	}
	snprintf(err, errlen, "[%s] metadata A=%ld B=%ld is no committed prefix of length >= %u",
		 describe_seq(s, len, seq, sizeof(seq)), meta[0], meta[1], acked);
	ret = -1;
out:
	;
out_free:
	mc_free(img);
	return ret;
}

const struct crash_workload wl_ace = {
	.name = "ace", .what = "every sequence of 1-2 (full: 1-3) journal operations with "
			       "commit/fsync points, ACE style",
	.prepare = prepare, .run = run, .check = check, .count = ace_count,
};

const struct crash_workload wl_ace_unsafe = {
	.name = "ace-unsafe", .what = "ace without the flush before the commit block: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_unsafe, .check = check,
	.count = ace_count,
};
