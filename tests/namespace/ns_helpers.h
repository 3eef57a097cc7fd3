/*
 * Shared by the namespace tests: an image per test, the public API made
 * terse, and the checks run after every test -- fsck.scopefs -fn (its
 * namespace passes included; ../fs/helpers.h) plus a walk through the
 * library that checks every directory's structure, every link count and
 * that every inode in use is reachable.
 */
#ifndef TESTS_NS_HELPERS_H
#define TESTS_NS_HELPERS_H

#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../fs/helpers.h"
#include "fs/namespace/namespace.h"

#define ROOT 2u

static inline struct sfs_cred *me(void)
{
	static struct sfs_cred cr;

	cr.uid = (uint32_t)getuid();
	cr.gid = (uint32_t)getgid();
	return &cr;
}

static inline uint64_t mk(struct sfs_fs *fs, uint64_t dir, const char *name, uint32_t mode)
{
	struct sfs_attr a;
	int ret;

	if (S_ISDIR(mode))
		ret = sfs_mkdir(fs, dir, name, mode & 07777, 0, me(), &a);
	else
		ret = sfs_mknod(fs, dir, name, mode, 0, 0, me(), &a);
	if (ret)
		fprintf(stderr, "make %s: %d\n", name, ret);
	assert_int_equal(ret, 0);
	return a.ino;
}

static inline uint64_t look(struct sfs_fs *fs, uint64_t dir, const char *name)
{
	struct sfs_attr a;
	int ret = sfs_lookup(fs, dir, name, 0, &a);

	return ret ? 0 : a.ino;
}

static inline uint32_t nlink_of(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_attr a;

	assert_int_equal(sfs_getattr(fs, ino, &a), 0);
	return a.nlink;
}

/* @n files "@prefix-<i>" in @dir. */
static inline void mk_many(struct sfs_fs *fs, uint64_t dir, const char *prefix, int n)
{
	char name[64];

	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s-%d", prefix, i);
		mk(fs, dir, name, S_IFREG | 0644);
	}
}

/* ---- the tools on an unmounted image ---- */

/* fsck.scopefs @mode ("-fn", "-fy") on @image: its exit status, and its
 * output in @out. */
static inline int ns_fsck(const char *image, const char *mode, char *out, size_t len)
{
	char *argv[] = { (char *)fsck_path, (char *)mode, (char *)image, NULL };

	return run_tool(out, len, argv);
}

/* scopefs-db (@db) -w @image with @args up to the first NULL; it must
 * succeed.  NS_DB takes the arguments as they are. */
