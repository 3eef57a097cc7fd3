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

	ns_image_done(e->fs, e->path);
	free(e);
	return 0;
}

/* Pass 3's problems: bitmaps (B01..B06) and the superblock's counts. */
static const char *const pass3_codes[] = {
	"[B01]", "[B02]", "[B03]", "[B04]", "[B05]", "[B06]", "[S05]", "[S06]",
};

/* fsck -fy's @out, after a repair that made or grew lost+found on an
 * image whose bitmaps and counts were right: what fsck took itself is
 * accounted, so pass 3 finds nothing. */
static void expect_pass3_quiet(const char *out)
{
	for (size_t i = 0; i < sizeof(pass3_codes) / sizeof(pass3_codes[0]); i++) {
		if (strstr(out, pass3_codes[i]))
			fprintf(stderr, "pass 3 reported %s:\n%s\n", pass3_codes[i], out);
		assert_null(strstr(out, pass3_codes[i]));
	}
}

/* The bitmap differences in @out (B03, B04), each line up to its
 * question, into @lines. */
static void bitmap_findings(const char *out, char *lines, size_t len)
{
	const char *p = out;
	size_t used = 0;

	lines[0] = 0;
	while ((p = strstr(p, "[B0"))) {
		const char *q = strchr(p, '?');

		assert_non_null(q);
		if (p[3] == '3' || p[3] == '4')
			used += (size_t)snprintf(lines + used, used < len ? len - used : 0, "%.*s\n",
						 (int)(q - p), p);
		p = q;
	}
	assert_true(used < len);
}

/* Damage that cleared inode @cleared leaves real bitmap findings: its
 * bit marked in use, reported (fsck takes no leaked slot while another
 * is free), and nothing of what fsck took itself, which would be among
 * them as "+" (in use, marked free). */
static void expect_no_own_bits(const char *out, uint64_t cleared)
{
	char lines[8192], bit[32];

	bitmap_findings(out, lines, sizeof(lines));
	snprintf(bit, sizeof(bit), ": -%llu.", (unsigned long long)cleared);
	if (strstr(lines, " +") || !strstr(lines, bit))
		fprintf(stderr, "want %s, no \"+\":\n%s\n", bit, out);
	assert_null(strstr(lines, " +"));
	assert_non_null(strstr(lines, bit));
}

/* After a repair: the next -fy and -fn are clean, the library walks the
 * whole tree, every inode in use reached.  Returns lost+found's inode,
 * a directory. */
static uint64_t expect_clean_after(struct env *e)
{
	char out[16384];
	struct sfs_attr a;
	uint64_t lf;

	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 0, out, "second fsck -fy", NULL);
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 0, out, "fsck -fn after", NULL);
	e->fs = mount_opts(e->path, NULL);
	check_tree(e->fs, 0);
	lf = look(e->fs, ROOT, "lost+found");
	assert_int_not_equal(lf, 0);
	assert_int_equal(sfs_getattr(e->fs, lf, &a), 0);
	assert_true(S_ISDIR(a.mode));
	return lf;
}

/* -n finds @code and changes nothing; -y repairs (exit 1) with pass 3
 * quiet (but for inode @cleared's bits, when the damage cleared one);
 * then expect_clean_after. */
static uint64_t expect_reconnected(struct env *e, const char *code, uint64_t cleared)
{
	/* Room for pass 3's lines after hundreds of reconnections. */
	static char out[1 << 17];
	char tag[16];

	snprintf(tag, sizeof(tag), "[%s]", code);
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", tag);
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn again", tag);
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 1, out, "fsck -fy", tag);
	assert_non_null(strstr(out, "Connect it to /lost+found? yes"));
	if (cleared)
		expect_no_own_bits(out, cleared);
	else
		expect_pass3_quiet(out);
	return expect_clean_after(e);
}

static void test_file_without_a_name(void **state)
{
	struct env *e = *state;
	char name[32];
	struct sfs_attr a;
	uint64_t lf;

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	lf = expect_reconnected(e, "L02", 0);
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

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "d", "ino", "0");
	lf = expect_reconnected(e, "L03", 0);
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
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/a/b", "c", "ino", num(a));
	NS_DB(db_path, e->path, "set-dirent", "/", "a", "ino", "0");
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "cycle");
	lf = expect_reconnected(e, "L03", 0);
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
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	lf2 = expect_reconnected(e, "L02", 0);
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

	lf = mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	mk_many(e->fs, lf, "old", 300);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/d", "sub", "ino", "0");
	assert_int_equal(expect_reconnected(e, "L03", 0), lf);
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

	many = mk(e->fs, ROOT, "many", S_IFDIR | 0755);
	mk_many(e->fs, many, "file", 300);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", num(many), "generation", "777", "nocsum");
	lf = expect_reconnected(e, "L02", many);
	list_dir(e->fs, lf, &l);
	assert_int_equal(l.n, 2 + 300);
	free(l.v);
	assert_int_equal(look(e->fs, ROOT, "many"), 0);
}

