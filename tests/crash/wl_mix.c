/*
 * Namespace and file data in one sequence (the ACE bug classes a workload
 * of either kind alone cannot reach: write then rename then fsync of the
 * new parent, write then link then fsync, create and write and fsync,
 * then rename over a name and fsync of the directory).  Operations over
 * the starting tree /A/foo (8 KiB), /A/empty/, /B/bar (8 KiB):
 *   create A/new, write A/new 0+8K, append A/foo 8K+8K, overwrite A/foo
 *   0+4K, truncate A/foo to 4K, fallocate A/foo 16K+8K, punch A/foo 4K+4K,
 *   link A/foo B/foolink, unlink A/foo, rename A/foo B/foo, rename A/new
 *   over B/bar, mkdir A/sub, rmdir A/empty, setxattr A/foo
 * each followed by nothing, fsync or fdatasync of its object, fsync of its
 * parent directory, or a sync (sfs_fs_sync after steps 1 and 3,
 * sfs_fs_commit after step 2): 70 choices a step.
 *
 * Sequence numbers (the "seed"): first a table of classic sequences, then
 * pairs and triples alternately -- every pair (4,900) in a scattered order
 * and as many triples, a fixed stride through all 343,000 -- then every
 * single step (70; a pair's crash points before its second step cover
 * most of them).  `quick` is a prefix of `full` (the classics and
 * QUICK_MORE pairs and triples), so `--workload mix --seed N` names one
 * sequence in both; `full` runs 9,878.
 *
 * Oracle, after the mount's recovery: the tree (names, types, link
 * counts and hard-link grouping, file sizes, xattrs) is the model's after
 * some prefix of the sequence no shorter than the last step a completed
 * persistence point covered, and the inodes in use are exactly those it
 * names.  Each step is one transaction and they commit in order, so a
 * commit forced by fsync covers every earlier step: sync always does;
 * fsync of a file or directory when the step changed it; fsync of the
 * parent after a step that changed the directory; fdatasync when the step
 * changed the size.  Data: each block of each file holds zeros or what
 * some step wrote to that file at that offset (never another file's data,
 * never the marker every free block holds before mkfs), and what a
 * completed fsync, fdatasync or sync made durable is there unless a later
 * step may have changed it.  fsck -fn is clean (every crash point in
 * `full`, a seeded sample in `quick`).
 *
 * mix-unsafe logs each acknowledgement before its persistence call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
#define NB 8u                      /* model blocks per file: 32 KiB */
#define MAXLEN 3u
#define MAXOBJ 16
#define MAXNAMES 16
#define MARKER 0x5354414c45444154ull   /* "STALEDAT" */
#define PAIR_STRIDE 4903u          /* prime: a bijection on the 4,900 pairs */
#define TRIPLE_STRIDE 104729u      /* prime: scatters the sample over 343,000 */
#define QUICK_MORE 16u             /* quick: this many pairs and triples, alternating */

enum kind { K_CREATE, K_WRITE, K_TRUNC, K_FALLOC, K_PUNCH, K_LINK, K_UNLINK, K_RENAME,
	    K_MKDIR, K_RMDIR, K_SETXATTR };
enum persist { P_NONE, P_FSYNC, P_FDATASYNC, P_FSYNC_PARENT, P_SYNC, P_COUNT };

struct op {
	const char *name;
	enum kind kind;
	const char *a, *b;
	uint32_t off, len;         /* bytes, whole blocks; K_TRUNC: off = the size */
};

static const struct op ops[] = {
	{ "create", K_CREATE, "A/new", NULL, 0, 0 },
	{ "write", K_WRITE, "A/new", NULL, 0, 8 * KB },
	{ "append", K_WRITE, "A/foo", NULL, 8 * KB, 8 * KB },
	{ "overwrite", K_WRITE, "A/foo", NULL, 0, 4 * KB },
	{ "truncate", K_TRUNC, "A/foo", NULL, 4 * KB, 0 },
	{ "fallocate", K_FALLOC, "A/foo", NULL, 16 * KB, 8 * KB },
	{ "punch", K_PUNCH, "A/foo", NULL, 4 * KB, 4 * KB },
	{ "link", K_LINK, "A/foo", "B/foolink", 0, 0 },
	{ "unlink", K_UNLINK, "A/foo", NULL, 0, 0 },
	{ "rename", K_RENAME, "A/foo", "B/foo", 0, 0 },
	{ "rename", K_RENAME, "A/new", "B/bar", 0, 0 },
	{ "mkdir", K_MKDIR, "A/sub", NULL, 0, 0 },
	{ "rmdir", K_RMDIR, "A/empty", NULL, 0, 0 },
	{ "setxattr", K_SETXATTR, "A/foo", NULL, 0, 0 },
};
#define NOPS ((unsigned)(sizeof(ops) / sizeof(ops[0])))
#define CHOICES (NOPS * P_COUNT)

