/*
 * Extended attribute records (ondisk.h: struct sfs_disk_xattr_entry) and
 * the external xattr block (SFS_MAGIC_XATTR) that holds them beside the
 * inode's inline area.
 *
 * A record area is a packed run of records, each 4-byte aligned: the
 * inode's inline area (inline_xattr_len bytes from byte 256 of the record)
 * or a block's body (`entries` records from byte 72).  The name is stored
 * without its namespace prefix (name_index says which); the two POSIX ACL
 * names are whole names and have an empty suffix.  Nothing here allocates
 * or does I/O.
 */
#ifndef SFS_FORMAT_XATTR_H
#define SFS_FORMAT_XATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/format/ondisk.h"

struct sfs_sb_info;

/* Offset of the first record in an external block. */
#define SFS_XATTR_BLOCK_BODY ((uint32_t)sizeof(struct sfs_disk_xattr_block))

struct sfs_xattr_rec {
	unsigned index;              /* SFS_XATTR_INDEX_* */
	const char *name;            /* suffix, not NUL-terminated */
	unsigned name_len;
	const void *value;
	unsigned value_len;
	uint32_t offset;             /* of the record in its area */
};

static inline uint32_t sfs_xattr_rec_size(unsigned name_len, unsigned value_len)
{
	return (SFS_XATTR_ENTRY_HDR + name_len + value_len + 3u) & ~3u;
}
/* The prefix a name index stands for ("user.", ... or the whole ACL name). */
const char *sfs_xattr_prefix(unsigned index);
/* An index/suffix pair the format allows: a known index, an empty suffix
 * exactly for the ACLs, and prefix + suffix within 255 bytes. */
bool sfs_xattr_name_ok(unsigned index, unsigned name_len);

/* Iterate over the records of an area of @len bytes: start with *off = 0;
 * returns 1 with the next record, 0 at the end, -EFSCORRUPTED when a
 * record does not fit or breaks the name rules. */
int sfs_xattr_next(const void *area, size_t len, uint32_t *off, struct sfs_xattr_rec *r);
/* Write @r at @p; returns its size. */
uint32_t sfs_xattr_put(void *p, const struct sfs_xattr_rec *r);
/* Same name (index and suffix). */
bool sfs_xattr_same(const struct sfs_xattr_rec *a, const struct sfs_xattr_rec *b);
/* Check the structure of an area holding @count records (count < 0: as many as fit in
 * @len) laid out as above: 0, or -EFSCORRUPTED with a reason recorded.
 * *used (may be NULL) gets the bytes they take. */
int sfs_xattr_area_check(const void *area, size_t len, long count, uint32_t *used,
			 const char *what);

/* A new external block for @owner with no records. */
void sfs_xattr_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			  uint64_t owner);
static inline unsigned sfs_xattr_block_entries(const void *blk)
{
	return sfs_le32_to_cpu(((const struct sfs_disk_xattr_block *)blk)->entries);
}
void sfs_xattr_block_set_entries(void *blk, unsigned n);
/* External block verifier: self-description, reference count 1, records. */
int sfs_xattr_block_verify(const void *blk, size_t len, uint64_t blkno,
			   const struct sfs_sb_info *sbi);

#endif
