/*
 * mkfs.scopefs internals: main.c parses options, refuses what it must and
 * prints the summary; create.c writes the new filesystem.
 */
#ifndef SFS_MKFS_H
#define SFS_MKFS_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/geometry.h"
#include "fs/format/mount.h"

struct sfs_bdev;

struct mkfs_opts {
	const char *image;
	struct sfs_geo_params geo;
	uint8_t uuid[16];
	bool uuid_set;
	char label[64];
	uint32_t reserved_pct_x100;  /* -m, in hundredths of a percent */
	bool force;                  /* -F */
	bool quiet;                  /* -q */
	bool keep;                   /* -K: do not discard (no sparse reset) */
	bool dry_run;                /* -n */
};

struct mkfs_result {
	uint64_t blocks_written;     /* metadata blocks mkfs wrote */
	uint32_t groups_initialised; /* groups with real bitmaps */
	double seconds;
};

/* Fill the superblock and descriptors for @geo (no I/O). */
int mkfs_prepare(const struct mkfs_opts *o, const struct sfs_geo *geo, struct sfs_sb_info *sbi);
/* Write everything to @bdev; the primary superblock goes last, after a
 * flush, so an interrupted mkfs never leaves a valid-looking filesystem. */
int mkfs_write(const struct mkfs_opts *o, struct sfs_sb_info *sbi, struct sfs_bdev *bdev,
	       struct mkfs_result *res);

#endif
