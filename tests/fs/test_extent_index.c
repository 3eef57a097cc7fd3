/*
 * The extent trees' index cache belongs to its mount: lookups on one
 * filesystem pin tree blocks there and nowhere else; unmounting another
 * leaves it alone; its shrinker gives every pin back (and lookups then
 * rebuild it); with cache= set it pins at most half of that cap.
 */
#include "helpers.h"
#include "fs/extent_tree.h"
#include "fs/inode.h"

const char *fsck_path;

#define EXTENTS 1500u

/* A file whose tree is several levels deep (fanout=4). */
static uint64_t deep_file(struct sfs_fs *fs)
{
	uint64_t ino = new_file(fs);

	for (uint64_t i = 0; i < EXTENTS; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i * 2, 1, i % 3 == 0), 0);
	return ino;
}

/* Look up every block of the file (twice: the first pass fills). */
static void look_everywhere(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_inode_info *ip;
	struct sfs_extent e;

	assert_int_equal(sfs_iget(fs, ino, &ip), 0);
	mc_read_lock(&ip->data_sem);
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t b = 0; b < EXTENTS * 2; b++) {
			assert_int_equal(sfs_ext_lookup(ip, b, 0, &e), b % 2 == 0);
			assert_true(e.lblk <= b && b < e.lblk + e.len);
		}
	mc_rw_unlock(&ip->data_sem);
	sfs_iput(ip);
}

static void test_each_mount_has_its_own_index(void **state)
{
	char pa[256], pb[256];
	struct sfs_fs *a, *b;
	uint64_t fa, fb;
	size_t pinned;
	unsigned depth;

	(void)state;
	scratch_path(pa, sizeof(pa), "extidx-a");
	scratch_path(pb, sizeof(pb), "extidx-b");
	make_image(pa, 10, 32 << 20, 0);
	make_image(pb, 10, 32 << 20, 0);
	a = mount_opts(pa, "fanout=4");
	b = mount_opts(pb, "fanout=4");
	fa = deep_file(a);
	fb = deep_file(b);
	assert_int_equal(sfs_extent_depth(a, fa, &depth, NULL), 0);
	assert_true(depth >= 4);

	/* Building the trees changed index nodes: nothing stays pinned. */
	mc_drop_caches();
	assert_int_equal(sfs_ext_index_pinned(a), 0);
	assert_int_equal(sfs_ext_index_pinned(b), 0);
	look_everywhere(a, fa);
	pinned = sfs_ext_index_pinned(a);
	print_message("%zu tree blocks pinned by lookups of %u extents at depth %u\n", pinned,
		      EXTENTS, depth);
	assert_true(pinned > EXTENTS / 4);
	assert_int_equal(sfs_ext_index_pinned(b), 0);

	/* The other mount goes; this one's index stays and still serves. */
	assert_int_equal(sfs_fs_unmount(b), 0);
	assert_int_equal(sfs_ext_index_pinned(a), pinned);
	look_everywhere(a, fa);
	assert_int_equal(sfs_ext_index_pinned(a), pinned);

	/* Reclaim takes every pin back; lookups rebuild the same index. */
	mc_drop_caches();
	assert_int_equal(sfs_ext_index_pinned(a), 0);
	look_everywhere(a, fa);
	assert_int_equal(sfs_ext_index_pinned(a), pinned);
	assert_int_equal(sfs_fs_unmount(a), 0);

	/* With a 64 KiB buffer cache, at most 32 KiB of it is pinned. */
	a = mount_opts(pa, "fanout=4,cache=64K");
	look_everywhere(a, fa);
	pinned = sfs_ext_index_pinned(a);
	assert_true(pinned > 0);
	assert_true(pinned * 1024 <= 32 << 10);
	assert_int_equal(sfs_fs_unmount(a), 0);

	(void)fb;
	assert_fsck_clean(pa);
	assert_fsck_clean(pb);
	unlink(pa);
	unlink(pb);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_mount_has_its_own_index),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