struct step {
	unsigned op, persist;
};

/* The bug classes the generator is for, run first in both sets. */
static const struct {
	unsigned len;
	struct step s[MAXLEN];
} classics[] = {
	/* write, rename, fsync of the new parent */
	{ 2, { { 2, P_NONE }, { 9, P_FSYNC_PARENT } } },
	/* write, link, fsync of the file */
	{ 2, { { 2, P_NONE }, { 7, P_FSYNC } } },
	/* create and write, fsync the file, rename over a name, fsync the dir */
	{ 3, { { 0, P_NONE }, { 1, P_FSYNC }, { 10, P_FSYNC_PARENT } } },
	/* the same made durable by sync */
	{ 3, { { 0, P_NONE }, { 1, P_NONE }, { 10, P_SYNC } } },
	/* fdatasync of appended data, a rename nobody synced, fdatasync */
	{ 3, { { 2, P_FDATASYNC }, { 9, P_NONE }, { 3, P_FDATASYNC } } },
	/* link, unlink the first name, fsync what is left */
	{ 3, { { 7, P_NONE }, { 8, P_NONE }, { 3, P_FSYNC } } },
	/* truncate, write past the new end, fdatasync */
	{ 2, { { 4, P_NONE }, { 2, P_FDATASYNC } } },
	/* punch, fallocate, sync */
	{ 3, { { 6, P_NONE }, { 5, P_NONE }, { 13, P_SYNC } } },
	/* append, sync; punch, fdatasync: a mapping change with pages
	 * cached (fdatasync once returned without a commit) */
	{ 2, { { 2, P_SYNC }, { 6, P_FDATASYNC } } },
	/* append, sync; a fallocate that grows the file, fdatasync */
	{ 2, { { 2, P_SYNC }, { 5, P_FDATASYNC } } },
};
#define NCLASSIC ((unsigned)(sizeof(classics) / sizeof(classics[0])))

/* ---- sequences --------------------------------------------------------------- */

/* fsck at every crash point in `full`, at a seeded one in
 * QUICK_FSCK_EVERY in `quick` (fskit_fsck_due: the CI time budget). */
#define QUICK_FSCK_EVERY 2u

static unsigned mix_count(int full)
{
	/* Every pair, interleaved with as many sampled triples. */
	return NCLASSIC + (full ? 2 * fskit_seqs(CHOICES, 2) + CHOICES : QUICK_MORE);
}

/* The twin only has to show the oracle failing: the classics are enough,
 * in `full` too (there with every crash state). */
static unsigned mix_unsafe_count(int full)
{
	(void)full;
	return NCLASSIC;
}

static unsigned decode(unsigned id, struct step *s)
{
	unsigned len, j;

	if (id < NCLASSIC) {
		memcpy(s, classics[id].s, sizeof(classics[id].s));
		return classics[id].len;
	}
	id -= NCLASSIC;
	if (id >= 2 * fskit_seqs(CHOICES, 2)) {
		len = 1;
		id -= 2 * fskit_seqs(CHOICES, 2);
	} else {
		j = id / 2;
		if (id % 2 == 0) {
			len = 2;
			id = (unsigned)(((uint64_t)j * PAIR_STRIDE) % fskit_seqs(CHOICES, 2));
		} else {
			len = 3;
			id = (unsigned)(((uint64_t)j * TRIPLE_STRIDE + 1) % fskit_seqs(CHOICES, 3));
		}
	}
	for (unsigned i = 0; i < len; i++) {
		s[i].op = id % CHOICES / P_COUNT;
		s[i].persist = id % CHOICES % P_COUNT;
		id /= CHOICES;
	}
	return len;
}

static const char *describe(const struct step *s, unsigned len, char *buf, size_t n)
{
	static const char *const ps[] = { "", "+fsync", "+fdatasync", "+fsync-parent", "+sync" };
	size_t k = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < len && k < n; i++) {
		const struct op *op = &ops[s[i].op];

		k += (size_t)snprintf(buf + k, n - k, "%s%s %s%s%s%s", i ? "; " : "", op->name,
				      op->a, op->b ? "->" : "", op->b ? op->b : "",
				      ps[s[i].persist]);
	}
	return buf;
}

/* ---- block contents ------------------------------------------------------------ */

/* Generation 1: the starting data; step i writes generation i + 2.  The
 * object is in every word, so another file's data cannot pass. */
