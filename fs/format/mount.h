/*
 * The mount path's view of the format: open an image, find and check its
 * superblock and group descriptors, and keep them in memory.
 *
 * struct sfs_sb_info is "the filesystem" as far as the format layer knows
 * it.  It is the ctx every verifier (struct sfs_buf_ops) receives: the
 * buffer cache must be created with a pointer to it.  The daemon, fsck and
 * the offline tool all reach an image through sfs_sb_load(), so a corrupt,
 * truncated, foreign or future image is refused the same way everywhere.
 *
 * Locking: sb_lock protects the in-memory superblock and its write-out.
 * The descriptor array gd[] is loaded here and written back here; between,
 * the block allocator (issue 7) serialises changes per group with its own
 * locks.
 */
#ifndef SFS_FORMAT_MOUNT_H
#define SFS_FORMAT_MOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc/lock.h"
#include "fs/format/geometry.h"
#include "fs/format/group.h"
#include "fs/format/super.h"

struct sfs_bdev;

/* sfs_sb_load() / sfs_sb_open() flags. */
#define SFS_MOUNT_RDONLY   0x1u   /* caller will not write */
#define SFS_MOUNT_NOGDT    0x2u   /* superblock only (tools probing) */

struct sfs_sb_info {
	struct sfs_super sb;         /* in-memory superblock, host order */
	struct sfs_geo geo;          /* derived layout */
	uint64_t csum_seed;          /* copy of sb.csum_seed for verifiers */
	struct sfs_group_desc *gd;   /* group_count descriptors, or NULL */
	struct sfs_bdev *bdev;       /* image; owned when opened by sfs_sb_open */
	bool owns_bdev;
	bool read_only;              /* asked for, or forced by ro_compat features */
	bool forced_ro;              /* unknown ro_compat features forced it */
	bool needs_recovery;         /* incompat RECOVER: journal must be replayed */
	int lock_fd;                 /* image lock (imagelock.h), -1 = none */
	mc_mutex_t sb_lock;          /* protects sb and its write-out */
};

/*
 * Read and check the primary superblock of @bdev, then (unless
 * SFS_MOUNT_NOGDT) every group descriptor block.  On success *out is a new
 * sfs_sb_info (free with sfs_sb_free) and 0 is returned; unknown ro_compat
 * features succeed with read_only and forced_ro set and a warning in @msg.
 * Errors, each with one sentence in @msg:
 *   -EINVAL        not a scopefs image (too small for a superblock, bad magic:
 *                  zero-filled or random data)
 *   -EFSBADCRC     superblock or descriptor checksum mismatch
 *   -EFSCORRUPTED  inconsistent geometry or descriptors, or the image is
 *                  shorter than the filesystem it holds (truncated)
 *   -EOPNOTSUPP    unknown format revision or incompatible features
 *   -EIO, -ENOMEM  reading failed
 */
int sfs_sb_load(struct sfs_bdev *bdev, unsigned flags, struct sfs_sb_info **out,
		char *msg, size_t msglen);
/* Open the image at @path (read-only with SFS_MOUNT_RDONLY), take the image
 * lock (exclusive for writers, shared for readers; -EBUSY if held) and
 * sfs_sb_load() it. */
int sfs_sb_open(const char *path, unsigned flags, struct sfs_sb_info **out,
		char *msg, size_t msglen);
/*
 * Find the backup superblock when the primary cannot be trusted: the last
 * block of the image, tried for every block size (mkfs makes the image
 * exactly as long as the filesystem).  0 with the decoded copy and its
 * block number, or -ENOENT with what was tried in @msg.
 */
int sfs_sb_probe_backup(struct sfs_bdev *bdev, struct sfs_super *sb, uint64_t *blkno,
			char *msg, size_t msglen);
/* Read and check the superblock copy at @blkno with blocks of 1 << @block_log
 * (for the primary, blkno 0, any block size is accepted). */
int sfs_sb_read_copy(struct sfs_bdev *bdev, uint64_t blkno, uint32_t block_log,
		     struct sfs_super *sb, char *msg, size_t msglen);
/* Release what sfs_sb_load/sfs_sb_open returned (closes an owned bdev). */
void sfs_sb_free(struct sfs_sb_info *sbi);

/* Encode the in-memory superblock and write the primary copy (and the
 * backup too with @backup).  -EROFS when read-only; -EFSCORRUPTED or
 * -EFSBADCRC, writing nothing, when the superblock verifier refuses the
 * encoded copy (sfs_verify_reason() says why). */
int sfs_sb_write(struct sfs_sb_info *sbi, bool backup);
/* Write descriptor block @index of the primary GDT from gd[]. */
int sfs_gdt_write_block(struct sfs_sb_info *sbi, uint32_t index);

/* Build an sfs_sb_info around a superblock without any I/O (mkfs, tests,
 * tools working on a backup).  0 or the geometry error of
 * sfs_geo_from_super. */
int sfs_sb_info_init(struct sfs_sb_info *sbi, const struct sfs_super *sb, char *msg,
		     size_t msglen);
void sfs_sb_info_destroy(struct sfs_sb_info *sbi);

#endif
