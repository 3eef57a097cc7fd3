/*
 * Layout arithmetic: choosing a geometry (mkfs) and checking one (mount,
 * fsck, verifiers).  See geometry.h for the layout itself.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/geometry.h"
#include "fs/format/ondisk.h"
#include "fs/format/super.h"
#include "fs/block/buf_ops.h"

static int geo_err(int err, char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int geo_err(int err, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

static uint64_t div_round_up(uint64_t a, uint64_t b)
{
	return (a + b - 1) / b;
}

/*
 * Journal size grows with the filesystem in powers of two, the way mke2fs
 * scales its journal: big enough that a busy filesystem does not wait for
 * checkpoints constantly, small enough not to matter on small images.
 */
uint64_t sfs_geo_default_journal_blocks(uint64_t blocks)
{
	static const struct { uint64_t below; uint64_t jblocks; } steps[] = {
		{ 32768, 1024 }, { 262144, 4096 }, { 524288, 8192 },
		{ 4194304, 16384 }, { 8388608, 32768 }, { 16777216, 65536 },
		{ 33554432, 131072 },
	};

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (blocks < steps[i].below)
			return steps[i].jblocks;
	return 262144;
}

/* Small images hold many small files (mke2fs's "small" type); large ones
 * hold fewer, larger files. */