static void tok_fill(unsigned obj, unsigned gen, unsigned blk, uint8_t *buf)
{
	uint32_t *w = (uint32_t *)buf;

	for (unsigned i = 0; i < BS / 4; i++)
		w[i] = (uint32_t)(gen << 24 | obj << 16 | blk << 12 | i) ^ 0x0b000000u;
}

/* 0 zeros, the generation, -1 the marker, -2 anything else. */
static int gen_of(const uint8_t *buf, unsigned obj, unsigned blk)
{
	static uint8_t want[BS];
	const uint64_t *q = (const uint64_t *)buf;
	const uint32_t *w = (const uint32_t *)buf;
	unsigned gen;

	if (q[0] == MARKER)
		return -1;
	if (!w[0]) {
		for (unsigned i = 0; i < BS / 4; i++)
			if (w[i])
				return -2;
		return 0;
	}
	gen = (w[0] ^ 0x0b000000u) >> 24;
	tok_fill(obj, gen, blk, want);
	return memcmp(want, buf, BS) ? -2 : (int)gen;
}

/* ---- the model ------------------------------------------------------------------ */

struct mobj {
	int type;                  /* 0 gone, S_IFREG, S_IFDIR */
	int nlink;
	bool xattr;
	uint32_t size;
	uint8_t gen[NB];           /* 0 = zeros */
};

struct model {
	struct mobj o[MAXOBJ];
	int nobj;
	struct {
		char path[16];
		int obj;
	} n[MAXNAMES];
	int nn;
};

static int m_find(const struct model *m, const char *path)
{
	for (int i = 0; i < m->nn; i++)
		if (!strcmp(m->n[i].path, path))
			return i;
	return -1;
}

static int m_new(struct model *m, int type)
{
	int o = m->nobj++;

	m->o[o] = (struct mobj){ .type = type, .nlink = type == S_IFDIR ? 2 : 1 };
	return o;
}

static void m_name(struct model *m, const char *path, int obj)
{
	snprintf(m->n[m->nn].path, sizeof(m->n[0].path), "%s", path);
	m->n[m->nn++].obj = obj;
}

static void m_unname(struct model *m, int i)
{
	m->n[i] = m->n[--m->nn];
}

/* Objects: 0 /, 1 A, 2 B, 3 foo, 4 bar, 5 empty; then what steps make. */
static void m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m_new(m, S_IFDIR);
	m_name(m, "A", m_new(m, S_IFDIR));
	m_name(m, "B", m_new(m, S_IFDIR));
	m_name(m, "A/foo", m_new(m, S_IFREG));
	m_name(m, "B/bar", m_new(m, S_IFREG));
	m_name(m, "A/empty", m_new(m, S_IFDIR));
	m->o[0].nlink = 4;
	m->o[1].nlink = 3;
	for (int o = 3; o <= 4; o++) {
		m->o[o].size = 8 * KB;
		m->o[o].gen[0] = m->o[o].gen[1] = 1;
	}
}

/* The object a step works on (-1 none) and the directory of its name. */
static int m_obj(const struct model *m, const char *path)
{
	int i = m_find(m, path);

	return i < 0 ? -1 : m->n[i].obj;
}

