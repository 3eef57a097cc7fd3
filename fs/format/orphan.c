/* Orphan file blocks (see orphan.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/orphan.h"
#include "fs/format/verify.h"

static struct sfs_disk_orphan_slot *slot_at(const void *blk, unsigned i)
{
	return (struct sfs_disk_orphan_slot *)((uint8_t *)blk +
					       sizeof(struct sfs_disk_orphan_block)) + i;
}

void sfs_orphan_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno)
{
	struct sfs_disk_orphan_block *d = blk;

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_ORPHAN, blkno, SFS_ORPHAN_INO, sbi);
	d->slots = sfs_cpu_to_le32(sfs_orphan_slots(sbi->geo.block_size));
}

void sfs_orphan_slot_get(struct sfs_orphan_slot *s, const void *blk, unsigned i)
{
	const struct sfs_disk_orphan_slot *d = slot_at(blk, i);

	s->ino = sfs_le64_to_cpu(d->ino);
	s->generation = sfs_le32_to_cpu(d->generation);
	s->xattr_block = sfs_le64_to_cpu(d->xattr_block);
}

void sfs_orphan_slot_put(void *blk, unsigned i, const struct sfs_orphan_slot *s)
{
	struct sfs_disk_orphan_slot *d = slot_at(blk, i);

	d->ino = sfs_cpu_to_le64(s->ino);
	d->generation = sfs_cpu_to_le32(s->ino ? s->generation : 0);
	d->pad = 0;
	d->xattr_block = sfs_cpu_to_le64(s->ino ? s->xattr_block : 0);
}

int sfs_orphan_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi)
{
	const struct sfs_disk_orphan_block *d = blk;
	unsigned n = sfs_orphan_slots((uint32_t)len);
	struct sfs_hdr h;
	int ret;

	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_ORPHAN, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (h.owner != SFS_ORPHAN_INO || sfs_le32_to_cpu(d->slots) != n)
		return sfs_verify_fail(-EFSCORRUPTED, "orphan block %llu: owner %llu, %u slots",
				       (unsigned long long)blkno, (unsigned long long)h.owner,
				       sfs_le32_to_cpu(d->slots));
	for (unsigned i = 0; i < n; i++) {
		struct sfs_orphan_slot s;

		sfs_orphan_slot_get(&s, blk, i);
		if (s.ino ? s.ino < SFS_FIRST_INO || !sfs_geo_ino_valid(&sbi->geo, s.ino) ||
			    (s.xattr_block && s.xattr_block >= sbi->geo.block_count)
			  : s.generation || s.xattr_block)
			return sfs_verify_fail(-EFSCORRUPTED,
					       "orphan block %llu: slot %u names inode %llu, xattr block %llu",
					       (unsigned long long)blkno, i, (unsigned long long)s.ino,
					       (unsigned long long)s.xattr_block);
	}
	return 0;
}

static int orphan_verify_read(const void *blk, size_t len, uint64_t blkno, void *ctx)
{
	return sfs_orphan_block_verify(blk, len, blkno, ctx);
}

static int orphan_prepare_write(void *blk, size_t len, uint64_t blkno, void *ctx)
{
	sfs_hdr_stamp(blk, len, blkno, ctx);
	return sfs_orphan_block_verify(blk, len, blkno, ctx);
}

const struct sfs_buf_ops sfs_orphan_buf_ops = {
	.name = "orphan",
	.verify_read = orphan_verify_read,
	.prepare_write = orphan_prepare_write,
};
