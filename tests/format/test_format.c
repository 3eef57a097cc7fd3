/*
 * The on-disk format: every structure survives encode/decode unchanged, and
 * every verifier accepts what the writers produce and refuses each kind of
 * damage with the right errno (bad checksum vs corrupt structure).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <xxhash.h>

#include "fs/format/bitmap.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/fields.h"
#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "fs/format/jsb.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "helpers.h"

struct fixture {
	struct sfs_sb_info sbi;
	uint8_t *blk;
};

static int setup_4k(void **state)
{
	struct fixture *fx = mc_zalloc(sizeof(*fx), MC_KERNEL);

	make_sbi(&fx->sbi, 12, 64ull << 20, 2048);
	fx->blk = sfs_io_alloc(fx->sbi.geo.block_size);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	mc_free(fx->blk);
	sfs_sb_info_destroy(&fx->sbi);
	mc_free(fx);
	return 0;
}

/* ---- checksum: the algorithm docs/format.md names -------------------- */
static void test_checksum_is_xxh3_around_the_field(void **state)
{
	uint8_t buf[256];
	uint64_t want;

	(void)state;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	want = XXH3_64bits_withSeed(buf + 16, sizeof(buf) - 16,
				    XXH3_64bits_withSeed(buf, 8, 42));
	assert_true(sfs_csum(buf, sizeof(buf), 8, 42) == want);
	/* The field's own bytes do not matter. */
	buf[9] ^= 0xff;
	assert_true(sfs_csum(buf, sizeof(buf), 8, 42) == want);
	buf[100] ^= 1;
	assert_false(sfs_csum(buf, sizeof(buf), 8, 42) == want);
}

/* ---- superblock ---------------------------------------------------- */
static void fill_super(struct sfs_super *sb, const struct sfs_sb_info *sbi)
{
	*sb = sbi->sb;
	sb->free_blocks = 1234;
	sb->free_inodes = 77;
	sb->reserved_blocks = 55;
	sb->orphan_head = 12;
	sb->feature_compat = SFS_FEATURE_COMPAT_HAS_JOURNAL;
	sb->feature_ro_compat = SFS_FEATURE_RO_COMPAT_UNINIT_BG;
	sb->state = SFS_STATE_VALID | SFS_STATE_ERROR;
	sb->errors = SFS_ERRORS_RO;
	sb->mount_count = 3;
	sb->max_mount_count = 20;
	sb->mkfs_time = 1700000000;
	sb->mount_time = 1700000001;
	sb->write_time = 1700000002;
	sb->check_time = 1700000003;
	sb->error_count = 2;
	sb->first_error_errno = 5;
	sb->first_error_time = 11;
	sb->first_error_ino = 13;
	sb->first_error_block = 17;
	strcpy(sb->first_error_func, "sfs_first");
	sb->last_error_errno = 28;
	sb->last_error_time = 19;
	sb->last_error_ino = 23;
	sb->last_error_block = 29;
	strcpy(sb->last_error_func, "a_function_name_of_exactly_32_ch");
	strcpy(sb->label, "label");
	strcpy(sb->last_mounted, "/mnt/x");
	sb->lsn = 99;
}

static void test_superblock_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct sfs_super sb, back;
	uint8_t raw2[SFS_SB_SIZE];
	char msg[256];

	fill_super(&sb, &fx->sbi);
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), 0);
	sfs_super_decode(&back, fx->blk);
	assert_memory_equal(&sb, &back, sizeof(sb));
	sfs_super_encode(raw2, &back);
	assert_memory_equal(fx->blk, raw2, SFS_SB_SIZE);

	/* The backup copy differs only in its header. */
	sfs_super_relocate(&sb, fx->sbi.geo.backup_sb_block);
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, fx->sbi.geo.backup_sb_block, msg, sizeof(msg)), 0);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);
}

static void test_superblock_verifier_names_each_damage(void **state)
{
	struct fixture *fx = *state;
	struct sfs_super sb;
	char msg[256];

	sb = fx->sbi.sb;
	sfs_super_encode(fx->blk, &sb);
	fx->blk[0] ^= 1;   /* magic */
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EINVAL);

	sfs_super_encode(fx->blk, &sb);
	fx->blk[300] ^= 1; /* any byte under the checksum */
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSBADCRC);
	assert_non_null(strstr(msg, "checksum"));

	sb.blkno = 7;      /* self-address */
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);
	assert_non_null(strstr(msg, "misplaced"));

	sb = fx->sbi.sb;
	sb.rev_level = 2;
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EOPNOTSUPP);

	sb = fx->sbi.sb;
	sb.block_count += 1;
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);
	assert_non_null(strstr(msg, "geometry"));

	sb = fx->sbi.sb;
	sb.blocks_per_group = 1000;
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);

	sb = fx->sbi.sb;
	sb.csum_seed ^= 1;
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);

	sb = fx->sbi.sb;
	sb.errors = 9;
	sfs_super_encode(fx->blk, &sb);
	assert_int_equal(sfs_super_verify(fx->blk, 0, msg, sizeof(msg)), -EFSCORRUPTED);
}

