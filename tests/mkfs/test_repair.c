/*
 * Corruption and repair: every damage scopefs-db can inject into what this
 * format defines is found by fsck -n (exit 4, nothing written), and fsck -y
 * repairs it (exit 1) after which fsck -n is clean (exit 0).  Preen mode
 * fixes only what is safe unattended.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "fs/format/geometry.h"
#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "tools.h"

struct tools tools;

/* The test image: 16 MiB, 4 KiB blocks, groups of 1024 blocks (three
 * groups, so group 1 exists, is uninitialised and lies between the
 * others).  Block numbers below follow from that geometry:
 * 0 superblock, 1 GDT, 2 journal superblock, 1026 group 0 block bitmap,
 * 1027 its inode bitmap, 1028.. its inode table, 1156 the root directory
 * block, 4094 backup GDT, 4095 backup superblock. */
#define SB_BACKUP  "4095"
#define GDT        "1"
#define GDT_BACKUP "4094"
#define JSB        "2"
#define BBITMAP0   "1026"
#define IBITMAP0   "1027"
#define ROOTDIR    "1156"

struct img {
	char path[256];
};

static int setup(void **state)
{
	struct img *im = mc_zalloc(sizeof(*im), MC_KERNEL);
	char out[OUT_MAX];

	scratch_path(im->path, sizeof(im->path), "repair");
	if (tool(out, tools.mkfs, "-q", "-g", "1024", im->path, "16M", NULL))
		fail_msg("mkfs: %s", out);
	/* The fixed block numbers above must hold. */
	assert_int_equal(tool(out, tools.db, im->path, "type", ROOTDIR, NULL), 0);
	assert_non_null(strstr(out, "directory block, verifier: ok"));
	*state = im;
	return 0;
}

static int teardown(void **state)
{
	struct img *im = *state;

	unlink(im->path);
	mc_free(im);
	return 0;
}

static void inject(struct img *im, ...)
{
	char *argv[16], out[OUT_MAX];
	va_list ap;
	int n = 0, ret;

	argv[n++] = (char *)tools.db;
	argv[n++] = im->path;
	va_start(ap, im);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	ret = run_tool(out, sizeof(out), argv);
	if (ret)
		fail_msg("scopefs-db %s: exit %d\n%s", argv[2], ret, out);
}

/* fsck -n finds it (with @code in its output) and changes nothing; -y
 * repairs; then clean. */
