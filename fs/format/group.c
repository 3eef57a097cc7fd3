/* Group descriptors and GDT blocks (see group.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/group.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/ondisk.h"
#include "fs/format/verify.h"

void sfs_gd_decode(struct sfs_group_desc *gd, const void *raw)
{
	const struct sfs_disk_gd *d = raw;

	gd->block_bitmap = sfs_le64_to_cpu(d->block_bitmap);
	gd->inode_bitmap = sfs_le64_to_cpu(d->inode_bitmap);
	gd->inode_table = sfs_le64_to_cpu(d->inode_table);
	gd->free_blocks = sfs_le32_to_cpu(d->free_blocks);
	gd->free_inodes = sfs_le32_to_cpu(d->free_inodes);
	gd->used_dirs = sfs_le32_to_cpu(d->used_dirs);
	gd->itable_unused = sfs_le32_to_cpu(d->itable_unused);
	gd->largest_free = sfs_le32_to_cpu(d->largest_free);
	gd->free_runs = sfs_le32_to_cpu(d->free_runs);
	gd->flags = sfs_le16_to_cpu(d->flags);
}

void sfs_gd_encode(void *raw, const struct sfs_group_desc *gd)
{
	struct sfs_disk_gd *d = raw;

	memset(d, 0, sizeof(*d));
	d->block_bitmap = sfs_cpu_to_le64(gd->block_bitmap);
	d->inode_bitmap = sfs_cpu_to_le64(gd->inode_bitmap);
	d->inode_table = sfs_cpu_to_le64(gd->inode_table);
	d->free_blocks = sfs_cpu_to_le32(gd->free_blocks);
	d->free_inodes = sfs_cpu_to_le32(gd->free_inodes);
	d->used_dirs = sfs_cpu_to_le32(gd->used_dirs);
	d->itable_unused = sfs_cpu_to_le32(gd->itable_unused);
	d->largest_free = sfs_cpu_to_le32(gd->largest_free);
	d->free_runs = sfs_cpu_to_le32(gd->free_runs);
	d->flags = sfs_cpu_to_le16(gd->flags);
}

static int gd_bad(char *why, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int gd_bad(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
	}
	return -EFSCORRUPTED;
}

int sfs_gd_check(const struct sfs_sb_info *sbi, uint32_t grp, const struct sfs_group_desc *gd,
		 char *why, size_t whylen)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t data = sfs_geo_group_blocks(g, grp) - sfs_geo_group_overhead(g);

	if (gd->block_bitmap != sfs_geo_block_bitmap(g, grp))
		return gd_bad(why, whylen, "group %u: block bitmap at %llu, expected %llu", grp,
			      (unsigned long long)gd->block_bitmap,
			      (unsigned long long)sfs_geo_block_bitmap(g, grp));
	if (gd->inode_bitmap != sfs_geo_inode_bitmap(g, grp))
		return gd_bad(why, whylen, "group %u: inode bitmap at %llu, expected %llu", grp,
			      (unsigned long long)gd->inode_bitmap,
			      (unsigned long long)sfs_geo_inode_bitmap(g, grp));
	if (gd->inode_table != sfs_geo_inode_table(g, grp))
		return gd_bad(why, whylen, "group %u: inode table at %llu, expected %llu", grp,
			      (unsigned long long)gd->inode_table,
			      (unsigned long long)sfs_geo_inode_table(g, grp));
	if (gd->flags & ~SFS_BG_FLAGS_KNOWN)
		return gd_bad(why, whylen, "group %u: unknown flags 0x%x", grp, gd->flags);
	if (gd->free_blocks > data)
		return gd_bad(why, whylen, "group %u: %u free blocks, only %u data blocks", grp,
			      gd->free_blocks, data);
	if (gd->free_inodes > g->inodes_per_group)
		return gd_bad(why, whylen, "group %u: %u free inodes of %u", grp,
			      gd->free_inodes, g->inodes_per_group);
	if (gd->used_dirs > g->inodes_per_group - gd->free_inodes)
		return gd_bad(why, whylen, "group %u: %u directories but %u inodes in use", grp,
			      gd->used_dirs, g->inodes_per_group - gd->free_inodes);
	if (gd->itable_unused > gd->free_inodes)
		return gd_bad(why, whylen, "group %u: %u never-used inodes but %u free", grp,
			      gd->itable_unused, gd->free_inodes);
	if (gd->largest_free > gd->free_blocks || gd->free_runs > gd->free_blocks ||
	    (gd->free_blocks && (!gd->largest_free || !gd->free_runs)))
		return gd_bad(why, whylen,
			      "group %u: free-space summary (largest run %u, %u runs) disagrees with %u free blocks",
			      grp, gd->largest_free, gd->free_runs, gd->free_blocks);
	if ((gd->flags & SFS_BG_BLOCK_UNINIT) &&
	    (gd->free_blocks != data || gd->largest_free != data || gd->free_runs != 1))
		return gd_bad(why, whylen,
			      "group %u: uninitialised block bitmap but %u of %u blocks free", grp,
			      gd->free_blocks, data);
	if ((gd->flags & SFS_BG_INODE_UNINIT) &&
	    (grp == 0 || gd->free_inodes != g->inodes_per_group ||
	     gd->itable_unused != g->inodes_per_group))
		return gd_bad(why, whylen, "group %u: uninitialised inode bitmap but inodes in use",
			      grp);
	return 0;
}

void sfs_gd_init_uninit(const struct sfs_sb_info *sbi, uint32_t grp, struct sfs_group_desc *gd)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t data = sfs_geo_group_blocks(g, grp) - sfs_geo_group_overhead(g);

	memset(gd, 0, sizeof(*gd));
	gd->block_bitmap = sfs_geo_block_bitmap(g, grp);
	gd->inode_bitmap = sfs_geo_inode_bitmap(g, grp);
	gd->inode_table = sfs_geo_inode_table(g, grp);
	gd->free_blocks = data;
	gd->free_inodes = g->inodes_per_group;
	gd->itable_unused = g->inodes_per_group;
	gd->largest_free = data;
	gd->free_runs = data ? 1 : 0;
	gd->flags = SFS_BG_BLOCK_UNINIT | SFS_BG_INODE_UNINIT;
}

int64_t sfs_gdt_block_index(const struct sfs_sb_info *sbi, uint64_t blkno)
{
	const struct sfs_geo *g = &sbi->geo;

	if (blkno >= 1 && blkno < 1 + (uint64_t)g->gdt_blocks)
		return (int64_t)(blkno - 1);
	if (blkno >= g->backup_gdt_start && blkno < g->backup_sb_block)
		return (int64_t)(blkno - g->backup_gdt_start);
	return -1;
}

void sfs_gdt_block_build(void *blk, const struct sfs_sb_info *sbi, uint32_t index,
			 uint64_t blkno, const struct sfs_group_desc *gd)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t first = index * g->descs_per_block;
	uint8_t *p = blk;

	memset(blk, 0, g->block_size);
	sfs_hdr_init(blk, SFS_MAGIC_GDT, blkno, first, sbi);
	for (uint32_t i = 0; i < g->descs_per_block && first + i < g->group_count; i++)
		sfs_gd_encode(p + SFS_HDR_SIZE + (size_t)i * SFS_GD_SIZE, &gd[first + i]);
	sfs_hdr_stamp(blk, g->block_size, blkno, sbi);
}

void sfs_gdt_block_decode(const void *blk, const struct sfs_sb_info *sbi, uint32_t index,
			  struct sfs_group_desc *gd)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t first = index * g->descs_per_block;
	const uint8_t *p = blk;

	for (uint32_t i = 0; i < g->descs_per_block && first + i < g->group_count; i++)
		sfs_gd_decode(&gd[first + i], p + SFS_HDR_SIZE + (size_t)i * SFS_GD_SIZE);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int sfs_gdt_block_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi)
{
	const struct sfs_geo *g = &sbi->geo;
	const uint8_t *p = blk;
	int64_t index = sfs_gdt_block_index(sbi, blkno);
	struct sfs_hdr h;
	char why[160];
	uint32_t first;
	int ret;

	if (index < 0)
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu is not a descriptor block",
				       (unsigned long long)blkno);
	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_GDT, blkno, sbi);
	if (ret)
		return ret;
	first = (uint32_t)index * g->descs_per_block;
	sfs_hdr_decode(&h, blk);
	if (h.owner != first)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "descriptor block %llu: owner %llu, expected first group %u",
				       (unsigned long long)blkno, (unsigned long long)h.owner, first);
	for (uint32_t i = 0; i < g->descs_per_block; i++) {
		const uint8_t *raw = p + SFS_HDR_SIZE + (size_t)i * SFS_GD_SIZE;
		struct sfs_group_desc gd;

		if (first + i >= g->group_count) {
			if (!all_zero(raw, SFS_GD_SIZE))
				return sfs_verify_fail(-EFSCORRUPTED,
						       "descriptor block %llu: slot %u beyond the last group is not empty",
						       (unsigned long long)blkno, i);
			continue;
		}
		sfs_gd_decode(&gd, raw);
		if (sfs_gd_check(sbi, first + i, &gd, why, sizeof(why)))
			return sfs_verify_fail(-EFSCORRUPTED, "descriptor block %llu: %s",
					       (unsigned long long)blkno, why);
	}
	return 0;
}
