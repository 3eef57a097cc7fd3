/*
 * ACE-style truncate-family workloads through the filesystem library (issue
 * 9's part of issue 6's generator): sequences of operations on one file /f
 * that starts with 64 KiB of known data, each operation followed by
 * nothing or by sfs_fsync and a MARK.  `quick`: every single operation
 * with each persistence (20) and a fixed sample of 16 of the 400 pairs,
 * fsck at a seeded one in 4 crash points; `full`: every sequence of 1-3 (8,420),
 * fsck at every point.  Quick is a prefix of full, so sequence number N
 * (the "seed") is one sequence: `--workload trunc --seed N` reproduces it.
 *
 * Operations (4 KiB blocks, offsets and lengths whole blocks):
 *   write-alloc   8K at 64K        (past the end: allocates, grows)
 *   overwrite     8K at 12K        (in place where mapped)
 *   trunc-down    to 20K           (orphan-backed, may take steps)
 *   trunc-up      to 96K           (a hole)
 *   falloc        64K+16K          (unwritten, size grows)
 *   falloc-keep   60K+24K KEEP_SIZE
 *   punch         8K+12K
 *   zero          28K+8K ZERO_RANGE (size grows if past the end)
 *   collapse      16K+8K           (-EINVAL unless the range ends before EOF)
 *   insert        16K+8K           (-EINVAL at or past EOF)
 * The file system's return value is checked against the model's (Linux's
 * rules) while running.
 *
 * Oracle, after the mount's journal replay and sfs_orphan_replay: the
 * extent tree verifies, fsck.scopefs (built next to this program; its
 * namespace and orphan passes included) is clean, and the file's size
 * and bytes equal the model after some prefix k of the sequence no shorter
 * than the last fsync-acknowledged operation.  The model tracks which
 * logical block carries which allocated block ("identity"), because data is
 * written before the transaction that maps it commits and overwrites of
 * mapped blocks go in place without the journal: a block of prefix k may
 * also hold what a later, unacknowledged write put into that same
 * allocated block -- nothing else (not another offset's data, not stale
 * data from a freed block).  Collapse and insert are not atomic across a
 * crash (unmap, then shift; as ext4): when no prefix matches and the
 * operation after prefix k is an unacknowledged collapse/insert, a state
 * whose size is the size before or after it and whose blocks before the
 * operation's offset are prefix k's is accepted (fsck and the tree check
 * still hold).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "fskit.h"
#include "workload.h"

#define ROOT 2u
#define BS 4096u
#define KB 1024u
#define NB 64u                    /* model blocks: 256 KiB, more than any sequence reaches */
#define START_BYTES (64u * KB)
#define MAXLEN 3u

enum kind { K_WRITE, K_TRUNC, K_FALLOC, K_PUNCH, K_ZERO, K_COLLAPSE, K_INSERT };
enum persist { P_NONE, P_FSYNC, P_COUNT };

struct op {
	const char *name;
	enum kind kind;
	uint32_t off, len;        /* bytes; K_TRUNC: off = the new size */
	unsigned mode;            /* fallocate flags */
};

static const struct op ops[] = {
	{ "write-alloc", K_WRITE, 64 * KB, 8 * KB, 0 },
	{ "overwrite", K_WRITE, 12 * KB, 8 * KB, 0 },
	{ "trunc-down", K_TRUNC, 20 * KB, 0, 0 },
	{ "trunc-up", K_TRUNC, 96 * KB, 0, 0 },
	{ "falloc", K_FALLOC, 64 * KB, 16 * KB, 0 },
	{ "falloc-keep", K_FALLOC, 60 * KB, 24 * KB, SFS_FALLOC_KEEP_SIZE },
	{ "punch", K_PUNCH, 8 * KB, 12 * KB, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE },
	{ "zero", K_ZERO, 28 * KB, 8 * KB, SFS_FALLOC_ZERO_RANGE },
	{ "collapse", K_COLLAPSE, 16 * KB, 8 * KB, SFS_FALLOC_COLLAPSE_RANGE },
	{ "insert", K_INSERT, 16 * KB, 8 * KB, SFS_FALLOC_INSERT_RANGE },
};
#define NOPS ((unsigned)(sizeof(ops) / sizeof(ops[0])))
#define CHOICES (NOPS * P_COUNT)
#define QUICK_PAIRS 16u
#define PAIR_STRIDE 319u