/* Apply step @i (generation i + 2) to the model; Linux's error, 0 = done. */
static int m_apply(struct model *m, const struct op *op, unsigned i)
{
	int ia = m_find(m, op->a), ib = op->b ? m_find(m, op->b) : -1;
	int o = ia < 0 ? -1 : m->n[ia].obj;
	int da = op->a[0] == 'A' ? 1 : 2;
	struct mobj *f = o < 0 ? NULL : &m->o[o];

	switch (op->kind) {
	case K_CREATE:
	case K_MKDIR:
		if (ia >= 0)
			return -EEXIST;
		m_name(m, op->a, m_new(m, op->kind == K_MKDIR ? S_IFDIR : S_IFREG));
		if (op->kind == K_MKDIR)
			m->o[da].nlink++;
		return 0;
	case K_WRITE:
		if (!f)
			return -ENOENT;
		for (uint32_t b = op->off / BS; b < (op->off + op->len) / BS; b++)
			f->gen[b] = (uint8_t)(i + 2);
		if (f->size < op->off + op->len)
			f->size = op->off + op->len;
		return 0;
	case K_TRUNC:
		if (!f)
			return -ENOENT;
		for (uint32_t b = op->off / BS; b < NB; b++)
			f->gen[b] = 0;
		f->size = op->off;
		return 0;
	case K_FALLOC:
		if (!f)
			return -ENOENT;
		if (f->size < op->off + op->len)
			f->size = op->off + op->len;
		return 0;
	case K_PUNCH:
		if (!f)
			return -ENOENT;
		for (uint32_t b = op->off / BS; b < (op->off + op->len) / BS; b++)
			f->gen[b] = 0;
		return 0;
	case K_LINK:
		if (!f)
			return -ENOENT;
		if (ib >= 0)
			return -EEXIST;
		f->nlink++;
		m_name(m, op->b, o);
		return 0;
	case K_UNLINK:
		if (!f)
			return -ENOENT;
		if (!--f->nlink)
			f->type = 0;
		m_unname(m, ia);
		return 0;
	case K_RENAME:
		if (!f)
			return -ENOENT;
		if (ib >= 0) {
			struct mobj *t = &m->o[m->n[ib].obj];

			if (m->n[ib].obj == o)
				return 0;
			if (!--t->nlink)
				t->type = 0;
			m->n[ib].obj = o;
			m_unname(m, ia);
		} else {
			snprintf(m->n[ia].path, sizeof(m->n[0].path), "%s", op->b);
		}
		return 0;
	case K_RMDIR:
		if (!f)
			return -ENOENT;
		f->type = 0;
		m->o[da].nlink--;
		m_unname(m, ia);
		return 0;
	case K_SETXATTR:
		if (!f)
			return -ENOENT;
		f->xattr = true;
		return 0;
	}
	return -EINVAL;
}

/* ---- states as text ------------------------------------------------------------- */

static void describe_obj(char *out, size_t len, bool dir, unsigned nlink, uint64_t size,
			 bool xattr)
{
	if (dir)
		snprintf(out, len, "d%u%s", nlink, xattr ? " x" : "");
	else
		snprintf(out, len, "f%u s%llu%s", nlink, (unsigned long long)size,
			 xattr ? " x" : "");
}

static void model_text(const struct model *m, char *out, size_t len)
{
	struct fskit_name v[MAXNAMES + 1];
	int n = 0;

	snprintf(v[n].path, sizeof(v[n].path), "/");
	describe_obj(v[n].desc, sizeof(v[n].desc), true, (unsigned)m->o[0].nlink, 0, false);
	v[n++].id = 0;
	for (int i = 0; i < m->nn; i++) {
		const struct mobj *o = &m->o[m->n[i].obj];

		snprintf(v[n].path, sizeof(v[n].path), "%s", m->n[i].path);
		describe_obj(v[n].desc, sizeof(v[n].desc), o->type == S_IFDIR,
			     (unsigned)o->nlink, o->size, o->xattr);
		v[n++].id = (uint64_t)m->n[i].obj;
	}
	fskit_render(v, n, out, len);
}

/* ---- what each persistence point promises ----------------------------------------- */

/*
 * Replays the sequence through the model and says, for the acknowledged
 * steps 1..@acked: the longest prefix the commits cover (*meta), and per
 * object the data it must hold (@need: generation + 1 per block, 0 = no
 * promise) and what later steps may have put there instead (@later: a
 * mask of generations, bit 0 = zeros).  The runner takes the return
 * values it must see from it; it logs "ack N" after every completed
 * persistence point and leaves what that promises to these rules.
 */
struct promise {
	struct model states[MAXLEN + 1];
	int err[MAXLEN];
	int target[MAXLEN];        /* the object fsync / fdatasync syncs, -1 its parent */
	bool meta_ack[MAXLEN];
	unsigned meta;
	uint8_t need[MAXOBJ][NB];
	uint32_t later[MAXOBJ][NB];
	uint32_t ever[MAXOBJ][NB];
};

static void promise_data(struct promise *p, int obj, unsigned at, const struct step *s,
			 unsigned len)
{
	const struct mobj *f;

	if (obj < 0)
		return;
	f = &p->states[at].o[obj];
	if (f->type != S_IFREG)
		return;
	for (unsigned b = 0; b < NB; b++) {
		p->need[obj][b] = b < f->size / BS ? f->gen[b] + 1 : 0;
		p->later[obj][b] = 0;
	}
	/* what any step after the acknowledgement may have done to the file */
	for (unsigned j = at; j < len; j++) {
		const struct op *op = &ops[s[j].op];
		int o = m_obj(&p->states[j], op->a);

		if (o != obj || p->err[j])
			continue;
		for (unsigned b = 0; b < NB; b++)
			if (p->states[j + 1].o[o].gen[b] != p->states[j].o[o].gen[b] ||
			    op->kind == K_FALLOC || op->kind == K_TRUNC)
				p->later[obj][b] |= 1u << p->states[j + 1].o[o].gen[b];
	}
}