/* Removed before the damage: made again, in a root that is indexed. */
static void test_lost_found_removed_before(void **state)
{
	struct env *e = *state;
	uint64_t lf;
	char name[32];
	char out[16384];

	mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	mk_many(e->fs, ROOT, "root", 300);
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "lost+found"), 0);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 1, out, "fsck -fy", "[L06]");
	expect_pass3_quiet(out);
	lf = expect_clean_after(e);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->g);
	assert_int_equal(look(e->fs, lf, name), e->g);
}

/*
 * lost+found is made while the bitmaps hold real damage: a block and an
 * inode marked in use that nothing owns.  -fy reports those bits exactly
 * as -fn does, and nothing of the inode and block fsck took itself.
 */
static void test_real_bitmap_damage_still_reported(void **state)
{
	struct env *e = *state;
	char out[16384], before[2048], after[2048];

	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	NS_DB(db_path, e->path, "flip-bit", "block", "0", "12000");
	NS_DB(db_path, e->path, "flip-bit", "inode", "0", "500");
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "[B03]");
	bitmap_findings(out, before, sizeof(before));
	assert_non_null(strstr(before, "[B04]"));
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 1, out, "fsck -fy", "[L06]");
	bitmap_findings(out, after, sizeof(after));
	if (strcmp(before, after))
		fprintf(stderr, "-fn found:\n%s-fy found:\n%s\n", before, after);
	assert_string_equal(after, before);
	assert_null(strstr(out, "[B06]"));
	assert_null(strstr(out, "[S05]"));
	assert_null(strstr(out, "[S06]"));
	expect_clean_after(e);
}

static void long_name(char *buf, size_t len, int i)
{
	snprintf(buf, len, "%0200d", i);
}

/* @n unnamed inodes (scopefs-db's create), one db run. */
static void create_unnamed(struct env *e, int n)
{
	char cmd[1024];
	FILE *db;

	snprintf(cmd, sizeof(cmd), "'%s' -w '%s' >/dev/null", db_path, e->path);
	db = popen(cmd, "w");
	assert_non_null(db);
	for (int i = 0; i < n; i++)
		fputs("create\n", db);
	assert_int_equal(pclose(db), 0);
}

/*
 * An existing lost+found whose one block holds as many long names as the
 * library fits in a block before it grows a directory takes 20 unnamed
 * inodes: it grows (indexed, new blocks fsck takes), and pass 3 reports
 * nothing of them.
 */
static void test_full_lost_found_grows_quietly(void **state)
{
	struct env *e = *state;
	uint32_t bsize = 1u << 12;
	char name[256];
	struct walk_list l;
	struct sfs_attr a;
	uint64_t probe, lf;
	int fits;

	probe = mk(e->fs, ROOT, "probe", S_IFDIR | 0755);
	for (fits = 0;; fits++) {
		long_name(name, sizeof(name), fits);
		mk(e->fs, probe, name, S_IFREG | 0644);
		assert_int_equal(sfs_getattr(e->fs, probe, &a), 0);
		if (a.size > bsize)
			break;
	}
	lf = mk(e->fs, ROOT, "lost+found", S_IFDIR | 0700);
	for (int i = 0; i < fits; i++) {
		long_name(name, sizeof(name), i);
		mk(e->fs, lf, name, S_IFREG | 0644);
	}
	assert_int_equal(sfs_getattr(e->fs, lf, &a), 0);
	assert_int_equal(a.size, bsize);
	unmount_clean(&e->fs, e->path);
	create_unnamed(e, 20);
	assert_int_equal(expect_reconnected(e, "L02", 0), lf);
	assert_int_equal(sfs_getattr(e->fs, lf, &a), 0);
	assert_true(a.size > bsize);
	list_dir(e->fs, lf, &l);
	assert_int_equal(l.n, 2 + (size_t)fits + 20);
	free(l.v);
}

/* A regular file named lost+found: reported, nothing reconnected, no
 * crash, errors remain -- the same on the next run. */
