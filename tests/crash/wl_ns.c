/*
 * ACE-style namespace workloads through the filesystem library: bounded
 * sequences of create, mkdir, rmdir, link, unlink, rename (plain, over a
 * name, across directories, NOREPLACE, EXCHANGE), symlink and setxattr
 * over a small tree, each operation followed by nothing, an fsync of its
 * object or an fsync of its parent directory (42 choices a step).
 * Sequence number N is the "seed": first every single step, then pairs
 * and triples alternately -- every pair (1,764) in a scattered order and
 * as many triples, a fixed stride through all 74,088.  `quick` is a prefix
 * of `full`: the 42 single steps, 20 pairs and 20 triples; `full` 3,570
 * sequences.
 *
 * Starting tree: /A/foo, /A/empty/, /B/bar (and the directories /A, /B).
 *
 * Oracle, after the mount's recovery and the orphan replay: the tree (every
 * name, its type, link count, hard-link grouping, symlink target, xattr)
 * equals the model's tree after some prefix of the sequence no shorter
 * than the last operation an fsync acknowledged -- each operation is one
 * transaction and transactions commit in order, so a crash shows a prefix:
 * fsynced operations are there, nothing exists that was never created, a
 * rename is old or new, never both or neither.  And the structure holds:
 * every directory passes the library's check, the inodes in use are
 * exactly those the tree names, and fsck.scopefs (built next to this
 * program; its namespace passes included) is clean (at every crash point
 * in `full`, a seeded one in four in `quick`).
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
#define MAXLEN 3u
#define MAXOBJ 24
#define MAXNAMES 24

enum kind { K_CREATE, K_MKDIR, K_RMDIR, K_LINK, K_UNLINK, K_RENAME, K_SYMLINK, K_SETXATTR };
enum persist { P_NONE, P_FSYNC_OBJ, P_FSYNC_PARENT, P_COUNT };

struct op {
	enum kind kind;
	const char *a, *b;
	unsigned flags;
};

static const struct op ops[] = {
	{ K_CREATE, "A/new", NULL, 0 },
	{ K_MKDIR, "A/sub", NULL, 0 },
	{ K_RMDIR, "A/empty", NULL, 0 },
	{ K_LINK, "A/foo", "B/foolink", 0 },
	{ K_UNLINK, "A/foo", NULL, 0 },
	{ K_RENAME, "A/foo", "A/foo2", 0 },
	{ K_RENAME, "A/foo", "B/foo", 0 },
	{ K_RENAME, "A/foo", "B/bar", 0 },
	{ K_RENAME, "A/foo", "B/bar", 1 /* NOREPLACE */ },
	{ K_RENAME, "A/foo", "B/bar", 2 /* EXCHANGE */ },
	{ K_RENAME, "A/empty", "B/moved", 0 },
	{ K_RENAME, "A/empty", "B/bar", 2 /* EXCHANGE: a directory and a file */ },
	{ K_SYMLINK, "A/ln", NULL, 0 },
	{ K_SETXATTR, "A/foo", NULL, 0 },
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))
#define CHOICES ((unsigned)NOPS * P_COUNT)
#define QUICK_MORE 40u           /* quick: pairs and triples, alternating */
#define PAIR_STRIDE 7919u        /* prime: a bijection on the 1,764 pairs */
#define TRIPLE_STRIDE 30011u     /* prime: scatters the sample over 74,088 */

struct step {
	unsigned op, persist;
};

/* ---- the model --------------------------------------------------------- */

struct mobj {
	int type;                    /* 0 gone, S_IFREG, S_IFDIR, S_IFLNK */
	int nlink;
	bool xattr;
};

