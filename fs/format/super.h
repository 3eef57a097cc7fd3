/*
 * The superblock: host-order mirror, encode/decode, verifier.
 *
 * The primary lives in the first 1024 bytes of block 0; the backup, an
 * identical copy apart from its header (blkno, owner 1), in the last block.
 * Only the superblock's own checksum uses seed 0: it must be checkable
 * before anything else is known.
 */
#ifndef SFS_FORMAT_SUPER_H
#define SFS_FORMAT_SUPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

#define SFS_SB_OWNER_PRIMARY 0u
#define SFS_SB_OWNER_BACKUP  1u

struct sfs_super {
	uint64_t blkno;              /* header: where this copy lives */
	uint64_t owner;              /* header: SFS_SB_OWNER_* */
	uint8_t  uuid[16];
	uint64_t lsn;
	uint32_t rev_level;
	uint32_t block_log;
	uint64_t block_count;
	uint64_t free_blocks;
	uint64_t inode_count;
	uint64_t free_inodes;
	uint64_t reserved_blocks;
	uint64_t first_data_block;
	uint64_t journal_start;
	uint64_t journal_blocks;
	uint64_t backup_gdt_start;
	uint64_t backup_sb_block;
	uint64_t root_ino;
	uint64_t first_ino;
	uint64_t orphan_head;
	uint64_t csum_seed;
	uint32_t blocks_per_group;
	uint32_t inodes_per_group;
	uint32_t group_count;
	uint32_t gdt_blocks;
	uint32_t itable_blocks;
	uint16_t inode_size;
	uint16_t desc_size;
	uint32_t feature_compat;
	uint32_t feature_ro_compat;
	uint32_t feature_incompat;
	uint16_t state;
	uint16_t errors;
	uint32_t mount_count;
	uint32_t max_mount_count;
	uint64_t mkfs_time;
	uint64_t mount_time;
	uint64_t write_time;
	uint64_t check_time;
	uint32_t error_count;
	uint32_t first_error_errno;
	uint64_t first_error_time;
	uint64_t first_error_ino;
	uint64_t first_error_block;
	char     first_error_func[33];
	uint32_t last_error_errno;
	uint64_t last_error_time;
	uint64_t last_error_ino;
	uint64_t last_error_block;
	char     last_error_func[33];
	char     label[65];          /* NUL-terminated in memory */
	char     last_mounted[65];
};

/* Decode the first SFS_SB_SIZE bytes of @raw (no checks). */
void sfs_super_decode(struct sfs_super *sb, const void *raw);
/* Encode into SFS_SB_SIZE bytes of @raw and stamp the checksum; the
 * reserved tail is zeroed. */
void sfs_super_encode(void *raw, const struct sfs_super *sb);

/*
 * Check a raw superblock found at block @blkno: magic, checksum, header,
 * revision, geometry.  Feature bits are not judged here (see
 * sfs_super_check_features).  0, -EINVAL (not a scopefs superblock: bad
 * magic), -EFSBADCRC, -EFSCORRUPTED, -EOPNOTSUPP (unknown revision);
 * a sentence in @msg.
 */
int sfs_super_verify(const void *raw, uint64_t blkno, char *msg, size_t msglen);

/* Result of judging feature bits. */
enum sfs_feature_verdict {
	SFS_FEATURES_OK,             /* everything known */
	SFS_FEATURES_RO,             /* unknown ro_compat bits: read-only only */
	SFS_FEATURES_REFUSE,         /* unknown incompat bits: do not touch */
};
enum sfs_feature_verdict sfs_super_check_features(const struct sfs_super *sb, char *msg,
						 size_t msglen);

/* Human-readable feature list ("has_journal uninit_bg ...") into @buf. */
const char *sfs_super_features_str(const struct sfs_super *sb, char *buf, size_t len);

/* Copy a superblock to become the copy stored at @blkno (backup/restore). */
void sfs_super_relocate(struct sfs_super *sb, uint64_t blkno);

#endif