static void test_feature_bits_are_judged_by_class(void **state)
{
	struct fixture *fx = *state;
	struct sfs_super sb = fx->sbi.sb;
	char msg[256], buf[256];

	assert_int_equal(sfs_super_check_features(&sb, msg, sizeof(msg)), SFS_FEATURES_OK);
	sb.feature_compat |= 0x80000000u;
	assert_int_equal(sfs_super_check_features(&sb, msg, sizeof(msg)), SFS_FEATURES_OK);
	sb.feature_ro_compat |= 0x100;
	assert_int_equal(sfs_super_check_features(&sb, msg, sizeof(msg)), SFS_FEATURES_RO);
	sb.feature_incompat |= 0x40;
	assert_int_equal(sfs_super_check_features(&sb, msg, sizeof(msg)), SFS_FEATURES_REFUSE);
	assert_non_null(strstr(msg, "0x00000040"));
	sfs_super_features_str(&sb, buf, sizeof(buf));
	assert_non_null(strstr(buf, "incompat_0x40"));
}

/* ---- geometry ------------------------------------------------------- */
static void check_layout(const struct sfs_geo_params *p)
{
	struct sfs_super sb;
	struct sfs_geo g, back;
	char msg[256];
	uint64_t last;

	assert_int_equal(sfs_geo_compute(p, &g, msg, sizeof(msg)), 0);
	memset(&sb, 0, sizeof(sb));
	sfs_geo_to_super(&g, &sb);
	sb.root_ino = SFS_ROOT_INO;
	sb.first_ino = SFS_FIRST_INO;
	if (sfs_geo_from_super(&back, &sb, msg, sizeof(msg)))
		fail_msg("size %llu log %u: %s", (unsigned long long)p->size, p->block_log, msg);
	assert_memory_equal(&g, &back, sizeof(g));
	assert_true(g.block_count <= p->size >> g.block_log);
	assert_int_equal(g.gdt_blocks, (g.group_count + g.descs_per_block - 1) / g.descs_per_block);
	last = sfs_geo_group_blocks(&g, g.group_count - 1);
	assert_true(last >= sfs_geo_group_overhead(&g) + SFS_MIN_GROUP_DATA);
	assert_true(last <= g.blocks_per_group);
	assert_true(g.inode_count >= SFS_MIN_INODES_PER_GROUP);
	/* Every block belongs to exactly one region. */
	assert_true(sfs_geo_is_fixed_metadata(&g, 0));
	assert_true(sfs_geo_is_fixed_metadata(&g, g.backup_sb_block));
	assert_false(sfs_geo_is_fixed_metadata(&g, sfs_geo_group_start(&g, 0) +
					       sfs_geo_group_overhead(&g)));
}

static void test_geometry_is_self_consistent_at_every_size(void **state)
{
	static const uint64_t sizes[] = {
		1ull << 20, 4ull << 20, (16ull << 20) + 12345, 100ull << 20, 256ull << 20,
		(1ull << 30) + 4096 * 7, 4ull << 30, 1ull << 40, (16ull << 40) - 4096,
	};
	static const uint32_t logs[] = { 10, 11, 12, 13, 16 };

	(void)state;
	for (size_t l = 0; l < sizeof(logs) / sizeof(logs[0]); l++) {
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (int j = 0; j < 2; j++) {
				struct sfs_geo_params p = { .block_log = logs[l], .size = sizes[s],
							    .journal_bytes = j ? 0 : -1 };
				struct sfs_geo g;

				if (sfs_geo_compute(&p, &g, NULL, 0))
					continue;   /* too small for this block size */
				check_layout(&p);
				p.blocks_per_group = 256;
				if (!sfs_geo_compute(&p, &g, NULL, 0) && g.group_count < 200000)
					check_layout(&p);
			}
		}
	}
	/* Sizes just around group boundaries exercise the runt rule. */
	for (uint64_t b = 1100; b < 1100 + 3 * 256 + 40; b += 7) {
		struct sfs_geo_params p = { .block_log = 12, .size = b * 4096,
					    .journal_bytes = -1, .blocks_per_group = 256 };
		struct sfs_geo g;

		if (!sfs_geo_compute(&p, &g, NULL, 0))
			check_layout(&p);
	}
}