struct step {
	unsigned op, persist;
};

/* ---- the model ------------------------------------------------------------ */

/* A block's content is a token: 0 = zeros, else (generation << 8 | the
 * block it was written at); generation 1 is the starting data, step i
 * writes generation i + 2. */
struct model {
	uint64_t size;
	uint32_t id[NB];          /* allocated block carrying this logical block, 0 = none */
	uint32_t tok[NB];
	uint32_t next_id;
	/* what the last applied step wrote: identity -> token */
	unsigned nwr;
	uint32_t wr_id[NB], wr_tok[NB];
};

static uint32_t tok_make(unsigned gen, unsigned blk)
{
	return (uint32_t)gen << 8 | blk;
}

static void tok_fill(uint32_t tok, uint8_t *buf)
{
	uint32_t *w = (uint32_t *)buf;

	for (unsigned i = 0; i < BS / 4; i++)
		w[i] = tok ? (tok << 12 | i) ^ 0xa5000000u : 0;
}

/* The token @buf holds, or UINT32_MAX if it is none (garbage, torn). */
static uint32_t tok_of(const uint8_t *buf)
{
	static uint8_t want[BS];
	const uint32_t *w = (const uint32_t *)buf;
	uint32_t tok = (w[0] ^ 0xa5000000u) >> 12;

	if (!w[0]) {
		for (unsigned i = 0; i < BS / 4; i++)
			if (w[i])
				return UINT32_MAX;
		return 0;
	}
	tok_fill(tok, want);
	return memcmp(want, buf, BS) ? UINT32_MAX : tok;
}

static void m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->size = START_BYTES;
	for (unsigned b = 0; b < START_BYTES / BS; b++) {
		m->id[b] = ++m->next_id;
		m->tok[b] = tok_make(1, b);
	}
}

static void m_clear(struct model *m, unsigned from, unsigned to)
{
	for (unsigned b = from; b < to && b < NB; b++)
		m->id[b] = m->tok[b] = 0;
}

/* Apply step @i (operation @op) to @m; the error Linux gives (0 = done). */
static int m_apply(struct model *m, const struct op *op, unsigned i)
{
	unsigned a = op->off / BS, n = op->len / BS, e = a + n;

	m->nwr = 0;
	switch (op->kind) {
	case K_WRITE:
		for (unsigned b = a; b < e; b++) {
			if (!m->id[b])
				m->id[b] = ++m->next_id;
			m->tok[b] = tok_make(i + 2, b);
			m->wr_id[m->nwr] = m->id[b];
			m->wr_tok[m->nwr++] = m->tok[b];
		}
		if (m->size < (uint64_t)op->off + op->len)
			m->size = (uint64_t)op->off + op->len;
		return 0;
	case K_TRUNC:
		if (op->off < m->size)
			m_clear(m, a, NB);
		m->size = op->off;
		return 0;
	case K_FALLOC:
		for (unsigned b = a; b < e; b++)
			if (!m->id[b]) {
				m->id[b] = ++m->next_id;
				m->tok[b] = 0;
			}
		if (!(op->mode & SFS_FALLOC_KEEP_SIZE) && m->size < (uint64_t)op->off + op->len)
			m->size = (uint64_t)op->off + op->len;
		return 0;
	case K_PUNCH:
		m_clear(m, a, e);
		return 0;
	case K_ZERO:
		for (unsigned b = a; b < e; b++) {
			m->id[b] = ++m->next_id;
			m->tok[b] = 0;
		}
		if (m->size < (uint64_t)op->off + op->len)
			m->size = (uint64_t)op->off + op->len;
		return 0;
	case K_COLLAPSE:
		if ((uint64_t)op->off + op->len >= m->size)
			return -EINVAL;
		memmove(m->id + a, m->id + e, (NB - e) * sizeof(m->id[0]));
		memmove(m->tok + a, m->tok + e, (NB - e) * sizeof(m->tok[0]));
		m_clear(m, NB - n, NB);
		m->size -= op->len;
		return 0;
	case K_INSERT:
		if (op->off >= m->size)
			return -EINVAL;
		memmove(m->id + e, m->id + a, (NB - e) * sizeof(m->id[0]));
		memmove(m->tok + e, m->tok + a, (NB - e) * sizeof(m->tok[0]));
		m_clear(m, a, e);
		m->size += op->len;
		return 0;
	}
	return -EINVAL;
}

