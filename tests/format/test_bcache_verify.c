/*
 * The format's verifiers wired into the real buffer cache (the contract of
 * fs/block/buf_ops.h): every metadata block mkfs wrote reads back through
 * its buf_ops; a damaged block is refused on read with the verifier's
 * errno; a block changed in the cache is re-stamped by prepare_write on its
 * way home, so fsck sees the change itself (a bitmap bit) and no checksum
 * damage; a structurally broken block is refused on write.
 *
 * argv[1] mkfs.scopefs, argv[2] fsck.scopefs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs/block/buffer.h"
#include "fs/format/bitmap.h"
#include "fs/format/inode.h"
#include "fs/format/verify.h"
#include "helpers.h"

static const char *mkfs_path, *fsck_path;

struct fx {
	char path[256];
	struct sfs_sb_info *sbi;
	struct sfs_bcache *cache;
};

static int setup(void **state)
{
	struct fx *fx = mc_zalloc(sizeof(*fx), MC_KERNEL);
	char out[4096], msg[256];
	struct sfs_bcache_opts o = { 0 };

	scratch_path(fx->path, sizeof(fx->path), "bcache");
	if (run_tool(out, sizeof(out), (char *[]){ (char *)mkfs_path, "-q", "-g", "1024",
						   fx->path, "16M", NULL }))
		fail_msg("mkfs: %s", out);
	if (sfs_sb_open(fx->path, 0, &fx->sbi, msg, sizeof(msg)))
		fail_msg("open: %s", msg);
	o.block_size = fx->sbi->geo.block_size;
	o.verifier_ctx = fx->sbi;
	assert_int_equal(sfs_bcache_create(fx->sbi->bdev, &o, &fx->cache), 0);
	*state = fx;
	return 0;
}

static void close_fx(struct fx *fx)
{
	if (fx->cache)
		sfs_bcache_destroy(fx->cache);
	fx->cache = NULL;
	sfs_sb_free(fx->sbi);
	fx->sbi = NULL;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	close_fx(fx);
	unlink(fx->path);
	mc_free(fx);
	return 0;
}

static int fsck_n(const char *path, char *out, size_t len)
{
	return run_tool(out, len, (char *[]){ (char *)fsck_path, "-fn", (char *)path, NULL });
}

static void test_every_block_mkfs_wrote_reads_through_its_verifier(void **state)
{
	struct fx *fx = *state;
	const struct sfs_geo *g = &fx->sbi->geo;
	uint64_t blocks[] = { 0, 1, g->journal_start, sfs_geo_block_bitmap(g, 0),
			      sfs_geo_inode_bitmap(g, 0), sfs_geo_inode_table(g, 0),
			      sfs_geo_group_start(g, 0) + sfs_geo_group_overhead(g),
			      g->backup_gdt_start, g->backup_sb_block };
	enum sfs_btype types[] = { SFS_BT_SUPER, SFS_BT_GDT, SFS_BT_JSB, SFS_BT_BBITMAP,
				   SFS_BT_IBITMAP, SFS_BT_ITABLE, SFS_BT_DIRLEAF, SFS_BT_GDT,
				   SFS_BT_SUPER };

	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		struct sfs_buf *bh;
		int ret = sfs_buf_read(fx->cache, blocks[i], sfs_btype_ops(types[i]), 0, &bh);

		if (ret)
			fail_msg("block %llu (%s): %d %s", (unsigned long long)blocks[i],
				 sfs_btype_name(types[i]), ret, sfs_verify_reason());
		sfs_buf_release(bh);
	}
}

static void test_damaged_block_is_refused_on_read(void **state)
{
	struct fx *fx = *state;
	const struct sfs_geo *g = &fx->sbi->geo;
	uint64_t bb = sfs_geo_block_bitmap(g, 0);
	struct sfs_buf *bh;
	uint8_t byte;
	int fd;

	fd = open(fx->path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, (off_t)(bb * g->block_size + 100)), 1);
	byte ^= 0x20;
	assert_int_equal(pwrite(fd, &byte, 1, (off_t)(bb * g->block_size + 100)), 1);
	close(fd);
	assert_int_equal(sfs_buf_read(fx->cache, bb, &sfs_bbitmap_buf_ops, 0, &bh), -EFSBADCRC);
	/* Read as the wrong type: a structural refusal. */
	assert_int_equal(sfs_buf_read(fx->cache, sfs_geo_inode_bitmap(g, 0), &sfs_bbitmap_buf_ops,
				      0, &bh), -EFSCORRUPTED);
}

static void test_change_in_cache_is_restamped_on_write(void **state)
{
	struct fx *fx = *state;
	const struct sfs_geo *g = &fx->sbi->geo;
	uint64_t bb = sfs_geo_block_bitmap(g, 0);
	char out[8192];
	struct sfs_buf *bh;

	assert_int_equal(sfs_buf_read(fx->cache, bb, &sfs_bbitmap_buf_ops, 0, &bh), 0);
	sfs_buf_lock(bh);
	sfs_bit_set(sfs_bitmap_data(bh->data), 600);   /* a free block, now "used" */
	sfs_buf_mark_dirty(bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	assert_int_equal(sfs_bcache_sync(fx->cache), 0);
	close_fx(fx);

	/* fsck sees exactly the bitmap difference, not a checksum problem. */
	assert_int_equal(fsck_n(fx->path, out, sizeof(out)), 4);
	assert_non_null(strstr(out, "[B03]"));
	assert_null(strstr(out, "[B01]"));
}

static void test_broken_structure_is_refused_on_write(void **state)
{
	struct fx *fx = *state;
	const struct sfs_geo *g = &fx->sbi->geo;
	uint64_t bb = sfs_geo_block_bitmap(g, 0);
	char out[8192];
	struct sfs_buf *bh;

	assert_int_equal(sfs_buf_read(fx->cache, bb, &sfs_bbitmap_buf_ops, 0, &bh), 0);
	sfs_buf_lock(bh);
	sfs_bit_clear(sfs_bitmap_data(bh->data), 0);   /* its own bitmap block "free" */
	sfs_buf_mark_dirty(bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	assert_int_not_equal(sfs_bcache_sync(fx->cache), 0);
	close_fx(fx);
	assert_int_equal(fsck_n(fx->path, out, sizeof(out)), 0);   /* nothing reached the disk */
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_every_block_mkfs_wrote_reads_through_its_verifier),
		T(test_damaged_block_is_refused_on_read),
		T(test_change_in_cache_is_restamped_on_write),
		T(test_broken_structure_is_refused_on_write),
	};
#undef T

	if (argc < 3) {
		fprintf(stderr, "usage: %s MKFS FSCK\n", argv[0]);
		return 1;
	}
	mkfs_path = argv[1];
	fsck_path = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