static void test_geometry_refuses_nonsense(void **state)
{
	struct sfs_geo_params p = { .block_log = 12, .size = 64ull << 20, .journal_bytes = -1 };
	struct sfs_geo g;
	char msg[256];

	(void)state;
	p.block_log = 9;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	p.block_log = 17;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	p.block_log = 12;
	p.size = 64 << 10;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -ENOSPC);
	p.size = 64ull << 20;
	p.journal_bytes = 100 * 4096;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "journal too small"));
	p.journal_bytes = 40ull << 20;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	p.journal_bytes = -1;
	p.blocks_per_group = 1001;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	p.blocks_per_group = 0;
	p.inode_count = 1ull << 40;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "too many inodes"));
	p.inode_count = 0;
	p.inode_size = 300;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
	p.inode_size = 8192;
	assert_int_equal(sfs_geo_compute(&p, &g, msg, sizeof(msg)), -EINVAL);
}

static void test_minimum_size_is_exact(void **state)
{
	(void)state;
	for (uint32_t log = 10; log <= 16; log += 2) {
		for (int j = 0; j < 2; j++) {
			struct sfs_geo_params p = { .block_log = log, .journal_bytes = j ? 0 : -1 };
			struct sfs_geo g;
			uint64_t min = sfs_geo_min_size(&p);

			assert_true(min > 0);
			p.size = min;
			assert_int_equal(sfs_geo_compute(&p, &g, NULL, 0), 0);
			p.size = min - (1ull << log);
			assert_int_not_equal(sfs_geo_compute(&p, &g, NULL, 0), 0);
		}
	}
}

/* ---- group descriptors ---------------------------------------------- */
static void test_group_descriptors_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	struct sfs_group_desc *gd = mc_calloc(sbi->geo.group_count, sizeof(*gd), MC_KERNEL);
	struct sfs_group_desc *back = mc_calloc(sbi->geo.group_count, sizeof(*gd), MC_KERNEL);
	uint8_t raw[SFS_GD_SIZE];

	assert_true(sbi->geo.group_count > 2);
	for (uint32_t i = 0; i < sbi->geo.group_count; i++)
		sfs_gd_init_uninit(sbi, i, &gd[i]);
	gd[0].flags &= (uint16_t)~SFS_BG_INODE_UNINIT;   /* group 0 always holds inodes */
	gd[1].flags = SFS_BG_ITABLE_ZEROED;
	gd[1].free_blocks = 100;
	gd[1].largest_free = 60;
	gd[1].free_runs = 3;
	gd[1].free_inodes = 50;
	gd[1].used_dirs = 4;
	gd[1].itable_unused = 40;
	sfs_gd_encode(raw, &gd[1]);
	sfs_gd_decode(&back[1], raw);
	assert_memory_equal(&gd[1], &back[1], sizeof(gd[1]));

	sfs_gdt_block_build(fx->blk, sbi, 0, 1, gd);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size, 1, sbi), 0);
	assert_int_equal(sfs_gdt_buf_ops.verify_read(fx->blk, sbi->geo.block_size, 1, sbi), 0);
	sfs_gdt_block_decode(fx->blk, sbi, 0, back);
	assert_memory_equal(gd, back, sizeof(*gd) * sbi->geo.group_count);
	/* The same table block is valid at its backup place, not elsewhere. */
	sfs_gdt_block_build(fx->blk, sbi, 0, sbi->geo.backup_gdt_start, gd);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size,
					      sbi->geo.backup_gdt_start, sbi), 0);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size, 1, sbi), -EFSCORRUPTED);

	/* A descriptor pointing away from the geometry is corrupt. */
	gd[2].inode_table += 1;
	sfs_gdt_block_build(fx->blk, sbi, 0, 1, gd);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size, 1, sbi), -EFSCORRUPTED);
	assert_non_null(strstr(sfs_verify_reason(), "inode table"));
	gd[2].inode_table -= 1;
	/* Counts that contradict each other are corrupt. */
	gd[2].largest_free = gd[2].free_blocks + 1;
	sfs_gdt_block_build(fx->blk, sbi, 0, 1, gd);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size, 1, sbi), -EFSCORRUPTED);
	gd[2].largest_free = gd[2].free_blocks;
	/* BLOCK_UNINIT promises the implied counts. */
	gd[2].free_blocks -= 1;
	gd[2].largest_free -= 1;
	sfs_gdt_block_build(fx->blk, sbi, 0, 1, gd);
	assert_int_equal(sfs_gdt_block_verify(fx->blk, sbi->geo.block_size, 1, sbi), -EFSCORRUPTED);
	mc_free(gd);
	mc_free(back);
}