struct model {
	struct mobj o[MAXOBJ];
	int nobj;
	struct {
		char path[32];
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

static void parent_of(const char *path, char *out)
{
	const char *s = strrchr(path, '/');

	if (!s) {
		out[0] = 0;
		return;
	}
	memcpy(out, path, (size_t)(s - path));
	out[s - path] = 0;
}

/* The object a directory path names ("" = the root, object 0). */
static int m_dir(const struct model *m, const char *path)
{
	int i;

	if (!path[0])
		return 0;
	i = m_find(m, path);
	return i >= 0 && m->o[m->n[i].obj].type == S_IFDIR ? m->n[i].obj : -1;
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

static bool m_empty(const struct model *m, const char *dir)
{
	size_t l = strlen(dir);

	for (int i = 0; i < m->nn; i++)
		if (!strncmp(m->n[i].path, dir, l) && m->n[i].path[l] == '/')
			return false;
	return true;
}

static void m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m_new(m, S_IFDIR);                       /* the root */
	m_name(m, "A", m_new(m, S_IFDIR));
	m_name(m, "B", m_new(m, S_IFDIR));
	m->o[0].nlink = 4;
	m_name(m, "A/foo", m_new(m, S_IFREG));
	m_name(m, "B/bar", m_new(m, S_IFREG));
	m_name(m, "A/empty", m_new(m, S_IFDIR));
	m->o[m->n[m_find(m, "A")].obj].nlink++;
}

/* Apply @op to the model; returns the error Linux gives (0 = done). */
static int m_apply(struct model *m, const struct op *op)
{
	char pa[32], pb[32];
	int ia = m_find(m, op->a), ib = op->b ? m_find(m, op->b) : -1, da, db;

	parent_of(op->a, pa);
	da = m_dir(m, pa);
	switch (op->kind) {
	case K_CREATE:
	case K_MKDIR:
	case K_SYMLINK:
		if (ia >= 0)
			return -EEXIST;
		m_name(m, op->a, m_new(m, op->kind == K_MKDIR ? S_IFDIR :
					  op->kind == K_SYMLINK ? S_IFLNK : S_IFREG));
		if (op->kind == K_MKDIR)
			m->o[da].nlink++;
		return 0;
	case K_RMDIR:
		if (ia < 0)
			return -ENOENT;
		if (m->o[m->n[ia].obj].type != S_IFDIR)
			return -ENOTDIR;
		if (!m_empty(m, op->a))
			return -ENOTEMPTY;
		m->o[m->n[ia].obj].type = 0;
		m->o[da].nlink--;
		m_unname(m, ia);
		return 0;
	case K_UNLINK:
		if (ia < 0)
			return -ENOENT;
		if (m->o[m->n[ia].obj].type == S_IFDIR)
			return -EISDIR;
		if (!--m->o[m->n[ia].obj].nlink)
			m->o[m->n[ia].obj].type = 0;
		m_unname(m, ia);
		return 0;
	case K_LINK:
		if (ia < 0)
			return -ENOENT;
		if (m->o[m->n[ia].obj].type == S_IFDIR)
			return -EPERM;
		if (ib >= 0)
			return -EEXIST;
		m->o[m->n[ia].obj].nlink++;
		m_name(m, op->b, m->n[ia].obj);
		return 0;
	case K_SETXATTR:
		if (ia < 0)
			return -ENOENT;
		m->o[m->n[ia].obj].xattr = true;
		return 0;
	case K_RENAME: {
		int sa, sb, sdir, tdir;

		if (ia < 0)
			return -ENOENT;
		if (ib >= 0 && (op->flags & 1))
			return -EEXIST;
		if (ib < 0 && (op->flags & 2))
			return -ENOENT;
		parent_of(op->b, pb);
		db = m_dir(m, pb);
		sa = m->n[ia].obj;
		sdir = m->o[sa].type == S_IFDIR;
		if (ib >= 0 && m->n[ib].obj == sa)
			return 0;
		if (op->flags & 2) {
			sb = m->n[ib].obj;
			tdir = m->o[sb].type == S_IFDIR;
			m->n[ia].obj = sb;
			m->n[ib].obj = sa;
			if (da != db) {
				m->o[da].nlink += tdir - sdir;
				m->o[db].nlink += sdir - tdir;
			}
			return 0;
		}
		if (ib >= 0) {
			sb = m->n[ib].obj;
			tdir = m->o[sb].type == S_IFDIR;
			if (sdir && !tdir)
				return -ENOTDIR;
			if (!sdir && tdir)
				return -EISDIR;
			if (tdir && !m_empty(m, op->b))
				return -ENOTEMPTY;
			if (tdir) {
				m->o[sb].type = 0;
				m->o[db].nlink--;
			} else if (!--m->o[sb].nlink) {
				m->o[sb].type = 0;
			}
			m->n[ib].obj = sa;
			m_unname(m, ia);
		} else {
			snprintf(m->n[ia].path, sizeof(m->n[0].path), "%s", op->b);
		}
		if (sdir && da != db) {
			m->o[da].nlink--;
			m->o[db].nlink++;
		}
		return 0;
	}
	}
	return -EINVAL;
}

/* ---- states as text ------------------------------------------------------ */

static void model_text(const struct model *m, char *out, size_t len)
{
	struct fskit_name v[MAXNAMES + 1];
	int n = 0;

	snprintf(v[n].path, sizeof(v[n].path), "/");
	snprintf(v[n].desc, sizeof(v[n].desc), "d%d", m->o[0].nlink);
	v[n++].id = 0;
	for (int i = 0; i < m->nn; i++) {
		const struct mobj *o = &m->o[m->n[i].obj];

		snprintf(v[n].path, sizeof(v[n].path), "%s", m->n[i].path);
		snprintf(v[n].desc, sizeof(v[n].desc), "%c%d%s%s",
			 o->type == S_IFDIR ? 'd' : o->type == S_IFLNK ? 'l' : 'f', o->nlink,
			 o->type == S_IFLNK ? ">t" : "", o->xattr ? " x" : "");
		v[n++].id = (uint64_t)m->n[i].obj;
	}
	fskit_render(v, n, out, len);
}

struct fs_walk {
	struct sfs_fs *fs;
	struct fskit_name v[64];
	int n;
	char why[256];
	int err;
};

struct pending {
	char name[256];
	uint64_t ino;
};

struct gather {
	struct pending p[64];
	int n;
};

static int gather_fn(void *ctx, const char *name, size_t len, uint64_t ino, unsigned dtype,
		     uint64_t next)
{
	struct gather *g = ctx;

	(void)dtype;
	(void)next;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	if (g->n == 64)
		return 1;
	memcpy(g->p[g->n].name, name, len);
	g->p[g->n].name[len] = 0;
	g->p[g->n++].ino = ino;
	return 0;
}

static void fs_collect(struct fs_walk *w, uint64_t dir, const char *prefix)
{
	struct gather g = { .n = 0 };
	int ret;

	if (sfs_dir_verify(w->fs, dir, w->why, sizeof(w->why))) {
		w->err = -EUCLEAN;
		return;
	}
	ret = sfs_readdir(w->fs, dir, 0, gather_fn, &g);
	if (ret) {
		snprintf(w->why, sizeof(w->why), "readdir of %s: %d", prefix, ret);
		w->err = ret;
		return;
	}
	for (int i = 0; i < g.n && !w->err && w->n < 64; i++) {
		struct fskit_name *s = &w->v[w->n++];
		struct sfs_attr a;
		char target[16], x[8];

		snprintf(s->path, sizeof(s->path), "%s%s%s", prefix, prefix[0] ? "/" : "", g.p[i].name);
		ret = sfs_getattr(w->fs, g.p[i].ino, &a);
		if (ret) {
			snprintf(w->why, sizeof(w->why), "%s names inode %llu: %d", s->path,
				 (unsigned long long)g.p[i].ino, ret);
			w->err = ret;
			return;
		}
		s->id = a.ino;
		target[0] = 0;
		if (S_ISLNK(a.mode)) {
			ssize_t l = sfs_readlink(w->fs, a.ino, target + 1, sizeof(target) - 2);

			target[0] = '>';
			target[1 + (l > 0 ? l : 0)] = 0;
		}
		snprintf(s->desc, sizeof(s->desc), "%c%u%s%s",
			 S_ISDIR(a.mode) ? 'd' : S_ISLNK(a.mode) ? 'l' : 'f', a.nlink, target,
			 sfs_getxattr(w->fs, a.ino, "user.k", x, sizeof(x)) == 1 ? " x" : "");
		if (S_ISDIR(a.mode))
			fs_collect(w, a.ino, s->path);
	}
}

/* ---- running and checking ------------------------------------------------ */

/* fsck at every crash point in `full`, at a seeded one in
 * QUICK_FSCK_EVERY in `quick` (fskit_fsck_due: the CI time budget). */
#define QUICK_FSCK_EVERY 4u

static unsigned ns_count(int full)
{
	return CHOICES + (full ? 2 * fskit_seqs(CHOICES, 2) : QUICK_MORE);
}

/* The unsafe twin only has to show the checker failing: the single
 * operations are enough, in `full` too (there with every crash state). */
static unsigned ns_unsafe_count(int full)
{
	(void)full;
	return CHOICES;
}

static unsigned decode(unsigned id, struct step *s)
{
	unsigned len = 1, j;

	if (id >= CHOICES) {
		j = (id - CHOICES) / 2;
		if ((id - CHOICES) % 2 == 0) {
			len = 2;
			id = (unsigned)(((uint64_t)j * PAIR_STRIDE) % fskit_seqs(CHOICES, 2));
		} else {
			len = 3;
			id = (unsigned)(((uint64_t)j * TRIPLE_STRIDE + 1) % fskit_seqs(CHOICES, 3));
		}
	}
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
	static const char *const kinds[] = { "create", "mkdir", "rmdir", "link", "unlink",
					     "rename", "symlink", "setxattr" };
	static const char *const ps[] = { "", "+fsync", "+fsync-parent" };
	size_t k = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < len && k < n; i++) {
		const struct op *op = &ops[s[i].op];

		k += (size_t)snprintf(buf + k, n - k, "%s%s%s %s%s%s%s", i ? "; " : "",
				      kinds[op->kind],
				      op->flags == 1 ? "(noreplace)" : op->flags == 2 ? "(exchange)" : "",
				      op->a, op->b ? "->" : "", op->b ? op->b : "", ps[s[i].persist]);
	}
	return buf;
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	struct sfs_fs *fs;
	struct sfs_cred cr = { 0 };
	struct sfs_attr a, d;
	int ret;