static void promise_build(struct promise *p, const struct step *s, unsigned len, unsigned acked)
{
	memset(p, 0, sizeof(*p));
	m_init(&p->states[0]);
	for (int o = 3; o <= 4; o++)
		for (unsigned b = 0; b < NB; b++)
			p->ever[o][b] = 1u | (b < 2 ? 1u << 1 : 0);
	for (unsigned i = 0; i < len; i++) {
		const struct op *op = &ops[s[i].op];
		struct model *before = &p->states[i], *after = &p->states[i + 1];
		int o = m_obj(before, op->a);
		char tb[1024], ta[1024];
		bool chg, ns;

		*after = *before;
		p->err[i] = m_apply(after, op, i);
		if (o < 0)
			o = m_obj(after, op->a);
		/* as do_op: a removed name or a failed create leaves the parent */
		p->target[i] = op->kind == K_UNLINK || op->kind == K_RMDIR ||
			((op->kind == K_CREATE || op->kind == K_MKDIR) && p->err[i]) ? -1 : o;
		for (int k = 0; k < after->nobj; k++)
			for (unsigned b = 0; b < NB; b++)
				p->ever[k][b] |= 1u | 1u << after->o[k].gen[b];
		model_text(before, tb, sizeof(tb));
		model_text(after, ta, sizeof(ta));
		chg = !p->err[i] && (strcmp(tb, ta) ||
				     (o >= 0 && memcmp(&before->o[o], &after->o[o],
						       sizeof(before->o[o]))));
		ns = op->kind == K_CREATE || (op->kind > K_PUNCH && op->kind != K_SETXATTR);
		switch (s[i].persist) {
		case P_SYNC:
			p->meta_ack[i] = true;
			break;
		case P_FSYNC:
			/* the inode synced (the object, or the parent of a removed
			 * name) changed: its commit carries every earlier step */
			p->meta_ack[i] = chg;
			break;
		case P_FDATASYNC:
			/* only a size change obliges fdatasync to commit */
			p->meta_ack[i] = chg && o >= 0 && before->o[o].size != after->o[o].size;
			break;
		case P_FSYNC_PARENT:
			p->meta_ack[i] = chg && ns;
			break;
		}
	}
	/* the promises read later states: all of them are known by now */
	for (unsigned i = 0; i < acked && i < len; i++) {
		struct model *after = &p->states[i + 1];

		if (s[i].persist == P_NONE)
			continue;
		if (p->meta_ack[i])
			p->meta = i + 1;
		if (s[i].persist == P_SYNC) {
			for (int k = 0; k < after->nobj; k++)
				promise_data(p, k, i + 1, s, len);
		} else if (s[i].persist == P_FSYNC || s[i].persist == P_FDATASYNC) {
			promise_data(p, p->target[i], i + 1, s, len);
		}
	}
}

/* ---- the file system ------------------------------------------------------------------ */

static int write_gen(struct sfs_fs *fs, uint64_t ino, unsigned obj, unsigned gen, uint32_t off,
		     uint32_t len)
{
	struct sfs_cred cr = { .privileged = true };
	uint8_t *buf = malloc(len);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	for (uint32_t b = 0; b < len / BS; b++)
		tok_fill(obj, gen, off / BS + b, buf + (size_t)b * BS);
	n = sfs_write(fs, ino, buf, len, off, 0, &cr);
	free(buf);
	return n == (ssize_t)len ? 0 : n < 0 ? (int)n : -EIO;
}

/* Every block holds the marker before mkfs keeps what it does not write:
 * stale data in a file reads as the marker. */
static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	struct sfs_cred cr = { 0 };
	struct sfs_attr a, d;
	struct sfs_fs *fs;
	uint64_t *blk = malloc(BS);
	int fd, ret = 0;

	(void)seed;
	if (!blk)
		return -ENOMEM;
	for (unsigned i = 0; i < BS / 8; i++)
		blk[i] = MARKER;
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0644);
	for (uint64_t b = 0; fd >= 0 && !ret && b < FSKIT_IMAGE_BYTES / BS; b++)
		if (pwrite(fd, blk, BS, (off_t)(b * BS)) != BS)
			ret = -EIO;
	free(blk);
	if (fd < 0 || close(fd) || ret) {
		snprintf(err, errlen, "marker fill failed");
		return -EIO;
	}
	ret = fskit_mkfs(path, true, err, errlen);
	if (!ret)
		ret = fskit_mount(path, "cache=buffered", 60000, false, &fs, err, errlen);
	if (ret)
		return ret;
	ret = sfs_mkdir(fs, ROOT, "A", 0755, 0, &cr, &d);
	if (!ret)
		ret = sfs_create(fs, d.ino, "foo", 0644, 0, &cr, &a);
	if (!ret)
		ret = write_gen(fs, a.ino, 3, 1, 0, 8 * KB);
	if (!ret)
		ret = sfs_mkdir(fs, d.ino, "empty", 0755, 0, &cr, &a);
	if (!ret)
		ret = sfs_mkdir(fs, ROOT, "B", 0755, 0, &cr, &d);
	if (!ret)
		ret = sfs_create(fs, d.ino, "bar", 0644, 0, &cr, &a);
	if (!ret)
		ret = write_gen(fs, a.ino, 4, 1, 0, 8 * KB);
	if (ret)
		snprintf(err, errlen, "starting tree: %d", ret);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount");
		ret = -EIO;
	}
	return ret;
}