static void test_lost_found_is_a_file(void **state)
{
	struct env *e = *state;
	char out[16384];

	mk(e->fs, ROOT, "lost+found", S_IFREG | 0644);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-dirent", "/", "g", "ino", "0");
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 4, out, "fsck -fy", "[L07]");
	assert_non_null(strstr(out, "[L02]"));
	assert_non_null(strstr(out, "UNCORRECTED ERRORS REMAIN"));
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 4, out, "second fsck -fy", "[L07]");
	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "[L02]");
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(look(e->fs, ROOT, "g"), 0);
	assert_int_equal(nlink_of(e->fs, e->g), 1);
}

/* The root's first block, from the library. */
static uint64_t root_block(struct sfs_fs *fs)
{
	struct sfs_map m;
	unsigned n;

	assert_int_equal(sfs_extent_map(fs, ROOT, 0, 1, &m, 1, &n), 0);
	assert_int_equal(n, 1);
	return m.pblk;
}

/*
 * The root re-created (I06): everything it named is reconnected to a
 * lost+found made in the new root.  -fy's output has pass 3 report
 * nothing of what fsck took (the root's slot and block, lost+found's),
 * and only @leaked (0: nothing) as real damage; then clean, and the
 * library walks the tree.  Returns the new root's block.
 */
static uint64_t expect_root_recreated(struct env *e, uint64_t leaked)
{
	static char out[1 << 17];
	char name[32];
	uint64_t lf, blk;

	ns_expect_fsck(ns_fsck(e->path, "-fn", out, sizeof(out)), 4, out, "fsck -fn", "[I06]");
	ns_expect_fsck(ns_fsck(e->path, "-fy", out, sizeof(out)), 1, out, "fsck -fy", "[I06]");
	assert_non_null(strstr(out, "Connect it to /lost+found? yes"));
	if (leaked)
		expect_no_own_bits(out, leaked);
	else
		expect_pass3_quiet(out);
	lf = expect_clean_after(e);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->g);
	assert_int_equal(look(e->fs, lf, name), e->g);
	snprintf(name, sizeof(name), "#%llu", (unsigned long long)e->d);
	assert_int_equal(look(e->fs, lf, name), e->d);
	assert_int_equal(look(e->fs, e->d, "f"), e->f);
	blk = root_block(e->fs);
	return blk;
}

/* The root's record a regular file: its block is the new root's, so the
 * bitmaps and counts were right and stay so. */
static void test_root_not_a_directory(void **state)
{
	struct env *e = *state;
	uint64_t old;

	old = root_block(e->fs);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", "2", "mode", "0100644");
	assert_int_equal(expect_root_recreated(e, 0), old);
}

/* The root's record freed (mode 0): its block, in use on disk with no
 * owner, is a leak pass 3 still reports; the new root's block and slot
 * are not among the findings. */
static void test_root_record_freed(void **state)
{
	struct env *e = *state;
	uint64_t old;

	old = root_block(e->fs);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-inode", "2", "mode", "0");
	assert_int_not_equal(expect_root_recreated(e, old), old);
}

/*
 * The root destroyed, and the block the root had -- the first nobody
 * owned once pass 2 had read every inode, where the root used to be
 * re-created -- kept by a stale orphan slot (pass 2b claims it).  The
 * new root gets a block of its own: the slot keeps its block (no O06),
 * nothing is owned twice, pass 3 is quiet.
 */
static void test_root_block_kept_by_an_orphan_slot(void **state)
{
	struct env *e = *state;
	struct sfs_attr a;
	uint64_t old, g;

	old = root_block(e->fs);
	g = mk(e->fs, ROOT, "held", S_IFREG | 0644);
	assert_int_equal(sfs_lookup(e->fs, ROOT, "held", SFS_NS_HOLD, &a), 0);
	assert_int_equal(a.ino, g);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "held"), 0);
	unmount_clean(&e->fs, e->path);
	NS_DB(db_path, e->path, "set-orphan", "0", "ino", num(g));
	NS_DB(db_path, e->path, "set-orphan", "0", "xattr_block", num(old));
	NS_DB(db_path, e->path, "set-inode", "2", "mode", "0");
	assert_int_not_equal(expect_root_recreated(e, 0), old);
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
		T(test_real_bitmap_damage_still_reported),
		T(test_full_lost_found_grows_quietly),
		T(test_root_not_a_directory),
		T(test_root_record_freed),
		T(test_root_block_kept_by_an_orphan_slot),
#undef T
	};
	int ret;

	if (ns_db_main_init(argc, argv, &db_path))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
