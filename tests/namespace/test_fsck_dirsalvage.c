/*
 * fsck salvages damaged entry blocks (D07) as e2fsck's pass 2 does: the
 * records that are each valid stay, the rest are dropped, and the inodes
 * that lose their names this way are reconnected to /lost+found.  Each
 * repair must leave an image the next fsck -fy and -fn find clean and the
 * library walks whole.
 */
#include "ns_helpers.h"
#include "fs/super.h"

const char *fsck_path;
static const char *db_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
	uint64_t d, f, x;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "nsds");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	e->d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	e->f = mk(e->fs, e->d, "f", S_IFREG | 0644);
	e->x = mk(e->fs, e->d, "x", S_IFREG | 0644);
	mk(e->fs, e->d, "sub", S_IFDIR | 0755);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	ns_image_done(e->fs, e->path);
	free(e);
	return 0;
}

/* -n finds the damage (D07) and changes nothing; -y salvages it and
 * reconnects what lost its name; the next -fy and -fn are clean and the
 * library walks the whole tree.  Returns lost+found. */
static uint64_t expect_salvaged(struct env *e)
{
	static char out[1 << 17];
	uint64_t lf;

	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "[D07]");
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn again", "[D07]");
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 1, out, "fsck -fy", "[D07]");
	assert_non_null(strstr(out, "Connect it to /lost+found? yes"));
	assert_null(strstr(out, "[D01]"));
	assert_null(strstr(out, "[L05]"));
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 0, out, "second fsck -fy", NULL);
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 0, out, "fsck -fn after", NULL);
	e->fs = mount_opts(e->path, NULL);
	check_tree(e->fs, 0);
	lf = look(e->fs, ROOT, "lost+found");
	assert_int_not_equal(lf, 0);
	return lf;
}

/* One record of a linear directory's block is broken (checksum resealed,
 * so the structure check finds it): the others stay, its inode is
 * reconnected. */
static void test_one_bad_entry(void **state)
{
	struct env *e = *state;
	char name[32];
	uint64_t lf;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "x", "name_len", "0");
	lf = expect_salvaged(e);
	assert_int_equal(look(e->fs, e->d, "f"), e->f);
	assert_int_not_equal(look(e->fs, e->d, "sub"), 0);
	assert_int_equal(look(e->fs, e->d, "x"), 0);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->x);
	assert_int_equal(look(e->fs, lf, name), e->x);
	assert_int_equal(nlink_of(e->fs, e->x), 1);
}

/* An indexed directory's entry block zeroed: an empty entry block takes
 * its place (the index still names it), the root's count follows, and
 * every name it held is reconnected. */
static void test_leaf_wiped(void **state)
{
	struct env *e = *state;
	struct walk_list l, lfl;
	struct sfs_map m;
	uint64_t big, lf;
	unsigned n;

	big = mk(e->fs, ROOT, "big", S_IFDIR | 0755);
	mk_many(e->fs, big, "file", 300);
	assert_int_equal(sfs_extent_map(e->fs, big, 1, 1, &m, 1, &n), 0);
	assert_int_equal(n, 1);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "zero", num(m.pblk + 1 - m.lblk));
	lf = expect_salvaged(e);
	list_dir(e->fs, big, &l);
	list_dir(e->fs, lf, &lfl);
	/* "." and ".." in both. */
	assert_true(l.n - 2 < 300);
	assert_int_equal(l.n - 2 + lfl.n - 2, 300);
	free(l.v);
	free(lfl.v);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_one_bad_entry),
		T(test_leaf_wiped),
#undef T
	};
	int ret;

	if (ns_db_main_init(argc, argv, &db_path))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