/* Run step @i; *obj gets the inode it worked on (0 none), *parent the
 * directory of its (new) name. */
static int do_op(struct sfs_fs *fs, const struct model *m, const struct op *op, unsigned i,
		 uint64_t *obj, uint64_t *parent)
{
	const char *na = op->a + 2, *nb = op->b ? op->b + 2 : NULL;
	struct sfs_cred cr = { .privileged = true };
	struct sfs_setattr sa = { .valid = SFS_SET_SIZE, .size = op->off };
	uint64_t da = op->a[0] == 'A' ? fskit_resolve(fs, "A") : fskit_resolve(fs, "B");
	uint64_t db = op->b && op->b[0] == 'B' ? fskit_resolve(fs, "B") : fskit_resolve(fs, "A");
	int mo = m_obj(m, op->a);
	struct sfs_attr a;
	int ret;

	*parent = da;
	*obj = fskit_resolve(fs, op->a);
	switch (op->kind) {
	case K_CREATE:
	case K_MKDIR:
		ret = op->kind == K_CREATE ? sfs_create(fs, da, na, 0644, 0, &cr, &a) :
			sfs_mkdir(fs, da, na, 0755, 0, &cr, &a);
		*obj = ret ? 0 : a.ino;
		return ret;
	case K_RMDIR:
		*obj = 0;
		return sfs_rmdir(fs, da, na);
	case K_UNLINK:
		ret = sfs_unlink(fs, da, na);
		*obj = 0;
		return ret;
	case K_LINK:
		*parent = db;
		return *obj ? sfs_link(fs, *obj, db, nb, 0, NULL) : -ENOENT;
	case K_RENAME:
		*parent = db;
		return sfs_rename(fs, da, na, db, nb, 0);
	default:
		break;
	}
	if (!*obj)
		return -ENOENT;
	switch (op->kind) {
	case K_WRITE:
		return write_gen(fs, *obj, (unsigned)mo, i + 2, op->off, op->len);
	case K_TRUNC:
		return sfs_setattr(fs, *obj, &sa, &cr, NULL);
	case K_FALLOC:
		return sfs_fallocate(fs, *obj, 0, op->off, op->len, &cr);
	case K_PUNCH:
		return sfs_fallocate(fs, *obj, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE,
				     op->off, op->len, &cr);
	case K_SETXATTR:
		return sfs_setxattr(fs, *obj, "user.k", "v", 1, 0);
	default:
		return -EINVAL;
	}
}

/* Sync is sfs_fs_sync (syncfs: commit and checkpoint) after even steps and
 * sfs_fs_commit (commit only) after odd ones: both whole-filesystem
 * persistence points, without doubling the sequences. */
static int persist(struct sfs_fs *fs, unsigned how, unsigned i, uint64_t obj, uint64_t parent)
{
	switch (how) {
	case P_FSYNC:
		return sfs_fsync(fs, obj ? obj : parent, false);
	case P_FDATASYNC:
		return sfs_fsync(fs, obj ? obj : parent, true);
	case P_FSYNC_PARENT:
		return sfs_fsync(fs, parent, false);
	case P_SYNC:
		return i % 2 ? sfs_fs_commit(fs) : sfs_fs_sync(fs);
	}
	return 0;
}

