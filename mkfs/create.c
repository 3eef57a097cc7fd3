/*
 * Writing a new filesystem.
 *
 * Only what cannot be implied is written: the superblock and its backup,
 * both descriptor tables, group 0's bitmaps and the inode table blocks that
 * hold the reserved inodes, the root directory's block and the journal
 * superblock.  Every other group is marked BLOCK_UNINIT | INODE_UNINIT and
 * its bitmaps and inode table are never touched, so a 1 TiB sparse image
 * costs a few hundred blocks.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/bitmap.h"
#include "fs/format/checksum.h"
#include "fs/format/dir.h"
#include "fs/format/extent.h"
#include "fs/format/group.h"
#include "fs/format/inode.h"
#include "fs/format/io.h"
#include "journal/journal.h"
#include "fs/format/uuid.h"
#include "fs/format/verify.h"
#include "mkfs/mkfs.h"
#include "tools/common/toolutil.h"

/* GDT blocks written per call: large images have thousands. */
#define GDT_BATCH 256u

/* The root directory's block: the first data block of group 0. */
static uint64_t root_dir_block(const struct sfs_geo *g)
{
	return sfs_geo_group_start(g, 0) + sfs_geo_group_overhead(g);
}

int mkfs_prepare(const struct mkfs_opts *o, const struct sfs_geo *geo, struct sfs_sb_info *sbi)
{
	struct sfs_super sb;
	struct sfs_group_desc *gd;
	uint64_t now = (uint64_t)time(NULL), free_blocks = 0, free_inodes = 0;
	uint32_t reserved_inodes = SFS_FIRST_INO - 1;
	int ret;

	memset(&sb, 0, sizeof(sb));
	sfs_geo_to_super(geo, &sb);
	sb.rev_level = SFS_FORMAT_REV;
	if (o->uuid_set)
		memcpy(sb.uuid, o->uuid, 16);
	else if ((ret = sfs_uuid_generate(sb.uuid)))
		return ret;
	sb.csum_seed = sfs_csum_seed(sb.uuid);
	sb.root_ino = SFS_ROOT_INO;
	sb.first_ino = SFS_FIRST_INO;
	sb.feature_compat = geo->journal_blocks ? SFS_FEATURE_COMPAT_HAS_JOURNAL : 0;
	sb.feature_ro_compat = SFS_FEATURE_RO_COMPAT_UNINIT_BG;
	sb.state = SFS_STATE_VALID;
	sb.errors = SFS_ERRORS_CONTINUE;
	sb.mkfs_time = sb.write_time = sb.check_time = now;
	sb.reserved_blocks = geo->block_count * o->reserved_pct_x100 / 10000;
	memcpy(sb.label, o->label, sizeof(o->label));

	ret = sfs_sb_info_init(sbi, &sb, NULL, 0);
	if (ret) {
		sfs_sb_info_destroy(sbi);
		return ret;
	}
	gd = mc_calloc(geo->group_count, sizeof(*gd), MC_KERNEL);
	if (!gd) {
		sfs_sb_info_destroy(sbi);
		return -ENOMEM;
	}
	sbi->gd = gd;
	for (uint32_t i = 0; i < geo->group_count; i++) {
		sfs_gd_init_uninit(sbi, i, &gd[i]);
		/* A discarded (sparse, freshly sized) image reads as zeros. */
		if (!o->keep)
			gd[i].flags |= SFS_BG_ITABLE_ZEROED;
		free_blocks += gd[i].free_blocks;
		free_inodes += gd[i].free_inodes;
	}

	/* Group 0 holds the reserved inodes and the root directory's block. */
	gd[0].flags &= (uint16_t)~(SFS_BG_BLOCK_UNINIT | SFS_BG_INODE_UNINIT);
	gd[0].free_blocks -= 1;
	gd[0].largest_free = gd[0].free_blocks;
	gd[0].free_runs = gd[0].free_blocks ? 1 : 0;
	gd[0].free_inodes -= reserved_inodes;
	gd[0].itable_unused -= reserved_inodes;
	gd[0].used_dirs = 1;
	sbi->sb.free_blocks = free_blocks - 1;
	sbi->sb.free_inodes = free_inodes - reserved_inodes;
	return 0;
}

