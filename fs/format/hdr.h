/*
 * The common header of every metadata block (struct sfs_disk_hdr): what
 * makes a block self-describing, XFS style.  A block read from the wrong
 * place (misdirected I/O), from another filesystem (stale image, wrong
 * UUID), of the wrong type (bad magic) or torn (checksum) is refused by
 * sfs_hdr_verify before its contents are trusted.
 */
#ifndef SFS_FORMAT_HDR_H
#define SFS_FORMAT_HDR_H

#include <stddef.h>
#include <stdint.h>

struct sfs_sb_info;

struct sfs_hdr {
	uint32_t magic;
	uint16_t version;
	uint64_t csum;
	uint64_t blkno;
	uint64_t owner;
	uint8_t  uuid[16];
	uint64_t lsn;
};

void sfs_hdr_decode(struct sfs_hdr *h, const void *blk);
static inline uint32_t sfs_hdr_magic(const void *blk)
{
	const uint8_t *b = blk;

	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

/* Zero the header and fill it for a new block of type @magic. */
void sfs_hdr_init(void *blk, uint32_t magic, uint64_t blkno, uint64_t owner,
		  const struct sfs_sb_info *sbi);
/* Write side: set blkno and UUID, then the checksum over @len bytes. */
void sfs_hdr_stamp(void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi);
/* Checksum only (tools that must leave other fields as they are). */
void sfs_hdr_set_csum(void *blk, size_t len, uint64_t seed);
uint64_t sfs_hdr_compute_csum(const void *blk, size_t len, uint64_t seed);

/*
 * Read side: magic @magic, header version, checksum, own block number
 * @blkno, filesystem UUID.  0, -EFSCORRUPTED or -EFSBADCRC, the reason
 * recorded for sfs_verify_reason().
 */
int sfs_hdr_verify(const void *blk, size_t len, uint32_t magic, uint64_t blkno,
		   const struct sfs_sb_info *sbi);

#endif