static int run_common(const char *path, const char *opts, unsigned id, bool lie, char *err,
		      size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s);
	struct promise *p = malloc(sizeof(*p));
	struct sfs_fs *fs;
	char label[32], seq[256];
	int ret;

	if (!p)
		return -ENOMEM;
	promise_build(p, s, len, 0);
	describe(s, len, seq, sizeof(seq));
	ret = fskit_mount(path, opts, 60000, false, &fs, err, errlen);
	if (ret)
		goto out;
	for (unsigned i = 0; i < len && !ret; i++) {
		uint64_t obj, parent;
		int got;

		got = do_op(fs, &p->states[i], &ops[s[i].op], i, &obj, &parent);
		if (got != p->err[i]) {
			snprintf(err, errlen, "[%s] step %u returned %d, the model says %d", seq,
				 i + 1, got, p->err[i]);
			ret = -EINVAL;
			break;
		}
		if (s[i].persist == P_NONE)
			continue;
		/* "ack N": the persistence points of steps 1..N completed; the
		 * checker works out what that promises from the same rules. */
		snprintf(label, sizeof(label), "ack %u", i + 1);
		if (lie)
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
		ret = persist(fs, s[i].persist, i, obj, parent);
		if (ret)
			snprintf(err, errlen, "[%s] step %u: persistence: %d", seq, i + 1, ret);
		else if (!lie)
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
	}
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "[%s] unmount failed", seq);
		ret = -EIO;
	}
out:
	free(p);
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

/* ---- checking ------------------------------------------------------------------------ */

struct walk {
	struct sfs_fs *fs;
	struct fskit_name v[MAXNAMES + 1];
	uint64_t size[MAXNAMES + 1];
	int n;
	char why[256];
	int err;
};

struct gather {
	char name[MAXNAMES][16];
	uint64_t ino[MAXNAMES];
	int n;
	bool overflow;
};

static int gather_fn(void *ctx, const char *name, size_t len, uint64_t ino, unsigned dtype,
		     uint64_t next)
{
	struct gather *g = ctx;

	(void)dtype;
	(void)next;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (g->n == MAXNAMES || len >= sizeof(g->name[0])) {
		g->overflow = true;
		return 1;
	}
	memcpy(g->name[g->n], name, len);
	g->name[g->n][len] = 0;
	g->ino[g->n++] = ino;
	return 0;
}

static void collect(struct walk *w, uint64_t dir, const char *prefix)
{
	struct gather g = { .n = 0 };
	int ret;

	if (sfs_dir_verify(w->fs, dir, w->why, sizeof(w->why))) {
		w->err = -EUCLEAN;
		return;
	}
	ret = sfs_readdir(w->fs, dir, 0, gather_fn, &g);
	if (ret || g.overflow) {
		snprintf(w->why, sizeof(w->why), "readdir of /%s: %d%s", prefix, ret,
			 g.overflow ? " (names the model never made)" : "");
		w->err = ret ? ret : -EUCLEAN;
		return;
	}
	for (int i = 0; i < g.n && !w->err; i++) {
		struct fskit_name *s;
		struct sfs_attr a;
		char x[8];

		if (w->n == MAXNAMES + 1) {
			snprintf(w->why, sizeof(w->why), "more names than the model ever had");
			w->err = -EUCLEAN;
			return;
		}
		s = &w->v[w->n];
		snprintf(s->path, sizeof(s->path), "%s%s%s", prefix, prefix[0] ? "/" : "",
			 g.name[i]);
		ret = sfs_getattr(w->fs, g.ino[i], &a);
		if (ret) {
			snprintf(w->why, sizeof(w->why), "%s names inode %llu: %d", s->path,
				 (unsigned long long)g.ino[i], ret);
			w->err = ret;
			return;
		}
		s->id = a.ino;
		w->size[w->n++] = a.size;
		describe_obj(s->desc, sizeof(s->desc), S_ISDIR(a.mode), a.nlink, a.size,
			     sfs_getxattr(w->fs, a.ino, "user.k", x, sizeof(x)) == 1);
		if (S_ISDIR(a.mode))
			collect(w, a.ino, s->path);
	}
}