/* ---- sequences -------------------------------------------------------------- */

/* fsck at every crash point in `full`, at a seeded one in
 * QUICK_FSCK_EVERY in `quick` (fskit_fsck_due: the CI time budget). */
#define QUICK_FSCK_EVERY 4u

/* The twin only has to show the checker failing: the quick sequences
 * are enough, in `full` too (there with every crash state). */
static unsigned trunc_unsafe_count(int full)
{
	(void)full;
	return fskit_seqs(CHOICES, 1) + QUICK_PAIRS;
}

/* Quick is a prefix of full: every single operation, then the first
 * QUICK_PAIRS pairs of a fixed permutation of the pairs, so a sequence
 * number means the same sequence in both sets. */
static unsigned trunc_count(int full)
{
	unsigned one = fskit_seqs(CHOICES, 1);

	return full ? one + fskit_seqs(CHOICES, 2) + fskit_seqs(CHOICES, 3) : one + QUICK_PAIRS;
}

static unsigned decode(unsigned id, struct step *s)
{
	unsigned len = 1;

	while (len < MAXLEN && id >= fskit_seqs(CHOICES, len)) {
		id -= fskit_seqs(CHOICES, len);
		len++;
	}
	if (len == 2)    /* PAIR_STRIDE is prime to the number of pairs */
		id = (unsigned)(((uint64_t)id * PAIR_STRIDE) % fskit_seqs(CHOICES, 2));
	for (unsigned i = 0; i < len; i++) {
		unsigned c = id % CHOICES;

		id /= CHOICES;
		s[i].op = c / P_COUNT;
		s[i].persist = c % P_COUNT;
	}
	return len;
}

static const char *describe(const struct step *s, unsigned len, char *buf, size_t n)
{
	size_t k = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < len && k < n; i++)
		k += (size_t)snprintf(buf + k, n - k, "%s%s%s", i ? "; " : "", ops[s[i].op].name,
				      s[i].persist == P_FSYNC ? "+fsync" : "");
	return buf;
}

/* ---- the file system ------------------------------------------------------- */

static int file_ino(struct sfs_fs *fs, uint64_t *ino, char *err, size_t errlen)
{
	struct sfs_attr a;
	int ret = sfs_lookup(fs, ROOT, "f", 0, &a);

	if (ret)
		snprintf(err, errlen, "lookup /f: %d", ret);
	*ino = a.ino;
	return ret;
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	struct sfs_fs *fs;
	struct sfs_cred cr = { 0 };
	struct sfs_attr a;
	uint8_t *buf;
	int ret;

	(void)seed;
	ret = fskit_mkfs(path, false, err, errlen);
	if (ret)
		return ret;
	ret = fskit_mount(path, "cache=buffered", 0, false, &fs, err, errlen);
	if (ret)
		return ret;
	buf = malloc(START_BYTES);
	for (unsigned b = 0; b < START_BYTES / BS; b++)
		tok_fill(tok_make(1, b), buf + (size_t)b * BS);
	ret = sfs_create(fs, ROOT, "f", 0644, 0, &cr, &a);
	if (!ret) {
		ssize_t n = sfs_write(fs, a.ino, buf, START_BYTES, 0, 0, &cr);

		ret = n == (ssize_t)START_BYTES ? 0 : n < 0 ? (int)n : -EIO;
	}
	free(buf);
	if (ret)
		snprintf(err, errlen, "starting file: %d", ret);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount");
		ret = -EIO;
	}
	return ret;
}

