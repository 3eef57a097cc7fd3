/* Common metadata block header: build, stamp, verify (see hdr.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/checksum.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/ondisk.h"
#include "fs/format/verify.h"

void sfs_hdr_decode(struct sfs_hdr *h, const void *blk)
{
	const struct sfs_disk_hdr *d = blk;

	h->magic = sfs_le32_to_cpu(d->magic);
	h->version = sfs_le16_to_cpu(d->version);
	h->csum = sfs_le64_to_cpu(d->csum);
	h->blkno = sfs_le64_to_cpu(d->blkno);
	h->owner = sfs_le64_to_cpu(d->owner);
	memcpy(h->uuid, d->uuid, 16);
	h->lsn = sfs_le64_to_cpu(d->lsn);
}

void sfs_hdr_init(void *blk, uint32_t magic, uint64_t blkno, uint64_t owner,
		  const struct sfs_sb_info *sbi)
{
	struct sfs_disk_hdr *d = blk;

	memset(d, 0, sizeof(*d));
	d->magic = sfs_cpu_to_le32(magic);
	d->version = sfs_cpu_to_le16(SFS_HDR_VERSION);
	d->blkno = sfs_cpu_to_le64(blkno);
	d->owner = sfs_cpu_to_le64(owner);
	memcpy(d->uuid, sbi->sb.uuid, 16);
}

uint64_t sfs_hdr_compute_csum(const void *blk, size_t len, uint64_t seed)
{
	return sfs_csum(blk, len, offsetof(struct sfs_disk_hdr, csum), seed);
}

void sfs_hdr_set_csum(void *blk, size_t len, uint64_t seed)
{
	struct sfs_disk_hdr *d = blk;

	d->csum = sfs_cpu_to_le64(sfs_hdr_compute_csum(blk, len, seed));
}

void sfs_hdr_stamp(void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi)
{
	struct sfs_disk_hdr *d = blk;

	d->blkno = sfs_cpu_to_le64(blkno);
	memcpy(d->uuid, sbi->sb.uuid, 16);
	sfs_hdr_set_csum(blk, len, sbi->csum_seed);
}

static const char *magic_str(uint32_t m, char buf[5])
{
	for (int i = 0; i < 4; i++) {
		unsigned char c = (unsigned char)(m >> (8 * i));

		buf[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
	}
	buf[4] = 0;
	return buf;
}

int sfs_hdr_verify(const void *blk, size_t len, uint32_t magic, uint64_t blkno,
		   const struct sfs_sb_info *sbi)
{
	struct sfs_hdr h;
	char a[5], b[5];

	if (len < SFS_HDR_SIZE)
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu: %zu bytes is shorter than a header",
				       (unsigned long long)blkno, len);
	sfs_hdr_decode(&h, blk);
	if (h.magic != magic)
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu: magic \"%s\", expected \"%s\"",
				       (unsigned long long)blkno, magic_str(h.magic, a),
				       magic_str(magic, b));
	if (h.version != SFS_HDR_VERSION)
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu: header version %u, expected %u",
				       (unsigned long long)blkno, h.version, SFS_HDR_VERSION);
	if (h.csum != sfs_hdr_compute_csum(blk, len, sbi->csum_seed))
		return sfs_verify_fail(-EFSBADCRC, "block %llu (%s): checksum mismatch",
				       (unsigned long long)blkno, magic_str(magic, b));
	if (h.blkno != blkno)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "block %llu (%s): claims to be block %llu (misplaced)",
				       (unsigned long long)blkno, magic_str(magic, b),
				       (unsigned long long)h.blkno);
	if (memcmp(h.uuid, sbi->sb.uuid, 16))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "block %llu (%s): belongs to another filesystem (UUID)",
				       (unsigned long long)blkno, magic_str(magic, b));
	return 0;
}
