/*
 * fsck reconnects what the root does not reach to /lost+found: a file or a
 * directory whose name is gone, a cycle of directories, hundreds of files
 * at once (lost+found grows), with lost+found made when it is missing (in
 * a linear or an indexed root) or used when it exists (linear or
 * indexed).  Every repair must leave an image the
 * next fsck -fy and -fn find clean and the library walks whole; a
 * lost+found that cannot take names is reported and the inode left as it
 * was, errors remaining.
 */
#include "ns_helpers.h"
#include "fs/super.h"

const char *fsck_path;
static const char *db_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
	uint64_t d, f, g;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sfs_attr a;

	scratch_path(e->path, sizeof(e->path), "nslf");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	e->d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	e->f = mk(e->fs, e->d, "f", S_IFREG | 0644);
	assert_int_equal(sfs_link(e->fs, e->f, e->d, "h", 0, &a), 0);
	mk(e->fs, e->d, "sub", S_IFDIR | 0755);
	e->g = mk(e->fs, ROOT, "g", S_IFREG | 0644);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->fs)
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	unlink(e->path);
	free(e);
	return 0;
}

static int fsck_run(struct env *e, const char *mode, char *out, size_t len)
{
	char *argv[] = { (char *)fsck_path, (char *)mode, e->path, NULL };

	return run_tool(out, len, argv);
}

static void db(struct env *e, const char *a1, const char *a2, const char *a3, const char *a4,
	       const char *a5)
{
	char *argv[] = { (char *)db_path, "-w", e->path, (char *)a1, (char *)a2, (char *)a3,
			 (char *)a4, (char *)a5, NULL };
	char out[4096];
	int ret = run_tool(out, sizeof(out), argv);

	if (ret)
		fprintf(stderr, "db %s: %s\n", a1, out);
	assert_int_equal(ret, 0);
}

static const char *num(uint64_t v)
{
	static char buf[8][32];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%llu", (unsigned long long)v);
	return buf[i];
}

static void unmount_clean(struct env *e)
{
	char out[16384];
	int ret;

	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	ret = fsck_run(e, "-fn", out, sizeof(out));
	if (ret)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(ret, 0);
}

static void expect_code(int ret, int want, const char *out, const char *what, const char *tag)
{
	if (ret != want || (tag && !strstr(out, tag)))
		fprintf(stderr, "%s (want exit %d%s%s):\n%s\n", what, want, tag ? " and " : "",
			tag ? tag : "", out);
	assert_int_equal(ret, want);
	if (tag)
		assert_non_null(strstr(out, tag));
}

/* -n finds @code and changes nothing; -y repairs (exit 1); then -fy and
 * -fn are clean; then the library walks the whole tree, every inode in
 * use reached.  Returns lost+found's inode. */
static uint64_t expect_reconnected(struct env *e, const char *code)
{
	char out[16384], tag[16];
	struct sfs_attr a;
	uint64_t lf;

	snprintf(tag, sizeof(tag), "[%s]", code);
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 4, out, "fsck -fn", tag);
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 4, out, "fsck -fn again", tag);
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 1, out, "fsck -fy", tag);
	assert_non_null(strstr(out, "Connect it to /lost+found? yes"));
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 0, out, "second fsck -fy", NULL);
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 0, out, "fsck -fn after", NULL);
	e->fs = mount_opts(e->path, NULL);
	check_tree(e->fs, 0);
	lf = look(e->fs, ROOT, "lost+found");
	assert_int_not_equal(lf, 0);
	assert_int_equal(sfs_getattr(e->fs, lf, &a), 0);
	assert_true(S_ISDIR(a.mode));
	return lf;
}

static void test_file_without_a_name(void **state)
{
	struct env *e = *state;
	char name[32];
	struct sfs_attr a;
	uint64_t lf;

	unmount_clean(e);
	db(e, "set-dirent", "/", "g", "ino", "0");
	lf = expect_reconnected(e, "L02");
	/* Made fresh: root's, 0700, two links plus nothing below. */
	assert_int_equal(sfs_getattr(e->fs, lf, &a), 0);
	assert_int_equal(a.mode & 07777, 0700);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.nlink, 2);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->g);
	assert_int_equal(look(e->fs, lf, name), e->g);
	assert_int_equal(nlink_of(e->fs, e->g), 1);
	assert_int_equal(nlink_of(e->fs, ROOT), 4);   /* d, lost+found */
}

static void test_directory_with_children_without_a_name(void **state)
{
	struct env *e = *state;
	char name[32];
	uint64_t lf, d;
	struct walk_list l;

	unmount_clean(e);
	db(e, "set-dirent", "/", "d", "ino", "0");
	lf = expect_reconnected(e, "L03");
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->d);
	d = look(e->fs, lf, name);
	assert_int_equal(d, e->d);
	/* Its names came with it; its ".." names lost+found. */
	assert_int_equal(look(e->fs, d, "f"), e->f);
	assert_int_equal(look(e->fs, d, "h"), e->f);
	assert_int_equal(nlink_of(e->fs, e->f), 2);
	list_dir(e->fs, d, &l);
	assert_int_equal(l.v[1].ino, lf);
	free(l.v);
	assert_int_equal(nlink_of(e->fs, lf), 3);
	assert_int_equal(nlink_of(e->fs, ROOT), 3);   /* lost+found only */
}

/*
 * /a/b/c: c's name in b is pointed at a, and a's name in the root is
 * cleared.  a and b then name each other and nothing reaches them; c has
 * no name.  One member of the cycle is cut out and reconnected, once.
 */