/* ---- bitmaps -------------------------------------------------------- */
static void test_bitmaps_pad_summarise_and_verify(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	uint32_t grp = sbi->geo.group_count - 1;
	uint64_t bb = sfs_geo_block_bitmap(&sbi->geo, grp);
	uint32_t nbits = sfs_geo_group_blocks(&sbi->geo, grp);
	uint32_t over = sfs_geo_group_overhead(&sbi->geo);
	struct sfs_bitmap_summary s;
	uint8_t *map;

	sfs_bbitmap_build_implied(fx->blk, sbi, grp);
	map = sfs_bitmap_data(fx->blk);
	for (uint32_t i = nbits; i < sbi->geo.bitmap_bits; i++)
		assert_true(sfs_bit_test(map, i));
	sfs_bitmap_summarise(map, nbits, &s);
	assert_int_equal(s.free, nbits - over);
	assert_int_equal(s.largest, nbits - over);
	assert_int_equal(s.runs, 1);
	/* Two allocations split the free space into three runs. */
	sfs_bit_set(map, over + 10);
	sfs_bit_set(map, over + 11);
	sfs_bit_set(map, over + 100);
	sfs_bitmap_summarise(map, nbits, &s);
	assert_int_equal(s.free, nbits - over - 3);
	assert_int_equal(s.runs, 3);
	assert_int_equal(s.largest, nbits - over - 101);

	sfs_bitmap_finish(fx->blk, sbi, bb);
	assert_int_equal(sfs_bbitmap_buf_ops.verify_read(fx->blk, sbi->geo.block_size, bb, sbi), 0);
	/* Wrong kind of bitmap for the place. */
	assert_int_equal(sfs_ibitmap_verify(fx->blk, sbi->geo.block_size, bb + 1, sbi), -EFSCORRUPTED);
	/* A clear padding bit. */
	sfs_bit_clear(map, nbits + 3);
	sfs_bitmap_finish(fx->blk, sbi, bb);
	assert_int_equal(sfs_bbitmap_verify(fx->blk, sbi->geo.block_size, bb, sbi), -EFSCORRUPTED);
	assert_non_null(strstr(sfs_verify_reason(), "padding"));
	sfs_bit_set(map, nbits + 3);
	/* Its own inode table marked free. */
	sfs_bit_clear(map, 2);
	sfs_bitmap_finish(fx->blk, sbi, bb);
	assert_int_equal(sfs_bbitmap_verify(fx->blk, sbi->geo.block_size, bb, sbi), -EFSCORRUPTED);

	sfs_bitmap_init(fx->blk, sbi, SFS_MAGIC_IBITMAP, grp);
	sfs_bitmap_finish(fx->blk, sbi, bb + 1);
	assert_int_equal(sfs_ibitmap_buf_ops.verify_read(fx->blk, sbi->geo.block_size, bb + 1, sbi), 0);
}

/* ---- inodes ---------------------------------------------------------- */
static void fill_inode(struct sfs_inode *in, uint64_t ino)
{
	struct sfs_extent_header h;

	memset(in, 0, sizeof(*in));
	in->ino = ino;
	in->mode = 0100644;
	in->core_size = SFS_INODE_CORE_SIZE;
	in->generation = 0xdeadbeef;
	in->flags = SFS_INODE_FL_NOATIME;
	in->uid = 1000;
	in->gid = 1001;
	in->nlink = 3;
	in->inline_xattr_len = 12;
	in->size = 123456789;
	in->blocks = 5;
	/* Field by field: a struct copy may carry padding bytes along. */
	in->atime.sec = -5;
	in->atime.nsec = 1;
	in->mtime.sec = 1700000000;
	in->mtime.nsec = 999999999;
	in->ctime.sec = 1700000001;
	in->ctime.nsec = 2;
	in->btime.sec = 1600000000;
	in->btime.nsec = 3;
	in->rdev_major = 8;
	in->rdev_minor = 1;
	in->version = 42;
	sfs_extent_root_init(in->root);
	sfs_extent_header_decode(&h, in->root);
	h.entries = 1;
	sfs_extent_header_encode(in->root, &h);
}