static int write_root(struct sfs_sb_info *sbi, struct sfs_bdev *bdev, uint8_t *blk,
		      uint64_t *written)
{
	const struct sfs_geo *g = &sbi->geo;
	uint64_t dblk = root_dir_block(g), iblk;
	uint32_t ioff, nblocks;
	struct sfs_inode root;
	struct sfs_extent ext = { .lblk = 0, .len = 1, .flags = 0, .pblk = dblk };
	struct sfs_extent_header eh;
	struct timespec now;
	int ret;

	/* Directory block: "." and "..", both the root itself. */
	sfs_dir_block_init(blk, sbi, dblk, SFS_ROOT_INO);
	ret = sfs_dir_block_add(blk, g->block_size, SFS_ROOT_INO, ".", 1, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dir_block_add(blk, g->block_size, SFS_ROOT_INO, "..", 2, SFS_FT_DIR);
	if (ret)
		return ret;
	ret = sfs_dirleaf_buf_ops.prepare_write(blk, g->block_size, dblk, sbi);
	if (!ret)
		ret = sfs_io_write_blocks(bdev, blk, g->block_log, dblk, 1);
	if (ret)
		return ret;
	(*written)++;

	/* Inode table blocks holding inodes 1 .. first_ino-1: zero but the root,
	 * so a kept (not discarded) image has no stale records there. */
	nblocks = (SFS_FIRST_INO - 1 + g->inodes_per_block - 1) / g->inodes_per_block;
	clock_gettime(CLOCK_REALTIME, &now);
	memset(&root, 0, sizeof(root));
	root.ino = SFS_ROOT_INO;
	root.mode = S_IFDIR | 0755;
	/* The caller owns the root, as mke2fs does for non-root users: an
	 * unprivileged FUSE mount can then use its own filesystem. */
	root.uid = (uint32_t)getuid();
	root.gid = (uint32_t)getgid();
	root.nlink = 2;
	root.size = g->block_size;
	root.blocks = 1;
	root.atime.sec = root.mtime.sec = root.ctime.sec = root.btime.sec = now.tv_sec;
	root.atime.nsec = root.mtime.nsec = root.ctime.nsec = root.btime.nsec =
		(uint32_t)now.tv_nsec;
	sfs_extent_root_init(root.root);
	sfs_extent_header_decode(&eh, root.root);
	eh.entries = 1;
	sfs_extent_header_encode(root.root, &eh);
	sfs_extent_put(root.root, 0, &ext);

	iblk = sfs_geo_ino_block(g, SFS_ROOT_INO, &ioff);
	for (uint32_t i = 0; i < nblocks; i++) {
		uint64_t b = sfs_geo_inode_table(g, 0) + i;

		memset(blk, 0, g->block_size);
		if (b == iblk)
			sfs_inode_encode(blk + ioff, &root, sbi);
		ret = sfs_itable_buf_ops.prepare_write(blk, g->block_size, b, sbi);
		if (!ret)
			ret = sfs_io_write_blocks(bdev, blk, g->block_log, b, 1);
		if (ret)
			return ret;
		(*written)++;
	}
	return 0;
}

static int write_group0_bitmaps(struct sfs_sb_info *sbi, struct sfs_bdev *bdev, uint8_t *blk,
				uint64_t *written)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t dblk_idx = sfs_geo_group_overhead(g);
	int ret;

	sfs_bbitmap_build_implied(blk, sbi, 0);
	sfs_bit_set(sfs_bitmap_data(blk), dblk_idx);
	ret = sfs_bbitmap_buf_ops.prepare_write(blk, g->block_size, sfs_geo_block_bitmap(g, 0), sbi);
	if (!ret)
		ret = sfs_io_write_blocks(bdev, blk, g->block_log, sfs_geo_block_bitmap(g, 0), 1);
	if (ret)
		return ret;
	(*written)++;

	sfs_bitmap_init(blk, sbi, SFS_MAGIC_IBITMAP, 0);
	for (uint32_t i = 0; i < SFS_FIRST_INO - 1; i++)
		sfs_bit_set(sfs_bitmap_data(blk), i);
	ret = sfs_ibitmap_buf_ops.prepare_write(blk, g->block_size, sfs_geo_inode_bitmap(g, 0), sbi);
	if (!ret)
		ret = sfs_io_write_blocks(bdev, blk, g->block_log, sfs_geo_inode_bitmap(g, 0), 1);
	if (ret)
		return ret;
	(*written)++;
	return 0;
}