static void test_cycle_of_two_directories(void **state)
{
	struct env *e = *state;
	uint64_t a, b, c, lf, la, lc;
	char name[32];
	char out[16384];

	a = mk(e->fs, ROOT, "a", S_IFDIR | 0755);
	b = mk(e->fs, a, "b", S_IFDIR | 0755);
	c = mk(e->fs, b, "c", S_IFDIR | 0755);
	mk(e->fs, b, "file", S_IFREG | 0644);
	unmount_clean(e);
	db(e, "set-dirent", "/a/b", "c", "ino", num(a));
	db(e, "set-dirent", "/", "a", "ino", "0");
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "cycle");
	lf = expect_reconnected(e, "L03");
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)a);
	la = look(e->fs, lf, name);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)c);
	lc = look(e->fs, lf, name);
	assert_int_equal(la, a);
	assert_int_equal(lc, c);
	/* b stays a's, and names a no more. */
	assert_int_equal(look(e->fs, a, "b"), b);
	assert_int_equal(look(e->fs, b, "c"), 0);
	assert_int_not_equal(look(e->fs, b, "file"), 0);
	assert_int_equal(nlink_of(e->fs, b), 2);
	assert_int_equal(nlink_of(e->fs, a), 3);
	assert_int_equal(nlink_of(e->fs, lf), 4);
}

static void test_existing_lost_found_is_used(void **state)
{
	struct env *e = *state;
	uint64_t lf, lf2;
	char name[32];

	lf = mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	mk(e->fs, lf, "kept", S_IFREG | 0644);
	unmount_clean(e);
	db(e, "set-dirent", "/", "g", "ino", "0");
	lf2 = expect_reconnected(e, "L02");
	assert_int_equal(lf2, lf);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->g);
	assert_int_equal(look(e->fs, lf, name), e->g);
	assert_int_not_equal(look(e->fs, lf, "kept"), 0);
}

/* An indexed lost+found: the name goes where the index puts it. */
static void test_indexed_lost_found(void **state)
{
	struct env *e = *state;
	uint64_t lf;
	char name[32];

	lf = mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "old-%d", i);
		mk(e->fs, lf, name, S_IFREG | 0644);
	}
	unmount_clean(e);
	db(e, "set-dirent", "/d", "sub", "ino", "0");
	assert_int_equal(expect_reconnected(e, "L03"), lf);
}

/*
 * A directory's record fails its checksum and is cleared: its 300 files
 * lose their names at once.  lost+found, made with one block, grows as
 * the library grows a directory (indexed, entry blocks split).
 */
static void test_many_files_grow_lost_found(void **state)
{
	struct env *e = *state;
	struct walk_list l;
	uint64_t many, lf;
	char name[32];

	many = mk(e->fs, ROOT, "many", S_IFDIR | 0755);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "file-%d", i);
		mk(e->fs, many, name, S_IFREG | 0644);
	}
	unmount_clean(e);
	db(e, "set-inode", num(many), "generation", "777", "nocsum");
	lf = expect_reconnected(e, "L02");
	list_dir(e->fs, lf, &l);
	assert_int_equal(l.n, 2 + 300);
	free(l.v);
	assert_int_equal(look(e->fs, ROOT, "many"), 0);
}

/* Removed before the damage: made again, in a root that is indexed. */
static void test_lost_found_removed_before(void **state)
{
	struct env *e = *state;
	uint64_t old, lf;
	char name[32];
	char out[16384];

	old = mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "root-%d", i);
		mk(e->fs, ROOT, name, S_IFREG | 0644);
	}
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "lost+found"), 0);
	unmount_clean(e);
	db(e, "set-dirent", "/", "g", "ino", "0");
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 1, out, "fsck -fy", "[L06]");
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 0, out, "second fsck -fy", NULL);
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 0, out, "fsck -fn after", NULL);
	e->fs = mount_opts(e->path, NULL);
	check_tree(e->fs, 0);
	lf = look(e->fs, ROOT, "lost+found");
	assert_int_not_equal(lf, 0);
	(void)old;
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->g);
	assert_int_equal(look(e->fs, lf, name), e->g);
}

/* A regular file named lost+found: reported, nothing reconnected, no
 * crash, errors remain -- the same on the next run. */
static void test_lost_found_is_a_file(void **state)
{
	struct env *e = *state;
	char out[16384];

	mk(e->fs, ROOT, "lost+found", S_IFREG | 0644);
	unmount_clean(e);
	db(e, "set-dirent", "/", "g", "ino", "0");
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 4, out, "fsck -fy", "[L07]");
	assert_non_null(strstr(out, "[L02]"));
	assert_non_null(strstr(out, "UNCORRECTED ERRORS REMAIN"));
	expect_code(fsck_run(e, "-fy", out, sizeof(out)), 4, out, "second fsck -fy", "[L07]");
	expect_code(fsck_run(e, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "[L02]");
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(look(e->fs, ROOT, "g"), 0);
	assert_int_equal(nlink_of(e->fs, e->g), 1);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_file_without_a_name),
		T(test_directory_with_children_without_a_name),
		T(test_cycle_of_two_directories),
		T(test_existing_lost_found_is_used),
		T(test_indexed_lost_found),
		T(test_many_files_grow_lost_found),
		T(test_lost_found_removed_before),
		T(test_lost_found_is_a_file),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	db_path = argc > 2 ? argv[2] : NULL;
	if (!db_path) {
		fprintf(stderr, "usage: %s FSCK DB\n", argv[0]);
		return 1;
	}
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