static void found_and_repaired(struct img *im, const char *code)
{
	char out[OUT_MAX], again[OUT_MAX];
	int ret;

	ret = tool(out, tools.fsck, "-fn", im->path, NULL);
	if (ret != 4 || !strstr(out, code))
		fail_msg("fsck -n: exit %d, expected 4 with [%s]\n%s", ret, code, out);
	/* -n wrote nothing: the same finding again. */
	assert_int_equal(tool(again, tools.fsck, "-fn", im->path, NULL), 4);
	assert_string_equal(out, again);
	ret = tool(out, tools.fsck, "-fy", im->path, NULL);
	if (ret != 1)
		fail_msg("fsck -y: exit %d, expected 1\n%s", ret, out);
	ret = tool(out, tools.fsck, "-fn", im->path, NULL);
	if (ret != 0)
		fail_msg("fsck -n after -y: exit %d, expected 0\n%s", ret, out);
	/* And the library's mount path accepts the result. */
	{
		struct sfs_sb_info *sbi;
		char msg[256];

		assert_int_equal(sfs_sb_open(im->path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
		sfs_sb_free(sbi);
	}
}

/* The three repairs the issue requires. */
static void test_block_bitmap_disagreeing_with_inodes(void **state)
{
	struct img *im = *state;

	inject(im, "flip-bit", "block", "0", "500", NULL);   /* a free block marked used */
	found_and_repaired(im, "B03");
	inject(im, "flip-bit", "block", "0", "130", NULL);   /* the root's block marked free */
	found_and_repaired(im, "B03");
}

static void test_inode_bitmap_disagreeing_with_inodes(void **state)
{
	struct img *im = *state;

	inject(im, "flip-bit", "inode", "0", "1", NULL);     /* the root marked free */
	found_and_repaired(im, "B04");
	inject(im, "flip-bit", "inode", "0", "40", NULL);    /* a free inode marked used */
	found_and_repaired(im, "B04");
}

static void test_bitmap_with_bad_checksum(void **state)
{
	struct img *im = *state;

	inject(im, "break-csum", BBITMAP0, NULL);
	found_and_repaired(im, "B01");
	inject(im, "break-csum", IBITMAP0, NULL);
	found_and_repaired(im, "B02");
}

static void test_damaged_primary_superblock_restored_from_backup(void **state)
{
	struct img *im = *state;
	char out[OUT_MAX];

	inject(im, "set-sb", "label", "keep-me", NULL);
	inject(im, "set-sb", "backup", "label", "keep-me", NULL);
	inject(im, "break-csum", "0", NULL);
	found_and_repaired(im, "S01");
	assert_int_equal(tool(out, tools.db, im->path, "sb", NULL), 0);
	assert_non_null(strstr(out, "\"keep-me\""));
	inject(im, "zero", "0", NULL);
	found_and_repaired(im, "S01");
}

/* Every other injection: found by -n, and repaired. */
static void test_wrong_self_address(void **state)
{
	struct img *im = *state;

	inject(im, "set-self", BBITMAP0, "77", NULL);
	found_and_repaired(im, "B01");
	inject(im, "set-self", IBITMAP0, "5", NULL);
	found_and_repaired(im, "B02");
	inject(im, "set-self", GDT, "9", NULL);
	found_and_repaired(im, "G01");
	inject(im, "set-self", JSB, "3", NULL);
	found_and_repaired(im, "S08");
	inject(im, "set-self", ROOTDIR, "1157", NULL);
	found_and_repaired(im, "I07");
	inject(im, "set-self", GDT_BACKUP, "4000", NULL);
	found_and_repaired(im, "G02");
	inject(im, "set-inode", "2", "ino", "3", NULL);
	found_and_repaired(im, "I01");
}

static void test_bad_geometry(void **state)
{
	struct img *im = *state;

	inject(im, "set-sb", "blocks_per_group", "2000", NULL);
	found_and_repaired(im, "S01");
	inject(im, "set-sb", "block_count", "5000", NULL);
	found_and_repaired(im, "S01");
	inject(im, "set-sb", "first_data_block", "1027", NULL);
	found_and_repaired(im, "S01");
	inject(im, "set-gd", "1", "inode_table", "3000", NULL);
	found_and_repaired(im, "G03");
	inject(im, "set-gd", "2", "block_bitmap", "2", NULL);
	found_and_repaired(im, "G03");
	inject(im, "set-sb", "backup", "inodes_per_group", "8", NULL);
	found_and_repaired(im, "S02");
}

static void test_broken_checksums_everywhere(void **state)
{
	struct img *im = *state;

	inject(im, "break-csum", GDT, NULL);
	found_and_repaired(im, "G01");
	inject(im, "break-csum", JSB, NULL);
	found_and_repaired(im, "S08");
	inject(im, "break-csum", ROOTDIR, NULL);
	found_and_repaired(im, "I07");
	inject(im, "break-csum", SB_BACKUP, NULL);
	found_and_repaired(im, "S02");
	inject(im, "break-csum", GDT_BACKUP, NULL);
	found_and_repaired(im, "G02");
	inject(im, "break-csum", "inode", "2", NULL);   /* root: cleared, re-created */
	found_and_repaired(im, "I01");
}

static void test_wrong_counts_and_fields(void **state)
{
	struct img *im = *state;

	inject(im, "set-gd", "0", "free_blocks", "5", NULL);
	found_and_repaired(im, "B06");
	inject(im, "set-gd", "0", "largest_free", "1", NULL);
	found_and_repaired(im, "B06");
	inject(im, "set-sb", "free_blocks", "7", NULL);
	found_and_repaired(im, "S05");
	inject(im, "set-sb", "free_inodes", "7", NULL);
	found_and_repaired(im, "S06");
	inject(im, "set-inode", "2", "blocks", "9", NULL);
	found_and_repaired(im, "I03");
	inject(im, "set-inode", "7", "magic", "1234", NULL);   /* garbage in a reserved slot */
	found_and_repaired(im, "I02");
	inject(im, "set-gd", "1", "flags", "0x40", NULL);
	found_and_repaired(im, "G04");
	inject(im, "set-sb", "backup", "label", "other", NULL);
	found_and_repaired(im, "S03");
	/* Runtime errors recorded by the daemon force a check and are cleared. */
	inject(im, "set-sb", "state", "3", NULL);
	inject(im, "set-sb", "error_count", "2", NULL);
	found_and_repaired(im, "S07");
}

/* Group 0 claims to be uninitialised, yet the root directory's block
 * lives there: initialising the bitmap keeps the block owned. */
static void test_uninit_group_with_live_blocks(void **state)
{
	struct img *im = *state;

	inject(im, "set-gd", "0", "flags", "0x5", NULL);   /* BLOCK_UNINIT | ITABLE_ZEROED */
	found_and_repaired(im, "B05");
}

/* The root inode turned into a regular file: re-created as an empty
 * directory, and the blocks the old record owned are freed, not leaked
 * (the second check would report them marked in use but free). */
static void test_root_not_a_directory(void **state)
{
	struct img *im = *state;
	char out[OUT_MAX];

	inject(im, "set-inode", "2", "mode", "0100644", NULL);
	found_and_repaired(im, "I06");
	assert_int_equal(tool(out, tools.db, im->path, "inode", "2", NULL), 0);
	assert_non_null(strstr(out, "040755"));
}

/* A file named in the root (through the library, so fsck sees it
 * reachable) with @n extents of @len blocks, a one-block hole after each:
 * more than the inode's root holds makes a tree with a leaf block. */
static uint64_t file_with_extents(const char *path, unsigned n, unsigned len)
{
	struct sfs_cred cr = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
	struct sfs_mount_opts o;
	struct sfs_attr a;
	struct sfs_fs *fs;
	char msg[256];

	sfs_mount_opts_default(&o);
	if (sfs_fs_mount(path, &o, &fs, msg, sizeof(msg)))
		fail_msg("mount: %s", msg);
	assert_int_equal(sfs_create(fs, SFS_ROOT_INO, "twice", 0644, 0, &cr, &a), 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(sfs_alloc_range(fs, a.ino, (uint64_t)i * (len + 1), len, false), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	return a.ino;
}

/* The number after @key in @out (scopefs-db's listing). */
static unsigned long long number_after(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	if (!p)
		fail_msg("no \"%s\" in:\n%s", key, out);
	return strtoull(p + strlen(key), NULL, 10);
}

/*
 * An extent repointed so that it maps an earlier extent's block: the same
 * block mapped twice in one tree.  -y keeps the first mapping; the later
 * extent loses the duplicated run (trimmed when it is at one end, dropped
 * otherwise) and the blocks it no longer maps are freed; then clean.
 * First in the inode's root, trimmed: logical 0..2 -> A..A+2 and 4..6 ->
 * A+2..A+4 become 0..2 -> A..A+2 and 5..6 -> A+3..A+4.
 */
static void test_block_mapped_twice_in_one_inode(void **state)
{
	struct img *im = *state;
	char ino[24], pblk[24], want[64], out[OUT_MAX];
	unsigned long long a;

	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)file_with_extents(im->path, 2, 3));
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);
	assert_int_equal(tool(out, tools.db, im->path, "extents", ino, NULL), 0);
	a = number_after(out, "0..2        -> ");
	snprintf(pblk, sizeof(pblk), "%llu", a + 2);
	inject(im, "set-extent", "root", ino, "1", "pblk", pblk, NULL);
	found_and_repaired(im, "I10");
	assert_int_equal(tool(out, tools.db, im->path, "extents", ino, NULL), 0);
	assert_non_null(strstr(out, "2 extents, 5 blocks mapped"));
	snprintf(want, sizeof(want), "5..6        -> %llu..%llu", a + 3, a + 4);
	if (!strstr(out, want))
		fail_msg("expected \"%s\" in:\n%s", want, out);
}

/* Then in a leaf block, a whole one-block extent duplicated: dropped. */
static void test_block_mapped_twice_in_a_leaf(void **state)
{
	struct img *im = *state;
	char ino[24], pblk[24], leaf[24], out[OUT_MAX];

	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)file_with_extents(im->path, 8, 1));
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);
	assert_int_equal(tool(out, tools.db, im->path, "extents", ino, "tree", NULL), 0);
	assert_non_null(strstr(out, "depth 1"));
	snprintf(leaf, sizeof(leaf), "%llu", number_after(out, "at block "));
	snprintf(pblk, sizeof(pblk), "%llu", number_after(out, "2..2        -> "));
	inject(im, "set-extent", leaf, "3", "pblk", pblk, NULL);   /* logical 6 */
	found_and_repaired(im, "I10");
	assert_int_equal(tool(out, tools.db, im->path, "extents", ino, NULL), 0);
	assert_non_null(strstr(out, "7 extents, 7 blocks mapped"));
	assert_null(strstr(out, "6..6"));
}