static inline void ns_db(const char *db, const char *image, const char *const *args)
{
	char *argv[16] = { (char *)db, "-w", (char *)image };
	char out[4096];
	int n = 3, ret;

	while (*args && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	ret = run_tool(out, sizeof(out), argv);
	if (ret)
		fprintf(stderr, "db %s: %s\n", argv[3], out);
	assert_int_equal(ret, 0);
}
#define NS_DB(db, image, ...) ns_db(db, image, (const char *const[]){ __VA_ARGS__, NULL })

/* test_main_init, and scopefs-db's path from argv[2] into *@db. */
static inline int ns_db_main_init(int argc, char **argv, const char **db)
{
	if (test_main_init(argc, argv))
		return 1;
	*db = argc > 2 ? argv[2] : NULL;
	if (!*db) {
		fprintf(stderr, "usage: %s FSCK DB\n", argv[0]);
		return 1;
	}
	return 0;
}

/* A number as a tool's argument; the last eight stay valid. */
static inline const char *num(uint64_t v)
{
	static char buf[8][32];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%llu", (unsigned long long)v);
	return buf[i];
}

/* Unmount *@fs (left NULL, for the teardown); fsck -fn finds @image
 * clean before a test damages it. */
static inline void unmount_clean(struct sfs_fs **fs, const char *image)
{
	char out[16384];
	int ret;

	assert_int_equal(sfs_fs_unmount(*fs), 0);
	*fs = NULL;
	ret = ns_fsck(image, "-fn", out, sizeof(out));
	if (ret)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(ret, 0);
}

/* The end of a test: unmount when mounted, remove the image. */
static inline void ns_image_done(struct sfs_fs *fs, const char *image)
{
	if (fs)
		assert_int_equal(sfs_fs_unmount(fs), 0);
	unlink(image);
}

/* fsck exited @want (and printed @tag, when given); the output otherwise. */
static inline void ns_expect_fsck(int ret, int want, const char *out, const char *what,
				  const char *tag)
{
	if (ret != want || (tag && !strstr(out, tag)))
		fprintf(stderr, "%s (want exit %d%s%s):\n%s\n", what, want, tag ? " and " : "",
			tag ? tag : "", out);
	assert_int_equal(ret, want);
	if (tag)
		assert_non_null(strstr(out, tag));
}

/* ---- the library walk ---- */

struct walk_ent {
	uint64_t ino;
	unsigned dtype;
	char name[256];
};

struct walk_list {
	struct walk_ent *v;
	size_t n, cap;
	uint64_t next;
};

static inline int walk_collect(void *ctx, const char *name, size_t len, uint64_t ino,
			       unsigned dtype, uint64_t next)
{
	struct walk_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	l->v[l->n].ino = ino;
	l->v[l->n].dtype = dtype;
	memcpy(l->v[l->n].name, name, len);
	l->v[l->n].name[len] = 0;
	l->n++;
	l->next = next;
	return 0;
}

/* Every name of @dir (dots included), in cookie order. */
static inline void list_dir(struct sfs_fs *fs, uint64_t dir, struct walk_list *l)
{
	memset(l, 0, sizeof(*l));
	assert_int_equal(sfs_readdir(fs, dir, 0, walk_collect, l), 0);
}

struct link_count {
	uint64_t ino;
	uint32_t refs, subdirs;
	bool dir;
};

static inline int lc_cmp(const void *a, const void *b)
{
	const struct link_count *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * Walk the tree from the root through the library: every directory's
 * structure checks, every ".." names the parent, every link count matches
 * the names found, and the inodes in use are exactly those reached (plus
 * the reserved ones and @extra that are held unlinked).
 */
static inline void check_tree(struct sfs_fs *fs, uint64_t extra)
{
	struct link_count *lc = NULL;
	size_t nlc = 0, cap = 0;
	uint64_t *stack = NULL;
	size_t sp = 0, scap = 0;
	struct sfs_statfs st;
	char why[512];

#define PUSH(x) do { if (sp == scap) { scap = scap ? 2 * scap : 64; \
		stack = realloc(stack, scap * sizeof(*stack)); } stack[sp++] = (x); } while (0)
	PUSH(ROOT);
	while (sp) {
		uint64_t dir = stack[--sp];
		struct walk_list l;

		if (sfs_dir_verify(fs, dir, why, sizeof(why)))
			fprintf(stderr, "%s\n", why);
		assert_int_equal(sfs_dir_verify(fs, dir, why, sizeof(why)), 0);
		list_dir(fs, dir, &l);
		assert_true(l.n >= 2);
		assert_string_equal(l.v[0].name, ".");
		assert_int_equal(l.v[0].ino, dir);
		assert_string_equal(l.v[1].name, "..");
		for (size_t i = 2; i < l.n; i++) {
			struct walk_list sub;
			struct link_count *c = NULL;

			for (size_t k = 0; k < nlc; k++)
				if (lc[k].ino == l.v[i].ino)
					c = &lc[k];
			if (!c) {
				if (nlc == cap) {
					cap = cap ? cap * 2 : 256;
					lc = realloc(lc, cap * sizeof(*lc));
				}
				c = &lc[nlc++];
				memset(c, 0, sizeof(*c));
				c->ino = l.v[i].ino;
				c->dir = l.v[i].dtype == DT_DIR;
			}
			c->refs++;
			if (l.v[i].dtype == DT_DIR) {
				assert_int_equal(c->refs, 1);   /* no hard links to directories */
				list_dir(fs, l.v[i].ino, &sub);
				assert_int_equal(sub.v[1].ino, dir);
				free(sub.v);
				PUSH(l.v[i].ino);
			}
		}
		/* the directory's own count: 2 + its subdirectories */
		{
			uint32_t subdirs = 0;

			for (size_t i = 2; i < l.n; i++)
				subdirs += l.v[i].dtype == DT_DIR;
			assert_int_equal(nlink_of(fs, dir), 2 + subdirs);
		}
		free(l.v);
	}
	for (size_t k = 0; k < nlc; k++) {
		struct sfs_attr a;

		assert_int_equal(sfs_getattr(fs, lc[k].ino, &a), 0);
		if (!lc[k].dir && a.nlink != lc[k].refs)
			fprintf(stderr, "inode %llu: nlink %u, %u names\n",
				(unsigned long long)lc[k].ino, a.nlink, lc[k].refs);
		if (!lc[k].dir)
			assert_int_equal(a.nlink, lc[k].refs);
	}
	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	/* reserved inodes 1..10 (the root and the orphan file among them) */
	assert_int_equal(st.files - st.ffree, 10 + nlc + extra);
	free(lc);
	free(stack);
#undef PUSH
}

#endif