	(void)seed;
	ret = fskit_mkfs(path, false, err, errlen);
	if (ret)
		return ret;
	ret = fskit_mount(path, "cache=buffered", 0, false, &fs, err, errlen);
	if (ret)
		return ret;
	ret = sfs_mkdir(fs, ROOT, "A", 0755, 0, &cr, &d);
	if (!ret)
		ret = sfs_create(fs, d.ino, "foo", 0644, 0, &cr, &a);
	if (!ret)
		ret = sfs_mkdir(fs, d.ino, "empty", 0755, 0, &cr, &a);
	if (!ret)
		ret = sfs_mkdir(fs, ROOT, "B", 0755, 0, &cr, &d);
	if (!ret)
		ret = sfs_create(fs, d.ino, "bar", 0644, 0, &cr, &a);
	if (ret)
		snprintf(err, errlen, "starting tree: %d", ret);
	if (sfs_fs_unmount(fs) && !ret) {
		snprintf(err, errlen, "unmount");
		ret = -EIO;
	}
	return ret;
}

static int do_op(struct sfs_fs *fs, const struct op *op, uint64_t *obj, uint64_t *parent)
{
	char pa[32], pb[32];
	const char *na = strrchr(op->a, '/') + 1, *nb = op->b ? strrchr(op->b, '/') + 1 : NULL;
	struct sfs_cred cr = { 0 };
	struct sfs_attr a;
	int ret = 0;

	parent_of(op->a, pa);
	*parent = fskit_resolve(fs, pa);
	*obj = 0;
	switch (op->kind) {
	case K_CREATE:
		ret = sfs_create(fs, *parent, na, 0644, 0, &cr, &a);
		break;
	case K_MKDIR:
		ret = sfs_mkdir(fs, *parent, na, 0755, 0, &cr, &a);
		break;
	case K_SYMLINK:
		ret = sfs_symlink(fs, *parent, na, "t", 0, &cr, &a);
		break;
	case K_RMDIR:
		return sfs_rmdir(fs, *parent, na);
	case K_UNLINK:
		return sfs_unlink(fs, *parent, na);
	case K_LINK:
		parent_of(op->b, pb);
		*obj = fskit_resolve(fs, op->a);
		if (!*obj)
			return -ENOENT;
		*parent = fskit_resolve(fs, pb);
		return sfs_link(fs, *obj, *parent, nb, 0, NULL);
	case K_RENAME:
		parent_of(op->b, pb);
		*obj = fskit_resolve(fs, op->a);
		ret = sfs_rename(fs, *parent, na, fskit_resolve(fs, pb), nb, op->flags);
		*parent = fskit_resolve(fs, pb);
		return ret;
	case K_SETXATTR:
		*obj = fskit_resolve(fs, op->a);
		return *obj ? sfs_setxattr(fs, *obj, "user.k", "v", 1, 0) : -ENOENT;
	}
	if (!ret)
		*obj = a.ino;
	return ret;
}

static int run_common(const char *path, const char *opts, unsigned id, bool lie, char *err,
		      size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s);
	struct model m;
	struct sfs_fs *fs;
	char label[32], seq[256];
	int ret;