static void test_inode_round_trip_and_identity(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	uint64_t ino = sbi->geo.inodes_per_group + 3;   /* group 1 */
	uint32_t off;
	uint64_t blk = sfs_geo_ino_block(&sbi->geo, ino, &off);
	struct sfs_extent e = { .lblk = 10, .len = 5, .flags = SFS_EXTENT_FL_UNWRITTEN };
	struct sfs_inode in, back;
	uint8_t *raw = fx->blk + off;

	memset(&back, 0, sizeof(back));
	fill_inode(&in, ino);
	e.pblk = sfs_geo_group_start(&sbi->geo, 1) + sfs_geo_group_overhead(&sbi->geo);
	sfs_extent_put(in.root, 0, &e);
	memset(fx->blk, 0, sbi->geo.block_size);
	memset(raw + SFS_INODE_CORE_SIZE, 0xab, 12);   /* inline xattr bytes */
	sfs_inode_encode(raw, &in, sbi);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), 0);
	sfs_inode_decode(&back, raw);
	assert_memory_equal(&in, &back, sizeof(in));
	assert_int_equal(raw[SFS_INODE_CORE_SIZE], 0xab);   /* encode keeps the xattr area */
	assert_int_equal(sfs_itable_buf_ops.verify_read(fx->blk, sbi->geo.block_size, blk, sbi), 0);

	/* The checksum covers generation, inode number and the xattr area. */
	raw[24] ^= 1;
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSBADCRC);
	raw[24] ^= 1;
	raw[SFS_INODE_CORE_SIZE + 5] ^= 1;
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSBADCRC);
	raw[SFS_INODE_CORE_SIZE + 5] ^= 1;
	/* A valid record in the wrong slot. */
	assert_int_equal(sfs_inode_verify(raw, ino + 1, sbi), -EFSCORRUPTED);
	/* Another filesystem's record (different seed). */
	{
		struct sfs_sb_info other;

		make_sbi(&other, 12, 64ull << 20, 2048);
		assert_int_equal(sfs_inode_verify(raw, ino, &other), -EFSBADCRC);
		sfs_sb_info_destroy(&other);
	}
	/* Field checks. */
	in.atime.nsec = 1000000000u;
	sfs_inode_encode(raw, &in, sbi);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSCORRUPTED);
	in.atime.nsec = 0;
	in.mode = 0170644;
	sfs_inode_encode(raw, &in, sbi);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSCORRUPTED);
	in.mode = 0100644;
	in.flags = SFS_INODE_FL_INLINE;
	in.size = 81;
	sfs_inode_encode(raw, &in, sbi);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSCORRUPTED);
	/* A free record keeps only its identity. */
	in.mode = 0;
	sfs_inode_encode(raw, &in, sbi);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), 0);
	assert_false(sfs_inode_raw_in_use(raw));

	/* Stale bytes past the high-water mark do not fail the block. */
	memset(fx->blk + (off ? 0 : sbi->geo.inode_size), 0x5c, sbi->geo.inode_size);
	assert_int_equal(sfs_itable_block_verify(fx->blk, sbi->geo.block_size, blk, sbi), 0);
	/* prepare_write re-stamps records edited in place. */
	raw[40] = 9;   /* nlink */
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), -EFSBADCRC);
	assert_int_equal(sfs_itable_buf_ops.prepare_write(fx->blk, sbi->geo.block_size, blk, sbi), 0);
	assert_int_equal(sfs_inode_verify(raw, ino, sbi), 0);
}

/* ---- extents -------------------------------------------------------- */
static void test_extent_nodes_round_trip_and_verify(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	uint64_t data = sfs_geo_group_start(&sbi->geo, 0) + sfs_geo_group_overhead(&sbi->geo);
	uint64_t at = data + 100;
	struct sfs_extent e[3] = {
		{ .lblk = 0, .len = 8, .pblk = data },
		{ .lblk = 8, .len = 1000, .flags = SFS_EXTENT_FL_UNWRITTEN, .pblk = data + 8 },
		{ .lblk = 40000, .len = 1, .pblk = data + 200 },
	};
	struct sfs_extent_header h;
	struct sfs_extent_idx x = { .lblk = 77, .child = data + 3 }, xb;
	uint8_t *node = fx->blk + SFS_HDR_SIZE;
	struct sfs_extent back;

	sfs_extent_block_init(fx->blk, sbi, at, 12, 0);
	sfs_extent_header_decode(&h, node);
	assert_int_equal(h.max, (sbi->geo.block_size - 80) / 16);
	for (int i = 0; i < 3; i++)
		sfs_extent_put(node, i, &e[i]);
	h.entries = 3;
	sfs_extent_header_encode(node, &h);
	for (int i = 0; i < 3; i++) {
		sfs_extent_get(&back, node, i);
		assert_memory_equal(&back, &e[i], sizeof(back));
	}
	assert_int_equal(sfs_extent_buf_ops.prepare_write(fx->blk, sbi->geo.block_size, at, sbi), 0);
	assert_int_equal(sfs_extent_buf_ops.verify_read(fx->blk, sbi->geo.block_size, at, sbi), 0);

	/* Overlap, length 0, length past the limit, out-of-range blocks. */
	e[1].lblk = 7;
	sfs_extent_put(node, 1, &e[1]);
	sfs_hdr_stamp(fx->blk, sbi->geo.block_size, at, sbi);
	assert_int_equal(sfs_extent_block_verify(fx->blk, sbi->geo.block_size, at, sbi), -EFSCORRUPTED);
	e[1].lblk = 8;
	e[1].len = 0;
	sfs_extent_put(node, 1, &e[1]);
	sfs_hdr_stamp(fx->blk, sbi->geo.block_size, at, sbi);
	assert_int_equal(sfs_extent_block_verify(fx->blk, sbi->geo.block_size, at, sbi), -EFSCORRUPTED);
	e[1].len = 1;
	e[1].pblk = 1;   /* the GDT */
	sfs_extent_put(node, 1, &e[1]);
	sfs_hdr_stamp(fx->blk, sbi->geo.block_size, at, sbi);
	assert_int_equal(sfs_extent_block_verify(fx->blk, sbi->geo.block_size, at, sbi), -EFSCORRUPTED);

	/* The longest extent the format allows, and one longer (no filesystem
	 * bounds: sbi NULL). */
	e[1].pblk = data + 8;
	e[1].len = SFS_MAX_EXTENT_LEN;
	sfs_extent_put(node, 1, &e[1]);
	e[2].lblk = 8 + SFS_MAX_EXTENT_LEN;
	sfs_extent_put(node, 2, &e[2]);
	assert_int_equal(sfs_extent_node_check(node, h.max, NULL, "test"), 0);
	e[1].len = SFS_MAX_EXTENT_LEN + 1;
	sfs_extent_put(node, 1, &e[1]);
	assert_int_equal(sfs_extent_node_check(node, h.max, NULL, "test"), -EFSCORRUPTED);

	/* Index nodes. */
	sfs_extent_block_init(fx->blk, sbi, at, 12, 1);
	sfs_extent_idx_put(node, 0, &x);
	sfs_extent_idx_get(&xb, node, 0);
	assert_int_equal(x.lblk, xb.lblk);
	assert_int_equal(x.child, xb.child);
	sfs_extent_header_decode(&h, node);
	h.entries = 1;
	sfs_extent_header_encode(node, &h);
	assert_int_equal(sfs_extent_buf_ops.prepare_write(fx->blk, sbi->geo.block_size, at, sbi), 0);
	h.depth = SFS_EXTENT_MAX_DEPTH + 1;
	sfs_extent_header_encode(node, &h);
	assert_int_not_equal(sfs_extent_buf_ops.prepare_write(fx->blk, sbi->geo.block_size, at, sbi), 0);
}

