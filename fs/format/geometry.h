/*
 * Filesystem geometry: where every fixed structure lives.
 *
 * Everything here is arithmetic on a handful of superblock fields, so that
 * mkfs (which chooses them), the mount path and fsck (which check them) and
 * the verifiers (which need "which group is block N?") agree by
 * construction.  Groups are uniform: group g starts at
 * first_data_block + g * blocks_per_group with its block bitmap, then its
 * inode bitmap, then itable_blocks of inode table, then data.  Only the last
 * group may be shorter.
 */
#ifndef SFS_FORMAT_GEOMETRY_H
#define SFS_FORMAT_GEOMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sfs_super;

/* The smallest data area a group may have besides its own metadata (mkfs);
 * the verifier accepts any non-empty remainder. */
#define SFS_MIN_GROUP_DATA   16u
/* Smallest blocks_per_group mkfs -g accepts. */
#define SFS_MIN_BLOCKS_PER_GROUP 256u
/* Smallest inodes_per_group: the reserved inodes must fit in group 0. */
#define SFS_MIN_INODES_PER_GROUP 16u

struct sfs_geo {
	uint32_t block_log;          /* block size = 1 << block_log */
	uint32_t block_size;
	uint64_t block_count;
	uint32_t blocks_per_group;
	uint32_t inodes_per_group;
	uint32_t group_count;
	uint32_t gdt_blocks;
	uint32_t itable_blocks;      /* per group */
	uint32_t inode_size;
	uint32_t inodes_per_block;
	uint32_t descs_per_block;    /* group descriptors per GDT block */
	uint32_t bitmap_bits;        /* bits a bitmap block can hold */
	uint64_t inode_count;
	uint64_t journal_start;
	uint64_t journal_blocks;
	uint64_t first_data_block;
	uint64_t backup_gdt_start;
	uint64_t backup_sb_block;
};

/* What mkfs asks for; zero means "choose the default". */
struct sfs_geo_params {
	uint32_t block_log;          /* 0 = 12 (4 KiB) */
	uint64_t size;               /* bytes available for the filesystem */
	uint64_t inode_count;        /* -N */
	uint64_t bytes_per_inode;    /* -i */
	int64_t journal_bytes;       /* -J; < 0 = default size, 0 = no journal */
	uint32_t blocks_per_group;   /* -g */
	uint32_t inode_size;         /* -I */
};

/* Bits a bitmap block of block size 1 << log holds (after its header). */
static inline uint32_t sfs_bitmap_bits(uint32_t block_log)
{
	return ((1u << block_log) - 64u) * 8u;
}

/* Default journal length in blocks for a filesystem of @blocks blocks. */
uint64_t sfs_geo_default_journal_blocks(uint64_t blocks);
/* Default bytes per inode for a filesystem of @bytes bytes. */
uint64_t sfs_geo_default_bytes_per_inode(uint64_t bytes);

/*
 * Choose a layout for @p (mkfs).  0, or -ENOSPC (image too small), -EINVAL
 * (impossible or nonsense request), -EFBIG (too large) with a sentence in
 * @msg.  g->block_count may end below size / block_size: a last group too
 * small to hold its own metadata is left out, as ext4 does.
 */
int sfs_geo_compute(const struct sfs_geo_params *p, struct sfs_geo *g, char *msg, size_t msglen);
/* Smallest image (bytes) sfs_geo_compute() accepts with @p's other choices;
 * 0 if none does. */
uint64_t sfs_geo_min_size(const struct sfs_geo_params *p);

/*
 * Derive the geometry from a decoded superblock and check that every
 * redundant field agrees with the arithmetic (the "bad geometry" checks).
 * 0 or -EFSCORRUPTED with the first disagreement in @msg.
 */
int sfs_geo_from_super(struct sfs_geo *g, const struct sfs_super *sb, char *msg, size_t msglen);
/* Copy the geometry fields into a superblock (mkfs, repair). */
void sfs_geo_to_super(const struct sfs_geo *g, struct sfs_super *sb);

/* ---- lookups -------------------------------------------------------- */
static inline uint64_t sfs_geo_group_start(const struct sfs_geo *g, uint32_t grp)
{
	return g->first_data_block + (uint64_t)grp * g->blocks_per_group;
}

static inline uint32_t sfs_geo_group_blocks(const struct sfs_geo *g, uint32_t grp)
{
	if (grp + 1 < g->group_count)
		return g->blocks_per_group;
	return (uint32_t)(g->backup_gdt_start - sfs_geo_group_start(g, grp));
}

/* Blocks at the start of each group taken by its bitmaps and inode table. */
static inline uint32_t sfs_geo_group_overhead(const struct sfs_geo *g)
{
	return 2u + g->itable_blocks;
}

static inline uint64_t sfs_geo_block_bitmap(const struct sfs_geo *g, uint32_t grp)
{
	return sfs_geo_group_start(g, grp);
}

static inline uint64_t sfs_geo_inode_bitmap(const struct sfs_geo *g, uint32_t grp)
{
	return sfs_geo_group_start(g, grp) + 1;
}

static inline uint64_t sfs_geo_inode_table(const struct sfs_geo *g, uint32_t grp)
{
	return sfs_geo_group_start(g, grp) + 2;
}

/* Group holding block @blk and its index inside it; false outside groups. */
bool sfs_geo_block_group(const struct sfs_geo *g, uint64_t blk, uint32_t *grp, uint32_t *idx);

static inline bool sfs_geo_ino_valid(const struct sfs_geo *g, uint64_t ino)
{
	return ino >= 1 && ino <= g->inode_count;
}

static inline uint32_t sfs_geo_ino_group(const struct sfs_geo *g, uint64_t ino)
{
	return (uint32_t)((ino - 1) / g->inodes_per_group);
}

static inline uint32_t sfs_geo_ino_index(const struct sfs_geo *g, uint64_t ino)
{
	return (uint32_t)((ino - 1) % g->inodes_per_group);
}

/* Inode table block holding @ino and the record's byte offset in it. */
static inline uint64_t sfs_geo_ino_block(const struct sfs_geo *g, uint64_t ino, uint32_t *offset)
{
	uint32_t idx = sfs_geo_ino_index(g, ino);

	if (offset)
		*offset = (idx % g->inodes_per_block) * g->inode_size;
	return sfs_geo_inode_table(g, sfs_geo_ino_group(g, ino)) + idx / g->inodes_per_block;
}

/* If @blk is an inode table block, the first inode number it holds. */
bool sfs_geo_itable_first_ino(const struct sfs_geo *g, uint64_t blk, uint64_t *ino);

/* True for blocks inside the filesystem that data may never occupy: the
 * header area, group metadata and the trailing backups. */
bool sfs_geo_is_fixed_metadata(const struct sfs_geo *g, uint64_t blk);

#endif
