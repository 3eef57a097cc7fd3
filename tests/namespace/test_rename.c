/*
 * rename and renameat2's flags through the public API, edge cases first:
 * onto itself, a directory into its own subtree, an exchange of a file and
 * a directory across parents, NOREPLACE onto an existing name, and every
 * refusal with Linux's error; the tree check and fsck after each test.
 */
#include "ns_helpers.h"

const char *fsck_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "nsrename");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->fs) {
		check_tree(e->fs, 0);
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	}
	assert_fsck_clean(e->path);
	unlink(e->path);
	free(e);
	return 0;
}

static void test_rename_onto_itself_does_nothing(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	uint64_t d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);

	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "f", 0), 0);
	assert_int_equal(sfs_rename(e->fs, ROOT, "d", ROOT, "d", 0), 0);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "f", SFS_RENAME_EXCHANGE), 0);
	/* NOREPLACE onto itself: the name exists. */
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "f", SFS_RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(look(e->fs, ROOT, "f"), f);
	assert_int_equal(look(e->fs, ROOT, "d"), d);
	assert_int_equal(nlink_of(e->fs, f), 1);
}

static void test_directory_into_its_own_subtree_is_einval(void **state)
{
	struct env *e = *state;
	uint64_t a = mk(e->fs, ROOT, "a", S_IFDIR | 0755);
	uint64_t b = mk(e->fs, a, "b", S_IFDIR | 0755);
	uint64_t c = mk(e->fs, b, "c", S_IFDIR | 0755);

	assert_int_equal(sfs_rename(e->fs, ROOT, "a", a, "x", 0), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, ROOT, "a", c, "x", 0), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, a, "b", c, "x", 0), -EINVAL);
	/* Exchanging a directory with something below it is the same move. */
	assert_int_equal(sfs_rename(e->fs, ROOT, "a", b, "c", SFS_RENAME_EXCHANGE), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, b, "c", ROOT, "a", SFS_RENAME_EXCHANGE), -EINVAL);
	/* Onto an ancestor of the source: that target is not empty. */
	assert_int_equal(sfs_rename(e->fs, b, "c", ROOT, "a", 0), -ENOTEMPTY);
	assert_int_equal(sfs_rename(e->fs, b, "c", a, "b", 0), -ENOTEMPTY);
	/* Upwards is fine. */
	assert_int_equal(sfs_rename(e->fs, b, "c", ROOT, "c", 0), 0);
	assert_int_equal(look(e->fs, c, ".."), ROOT);
	assert_int_equal(nlink_of(e->fs, b), 2);
	assert_int_equal(nlink_of(e->fs, ROOT), 4);
}

static void test_exchange_of_a_file_and_a_directory(void **state)
{
	struct env *e = *state;
	uint64_t p1 = mk(e->fs, ROOT, "p1", S_IFDIR | 0755);
	uint64_t p2 = mk(e->fs, ROOT, "p2", S_IFDIR | 0755);
	uint64_t f = mk(e->fs, p1, "x", S_IFREG | 0644);
	uint64_t d = mk(e->fs, p2, "y", S_IFDIR | 0755);
	struct walk_list l;

	mk(e->fs, d, "inside", S_IFREG | 0644);
	assert_int_equal(nlink_of(e->fs, p1), 2);
	assert_int_equal(nlink_of(e->fs, p2), 3);
	assert_int_equal(sfs_rename(e->fs, p1, "x", p2, "y", SFS_RENAME_EXCHANGE), 0);
	assert_int_equal(look(e->fs, p1, "x"), d);
	assert_int_equal(look(e->fs, p2, "y"), f);
	assert_int_equal(look(e->fs, d, ".."), p1);
	assert_int_equal(nlink_of(e->fs, p1), 3);
	assert_int_equal(nlink_of(e->fs, p2), 2);
	list_dir(e->fs, p1, &l);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[2].dtype, DT_DIR);
	free(l.v);
	list_dir(e->fs, p2, &l);
	assert_int_equal(l.v[2].dtype, DT_REG);
	free(l.v);
	/* Within one directory too, and back. */
	assert_int_equal(sfs_rename(e->fs, p1, "x", p2, "y", SFS_RENAME_EXCHANGE), 0);
	mk(e->fs, p2, "z", S_IFREG | 0644);
	assert_int_equal(sfs_rename(e->fs, p2, "y", p2, "z", SFS_RENAME_EXCHANGE), 0);
	assert_int_equal(look(e->fs, p2, "z"), d);
	assert_int_equal(sfs_rename(e->fs, p2, "nothing", p2, "z", SFS_RENAME_EXCHANGE), -ENOENT);
	assert_int_equal(sfs_rename(e->fs, p2, "z", p2, "nothing", SFS_RENAME_EXCHANGE), -ENOENT);
}