static void test_both_descriptor_copies_lost(void **state)
{
	struct img *im = *state;

	inject(im, "zero", GDT, NULL);
	inject(im, "zero", GDT_BACKUP, NULL);
	found_and_repaired(im, "G01");
}

static void test_preen_fixes_only_the_safe(void **state)
{
	struct img *im = *state;
	char out[OUT_MAX];

	inject(im, "flip-bit", "block", "0", "500", NULL);
	/* Preen checks a clean-marked filesystem only with -f. */
	assert_int_equal(tool(out, tools.fsck, "-fp", im->path, NULL), 1);
	assert_non_null(strstr(out, "FIXED"));
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);

	inject(im, "break-csum", "0", NULL);
	assert_int_equal(tool(out, tools.fsck, "-p", im->path, NULL), 4);
	assert_non_null(strstr(out, "UNEXPECTED INCONSISTENCY"));
	assert_int_equal(tool(out, tools.fsck, "-y", im->path, NULL), 1);
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);
}

static void test_offline_tool_shows_every_structure(void **state)
{
	struct img *im = *state;
	static const char *const blocks[] = { "0", GDT, JSB, BBITMAP0, IBITMAP0, "1028", ROOTDIR,
					      GDT_BACKUP, SB_BACKUP, "3000", "100" };
	char out[OUT_MAX];

	assert_int_equal(tool(out, tools.db, im->path, "geometry", NULL), 0);
	assert_int_equal(tool(out, tools.db, im->path, "sb", NULL), 0);
	assert_non_null(strstr(out, "verifier: ok"));
	assert_int_equal(tool(out, tools.db, im->path, "sb", "backup", NULL), 0);
	assert_int_equal(tool(out, tools.db, im->path, "gd", NULL), 0);
	assert_non_null(strstr(out, "BLOCK_UNINIT"));
	assert_int_equal(tool(out, tools.db, im->path, "inode", "2", NULL), 0);
	assert_non_null(strstr(out, "040755"));
	assert_non_null(strstr(out, "-> block 1156"));
	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		assert_int_equal(tool(out, tools.db, im->path, "block", blocks[i], NULL), 0);
		assert_null(strstr(out, "FAILED"));
	}
	assert_int_equal(tool(out, tools.db, im->path, "block", ROOTDIR, NULL), 0);
	assert_non_null(strstr(out, " .."));
	assert_int_equal(tool(out, tools.db, im->path, "hex", "0", NULL), 0);
	assert_non_null(strstr(out, "SFSB"));
	/* Bad requests are errors, not crashes. */
	assert_int_equal(tool(out, tools.db, im->path, "block", "99999999", NULL), 1);
	assert_int_equal(tool(out, tools.db, im->path, "inode", "0", NULL), 1);
	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "nosuchfield", "1", NULL), 1);
	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "inode_size", "99999", NULL), 1);
	assert_int_equal(tool(out, tools.db, im->path, "flip-bit", "block", "1", "5", NULL), 1);
	assert_non_null(strstr(out, "uninitialised"));
	assert_int_equal(tool(out, tools.db, im->path, "frobnicate", NULL), 1);
	/* Commands from standard input: a read-only session refuses edits. */
	assert_int_equal(tool(out, tools.db, im->path, NULL), 0);   /* empty stdin */
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_block_bitmap_disagreeing_with_inodes),
		T(test_inode_bitmap_disagreeing_with_inodes),
		T(test_bitmap_with_bad_checksum),
		T(test_damaged_primary_superblock_restored_from_backup),
		T(test_wrong_self_address),
		T(test_bad_geometry),
		T(test_broken_checksums_everywhere),
		T(test_wrong_counts_and_fields),
		T(test_uninit_group_with_live_blocks),
		T(test_root_not_a_directory),
		T(test_block_mapped_twice_in_one_inode),
		T(test_block_mapped_twice_in_a_leaf),
		T(test_both_descriptor_copies_lost),
		T(test_preen_fixes_only_the_safe),
		T(test_offline_tool_shows_every_structure),
	};
#undef T

	if (tools_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