/* ---- directories ---------------------------------------------------- */
static void test_directory_blocks(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	uint32_t bs = sbi->geo.block_size;
	uint64_t at = sfs_geo_group_start(&sbi->geo, 0) + sfs_geo_group_overhead(&sbi->geo);
	char name[257];
	struct sfs_dirent de;
	uint32_t off = 0;
	int n = 0, ret;

	sfs_dir_block_init(fx->blk, sbi, at, SFS_ROOT_INO);
	assert_int_equal(sfs_dir_block_add(fx->blk, bs, 2, ".", 1, SFS_FT_DIR), 0);
	assert_int_equal(sfs_dir_block_add(fx->blk, bs, 2, "..", 2, SFS_FT_DIR), 0);
	memset(name, 'x', sizeof(name));
	assert_int_equal(sfs_dir_block_add(fx->blk, bs, 12, name, 255, SFS_FT_REG), 0);
	assert_int_equal(sfs_dir_block_add(fx->blk, bs, 13, name, 256, SFS_FT_REG), -EINVAL);
	assert_int_equal(sfs_dir_block_add(fx->blk, bs, 13, "a/b", 3, SFS_FT_REG), -EINVAL);
	while ((ret = sfs_dir_block_next(fx->blk, bs, &off, &de)) > 0)
		if (de.ino)
			n++;
	assert_int_equal(ret, 0);
	assert_int_equal(n, 3);
	assert_int_equal(sfs_dirleaf_buf_ops.prepare_write(fx->blk, bs, at, sbi), 0);
	assert_int_equal(sfs_dirleaf_buf_ops.verify_read(fx->blk, bs, at, sbi), 0);
	/* Fill it: ENOSPC, the block stays valid. */
	while ((ret = sfs_dir_block_add(fx->blk, bs, 14, name, 200, SFS_FT_REG)) == 0)
		;
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(sfs_dirleaf_buf_ops.prepare_write(fx->blk, bs, at, sbi), 0);
	/* A record length that runs off the block. */
	fx->blk[SFS_HDR_SIZE + 8] = 0xf8;
	fx->blk[SFS_HDR_SIZE + 9] = 0xff;
	assert_int_equal(sfs_dirleaf_buf_ops.prepare_write(fx->blk, bs, at, sbi), -EFSCORRUPTED);
}

static void test_directory_block_of_64k(void **state)
{
	struct sfs_sb_info sbi;
	uint8_t *blk;
	uint64_t at;

	(void)state;
	make_sbi(&sbi, 16, 512ull << 20, 0);
	blk = sfs_io_alloc(sbi.geo.block_size);
	at = sfs_geo_group_start(&sbi.geo, 0) + sfs_geo_group_overhead(&sbi.geo);
	sfs_dir_block_init(blk, &sbi, at, SFS_ROOT_INO);
	assert_int_equal(sfs_dir_block_add(blk, sbi.geo.block_size, 2, ".", 1, SFS_FT_DIR), 0);
	assert_int_equal(sfs_dirleaf_buf_ops.prepare_write(blk, sbi.geo.block_size, at, &sbi), 0);
	mc_free(blk);
	sfs_sb_info_destroy(&sbi);
}