/* Each block of model object @obj, inode @ino, against the promises. */
static int check_data(struct sfs_fs *fs, const struct promise *p, int obj, uint64_t ino,
		      uint64_t size, char *why, size_t len)
{
	uint8_t *buf = malloc((size_t)NB * BS);
	ssize_t got;
	int ret = -1;

	if (!buf)
		return -ENOMEM;
	got = sfs_read(fs, ino, buf, (size_t)NB * BS, 0);
	if (got != (ssize_t)size) {
		snprintf(why, len, "read %zd bytes of a %llu-byte file", got,
			 (unsigned long long)size);
		goto out;
	}
	for (unsigned b = 0; b < size / BS; b++) {
		int g = gen_of(buf + (size_t)b * BS, (unsigned)obj, b);
		unsigned need = p->need[obj][b];

		if (g == -1) {
			snprintf(why, len, "object %d block %u holds stale data (a free block's "
				 "marker)", obj, b);
			goto out;
		}
		if (g == -2 || !(p->ever[obj][b] & (1u << g))) {
			snprintf(why, len, "object %d block %u holds what was never written there",
				 obj, b);
			goto out;
		}
		if (need && (unsigned)g != need - 1 && !(p->later[obj][b] & (1u << g))) {
			snprintf(why, len, "object %d block %u: version %d, acknowledged %u", obj,
				 b, g, need - 1);
			goto out;
		}
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Every file the tree names, as model object of prefix @k. */
static int check_files(struct walk *w, const struct promise *p, int k, char *why, size_t len)
{
	char one[192];

	for (int i = 0; i < w->n; i++) {
		int o = m_obj(&p->states[k], w->v[i].path);

		if (o < 0 || p->states[k].o[o].type != S_IFREG)
			continue;
		if (check_data(w->fs, p, o, w->v[i].id, w->size[i], one, sizeof(one))) {
			snprintf(why, len, "after prefix %d, /%s: %s", k, w->v[i].path, one);
			return -1;
		}
	}
	return 0;
}

static int check(const char *path, const char *opts, const char *mark, unsigned id, char *err,
		 size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s), acked = 0;
	struct promise *p = malloc(sizeof(*p));
	struct walk *w = calloc(1, sizeof(*w));
	char have[2048], want[2048], seq[256], why[256];
	struct sfs_statfs st;
	uint64_t inodes = 0;
	int ret = -ENOMEM, k;

	if (!p || !w)
		goto out;
	if (mark)
		sscanf(mark, "ack %u", &acked);
	promise_build(p, s, len, acked);
	describe(s, len, seq, sizeof(seq));
	ret = fskit_mount(path, opts, 0, false, &w->fs, err, errlen);
	if (ret)
		goto out;
	ret = -1;
	collect(w, ROOT, "");
	if (w->err) {
		snprintf(err, errlen, "[%s] %s", seq, w->why);
		goto unmount;
	}
	for (int i = 0; i < w->n; i++) {
		bool first = true;

		for (int j = 0; j < i; j++)
			first &= w->v[j].id != w->v[i].id;
		inodes += first;
	}
	{
		struct fskit_name v[MAXNAMES + 2];
		struct sfs_attr ra;

		memcpy(v + 1, w->v, (size_t)w->n * sizeof(v[0]));
		sfs_getattr(w->fs, ROOT, &ra);
		snprintf(v[0].path, sizeof(v[0].path), "/");
		describe_obj(v[0].desc, sizeof(v[0].desc), true, ra.nlink, 0, false);
		v[0].id = ROOT;
		fskit_render(v, w->n + 1, have, sizeof(have));
	}
	sfs_fs_statfs(w->fs, &st);
	if (st.files - st.ffree != 10 + inodes) {
		snprintf(err, errlen, "[%s] %llu inodes in use, the tree names %llu", seq,
			 (unsigned long long)(st.files - st.ffree - 10),
			 (unsigned long long)inodes);
		goto unmount;
	}
	/* Prefixes can share a tree (create, write, rename over a name reads
	 * like the start): the one whose data holds too is the state. */
	why[0] = 0;
	for (k = (int)p->meta; k <= (int)len; k++) {
		model_text(&p->states[k], want, sizeof(want));
		if (strcmp(have, want))
			continue;
		if (!check_files(w, p, k, why, sizeof(why)))
			break;
	}
	if (k > (int)len) {
		if (why[0])
			snprintf(err, errlen, "[%s] %s", seq, why);
		else
			snprintf(err, errlen, "[%s] recovered tree is no prefix of length >= %u: "
				 "%s", seq, p->meta, have);
		goto unmount;
	}
	ret = 0;
unmount:
	if (sfs_fs_unmount(w->fs) && !ret) {
		snprintf(err, errlen, "[%s] unmount after recovery failed", seq);
		ret = -1;
	}
	if (!ret && fskit_fsck_due(QUICK_FSCK_EVERY))
		ret = fskit_fsck(path, "mix", err, errlen);
out:
	free(p);
	free(w);
	return ret;
}

const struct crash_workload wl_mix = {
	.name = "mix",
	.what = "namespace and file data in one sequence (write, truncate, fallocate, punch, "
		"link, unlink, rename, mkdir, rmdir, setxattr) with fsync, fdatasync, "
		"fsync of the parent or sync, ACE style",
	.prepare = prepare, .run = run, .check = check, .count = mix_count,
};

const struct crash_workload wl_mix_unsafe = {
	.name = "mix-unsafe",
	.what = "mix acknowledging each persistence point before it is made: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_lying, .check = check,
	.count = mix_unsafe_count,
};
