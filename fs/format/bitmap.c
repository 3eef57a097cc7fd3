/* Bitmap blocks: build, summarise, verify (see bitmap.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/bitmap.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

uint32_t sfs_bbitmap_nbits(const struct sfs_sb_info *sbi, uint32_t grp)
{
	return sfs_geo_group_blocks(&sbi->geo, grp);
}

uint32_t sfs_ibitmap_nbits(const struct sfs_sb_info *sbi)
{
	return sbi->geo.inodes_per_group;
}

static void set_padding(uint8_t *map, uint32_t nbits, uint32_t total)
{
	uint32_t i = nbits;

	for (; i < total && (i & 7); i++)
		sfs_bit_set(map, i);
	if (i < total)
		memset(map + i / 8, 0xff, (total - i) / 8);
}

void sfs_bitmap_init(void *blk, const struct sfs_sb_info *sbi, uint32_t magic, uint32_t grp)
{
	const struct sfs_geo *g = &sbi->geo;
	uint32_t nbits = magic == SFS_MAGIC_BBITMAP ? sfs_bbitmap_nbits(sbi, grp)
						    : sfs_ibitmap_nbits(sbi);
	uint64_t blkno = magic == SFS_MAGIC_BBITMAP ? sfs_geo_block_bitmap(g, grp)
						    : sfs_geo_inode_bitmap(g, grp);

	memset(blk, 0, g->block_size);
	sfs_hdr_init(blk, magic, blkno, grp, sbi);
	set_padding(sfs_bitmap_data(blk), nbits, g->bitmap_bits);
}

void sfs_bbitmap_build_implied(void *blk, const struct sfs_sb_info *sbi, uint32_t grp)
{
	uint8_t *map = sfs_bitmap_data(blk);

	sfs_bitmap_init(blk, sbi, SFS_MAGIC_BBITMAP, grp);
	for (uint32_t i = 0; i < sfs_geo_group_overhead(&sbi->geo); i++)
		sfs_bit_set(map, i);
}

void sfs_bitmap_finish(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno)
{
	sfs_hdr_stamp(blk, sbi->geo.block_size, blkno, sbi);
}

void sfs_bitmap_summarise(const uint8_t *map, uint32_t nbits, struct sfs_bitmap_summary *s)
{
	uint32_t run = 0;

	memset(s, 0, sizeof(*s));
	for (uint32_t i = 0; i < nbits;) {
		/* Whole bytes at a time where the run state cannot change inside. */
		if (!(i & 7) && i + 8 <= nbits && (map[i >> 3] == 0 || map[i >> 3] == 0xff)) {
			if (map[i >> 3] == 0) {
				if (!run)
					s->runs++;
				run += 8;
				s->free += 8;
			} else {
				if (run > s->largest)
					s->largest = run;
				run = 0;
			}
			i += 8;
			continue;
		}
		if (!sfs_bit_test(map, i)) {
			if (!run)
				s->runs++;
			run++;
			s->free++;
		} else {
			if (run > s->largest)
				s->largest = run;
			run = 0;
		}
		i++;
	}
	if (run > s->largest)
		s->largest = run;
}

static int padding_ok(const uint8_t *map, uint32_t nbits, uint32_t total, uint32_t *bad)
{
	uint32_t i = nbits;

	for (; i < total && (i & 7); i++)
		if (!sfs_bit_test(map, i))
			goto fail;
	for (; i < total; i += 8)
		if (map[i / 8] != 0xff)
			goto fail;
	return 1;
fail:
	*bad = i;
	return 0;
}

static int bitmap_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi, uint32_t magic)
{
	const struct sfs_geo *g = &sbi->geo;
	const uint8_t *map = sfs_bitmap_cdata(blk);
	bool is_bb = magic == SFS_MAGIC_BBITMAP;
	const char *what = is_bb ? "block bitmap" : "inode bitmap";
	uint32_t grp, idx, nbits, bad;
	struct sfs_hdr h;
	int ret;

	if (!sfs_geo_block_group(g, blkno, &grp, &idx) || idx != (is_bb ? 0u : 1u))
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu is not a %s",
				       (unsigned long long)blkno, what);
	ret = sfs_hdr_verify(blk, len, magic, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (h.owner != grp)
		return sfs_verify_fail(-EFSCORRUPTED, "%s of group %u (block %llu): owner %llu",
				       what, grp, (unsigned long long)blkno,
				       (unsigned long long)h.owner);
	nbits = is_bb ? sfs_bbitmap_nbits(sbi, grp) : sfs_ibitmap_nbits(sbi);
	if (!padding_ok(map, nbits, g->bitmap_bits, &bad))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "%s of group %u: padding bit %u past the group's %u is clear",
				       what, grp, bad, nbits);
	if (is_bb) {
		for (uint32_t i = 0; i < sfs_geo_group_overhead(g); i++)
			if (!sfs_bit_test(map, i))
				return sfs_verify_fail(-EFSCORRUPTED,
						       "block bitmap of group %u: its own metadata block %u is marked free",
						       grp, i);
	}
	return 0;
}

int sfs_bbitmap_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi)
{
	return bitmap_verify(blk, len, blkno, sbi, SFS_MAGIC_BBITMAP);
}

int sfs_ibitmap_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi)
{
	return bitmap_verify(blk, len, blkno, sbi, SFS_MAGIC_IBITMAP);
}