/* ---- journal superblock, reserved types ------------------------------ */
static void test_journal_superblock_and_reserved_types(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	uint32_t bs = sbi->geo.block_size;
	uint64_t data = sfs_geo_group_start(&sbi->geo, 0) + sfs_geo_group_overhead(&sbi->geo);
	struct sfs_jsb j, back;

	sfs_jsb_init_empty(&j, sbi);
	j.sequence = 1234;
	j.errno_ = 5;
	sfs_jsb_build(fx->blk, sbi, &j);
	assert_int_equal(sfs_jsb_buf_ops.verify_read(fx->blk, bs, sbi->geo.journal_start, sbi), 0);
	sfs_jsb_decode(&back, fx->blk);
	assert_memory_equal(&j, &back, sizeof(j));
	assert_int_equal(sfs_jsb_verify(fx->blk, bs, sbi->geo.journal_start + 1, sbi), -EFSCORRUPTED);
	j.start = j.maxlen;
	sfs_jsb_build(fx->blk, sbi, &j);
	assert_int_equal(sfs_jsb_verify(fx->blk, bs, sbi->geo.journal_start, sbi), -EFSCORRUPTED);

	sfs_xattr_block_init(fx->blk, sbi, data, 12);
	assert_int_equal(sfs_xattr_buf_ops.prepare_write(fx->blk, bs, data, sbi), 0);
	assert_int_equal(sfs_btype_by_magic(fx->blk), SFS_BT_XATTR);
	/* Directory index node (issue 8's layout): one entry at least. */
	sfs_dirindex_init(fx->blk, sbi, data, 12, 0, true, 2);
	assert_int_equal(sfs_dirindex_buf_ops.prepare_write(fx->blk, bs, data, sbi), -EFSCORRUPTED);
	{
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, fx->blk);
		h.count = 1;
		sfs_dirindex_hdr_put(fx->blk, &h);
		sfs_dirindex_set(fx->blk, 0, 0, 1);
	}
	assert_int_equal(sfs_dirindex_buf_ops.prepare_write(fx->blk, bs, data, sbi), 0);
	sfs_dirindex_init(fx->blk, sbi, data, sbi->geo.inode_count + 1, 0, true, 2);
	assert_int_equal(sfs_dirindex_buf_ops.prepare_write(fx->blk, bs, data, sbi), -EFSCORRUPTED);
}

/* Every header-carrying type: a checksum flip is EFSBADCRC, a misplaced
 * block or a foreign UUID is EFSCORRUPTED. */
