/* Extent tree node encode/decode and checks (see extent.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/extent.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

void sfs_extent_header_decode(struct sfs_extent_header *h, const void *node)
{
	const struct sfs_disk_extent_hdr *d = node;

	h->magic = sfs_le16_to_cpu(d->magic);
	h->entries = sfs_le16_to_cpu(d->entries);
	h->max = sfs_le16_to_cpu(d->max);
	h->depth = sfs_le16_to_cpu(d->depth);
	h->generation = sfs_le32_to_cpu(d->generation);
}

void sfs_extent_header_encode(void *node, const struct sfs_extent_header *h)
{
	struct sfs_disk_extent_hdr *d = node;

	d->magic = sfs_cpu_to_le16(h->magic);
	d->entries = sfs_cpu_to_le16(h->entries);
	d->max = sfs_cpu_to_le16(h->max);
	d->depth = sfs_cpu_to_le16(h->depth);
	d->generation = sfs_cpu_to_le32(h->generation);
	d->pad = 0;
}

static const void *entry(const void *node, unsigned i)
{
	return (const uint8_t *)node + sizeof(struct sfs_disk_extent_hdr) + (size_t)i * 16;
}

void sfs_extent_get(struct sfs_extent *e, const void *node, unsigned i)
{
	const struct sfs_disk_extent *d = entry(node, i);

	e->lblk = sfs_le32_to_cpu(d->lblk);
	e->len = sfs_le16_to_cpu(d->len);
	e->flags = sfs_le16_to_cpu(d->flags);
	e->pblk = sfs_le64_to_cpu(d->pblk);
}

void sfs_extent_put(void *node, unsigned i, const struct sfs_extent *e)
{
	struct sfs_disk_extent *d = (struct sfs_disk_extent *)entry(node, i);

	d->lblk = sfs_cpu_to_le32(e->lblk);
	d->len = sfs_cpu_to_le16(e->len);
	d->flags = sfs_cpu_to_le16(e->flags);
	d->pblk = sfs_cpu_to_le64(e->pblk);
}

void sfs_extent_idx_get(struct sfs_extent_idx *x, const void *node, unsigned i)
{
	const struct sfs_disk_extent_idx *d = entry(node, i);

	memset(x, 0, sizeof(*x));
	x->lblk = sfs_le32_to_cpu(d->lblk);
	x->child = sfs_le64_to_cpu(d->child);
}

void sfs_extent_idx_put(void *node, unsigned i, const struct sfs_extent_idx *x)
{
	struct sfs_disk_extent_idx *d = (struct sfs_disk_extent_idx *)entry(node, i);

	d->lblk = sfs_cpu_to_le32(x->lblk);
	d->pad = 0;
	d->child = sfs_cpu_to_le64(x->child);
}

void sfs_extent_root_init(void *root)
{
	struct sfs_extent_header h = {
		.magic = SFS_EXTENT_HDR_MAGIC, .max = SFS_EXTENT_ROOT_ENTRIES,
	};

	memset(root, 0, SFS_INODE_INLINE_MAX);
	sfs_extent_header_encode(root, &h);
}

void sfs_extent_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			   uint64_t owner, uint16_t depth)
{
	struct sfs_extent_header h = {
		.magic = SFS_EXTENT_HDR_MAGIC,
		.max = (uint16_t)sfs_extent_block_capacity(sbi->geo.block_size),
		.depth = depth,
	};

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_EXTENT, blkno, owner, sbi);
	sfs_extent_header_encode((uint8_t *)blk + SFS_HDR_SIZE, &h);
}

int sfs_extent_node_check(const void *node, unsigned capacity, const struct sfs_sb_info *sbi,
			  const char *where)
{
	struct sfs_extent_header h;
	uint64_t next = 0;   /* first logical block the next entry may start at */

	sfs_extent_header_decode(&h, node);
	if (h.magic != SFS_EXTENT_HDR_MAGIC)
		return sfs_verify_fail(-EFSCORRUPTED, "%s: extent header magic 0x%04x", where,
				       h.magic);
	if (h.max != capacity)
		return sfs_verify_fail(-EFSCORRUPTED, "%s: extent node capacity %u, expected %u",
				       where, h.max, capacity);
	if (h.entries > h.max)
		return sfs_verify_fail(-EFSCORRUPTED, "%s: %u extent entries, capacity %u",
				       where, h.entries, h.max);
	if (h.depth > SFS_EXTENT_MAX_DEPTH)
		return sfs_verify_fail(-EFSCORRUPTED, "%s: extent tree depth %u exceeds %u",
				       where, h.depth, SFS_EXTENT_MAX_DEPTH);
	for (unsigned i = 0; i < h.entries; i++) {
		if (h.depth == 0) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			if (!e.len || e.len > SFS_MAX_EXTENT_LEN)
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: extent %u has length %u (1..%u)",
						       where, i, e.len, SFS_MAX_EXTENT_LEN);
			if (e.flags & ~SFS_EXTENT_FL_UNWRITTEN)
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: extent %u has unknown flags 0x%x",
						       where, i, e.flags);
			if (e.lblk < next)
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: extent %u (logical %u) overlaps or is out of order",
						       where, i, e.lblk);
			if ((uint64_t)e.lblk + e.len > (1ull << 32))
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: extent %u ends past the largest logical block",
						       where, i);
			if (sbi && (e.pblk < sbi->geo.first_data_block ||
				    e.pblk + e.len > sbi->geo.backup_gdt_start))
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: extent %u maps blocks %llu+%u outside the data area",
						       where, i, (unsigned long long)e.pblk, e.len);
			next = (uint64_t)e.lblk + e.len;
		} else {
			struct sfs_extent_idx x;

			sfs_extent_idx_get(&x, node, i);
			if (i && x.lblk < next)
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: index %u (logical %u) out of order",
						       where, i, x.lblk);
			if (sbi && (x.child < sbi->geo.first_data_block ||
				    x.child >= sbi->geo.backup_gdt_start))
				return sfs_verify_fail(-EFSCORRUPTED,
						       "%s: index %u points at block %llu outside the data area",
						       where, i, (unsigned long long)x.child);
			next = (uint64_t)x.lblk + 1;
		}
	}
	return 0;
}

int sfs_extent_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi)
{
	char where[48];
	int ret;

	struct sfs_hdr h;

	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_EXTENT, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (!sfs_geo_ino_valid(&sbi->geo, h.owner))
		return sfs_verify_fail(-EFSCORRUPTED, "extent block %llu: owner %llu is not an inode",
				       (unsigned long long)blkno, (unsigned long long)h.owner);
	snprintf(where, sizeof(where), "extent block %llu", (unsigned long long)blkno);
	return sfs_extent_node_check((const uint8_t *)blk + SFS_HDR_SIZE,
				     sfs_extent_block_capacity((uint32_t)len), sbi, where);
}