static void test_noreplace_and_the_refusals(void **state)
{
	struct env *e = *state;
	uint64_t f = mk(e->fs, ROOT, "f", S_IFREG | 0644);
	uint64_t g = mk(e->fs, ROOT, "g", S_IFREG | 0644);
	uint64_t d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	uint64_t full = mk(e->fs, ROOT, "full", S_IFDIR | 0755);
	uint64_t empty = mk(e->fs, ROOT, "empty", S_IFDIR | 0755);
	struct sfs_attr a;

	mk(e->fs, full, "x", S_IFREG | 0644);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "g", SFS_RENAME_NOREPLACE), -EEXIST);
	assert_int_equal(look(e->fs, ROOT, "f"), f);
	assert_int_equal(look(e->fs, ROOT, "g"), g);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "h", SFS_RENAME_NOREPLACE), 0);
	assert_int_equal(sfs_rename(e->fs, ROOT, "h", ROOT, "f", 0), 0);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "g",
				    SFS_RENAME_NOREPLACE | SFS_RENAME_EXCHANGE), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "g", SFS_RENAME_WHITEOUT), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "g", 0x80), -EINVAL);
	assert_int_equal(sfs_rename(e->fs, ROOT, "nothing", ROOT, "g", 0), -ENOENT);
	assert_int_equal(sfs_rename(e->fs, ROOT, "d", ROOT, "f", 0), -ENOTDIR);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "d", 0), -EISDIR);
	assert_int_equal(sfs_rename(e->fs, ROOT, "d", ROOT, "full", 0), -ENOTEMPTY);
	assert_int_equal(sfs_rename(e->fs, ROOT, ".", ROOT, "x", 0), -EBUSY);
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "..", 0), -EBUSY);
	assert_int_equal(sfs_rename(e->fs, f, "x", ROOT, "y", 0), -ENOTDIR);
	{
		char name[300];

		memset(name, 'n', sizeof(name));
		name[256] = 0;
		assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, name, 0), -ENAMETOOLONG);
	}
	/* A directory over an empty one: it goes, the link counts follow. */
	assert_int_equal(nlink_of(e->fs, ROOT), 5);
	assert_int_equal(sfs_rename(e->fs, ROOT, "d", ROOT, "empty", 0), 0);
	assert_int_equal(sfs_getattr(e->fs, empty, &a), -ENOENT);
	assert_int_equal(look(e->fs, ROOT, "empty"), d);
	assert_int_equal(nlink_of(e->fs, ROOT), 4);
	/* Over a file: it goes. */
	assert_int_equal(sfs_rename(e->fs, ROOT, "f", ROOT, "g", 0), 0);
	assert_int_equal(sfs_getattr(e->fs, g, &a), -ENOENT);
	assert_int_equal(look(e->fs, ROOT, "g"), f);
	assert_int_equal(look(e->fs, ROOT, "f"), 0);
}

/* Renames between every pair of a few directories, checked against a
 * simple model of which name is where. */
static void test_many_renames_keep_the_tree_consistent(void **state)
{
	struct env *e = *state;
	uint64_t dirs[4], files[16];
	unsigned where[16];
	char name[32], name2[32];
	unsigned rs = 7;

	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		dirs[i] = mk(e->fs, i ? dirs[i - 1] : ROOT, name, S_IFDIR | 0755);
	}
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		files[i] = mk(e->fs, dirs[i % 4], name, S_IFREG | 0644);
		where[i] = i % 4;
	}
	for (int step = 0; step < 400; step++) {
		unsigned i, to;

		rs = rs * 1103515245u + 12345u;
		i = (rs >> 8) % 16;
		to = (rs >> 16) % 4;
		if (to == where[i])
			to = (to + 1) % 4;
		snprintf(name, sizeof(name), "f%u", i);
		snprintf(name2, sizeof(name2), "f%u", i);
		assert_int_equal(sfs_rename(e->fs, dirs[where[i]], name, dirs[to], name2,
					    SFS_RENAME_NOREPLACE), 0);
		where[i] = to;
	}
	for (int i = 0; i < 16; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		assert_int_equal(look(e->fs, dirs[where[i]], name), files[i]);
	}
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_rename_onto_itself_does_nothing),
		T(test_directory_into_its_own_subtree_is_einval),
		T(test_exchange_of_a_file_and_a_directory),
		T(test_noreplace_and_the_refusals),
		T(test_many_renames_keep_the_tree_consistent),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