static void test_every_verifier_separates_checksum_from_structure(void **state)
{
	struct fixture *fx = *state;
	struct sfs_sb_info *sbi = &fx->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint32_t bs = g->block_size;
	uint64_t data = sfs_geo_group_start(g, 0) + sfs_geo_group_overhead(g);
	struct sfs_group_desc *gd = mc_calloc(g->group_count, sizeof(*gd), MC_KERNEL);
	struct {
		enum sfs_btype type;
		uint64_t at;
	} cases[] = {
		{ SFS_BT_GDT, 1 },
		{ SFS_BT_BBITMAP, sfs_geo_block_bitmap(g, 1) },
		{ SFS_BT_IBITMAP, sfs_geo_inode_bitmap(g, 1) },
		{ SFS_BT_EXTENT, data },
		{ SFS_BT_DIRLEAF, data },
		{ SFS_BT_XATTR, data },
		{ SFS_BT_JSB, g->journal_start },
	};
	struct sfs_jsb j;

	for (uint32_t i = 0; i < g->group_count; i++)
		sfs_gd_init_uninit(sbi, i, &gd[i]);
	gd[0].flags &= (uint16_t)~SFS_BG_INODE_UNINIT;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct sfs_buf_ops *ops = sfs_btype_ops(cases[c].type);
		uint64_t at = cases[c].at;

		switch (cases[c].type) {
		case SFS_BT_GDT: sfs_gdt_block_build(fx->blk, sbi, 0, at, gd); break;
		case SFS_BT_BBITMAP: sfs_bbitmap_build_implied(fx->blk, sbi, 1); break;
		case SFS_BT_IBITMAP: sfs_bitmap_init(fx->blk, sbi, SFS_MAGIC_IBITMAP, 1); break;
		case SFS_BT_EXTENT: sfs_extent_block_init(fx->blk, sbi, at, 12, 0); break;
		case SFS_BT_DIRLEAF: sfs_dir_block_init(fx->blk, sbi, at, 12); break;
		case SFS_BT_XATTR: sfs_xattr_block_init(fx->blk, sbi, at, 12); break;
		case SFS_BT_JSB:
			sfs_jsb_init_empty(&j, sbi);
			sfs_jsb_build(fx->blk, sbi, &j);
			break;
		default: fail();
		}
		assert_non_null(ops);
		assert_int_equal(ops->prepare_write(fx->blk, bs, at, sbi), 0);
		assert_int_equal(ops->verify_read(fx->blk, bs, at, sbi), 0);
		assert_int_equal(sfs_btype_by_magic(fx->blk), cases[c].type);

		fx->blk[bs - 1] ^= 0x10;
		assert_int_equal(ops->verify_read(fx->blk, bs, at, sbi), -EFSBADCRC);
		fx->blk[bs - 1] ^= 0x10;

		sfs_put_le(fx->blk + 16, 8, at + 1);   /* self-address, re-checksummed */
		sfs_hdr_set_csum(fx->blk, bs, sbi->csum_seed);
		assert_int_equal(ops->verify_read(fx->blk, bs, at, sbi), -EFSCORRUPTED);
		sfs_put_le(fx->blk + 16, 8, at);

		fx->blk[40] ^= 1;                      /* UUID */
		sfs_hdr_set_csum(fx->blk, bs, sbi->csum_seed);
		assert_int_equal(ops->verify_read(fx->blk, bs, at, sbi), -EFSCORRUPTED);
		assert_non_null(strstr(sfs_verify_reason(), "another filesystem"));
	}
	/* Types assigned by location. */
	assert_int_equal(sfs_btype_by_location(sbi, 0), SFS_BT_SUPER);
	assert_int_equal(sfs_btype_by_location(sbi, 1), SFS_BT_GDT);
	assert_int_equal(sfs_btype_by_location(sbi, g->journal_start), SFS_BT_JSB);
	assert_int_equal(sfs_btype_by_location(sbi, g->journal_start + 1), SFS_BT_JOURNAL);
	assert_int_equal(sfs_btype_by_location(sbi, sfs_geo_inode_table(g, 1)), SFS_BT_ITABLE);
	assert_int_equal(sfs_btype_by_location(sbi, g->backup_gdt_start), SFS_BT_GDT);
	assert_int_equal(sfs_btype_by_location(sbi, g->backup_sb_block), SFS_BT_SUPER);
	assert_int_equal(sfs_btype_by_location(sbi, data), SFS_BT_DATA);
	assert_int_equal(sfs_btype_by_location(sbi, g->block_count), SFS_BT_UNKNOWN);
	mc_free(gd);
}

static void test_field_tables_fit_their_structures(void **state)
{
	static const struct {
		const struct sfs_field *tab;
		size_t size;
	} tabs[] = {
		{ sfs_hdr_fields, SFS_HDR_SIZE }, { sfs_super_fields, SFS_SB_SIZE },
		{ sfs_gd_fields, SFS_GD_SIZE }, { sfs_inode_fields, SFS_INODE_CORE_SIZE },
		{ sfs_jsb_fields, sizeof(struct sfs_disk_jsb) },
		{ sfs_extent_hdr_fields, sizeof(struct sfs_disk_extent_hdr) },
	};

	(void)state;
	for (size_t t = 0; t < sizeof(tabs) / sizeof(tabs[0]); t++)
		for (const struct sfs_field *f = tabs[t].tab; f->name; f++)
			assert_true(f->off + f->size <= tabs[t].size);
	assert_non_null(sfs_field_find(sfs_super_fields, "blocks_per_group"));
	assert_non_null(sfs_field_find(sfs_super_fields, "blkno"));   /* hdr. optional */
	assert_null(sfs_field_find(sfs_super_fields, "nonsense"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum_is_xxh3_around_the_field),
		cmocka_unit_test_setup_teardown(test_superblock_round_trip, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_superblock_verifier_names_each_damage, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_feature_bits_are_judged_by_class, setup_4k, teardown),
		cmocka_unit_test(test_geometry_is_self_consistent_at_every_size),
		cmocka_unit_test(test_geometry_refuses_nonsense),
		cmocka_unit_test(test_minimum_size_is_exact),
		cmocka_unit_test_setup_teardown(test_group_descriptors_round_trip, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_bitmaps_pad_summarise_and_verify, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_inode_round_trip_and_identity, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_extent_nodes_round_trip_and_verify, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_directory_blocks, setup_4k, teardown),
		cmocka_unit_test(test_directory_block_of_64k),
		cmocka_unit_test_setup_teardown(test_journal_superblock_and_reserved_types, setup_4k, teardown),
		cmocka_unit_test_setup_teardown(test_every_verifier_separates_checksum_from_structure,
						setup_4k, teardown),
		cmocka_unit_test(test_field_tables_fit_their_structures),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