uint64_t sfs_geo_default_bytes_per_inode(uint64_t bytes)
{
	if (bytes < (512ull << 20))
		return 4096;
	if (bytes < (4ull << 40))
		return 16384;
	return 65536;
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* Fill the fields that follow from the others. */
static void geo_derive(struct sfs_geo *g)
{
	g->block_size = 1u << g->block_log;
	g->inodes_per_block = g->block_size / g->inode_size;
	g->descs_per_block = (g->block_size - SFS_HDR_SIZE) / SFS_GD_SIZE;
	g->bitmap_bits = sfs_bitmap_bits(g->block_log);
	g->journal_start = 1 + (uint64_t)g->gdt_blocks;
	g->first_data_block = g->journal_start + g->journal_blocks;
	g->backup_sb_block = g->block_count - 1;
	g->backup_gdt_start = g->backup_sb_block - g->gdt_blocks;
	g->inode_count = (uint64_t)g->group_count * g->inodes_per_group;
}

/* Groups that fit in @blocks blocks with a GDT of @gdt blocks (0 = none fit). */
static uint64_t groups_for(const struct sfs_geo *g, uint64_t blocks, uint64_t gdt, uint64_t *avail)
{
	uint64_t fixed = 1 + gdt + g->journal_blocks + gdt + 1;

	if (blocks <= fixed)
		return 0;
	*avail = blocks - fixed;
	return div_round_up(*avail, g->blocks_per_group);
}

/*
 * Lay out @blocks blocks with the per-group choices already in @g.
 *
 * The GDT must have exactly ceil(groups / descs_per_block) blocks, but the
 * group count itself shrinks as the GDT (and its backup) grows.  "needed(x)"
 * is non-increasing in the GDT size x, so the largest x with needed(x) >= x
 * is found by bisection; either needed(x) == x, or the layout with x blocks
 * has one group too many and that group is a runt of at most two blocks,
 * which the runt rule below drops.  A last group too small for its own
 * metadata is left out, as ext4 does, and the layout redone.
 * Returns 0, -ENOSPC or -EFBIG.
 */
static int geo_layout(struct sfs_geo *g, uint64_t blocks)
{
	uint32_t overhead = 2 + g->itable_blocks;

	for (;;) {
		uint64_t lo = 1, hi, gdt, avail = 0, groups, last;

		if (blocks <= g->journal_blocks)
			return -ENOSPC;
		hi = div_round_up(div_round_up(blocks - g->journal_blocks, g->blocks_per_group),
				  g->descs_per_block);
		if (!groups_for(g, blocks, 1, &avail))
			return -ENOSPC;
		while (lo < hi) {
			uint64_t mid = lo + (hi - lo + 1) / 2;
			uint64_t n = groups_for(g, blocks, mid, &avail);

			if (n && div_round_up(n, g->descs_per_block) >= mid)
				lo = mid;
			else
				hi = mid - 1;
		}
		gdt = lo;
		groups = groups_for(g, blocks, gdt, &avail);
		if (!groups)
			return -ENOSPC;
		if (groups >= (1ull << 32))
			return -EFBIG;
		last = avail - (groups - 1) * g->blocks_per_group;
		if (last >= overhead + SFS_MIN_GROUP_DATA &&
		    div_round_up(groups, g->descs_per_block) == gdt) {
			g->gdt_blocks = (uint32_t)gdt;
			g->group_count = (uint32_t)groups;
			g->block_count = blocks;
			geo_derive(g);
			return 0;
		}
		if (groups == 1)
			return -ENOSPC;
		/* Drop the runt group and lay out again: the GDT may shrink. */
		blocks -= last;
	}
}

int sfs_geo_compute(const struct sfs_geo_params *p, struct sfs_geo *g, char *msg, size_t msglen)
{
	uint32_t log = p->block_log ? p->block_log : SFS_DEFAULT_BLOCK_LOG;
	uint32_t bsize, maxbits, ipb, min_ipg, max_ipg;
	uint64_t blocks, jblocks, bpi, want_inodes, ipg, area;
	int ret;

	memset(g, 0, sizeof(*g));
	if (log < SFS_MIN_BLOCK_LOG || log > SFS_MAX_BLOCK_LOG)
		return geo_err(-EINVAL, msg, msglen,
			       "block size must be a power of two from 1024 to 65536");
	bsize = 1u << log;
	maxbits = sfs_bitmap_bits(log);
	g->block_log = log;
	g->block_size = bsize;
	g->descs_per_block = (bsize - SFS_HDR_SIZE) / SFS_GD_SIZE;

	g->inode_size = p->inode_size ? p->inode_size : SFS_DEFAULT_INODE_SIZE;
	if (g->inode_size > bsize && !p->inode_size)
		g->inode_size = bsize;
	if (!is_pow2(g->inode_size) || g->inode_size < SFS_MIN_INODE_SIZE ||
	    g->inode_size > SFS_MAX_INODE_SIZE || g->inode_size > bsize)
		return geo_err(-EINVAL, msg, msglen,
			       "inode size %u is invalid: a power of two from %u to %u, at most the block size",
			       g->inode_size, SFS_MIN_INODE_SIZE,
			       bsize < SFS_MAX_INODE_SIZE ? bsize : SFS_MAX_INODE_SIZE);
	ipb = bsize / g->inode_size;
	g->inodes_per_block = ipb;

	g->blocks_per_group = p->blocks_per_group ? p->blocks_per_group : maxbits;
	if (g->blocks_per_group % 8 || g->blocks_per_group < SFS_MIN_BLOCKS_PER_GROUP ||
	    g->blocks_per_group > maxbits)
		return geo_err(-EINVAL, msg, msglen,
			       "blocks per group must be a multiple of 8 from %u to %u for %u-byte blocks",
			       SFS_MIN_BLOCKS_PER_GROUP, maxbits, bsize);

	if (p->size / bsize > (1ull << 48) || p->size > (1ull << 62))
		return geo_err(-EFBIG, msg, msglen, "size too large: at most 2^48 blocks");
	blocks = p->size / bsize;
	if (blocks < 8)
		return geo_err(-ENOSPC, msg, msglen, "image too small");

	if (p->journal_bytes < 0) {
		jblocks = sfs_geo_default_journal_blocks(blocks);
	} else {
		jblocks = div_round_up((uint64_t)p->journal_bytes, bsize);
		if (jblocks && jblocks < SFS_MIN_JOURNAL_BLOCKS)
			return geo_err(-EINVAL, msg, msglen,
				       "journal too small: at least %u blocks (%llu KiB) or 0 for none",
				       SFS_MIN_JOURNAL_BLOCKS,
				       (unsigned long long)SFS_MIN_JOURNAL_BLOCKS * bsize / 1024);
		if (jblocks > blocks / 2)
			return geo_err(-EINVAL, msg, msglen,
				       "journal of %llu blocks is more than half the filesystem",
				       (unsigned long long)jblocks);
		if (jblocks > UINT32_MAX)
			return geo_err(-EINVAL, msg, msglen, "journal too large");
	}
	g->journal_blocks = jblocks;

	/*
	 * Inodes per group: from -N spread over the groups, or from the bytes
	 * per inode ratio over the group area.  Computed from a first layout
	 * with a one-block inode table, then the layout is redone with the
	 * real table; the group count can only shrink, which only raises the
	 * per-group share, so the loop settles quickly.
	 */
	bpi = p->bytes_per_inode ? p->bytes_per_inode : sfs_geo_default_bytes_per_inode(p->size);
	if (p->bytes_per_inode && (p->bytes_per_inode < 1024 || p->bytes_per_inode > (1ull << 30)))
		return geo_err(-EINVAL, msg, msglen,
			       "bytes per inode must be from 1024 to 1073741824");
	min_ipg = SFS_MIN_INODES_PER_GROUP;
	if (min_ipg % ipb)
		min_ipg += ipb - min_ipg % ipb;
	max_ipg = maxbits - maxbits % ipb;
	g->itable_blocks = min_ipg / ipb;
	ret = geo_layout(g, blocks);
	if (ret)
		goto fail;
	for (int round = 0; round < 8; round++) {
		uint32_t prev_groups = g->group_count;

		area = g->backup_gdt_start - g->first_data_block;
		want_inodes = p->inode_count ? p->inode_count : area * bsize / bpi;
		ipg = div_round_up(want_inodes, g->group_count);
		if (ipg < min_ipg)
			ipg = min_ipg;
		ipg = div_round_up(ipg, ipb) * ipb;
		if (ipg > max_ipg) {
			if (p->inode_count || p->bytes_per_inode)
				return geo_err(-EINVAL, msg, msglen,
					       "too many inodes: at most %llu (%u per group) fit this image",
					       (unsigned long long)max_ipg * g->group_count, max_ipg);
			ipg = max_ipg;
		}
		if (2 + ipg / ipb + SFS_MIN_GROUP_DATA > g->blocks_per_group) {
			if (p->inode_count || p->bytes_per_inode)
				return geo_err(-EINVAL, msg, msglen,
					       "too many inodes: the inode tables would fill the groups");
			ipg = (uint64_t)(g->blocks_per_group - 2 - SFS_MIN_GROUP_DATA) * ipb;
		}
		g->inodes_per_group = (uint32_t)ipg;
		g->itable_blocks = (uint32_t)(ipg / ipb);
		ret = geo_layout(g, blocks);
		if (ret)
			goto fail;
		if (g->group_count == prev_groups)
			break;
	}
	g->inodes_per_group = (uint32_t)ipg;
	geo_derive(g);
	if (g->inode_count > UINT32_MAX * 16ull)
		return geo_err(-EFBIG, msg, msglen, "too many inodes");
	return 0;
fail:
	if (ret == -ENOSPC)
		return geo_err(ret, msg, msglen, "image too small");
	return geo_err(ret, msg, msglen, "image too large for %u-byte blocks", bsize);
}

uint64_t sfs_geo_min_size(const struct sfs_geo_params *p)
{
	struct sfs_geo_params q = *p;
	struct sfs_geo g;
	uint32_t bsize = 1u << (p->block_log ? p->block_log : SFS_DEFAULT_BLOCK_LOG);
	uint64_t lo = 1, hi = 1ull << 20;  /* in blocks */

	/* Find an upper bound that works, then bisect. */
	for (;;) {
		q.size = hi * bsize;
		if (!sfs_geo_compute(&q, &g, NULL, 0))
			break;
		if (hi >= (1ull << 40))
			return 0;
		hi <<= 2;
	}
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;

		q.size = mid * bsize;
		if (!sfs_geo_compute(&q, &g, NULL, 0))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo * bsize;
}

void sfs_geo_to_super(const struct sfs_geo *g, struct sfs_super *sb)
{
	sb->block_log = g->block_log;
	sb->block_count = g->block_count;
	sb->inode_count = g->inode_count;
	sb->first_data_block = g->first_data_block;
	sb->journal_start = g->journal_start;
	sb->journal_blocks = g->journal_blocks;
	sb->backup_gdt_start = g->backup_gdt_start;
	sb->backup_sb_block = g->backup_sb_block;
	sb->blocks_per_group = g->blocks_per_group;
	sb->inodes_per_group = g->inodes_per_group;
	sb->group_count = g->group_count;
	sb->gdt_blocks = g->gdt_blocks;
	sb->itable_blocks = g->itable_blocks;
	sb->inode_size = (uint16_t)g->inode_size;
	sb->desc_size = SFS_GD_SIZE;
}

#define GEO_CHECK(cond, ...) do {                                             \
		if (!(cond))                                                  \
			return geo_err(-EFSCORRUPTED, msg, msglen, __VA_ARGS__); \
	} while (0)

