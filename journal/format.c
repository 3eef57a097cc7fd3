/* The log format: checksums, headers, the journal superblock (format.h). */
#include <errno.h>
#include <string.h>
#include <xxhash.h>

#include "alloc/mc.h"
#include "fs/block/buf_ops.h"
#include "journal/format.h"
#include "journal/journal.h"

#define CSUM_OFF offsetof(struct jnl_disk_hdr, csum)

uint64_t jnl_csum_seed(const uint8_t uuid[16])
{
	return XXH3_64bits_withSeed(uuid, 16, 0);
}

uint64_t jnl_hdr_csum(const void *blk, size_t len, uint64_t seed)
{
	const uint8_t *b = blk;
	uint64_t head = XXH3_64bits_withSeed(b, CSUM_OFF, seed);

	return XXH3_64bits_withSeed(b + CSUM_OFF + 8, len - CSUM_OFF - 8, head);
}

uint64_t jnl_copy_csum(const void *blk, size_t len, uint64_t seed, uint64_t seq)
{
	jnl_le64 s = jnl_cpu_to_le64(seq);

	return XXH3_64bits_withSeed(blk, len, XXH3_64bits_withSeed(&s, sizeof(s), seed));
}

uint64_t jnl_txn_csum_step(uint64_t txn, uint64_t csum)
{
	jnl_le64 c = jnl_cpu_to_le64(csum);

	return XXH3_64bits_withSeed(&c, sizeof(c), txn);
}

void jnl_hdr_init(void *blk, size_t len, uint32_t magic, uint64_t blkno, uint64_t seq,
		  const uint8_t uuid[16])
{
	struct jnl_disk_hdr *h = blk;

	memset(blk, 0, len);
	h->magic = jnl_cpu_to_le32(magic);
	h->version = jnl_cpu_to_le16(JNL_HDR_VERSION);
	h->blkno = jnl_cpu_to_le64(blkno);
	memcpy(h->uuid, uuid, 16);
	h->seq = jnl_cpu_to_le64(seq);
}

uint64_t jnl_hdr_seal(void *blk, size_t len, uint64_t seed)
{
	struct jnl_disk_hdr *h = blk;
	uint64_t c = jnl_hdr_csum(blk, len, seed);

	h->csum = jnl_cpu_to_le64(c);
	return c;
}

int jnl_hdr_check(const void *blk, size_t len, uint32_t magic, uint64_t blkno, uint64_t seq,
		  const uint8_t uuid[16], uint64_t seed)
{
	const struct jnl_disk_hdr *h = blk;
	uint32_t m = jnl_le32_to_cpu(h->magic);

	if (magic ? m != magic : !jnl_is_magic(m))
		return -EFSCORRUPTED;
	if (jnl_le16_to_cpu(h->version) != JNL_HDR_VERSION)
		return -EFSCORRUPTED;
	if (jnl_le64_to_cpu(h->blkno) != blkno || jnl_le64_to_cpu(h->seq) != seq ||
	    memcmp(h->uuid, uuid, 16))
		return -EFSCORRUPTED;
	if (jnl_le64_to_cpu(h->csum) != jnl_hdr_csum(blk, len, seed))
		return -EFSBADCRC;
	return 0;
}

void jnl_sb_build(void *blk, const struct jnl_area *a, const struct jnl_sb *sb)
{
	struct jnl_disk_sb *d = blk;

	jnl_hdr_init(blk, a->block_size, JNL_MAGIC_SB, a->start, 0, a->uuid);
	d->block_log = jnl_cpu_to_le32(sb->block_log);
	d->features = jnl_cpu_to_le32(sb->features);
	d->maxlen = jnl_cpu_to_le64(sb->maxlen);
	d->first = jnl_cpu_to_le64(sb->first);
	d->sequence = jnl_cpu_to_le64(sb->sequence);
	d->start = jnl_cpu_to_le64(sb->start);
	d->errno_ = jnl_cpu_to_le32(sb->errno_);
	jnl_hdr_seal(blk, a->block_size, jnl_csum_seed(a->uuid));
}

int jnl_sb_decode(const void *blk, const struct jnl_area *a, struct jnl_sb *sb)
{
	const struct jnl_disk_sb *d = blk;
	int ret;

	ret = jnl_hdr_check(blk, a->block_size, JNL_MAGIC_SB, a->start, 0, a->uuid,
			    jnl_csum_seed(a->uuid));
	if (ret)
		return ret;
	sb->block_log = jnl_le32_to_cpu(d->block_log);
	sb->features = jnl_le32_to_cpu(d->features);
	sb->maxlen = jnl_le64_to_cpu(d->maxlen);
	sb->first = jnl_le64_to_cpu(d->first);
	sb->sequence = jnl_le64_to_cpu(d->sequence);
	sb->start = jnl_le64_to_cpu(d->start);
	sb->errno_ = jnl_le32_to_cpu(d->errno_);
	if ((1u << sb->block_log) != a->block_size || sb->maxlen != a->blocks ||
	    sb->first != JNL_FIRST || (sb->start && (sb->start < JNL_FIRST || sb->start >= sb->maxlen)))
		return -EFSCORRUPTED;
	if (sb->features & ~JNL_FEAT_KNOWN)
		return -EOPNOTSUPP;
	return 0;
}

int jnl_sb_read(struct sfs_bdev *bdev, const struct jnl_area *a, void *buf, struct jnl_sb *sb)
{
	int ret = sfs_bdev_read(bdev, buf, a->block_size, a->start * a->block_size);

	return ret ? ret : jnl_sb_decode(buf, a, sb);
}

int jnl_sb_write(struct sfs_bdev *bdev, const struct jnl_area *a, void *buf,
		 const struct jnl_sb *sb)
{
	int ret;

	jnl_sb_build(buf, a, sb);
	ret = sfs_bdev_write(bdev, buf, a->block_size, a->start * a->block_size);
	return ret ? ret : sfs_bdev_flush(bdev);
}

int jnl_format_area(struct sfs_bdev *bdev, const struct jnl_area *a)
{
	struct jnl_sb sb = { .maxlen = a->blocks, .first = JNL_FIRST, .sequence = 1 };
	void *buf;
	int ret;

	if (a->block_size < 1024 || a->block_size > 65536 || (a->block_size & (a->block_size - 1)) ||
	    a->blocks < JNL_MIN_BLOCKS ||
	    (a->start + a->blocks) * a->block_size > sfs_bdev_size(bdev))
		return -EINVAL;
	sb.block_log = (uint32_t)__builtin_ctz(a->block_size);
	buf = mc_alloc_named("journal.format", a->block_size, MC_KERNEL);
	if (!buf)
		return -ENOMEM;
	ret = jnl_sb_write(bdev, a, buf, &sb);
	mc_free(buf);
	return ret;
}
