/*
 * fsck.scopefs finds every extent-tree, inode and allocator corruption it
 * claims to find, and repairs the fixable ones.  Each case builds a fresh
 * image through the library (two files; the first with a depth-2 tree
 * under fanout=4), corrupts one thing with scopefs-db, and expects: the
 * problem's code under -n (exit 4), a repair under -y (exit 1), then a
 * clean check (exit 0).
 *
 * Arguments: FSCK DB.
 */
#include <fcntl.h>

#include "helpers.h"
#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/mount.h"

const char *fsck_path;
static const char *db_path;

#define INO_A 11u
#define INO_B 12u

struct layout {
	uint64_t root_child[4];      /* inode A's root index children */
	uint32_t root_key[4];
	unsigned root_entries;
	uint64_t leaf;               /* a leaf block of A (first child of the first index node) */
	uint64_t index_node;         /* A's first depth-1 node */
	uint32_t index_key1;         /* its entry 1 key */
	uint64_t a_first_pblk;       /* A's first data block */
	uint32_t a_first_bit;        /* ... as a bit of group 0's bitmap */
};

static void build(const char *path)
{
	struct sfs_fs *fs;

	make_image(path, 12, 32 << 20, 0);
	fs = mount_opts(path, "fanout=4");
	assert_int_equal(new_file(fs), INO_A);
	assert_int_equal(new_file(fs), INO_B);
	for (uint64_t i = 0; i < 24; i++)
		assert_int_equal(sfs_alloc_range(fs, INO_A, i * 3, 2, i & 1), 0);
	assert_int_equal(sfs_write(fs, INO_B, "data", 4, 0, 0, NULL), 4);
	assert_int_equal(sfs_alloc_range(fs, INO_B, 10, 3, false), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
}

static void read_node(struct sfs_sb_info *sbi, uint64_t blk, uint8_t *buf)
{
	assert_int_equal(sfs_io_read_blocks(sbi->bdev, buf, sbi->geo.block_log, blk, 1), 0);
}

static void learn(const char *path, struct layout *l)
{
	struct sfs_sb_info *sbi;
	struct sfs_extent_header h;
	struct sfs_extent_idx x;
	struct sfs_extent e;
	struct sfs_inode in;
	uint8_t *buf;
	uint32_t off;
	char msg[256];

	assert_int_equal(sfs_sb_open(path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	buf = sfs_io_alloc(sbi->geo.block_size);
	read_node(sbi, sfs_geo_ino_block(&sbi->geo, INO_A, &off), buf);
	sfs_inode_decode(&in, buf + off);
	sfs_extent_header_decode(&h, in.root);
	assert_int_equal(h.depth, 2);
	l->root_entries = h.entries;
	assert_true(h.entries >= 2);
	for (unsigned i = 0; i < h.entries; i++) {
		sfs_extent_idx_get(&x, in.root, i);
		l->root_child[i] = x.child;
		l->root_key[i] = x.lblk;
	}
	l->index_node = l->root_child[0];
	read_node(sbi, l->index_node, buf);
	sfs_extent_header_decode(&h, buf + SFS_HDR_SIZE);
	assert_true(h.entries >= 2);
	sfs_extent_idx_get(&x, buf + SFS_HDR_SIZE, 1);
	l->index_key1 = x.lblk;
	sfs_extent_idx_get(&x, buf + SFS_HDR_SIZE, 0);
	l->leaf = x.child;
	read_node(sbi, l->leaf, buf);
	sfs_extent_header_decode(&h, buf + SFS_HDR_SIZE);
	assert_true(h.entries >= 2);
	sfs_extent_get(&e, buf + SFS_HDR_SIZE, 0);
	l->a_first_pblk = e.pblk;
	assert_true(sfs_geo_block_group(&sbi->geo, e.pblk, NULL, &l->a_first_bit));
	mc_free(buf);
	sfs_sb_free(sbi);
}

static int db(const char *path, ...)
{
	char out[8192], *argv[16];
	va_list ap;
	int n = 0, ret;

	argv[n++] = (char *)db_path;
	argv[n++] = "-w";
	argv[n++] = (char *)path;
	va_start(ap, path);
	while (n < 15 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	ret = run_tool(out, sizeof(out), argv);
	if (ret)
		fprintf(stderr, "scopefs-db failed (%d):\n%s\n", ret, out);
	return ret;
}

static char *num(char *buf, uint64_t v)
{
	sprintf(buf, "%llu", (unsigned long long)v);
	return buf;
}

/* fsck -fn finds @code, -fy repairs (if @fixable), then -fn is clean. */
static void expect(const char *path, const char *code, bool fixable)
{
	char out[16384], tag[16];
	char *argv_y[] = { (char *)fsck_path, "-fy", (char *)path, NULL };
	int ret;

	snprintf(tag, sizeof(tag), "[%s]", code);
	ret = run_fsck(path, out, sizeof(out));
	if (ret != 4 || !strstr(out, tag))
		fail_msg("fsck -fn exited %d without %s:\n%s", ret, tag, out);
	ret = run_tool(out, sizeof(out), argv_y);
	if (!fixable) {
		assert_true(ret & 4);
		return;
	}
	if (ret != 1)
		fail_msg("fsck -fy exited %d:\n%s", ret, out);
	ret = run_fsck(path, out, sizeof(out));
	if (ret)
		fail_msg("after repair, fsck -fn exited %d:\n%s", ret, out);
}

struct env {
	char path[256];
	struct layout l;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "fsckx");
	build(e->path);
	assert_fsck_clean(e->path);
	learn(e->path, &e->l);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	unlink(e->path);
	free(e);
	return 0;
}

static void test_index_key_in_the_root_is_fixed(void **state)
{
	struct env *e = *state;
	char v[32];

	assert_int_equal(db(e->path, "set-extent", "root", "11", "1", "lblk",
			    num(v, e->l.root_key[1] + 1), NULL), 0);
	expect(e->path, "I09", true);
}

static void test_index_key_in_a_block_is_fixed(void **state)
{
	struct env *e = *state;
	char b[32], v[32];

	assert_int_equal(db(e->path, "set-extent", num(b, e->l.index_node), "1", "lblk",
			    num(v, e->l.index_key1 - 1), NULL), 0);
	expect(e->path, "I09", true);
}

static void test_extents_out_of_order(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "set-extent", num(b, e->l.leaf), "0", "lblk", "5", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_overlapping_extents(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "set-extent", num(b, e->l.leaf), "0", "len", "4", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_extent_outside_its_parents_range(void **state)
{
	struct env *e = *state;
	char b[32], v[32];

	/* The leaf's last extent moved past the next leaf's key. */
	assert_int_equal(db(e->path, "set-extent", num(b, e->l.leaf), "1", "lblk",
			    num(v, e->l.index_key1 + 1), NULL), 0);
	expect(e->path, "I04", true);
}

static void test_wrong_depth_in_a_child(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "set-ehdr", num(b, e->l.leaf), "depth", "1", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_empty_node_below_the_root(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "set-ehdr", num(b, e->l.leaf), "entries", "0", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_extent_mapping_metadata(void **state)
{
	struct env *e = *state;
	char b[32];

	/* Block 0 is the superblock; 1 a descriptor block. */
	assert_int_equal(db(e->path, "set-extent", num(b, e->l.leaf), "0", "pblk", "1", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_tree_block_of_another_owner(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "set-hdr", num(b, e->l.leaf), "owner", "12", NULL), 0);
	expect(e->path, "I04", true);
}

static void test_tree_block_with_a_bad_checksum(void **state)
{
	struct env *e = *state;
	char b[32];

	assert_int_equal(db(e->path, "break-csum", num(b, e->l.leaf), NULL), 0);
	expect(e->path, "I04", true);
}

static void test_cross_linked_blocks(void **state)
{
	struct env *e = *state;
	char v[32];

	/* B's first extent now maps A's first data block as well. */
	assert_int_equal(db(e->path, "set-extent", "root", "12", "0", "pblk",
			    num(v, e->l.a_first_pblk), NULL), 0);
	expect(e->path, "I05", true);
}

static void test_wrong_block_count(void **state)
{
	struct env *e = *state;

	assert_int_equal(db(e->path, "set-inode", "11", "blocks", "5", NULL), 0);
	expect(e->path, "I03", true);
}

static void test_bitmap_disagreeing_with_extents(void **state)
{
	struct env *e = *state;
	char v[32];

	assert_int_equal(db(e->path, "flip-bit", "block", "0", num(v, e->l.a_first_bit), NULL), 0);
	expect(e->path, "B03", true);
}

static void test_wrong_free_space_summary(void **state)
{
	struct env *e = *state;

	assert_int_equal(db(e->path, "set-gd", "0", "largest_free", "7", NULL), 0);
	expect(e->path, "B06", true);
	assert_int_equal(db(e->path, "set-gd", "0", "free_runs", "99", NULL), 0);
	expect(e->path, "B06", true);
}

static void test_wrong_superblock_free_count(void **state)
{
	struct env *e = *state;

	assert_int_equal(db(e->path, "set-sb", "free_blocks", "5", NULL), 0);
	expect(e->path, "S05", true);
}

static void test_root_deeper_than_the_format_allows(void **state)
{
	struct env *e = *state;

	assert_int_equal(db(e->path, "set-ehdr", "root", "11", "depth", "9", NULL), 0);
	/* The inode record itself no longer verifies. */
	expect(e->path, "I01", true);
}

static void test_library_refuses_a_corrupt_tree(void **state)
{
	struct env *e = *state;
	struct sfs_fs *fs;
	char b[32], why[256], buf[16];

	assert_int_equal(db(e->path, "set-extent", num(b, e->l.leaf), "0", "len", "4", NULL), 0);
	fs = mount_opts(e->path, "errors=continue");
	assert_int_equal(sfs_extent_verify(fs, INO_A, why, sizeof(why)), -EUCLEAN);
	/* A read through the broken leaf is refused, not served. */
	assert_int_equal(sfs_read(fs, INO_A, buf, sizeof(buf), 0), 0);   /* size 0: nothing */
	assert_int_equal(sfs_alloc_range(fs, INO_A, 0, 1, false), -EUCLEAN);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	expect(e->path, "I04", true);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_index_key_in_the_root_is_fixed),
		T(test_index_key_in_a_block_is_fixed),
		T(test_extents_out_of_order),
		T(test_overlapping_extents),
		T(test_extent_outside_its_parents_range),
		T(test_wrong_depth_in_a_child),
		T(test_empty_node_below_the_root),
		T(test_extent_mapping_metadata),
		T(test_tree_block_of_another_owner),
		T(test_tree_block_with_a_bad_checksum),
		T(test_cross_linked_blocks),
		T(test_wrong_block_count),
		T(test_bitmap_disagreeing_with_extents),
		T(test_wrong_free_space_summary),
		T(test_wrong_superblock_free_count),
		T(test_root_deeper_than_the_format_allows),
		T(test_library_refuses_a_corrupt_tree),
#undef T
	};
	int ret;

	if (argc < 3 || test_main_init(argc, argv))
		return 1;
	db_path = argv[2];
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