int sfs_geo_from_super(struct sfs_geo *g, const struct sfs_super *sb, char *msg, size_t msglen)
{
	uint64_t last, fixed;
	uint32_t bsize, maxbits;

	memset(g, 0, sizeof(*g));
	GEO_CHECK(sb->block_log >= SFS_MIN_BLOCK_LOG && sb->block_log <= SFS_MAX_BLOCK_LOG,
		  "block size 2^%u outside 1 KiB .. 64 KiB", sb->block_log);
	bsize = 1u << sb->block_log;
	maxbits = sfs_bitmap_bits(sb->block_log);
	GEO_CHECK(sb->desc_size == SFS_GD_SIZE, "descriptor size %u, expected %u",
		  sb->desc_size, SFS_GD_SIZE);
	GEO_CHECK(is_pow2(sb->inode_size) && sb->inode_size >= SFS_MIN_INODE_SIZE &&
		  sb->inode_size <= SFS_MAX_INODE_SIZE && sb->inode_size <= bsize,
		  "inode size %u invalid", sb->inode_size);
	GEO_CHECK(sb->blocks_per_group >= 8 && sb->blocks_per_group % 8 == 0 &&
		  sb->blocks_per_group <= maxbits,
		  "blocks per group %u invalid (multiple of 8, at most %u)",
		  sb->blocks_per_group, maxbits);
	GEO_CHECK(sb->inodes_per_group >= 1 && sb->inodes_per_group <= maxbits &&
		  sb->inodes_per_group % (bsize / sb->inode_size) == 0,
		  "inodes per group %u invalid", sb->inodes_per_group);
	GEO_CHECK(sb->group_count >= 1, "no block groups");
	GEO_CHECK(sb->block_count >= 8 && sb->block_count <= (1ull << 48),
		  "block count %llu out of range", (unsigned long long)sb->block_count);

	g->block_log = sb->block_log;
	g->inode_size = sb->inode_size;
	g->block_count = sb->block_count;
	g->blocks_per_group = sb->blocks_per_group;
	g->inodes_per_group = sb->inodes_per_group;
	g->group_count = sb->group_count;
	g->gdt_blocks = sb->gdt_blocks;
	g->journal_blocks = sb->journal_blocks;
	g->itable_blocks = sb->itable_blocks;
	geo_derive(g);

	GEO_CHECK(sb->itable_blocks == sb->inodes_per_group / g->inodes_per_block,
		  "inode table of %u blocks, %u inodes per group need %u",
		  sb->itable_blocks, sb->inodes_per_group,
		  sb->inodes_per_group / g->inodes_per_block);
	GEO_CHECK(sb->gdt_blocks == div_round_up(sb->group_count, g->descs_per_block),
		  "%u group descriptor blocks for %u groups, expected %llu", sb->gdt_blocks,
		  sb->group_count,
		  (unsigned long long)div_round_up(sb->group_count, g->descs_per_block));
	GEO_CHECK(sb->journal_blocks == 0 || sb->journal_blocks >= SFS_MIN_JOURNAL_BLOCKS,
		  "journal of %llu blocks is below the minimum %u",
		  (unsigned long long)sb->journal_blocks, SFS_MIN_JOURNAL_BLOCKS);
	GEO_CHECK(sb->journal_start == g->journal_start,
		  "journal starts at %llu, expected %llu",
		  (unsigned long long)sb->journal_start, (unsigned long long)g->journal_start);
	GEO_CHECK(sb->first_data_block == g->first_data_block,
		  "first data block %llu, expected %llu",
		  (unsigned long long)sb->first_data_block,
		  (unsigned long long)g->first_data_block);
	fixed = g->first_data_block + (uint64_t)g->gdt_blocks + 1;
	GEO_CHECK(sb->block_count > fixed + (uint64_t)(g->group_count - 1) * g->blocks_per_group,
		  "%llu blocks cannot hold %u groups of %u",
		  (unsigned long long)sb->block_count, sb->group_count, sb->blocks_per_group);
	last = sb->block_count - fixed - (uint64_t)(g->group_count - 1) * g->blocks_per_group;
	GEO_CHECK(last <= g->blocks_per_group,
		  "%llu blocks leave %llu beyond the last of %u groups",
		  (unsigned long long)sb->block_count,
		  (unsigned long long)(last - g->blocks_per_group), sb->group_count);
	GEO_CHECK(last > 2u + g->itable_blocks,
		  "last group of %llu blocks cannot hold its %u metadata blocks",
		  (unsigned long long)last, 2u + g->itable_blocks);
	GEO_CHECK(sb->backup_sb_block == g->backup_sb_block,
		  "backup superblock at %llu, expected %llu",
		  (unsigned long long)sb->backup_sb_block, (unsigned long long)g->backup_sb_block);
	GEO_CHECK(sb->backup_gdt_start == g->backup_gdt_start,
		  "backup descriptors at %llu, expected %llu",
		  (unsigned long long)sb->backup_gdt_start,
		  (unsigned long long)g->backup_gdt_start);
	GEO_CHECK(sb->inode_count == g->inode_count, "inode count %llu, expected %llu",
		  (unsigned long long)sb->inode_count, (unsigned long long)g->inode_count);
	GEO_CHECK(sb->root_ino == SFS_ROOT_INO, "root inode %llu, expected %u",
		  (unsigned long long)sb->root_ino, SFS_ROOT_INO);
	GEO_CHECK(sb->first_ino == SFS_FIRST_INO && sb->first_ino <= sb->inodes_per_group,
		  "first inode %llu invalid", (unsigned long long)sb->first_ino);
	GEO_CHECK(sb->free_blocks <= sb->block_count, "free blocks %llu exceed %llu",
		  (unsigned long long)sb->free_blocks, (unsigned long long)sb->block_count);
	GEO_CHECK(sb->free_inodes <= sb->inode_count, "free inodes %llu exceed %llu",
		  (unsigned long long)sb->free_inodes, (unsigned long long)sb->inode_count);
	GEO_CHECK(sb->reserved_blocks <= sb->block_count, "reserved blocks %llu exceed %llu",
		  (unsigned long long)sb->reserved_blocks, (unsigned long long)sb->block_count);
	GEO_CHECK(sb->orphan_head == 0 || sb->orphan_head <= sb->inode_count,
		  "orphan list head %llu is not an inode", (unsigned long long)sb->orphan_head);
	return 0;
}