/* One copy of the descriptor table starting at @start, with progress. */
static int write_gdt(const struct mkfs_opts *o, struct sfs_sb_info *sbi, struct sfs_bdev *bdev,
		     uint64_t start, const char *label, uint64_t *written)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t batch = g->gdt_blocks < GDT_BATCH ? g->gdt_blocks : GDT_BATCH;
	uint8_t *buf = sfs_io_alloc((size_t)batch * g->block_size);
	struct tu_progress prog;
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	tu_progress_start(&prog, label, g->gdt_blocks, o->quiet || g->gdt_blocks < 64);
	for (uint32_t i = 0; i < g->gdt_blocks; i += batch) {
		uint32_t n = g->gdt_blocks - i < batch ? g->gdt_blocks - i : batch;

		for (uint32_t k = 0; k < n; k++) {
			uint8_t *blk = buf + (size_t)k * g->block_size;

			sfs_gdt_block_build(blk, sbi, i + k, start + i + k, sbi->gd);
			ret = sfs_gdt_block_verify(blk, g->block_size, start + i + k, sbi);
			if (ret)
				goto out;
		}
		ret = sfs_io_write_blocks(bdev, buf, g->block_log, start + i, n);
		if (ret)
			goto out;
		*written += n;
		tu_progress_update(&prog, i + n);
	}
out:
	tu_progress_end(&prog);
	mc_free(buf);
	return ret;
}

/* One copy of the superblock at @blkno, through the verifier the
 * buffer cache runs before every write (as the GDT blocks above). */
static int write_super(struct sfs_sb_info *sbi, struct sfs_bdev *bdev, uint8_t *blk,
		       struct sfs_super *sb, uint64_t blkno)
{
	const struct sfs_geo *g = &sbi->geo;
	int ret;

	memset(blk, 0, g->block_size);
	sfs_super_relocate(sb, blkno);
	sfs_super_encode(blk, sb);
	ret = sfs_super_buf_ops.prepare_write(blk, blkno ? g->block_size : SFS_SB_SIZE, blkno,
					      sbi);
	if (ret) {
		fprintf(stderr, "mkfs.scopefs: superblock at block %llu fails its verifier: %s\n",
			(unsigned long long)blkno, sfs_verify_reason());
		return ret;
	}
	return sfs_io_write_blocks(bdev, blk, g->block_log, blkno, 1);
}

int mkfs_write(const struct mkfs_opts *o, struct sfs_sb_info *sbi, struct sfs_bdev *bdev,
	       struct mkfs_result *res)
{
	const struct sfs_geo *g = &sbi->geo;
	double t0 = tu_now();
	uint64_t written = 0;
	struct sfs_super copy;
	uint8_t *blk;
	int ret;

	memset(res, 0, sizeof(*res));
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;

	ret = write_group0_bitmaps(sbi, bdev, blk, &written);
	if (ret)
		goto out;
	ret = write_root(sbi, bdev, blk, &written);
	if (ret)
		goto out;
	if (g->journal_blocks) {
		/* The journal owns its log format: it writes the empty log. */
		struct jnl_area a = { .block_size = g->block_size, .start = g->journal_start,
				      .blocks = g->journal_blocks };

		memcpy(a.uuid, sbi->sb.uuid, sizeof(a.uuid));
		ret = jnl_format_area(bdev, &a);
		if (ret)
			goto out;
		written++;
	}
	ret = write_gdt(o, sbi, bdev, g->backup_gdt_start, "Writing backup descriptors",
			&written);
	if (ret)
		goto out;
	ret = write_gdt(o, sbi, bdev, 1, "Writing group descriptors", &written);
	if (ret)
		goto out;

	copy = sbi->sb;
	ret = write_super(sbi, bdev, blk, &copy, g->backup_sb_block);
	if (ret)
		goto out;
	written++;

	/* Everything the superblock points at is durable before it exists. */
	ret = sfs_bdev_flush(bdev);
	if (ret)
		goto out;
	ret = write_super(sbi, bdev, blk, &sbi->sb, 0);
	if (ret)
		goto out;
	written++;
	ret = sfs_bdev_flush(bdev);
out:
	res->blocks_written = written;
	res->groups_initialised = 1;
	res->seconds = tu_now() - t0;
	mc_free(blk);
	return ret;
}