	m_init(&m);
	ret = fskit_mount(path, opts, 60000, false, &fs, err, errlen);
	if (ret)
		return ret;
	for (unsigned i = 0; i < len && !ret; i++) {
		const struct op *op = &ops[s[i].op];
		char before[2048], after[2048];
		uint64_t obj, parent, target;
		int want, got;
		bool acks;

		model_text(&m, before, sizeof(before));
		want = m_apply(&m, op);
		model_text(&m, after, sizeof(after));
		got = do_op(fs, op, &obj, &parent);
		if (got != want) {
			snprintf(err, errlen, "[%s] step %u returned %d, the model says %d",
				 describe(s, len, seq, sizeof(seq)), i + 1, got, want);
			ret = -EINVAL;
			break;
		}
		if (s[i].persist == P_NONE)
			continue;
		/* An fsync vouches for the operations up to this one only when this
		 * one changed the inode it syncs (its transaction then commits, and
		 * every earlier one before it): not after an error or a no-op, and
		 * not for a parent setxattr leaves alone. */
		if (s[i].persist == P_FSYNC_OBJ && obj) {
			target = obj;
			acks = true;
		} else {
			target = parent;
			acks = op->kind != K_SETXATTR;
		}
		acks = acks && !got && strcmp(before, after);
		snprintf(label, sizeof(label), "ack %u", i + 1);
		if (lie && acks)   /* the unsafe variant claims durability first */
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
		ret = sfs_fsync(fs, target ? target : ROOT, false);
		if (!ret && acks && !lie)
			sfs_bdev_log_mark(sfs_fs_bdev(fs), label);
		else if (ret)
			snprintf(err, errlen, "fsync: %d", ret);
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

static int check(const char *path, const char *opts, const char *mark, unsigned id, char *err,
		 size_t errlen)
{
	struct step s[MAXLEN];
	unsigned len = decode(id, s), acked = 0;
	struct fs_walk *w = calloc(1, sizeof(*w));
	char have[4096], want[4096], seq[256];
	struct sfs_statfs st;
	struct model m;
	int ret;

	if (mark)
		sscanf(mark, "ack %u", &acked);
	/* The mount finishes the orphan file (a failure fails the mount). */
	ret = fskit_mount(path, opts, 0, false, &w->fs, err, errlen);
	if (ret)
		goto out;
	fs_collect(w, ROOT, "");
	if (w->err) {
		snprintf(err, errlen, "[%s] %s", describe(s, len, seq, sizeof(seq)), w->why);
		ret = -1;
		goto unmount;
	}
	{
		struct fskit_name *v = w->v;
		struct sfs_attr ra;
		uint64_t inodes = 0;
		int n = w->n;

		/* the root, then every name; distinct inodes counted once */
		memmove(v + 1, v, (size_t)n * sizeof(*v));
		sfs_getattr(w->fs, ROOT, &ra);
		snprintf(v[0].path, sizeof(v[0].path), "/");
		snprintf(v[0].desc, sizeof(v[0].desc), "d%u", ra.nlink);
		v[0].id = ROOT;
		for (int i = 1; i <= n; i++) {
			bool first = true;

			for (int j = 1; j < i; j++)
				first &= v[j].id != v[i].id;
			inodes += first;
		}
		fskit_render(v, n + 1, have, sizeof(have));
		sfs_fs_statfs(w->fs, &st);
		if (st.files - st.ffree != 10 + inodes) {
			snprintf(err, errlen, "[%s] %llu inodes in use, the tree names %llu",
				 describe(s, len, seq, sizeof(seq)),
				 (unsigned long long)(st.files - st.ffree - 10),
				 (unsigned long long)inodes);
			ret = -1;
			goto unmount;
		}
	}
	ret = -1;
	m_init(&m);
	for (unsigned k = 0; k <= len; k++) {
		if (k)
			m_apply(&m, &ops[s[k - 1].op]);
		if (k < acked)
			continue;
		model_text(&m, want, sizeof(want));
		if (!strcmp(have, want)) {
			ret = 0;
			break;
		}
	}
	if (ret)
		snprintf(err, errlen, "[%s] recovered tree is no prefix of length >= %u: %s",
			 describe(s, len, seq, sizeof(seq)), acked, have);
unmount:
	if (sfs_fs_unmount(w->fs) && !ret) {
		snprintf(err, errlen, "unmount after recovery failed");
		ret = -1;
	}
	if (!ret && fskit_fsck_due(QUICK_FSCK_EVERY))
		ret = fskit_fsck(path, "ns", err, errlen);
out:
	free(w);
	return ret;
}

const struct crash_workload wl_ns = {
	.name = "ns",
	.what = "namespace operations (create, mkdir, rmdir, link, unlink, rename and its flags, "
		"symlink, setxattr) with fsync of the object or its parent, ACE style",
	.prepare = prepare, .run = run, .check = check, .count = ns_count,
};

const struct crash_workload wl_ns_unsafe = {
	.name = "ns-unsafe",
	.what = "ns acknowledging each fsync before it is made: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_lying, .check = check,
	.count = ns_unsafe_count,
};
