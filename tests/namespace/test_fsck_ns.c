/*
 * fsck's namespace passes find every corruption they claim to find: each
 * test builds a small tree through the library, checks that fsck is clean,
 * injects one corruption with scopefs-db (the namespace commands), and
 * expects fsck -n to report the problem's code, fsck -y to repair it when
 * the table says it can (exit 1, then clean), or to leave it (exit 4).
 */
#include "ns_helpers.h"
#include "fs/super.h"

const char *fsck_path;
static const char *db_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
	uint64_t d, f, h, g, big;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct sfs_attr a;
	char name[32], val[100];

	scratch_path(e->path, sizeof(e->path), "nsfsck");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	e->d = mk(e->fs, ROOT, "d", S_IFDIR | 0755);
	e->f = mk(e->fs, e->d, "f", S_IFREG | 0644);
	assert_int_equal(sfs_link(e->fs, e->f, e->d, "h", 0, &a), 0);
	e->g = mk(e->fs, ROOT, "g", S_IFREG | 0644);
	memset(val, 'v', sizeof(val));
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "user.a%d", i);
		assert_int_equal(sfs_setxattr(e->fs, e->g, name, val, sizeof(val), 0), 0);
	}
	e->big = mk(e->fs, ROOT, "big", S_IFDIR | 0755);
	mk_many(e->fs, e->big, "name", 400);
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

/* fsck -n finds @code; -y fixes it (exit 1, then clean) or, when
 * @fixable is false, leaves it (exit 4). */
static void expect(struct env *e, const char *code, bool fixable)
{
	char out[16384], tag[16];

	snprintf(tag, sizeof(tag), "[%s]", code);
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -n", tag);
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), fixable ? 1 : 4, out, "fsck -y",
		       NULL);
	if (!fixable)
		return;
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 0, out, "fsck -n after the repair",
		       NULL);
	/* And the library agrees (the mount has finished the orphan file). */
	e->fs = mount_opts(e->path, NULL);
	check_tree(e->fs, 0);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
}

static void test_entry_naming_a_free_inode(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "h", "ino", "14000");
	/* Removing it leaves f with one name: its count follows. */
	expect(e, "D03", true);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(nlink_of(e->fs, e->f), 1);
}

static void test_entry_with_the_wrong_type(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "f", "type", "2");
	expect(e, "D04", true);
}

static void test_wrong_names_count(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirindex", "/big", "0", "names", "5");
	expect(e, "D02", true);
}

static void test_index_key_out_of_shape(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirindex", "/big", "0", "key", "1", "1");
	expect(e, "D01", false);
}

static void test_entry_key_not_its_names(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "f", "key", "12345");
	/* The block is salvaged without it: f keeps its other name, h. */
	expect(e, "D07", true);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(nlink_of(e->fs, e->f), 1);
}

static void test_dotdot_naming_another_directory(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "..", "ino", num(e->big));
	expect(e, "D06", true);
}

static void test_wrong_link_count(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", num(e->f), "nlink", "5");
	expect(e, "L01", true);
	NS_DB(db_path, e->path, "set-inode", num(e->d), "nlink", "7");
	expect(e, "L01", true);
}

static void test_unattached_inode(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	/* Reconnected to a new /lost+found (test_fsck_lost_found.c has the
	 * rest). */
	expect(e, "L02", true);
}

static void test_damaged_inline_xattrs(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", num(e->g), "inline_xattr_len", "7");
	expect(e, "X01", true);
}

static void test_orphan_flag_without_a_slot(void **state)
{
	struct env *e = *state;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", num(e->f), "flags", num(SFS_INODE_FL_ORPHAN));
	expect(e, "O05", true);
}

static void test_orphan_file_the_superblock_misnames(void **state)
{
	struct env *e = *state;
	struct sfs_attr a;

	/* An orphan file exists once something was unlinked. */
	assert_int_equal(sfs_unlink(e->fs, ROOT, "g"), 0);
	(void)a;
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-sb", "orphan_head", "5");
	expect(e, "O01", true);
}

/* A valid slot: an unlinked, held file at a power cut, recovered by a
 * mount that does not replay orphans. */
static void pending_orphan(struct env *e)
{
	struct sfs_attr a;

	assert_int_equal(sfs_lookup(e->fs, ROOT, "g", SFS_NS_HOLD, &a), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "g"), 0);
	/* Committed and written home (the log is empty), then the power
	 * goes: no mount may see the image, it would finish the orphan.
	 * fsck -p clears the needs-recovery flag the log no longer needs. */
	assert_int_equal(sfs_fs_sync(e->fs), 0);
	sfs_bdev_power_cut(e->fs->bdev);
	sfs_fs_unmount(e->fs);
	e->fs = NULL;
	{
		char out[16384];
		int ret = ns_fsck(e->path, "-fp", out, sizeof(out));

		if (ret > 1)
			fprintf(stderr, "fsck -p:\n%s\n", out);
		assert_true(ret <= 1);
	}
}

static void test_orphan_slot_with_the_wrong_xattr_block(void **state)
{
	struct env *e = *state;
	char out[16384];

	pending_orphan(e);
	/* A pending orphan is no problem: the next mount finishes it. */
	assert_int_equal(ns_fsck(e->path, "-fn", out, sizeof(out)), 0);
	NS_DB(db_path, e->path, "set-orphan", "0", "xattr_block", "0");
	expect(e, "O04", true);
}

static void test_stale_slot_keeping_a_block_in_use(void **state)
{
	struct env *e = *state;
	struct sfs_attr a;
	struct sfs_map m;
	unsigned n;

	/* Unmount releases the hold and frees g with its slot; the slot is
	 * then made stale by hand: naming g's free number and keeping a
	 * block. */
	assert_int_equal(sfs_lookup(e->fs, ROOT, "g", SFS_NS_HOLD, &a), 0);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "g"), 0);
	{
		uint64_t f2 = mk(e->fs, ROOT, "data", S_IFREG | 0644);
		char buf[4096] = { 1 };

		assert_int_equal(sfs_write(e->fs, f2, buf, sizeof(buf), 0, 0, me()), 4096);
		assert_int_equal(sfs_extent_map(e->fs, f2, 0, 1, &m, 1, &n), 0);
	}
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = NULL;
	NS_DB(db_path, e->path, "set-orphan", "0", "ino", num(a.ino));
	NS_DB(db_path, e->path, "set-orphan", "0", "xattr_block", num(m.pblk));
	expect(e, "O06", true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_entry_naming_a_free_inode),
		T(test_entry_with_the_wrong_type),
		T(test_wrong_names_count),
		T(test_index_key_out_of_shape),
		T(test_entry_key_not_its_names),
		T(test_dotdot_naming_another_directory),
		T(test_wrong_link_count),
		T(test_unattached_inode),
		T(test_damaged_inline_xattrs),
		T(test_orphan_flag_without_a_slot),
		T(test_orphan_file_the_superblock_misnames),
		T(test_orphan_slot_with_the_wrong_xattr_block),
		T(test_stale_slot_keeping_a_block_in_use),
#undef T
	};
	int ret;

	if (ns_db_main_init(argc, argv, &db_path))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