static int do_op(struct sfs_fs *fs, uint64_t ino, const struct op *op, unsigned i)
{
	struct sfs_cred cr = { .privileged = true };

	switch (op->kind) {
	case K_WRITE: {
		uint8_t *buf = malloc(op->len);
		ssize_t n;

		for (unsigned b = 0; b < op->len / BS; b++)
			tok_fill(tok_make(i + 2, op->off / BS + b), buf + (size_t)b * BS);
		n = sfs_write(fs, ino, buf, op->len, op->off, 0, &cr);
		free(buf);
		return n == (ssize_t)op->len ? 0 : n < 0 ? (int)n : -EIO;
	}
	case K_TRUNC: {
		struct sfs_setattr sa = { .valid = SFS_SET_SIZE, .size = op->off };

		return sfs_setattr(fs, ino, &sa, &cr, NULL);
	}
	default:
		return sfs_fallocate(fs, ino, op->mode, op->off, op->len, &cr);
	}
}

static int run_common(const char *path, const char *opts, unsigned id, bool lie, char *err,
		      size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s);
	struct model m;
	struct sfs_fs *fs;
	uint64_t ino;
	char label[32], seq[256];
	int ret;

	m_init(&m);
	ret = fskit_mount(path, opts, 60000, false, &fs, err, errlen);
	if (ret)
		return ret;
	ret = file_ino(fs, &ino, err, errlen);
	for (unsigned i = 0; i < len && !ret; i++) {
		int want = m_apply(&m, &ops[s[i].op], i), got = do_op(fs, ino, &ops[s[i].op], i);

		if (got != want) {
			snprintf(err, errlen, "[%s] step %u returned %d, the model says %d",
				 describe(s, len, seq, sizeof(seq)), i + 1, got, want);
			ret = -EINVAL;
			break;
		}
		if (s[i].persist == P_NONE)
			continue;
		snprintf(label, sizeof(label), "ack %u", i + 1);
		if (lie)   /* the unsafe variant claims durability before the fsync */
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
		ret = sfs_fsync(fs, ino, false);
		if (ret)
			snprintf(err, errlen, "fsync: %d", ret);
		else if (!lie)
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
	}
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount failed");
		ret = -EIO;
	}
	return ret;
}

static int run(const char *path, const char *opts, unsigned id, char *err, size_t errlen)
{
	return run_common(path, opts, id, false, err, errlen);
}

static int run_lying(const char *path, const char *opts, unsigned id, char *err, size_t errlen)
{
	return run_common(path, opts, id, true, err, errlen);
}

/* Does block @b, holding token @have, fit prefix @m, given that the steps
 * after it (@later[0..nlater)) may have written into its allocated block? */
static bool block_fits(const struct model *m, unsigned b, uint32_t have,
		       const struct model *later, unsigned nlater)
{
	if (have == m->tok[b])
		return true;
	if (!m->id[b])
		return false;
	for (unsigned j = 0; j < nlater; j++)
		for (unsigned w = 0; w < later[j].nwr; w++)
			if (later[j].wr_id[w] == m->id[b] && later[j].wr_tok[w] == have)
				return true;
	return false;
}

/* The first block in [0, @upto) that does not fit prefix @k; -1 if none. */
static long first_misfit(const struct model *st, unsigned len, unsigned k, const uint32_t *have,
			 unsigned upto)
{
	for (unsigned b = 0; b < upto; b++)
		if (!block_fits(&st[k], b, have[b], st + k + 1, len - k))
			return b;
	return -1;
}