bool sfs_geo_block_group(const struct sfs_geo *g, uint64_t blk, uint32_t *grp, uint32_t *idx)
{
	uint64_t rel;

	if (blk < g->first_data_block || blk >= g->backup_gdt_start)
		return false;
	rel = blk - g->first_data_block;
	if (grp)
		*grp = (uint32_t)(rel / g->blocks_per_group);
	if (idx)
		*idx = (uint32_t)(rel % g->blocks_per_group);
	return true;
}

bool sfs_geo_itable_first_ino(const struct sfs_geo *g, uint64_t blk, uint64_t *ino)
{
	uint32_t grp, idx;

	if (!sfs_geo_block_group(g, blk, &grp, &idx))
		return false;
	if (idx < 2 || idx >= 2 + g->itable_blocks)
		return false;
	if (ino)
		*ino = (uint64_t)grp * g->inodes_per_group +
		       (uint64_t)(idx - 2) * g->inodes_per_block + 1;
	return true;
}

bool sfs_geo_is_fixed_metadata(const struct sfs_geo *g, uint64_t blk)
{
	uint32_t idx;

	if (blk >= g->block_count)
		return false;
	if (!sfs_geo_block_group(g, blk, NULL, &idx))
		return true;
	return idx < sfs_geo_group_overhead(g);
}