static int check(const char *path, const char *opts, const char *mark, unsigned id, char *err,
		 size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s), acked = 0;
	struct model st[MAXLEN + 1];
	uint32_t have[NB];
	struct sfs_attr a;
	struct sfs_fs *fs;
	uint8_t *buf = NULL;
	uint64_t ino;
	char seq[256], why[256];
	ssize_t got;
	unsigned nb;
	int ret;

	if (mark)
		sscanf(mark, "ack %u", &acked);
	describe(s, len, seq, sizeof(seq));
	ret = fskit_mount(path, opts, 0, false, &fs, err, errlen);
	if (ret)
		return ret;
	ret = sfs_orphan_replay(fs, NULL);
	if (ret) {
		snprintf(err, errlen, "[%s] orphan replay: %d", seq, ret);
		goto unmount;
	}
	ret = file_ino(fs, &ino, err, errlen);
	if (!ret)
		ret = sfs_getattr(fs, ino, &a);
	if (ret)
		goto unmount;
	if (sfs_extent_verify(fs, ino, why, sizeof(why))) {
		snprintf(err, errlen, "[%s] extent tree: %s", seq, why);
		ret = -1;
		goto unmount;
	}
	if (a.size > (uint64_t)NB * BS || a.size % BS) {
		snprintf(err, errlen, "[%s] size %llu was never the file's", seq,
			 (unsigned long long)a.size);
		ret = -1;
		goto unmount;
	}
	nb = (unsigned)(a.size / BS);
	buf = malloc((size_t)NB * BS);
	got = sfs_read(fs, ino, buf, (size_t)NB * BS, 0);
	if (got != (ssize_t)a.size) {
		snprintf(err, errlen, "[%s] read %zd bytes of a %llu-byte file", seq, got,
			 (unsigned long long)a.size);
		ret = -1;
		goto unmount;
	}
	for (unsigned b = 0; b < nb; b++)
		have[b] = tok_of(buf + (size_t)b * BS);

	m_init(&st[0]);
	for (unsigned i = 0; i < len; i++) {
		st[i + 1] = st[i];
		m_apply(&st[i + 1], &ops[s[i].op], i);
	}
	ret = -1;
	for (unsigned k = acked; k <= len && ret; k++)
		if (st[k].size == a.size && first_misfit(st, len, k, have, nb) < 0)
			ret = 0;
	/* A collapse or insert caught half-way (not atomic across a crash). */
	for (unsigned k = acked; k < len && ret; k++) {
		const struct op *op = &ops[s[k].op];

		if ((op->kind == K_COLLAPSE || op->kind == K_INSERT) &&
		    (a.size == st[k].size || a.size == st[k + 1].size) &&
		    first_misfit(st, len, k, have, op->off / BS < nb ? op->off / BS : nb) < 0)
			ret = 0;
	}
	if (ret) {
		size_t n = 0;

		n += (size_t)snprintf(err + n, errlen - n, "[%s] size %llu, blocks", seq,
				      (unsigned long long)a.size);
		for (unsigned b = 0; b < nb && n < errlen; b++) {
			if (have[b] == UINT32_MAX)
				n += (size_t)snprintf(err + n, errlen - n, " ?");
			else if (!have[b])
				n += (size_t)snprintf(err + n, errlen - n, " 0");
			else
				n += (size_t)snprintf(err + n, errlen - n, " %u.%u", have[b] >> 8,
						      have[b] & 0xff);
		}
		if (n < errlen)
			snprintf(err + n, errlen - n, ": no prefix of length >= %u", acked);
	}
unmount:
	free(buf);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "[%s] unmount after recovery failed", seq);
		ret = -1;
	}
	if (!ret && fskit_fsck_due(QUICK_FSCK_EVERY))
		ret = fskit_fsck(path, "trunc", err, errlen);
	return ret;
}

const struct crash_workload wl_trunc = {
	.name = "trunc",
	.what = "the truncate family on one file (write-alloc, overwrite, truncate down/up, "
		"fallocate, keep-size, punch, zero, collapse, insert) with fsync, ACE style",
	.prepare = prepare, .run = run, .check = check, .count = trunc_count,
};

const struct crash_workload wl_trunc_unsafe = {
	.name = "trunc-unsafe",
	.what = "trunc acknowledging each fsync before it is made: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_lying, .check = check,
	.count = trunc_unsafe_count,
};
