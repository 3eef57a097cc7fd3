/*
 * Mount-path checks: from an image to a trusted in-memory superblock and
 * descriptor table (see mount.h).  Every refusal names what is wrong and
 * what to do, because this is the message a user sees when mount fails.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/group.h"
#include "fs/format/imagelock.h"
#include "fs/format/io.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

static int mnt_err(int err, char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int mnt_err(int err, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int sfs_sb_info_init(struct sfs_sb_info *sbi, const struct sfs_super *sb, char *msg,
		     size_t msglen)
{
	int ret;

	memset(sbi, 0, sizeof(*sbi));
	sbi->lock_fd = -1;
	sbi->sb = *sb;
	sbi->csum_seed = sb->csum_seed;
	ret = sfs_geo_from_super(&sbi->geo, sb, msg, msglen);
	mc_mutex_init(&sbi->sb_lock, "sfs_sb_lock");
	return ret;
}

void sfs_sb_info_destroy(struct sfs_sb_info *sbi)
{
	mc_free(sbi->gd);
	sbi->gd = NULL;
	mc_mutex_destroy(&sbi->sb_lock);
}

/* Read the whole GDT, verify each block, decode into sbi->gd. */
static int load_gdt(struct sfs_sb_info *sbi, char *msg, size_t msglen)
{
	const struct sfs_geo *g = &sbi->geo;
	void *blk;
	int ret = 0;

	sbi->gd = mc_calloc(g->group_count, sizeof(*sbi->gd), MC_KERNEL);
	blk = sfs_io_alloc(g->block_size);
	if (!sbi->gd || !blk) {
		ret = mnt_err(-ENOMEM, msg, msglen, "out of memory loading %u group descriptors",
			      g->group_count);
		goto out;
	}
	for (uint32_t i = 0; i < g->gdt_blocks; i++) {
		ret = sfs_io_read_blocks(sbi->bdev, blk, g->block_log, 1 + (uint64_t)i, 1);
		if (ret) {
			ret = mnt_err(ret, msg, msglen, "cannot read group descriptor block %u: %s",
				      1 + i, strerror(-ret));
			goto out;
		}
		ret = sfs_gdt_block_verify(blk, g->block_size, 1 + (uint64_t)i, sbi);
		if (ret) {
			ret = mnt_err(ret, msg, msglen, "%s; run fsck.scopefs",
				      sfs_verify_reason());
			goto out;
		}
		sfs_gdt_block_decode(blk, sbi, i, sbi->gd);
	}
out:
	mc_free(blk);
	return ret;
}

int sfs_sb_load(struct sfs_bdev *bdev, unsigned flags, struct sfs_sb_info **out,
		char *msg, size_t msglen)
{
	struct sfs_sb_info *sbi = NULL;
	struct sfs_super sb;
	uint64_t size = sfs_bdev_size(bdev);
	uint8_t *raw = NULL;
	char why[256];
	int ret;

	*out = NULL;
	if (msg && msglen)
		msg[0] = 0;
	if (size < SFS_SB_SIZE)
		return mnt_err(-EINVAL, msg, msglen,
			       "image of %llu bytes is too small to hold a scopefs superblock",
			       (unsigned long long)size);
	raw = sfs_io_alloc(SFS_SB_SIZE);
	if (!raw)
		return mnt_err(-ENOMEM, msg, msglen, "out of memory");
	ret = sfs_io_read(bdev, raw, SFS_SB_SIZE, SFS_SB_OFFSET);
	if (ret) {
		ret = mnt_err(ret, msg, msglen, "cannot read the superblock: %s", strerror(-ret));
		goto out;
	}
	ret = sfs_super_verify(raw, 0, why, sizeof(why));
	if (ret) {
		if (ret == -EINVAL)
			ret = mnt_err(ret, msg, msglen,
				      "not a scopefs image: %s (zero-filled or foreign data?)", why);
		else
			ret = mnt_err(ret, msg, msglen,
				      "%s; fsck.scopefs can restore it from the backup superblock",
				      why);
		goto out;
	}
	sfs_super_decode(&sb, raw);
	sbi = mc_alloc(sizeof(*sbi), MC_KERNEL);
	if (!sbi) {
		ret = mnt_err(-ENOMEM, msg, msglen, "out of memory");
		goto out;
	}
	ret = sfs_sb_info_init(sbi, &sb, why, sizeof(why));
	if (ret) {
		ret = mnt_err(ret, msg, msglen, "bad geometry: %s", why);
		goto out;
	}
	sbi->bdev = bdev;
	sbi->read_only = flags & SFS_MOUNT_RDONLY;

	if (size / sbi->geo.block_size < sbi->geo.block_count) {
		ret = mnt_err(-EFSCORRUPTED, msg, msglen,
			      "image truncated: the filesystem needs %llu bytes (%llu blocks of %u) but the image holds %llu",
			      (unsigned long long)(sbi->geo.block_count << sbi->geo.block_log),
			      (unsigned long long)sbi->geo.block_count, sbi->geo.block_size,
			      (unsigned long long)size);
		goto out;
	}

	switch (sfs_super_check_features(&sb, why, sizeof(why))) {
	case SFS_FEATURES_REFUSE:
		ret = mnt_err(-EOPNOTSUPP, msg, msglen, "%s", why);
		goto out;
	case SFS_FEATURES_RO:
		/* ext4 and XFS refuse a read-write mount here; we degrade to
		 * read-only and say so, the caller decides whether that is
		 * good enough. */
		sbi->read_only = true;
		sbi->forced_ro = true;
		mnt_err(0, msg, msglen, "%s: opened read-only", why);
		break;
	case SFS_FEATURES_OK:
		break;
	}
	sbi->needs_recovery = sb.feature_incompat & SFS_FEATURE_INCOMPAT_RECOVER;

	if (!(flags & SFS_MOUNT_NOGDT)) {
		char gmsg[256];

		ret = load_gdt(sbi, gmsg, sizeof(gmsg));
		if (ret) {
			mnt_err(ret, msg, msglen, "%s", gmsg);
			goto out;
		}
	}
	*out = sbi;
	sbi = NULL;
	ret = 0;
out:
	if (sbi) {
		sfs_sb_info_destroy(sbi);
		mc_free(sbi);
	}
	mc_free(raw);
	return ret;
}

int sfs_sb_open(const char *path, unsigned flags, struct sfs_sb_info **out,
		char *msg, size_t msglen)
{
	bool ro = flags & SFS_MOUNT_RDONLY;
	struct sfs_bdev *bdev = NULL;
	int lock_fd = -1, ret;

	*out = NULL;
	ret = sfs_image_lock(path, !ro, &lock_fd);
	if (ret)
		return mnt_err(ret, msg, msglen, ret == -EBUSY ?
			       "%s is in use (mounted, or being checked)" : "cannot open %s: %s",
			       path, strerror(-ret));
	ret = sfs_bdev_open(path, ro ? SFS_BDEV_RDONLY : 0, NULL, &bdev);
	if (ret) {
		mnt_err(ret, msg, msglen, "cannot open %s: %s", path, strerror(-ret));
		goto err;
	}
	ret = sfs_sb_load(bdev, flags, out, msg, msglen);
	if (ret)
		goto err;
	(*out)->owns_bdev = true;
	(*out)->lock_fd = lock_fd;
	return 0;
err:
	if (bdev)
		sfs_bdev_close(bdev);
	sfs_image_unlock(lock_fd);
	return ret;
}

int sfs_sb_read_copy(struct sfs_bdev *bdev, uint64_t blkno, uint32_t block_log,
		     struct sfs_super *sb, char *msg, size_t msglen)
{
	uint8_t *raw = sfs_io_alloc(SFS_SB_SIZE);
	int ret;

	if (!raw)
		return mnt_err(-ENOMEM, msg, msglen, "out of memory");
	ret = sfs_io_read(bdev, raw, SFS_SB_SIZE, blkno << block_log);
	if (ret) {
		mnt_err(ret, msg, msglen, "cannot read block %llu: %s",
			(unsigned long long)blkno, strerror(-ret));
		goto out;
	}
	ret = sfs_super_verify(raw, blkno, msg, msglen);
	if (!ret) {
		sfs_super_decode(sb, raw);
		if (blkno && sb->block_log != block_log)
			ret = mnt_err(-EFSCORRUPTED, msg, msglen,
				      "superblock copy at block %llu is for %u-byte blocks",
				      (unsigned long long)blkno, 1u << sb->block_log);
	}
out:
	mc_free(raw);
	return ret;
}

int sfs_sb_probe_backup(struct sfs_bdev *bdev, struct sfs_super *sb, uint64_t *blkno,
			char *msg, size_t msglen)
{
	uint64_t size = sfs_bdev_size(bdev);

	for (uint32_t log = SFS_MIN_BLOCK_LOG; log <= SFS_MAX_BLOCK_LOG; log++) {
		uint64_t blk = size >> log;

		if (blk < 8)
			continue;
		if (!sfs_sb_read_copy(bdev, blk - 1, log, sb, NULL, 0)) {
			*blkno = blk - 1;
			return 0;
		}
	}
	return mnt_err(-ENOENT, msg, msglen,
		       "no backup superblock in the last block of the image for any block size");
}

void sfs_sb_free(struct sfs_sb_info *sbi)
{
	if (!sbi)
		return;
	if (sbi->owns_bdev && sbi->bdev)
		sfs_bdev_close(sbi->bdev);
	sfs_image_unlock(sbi->lock_fd);
	sfs_sb_info_destroy(sbi);
	mc_free(sbi);
}

int sfs_sb_write(struct sfs_sb_info *sbi, bool backup)
{
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk;
	int ret;

	if (sbi->read_only)
		return -EROFS;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	mc_mutex_lock(&sbi->sb_lock);
	sfs_super_relocate(&sbi->sb, 0);
	sfs_super_encode(blk, &sbi->sb);
	/*
	 * The same verifier the buffer cache runs before a write: a damaged
	 * in-memory superblock must not overwrite a good one on disk (and
	 * then its backup too, leaving nothing to recover from).
	 */
	ret = sfs_super_buf_ops.prepare_write(blk, SFS_SB_SIZE, 0, sbi);
	/* The superblock is the first 1 KiB of block 0; the rest stays zero. */
	if (!ret)
		ret = sfs_io_write(sbi->bdev, blk, SFS_SB_SIZE, SFS_SB_OFFSET);
	if (!ret && backup) {
		struct sfs_super copy = sbi->sb;

		memset(blk, 0, g->block_size);
		sfs_super_relocate(&copy, g->backup_sb_block);
		sfs_super_encode(blk, &copy);
		ret = sfs_super_buf_ops.prepare_write(blk, g->block_size, g->backup_sb_block, sbi);
		if (!ret)
			ret = sfs_io_write_blocks(sbi->bdev, blk, g->block_log,
						  g->backup_sb_block, 1);
	}
	mc_mutex_unlock(&sbi->sb_lock);
	mc_free(blk);
	return ret;
}

int sfs_gdt_write_block(struct sfs_sb_info *sbi, uint32_t index)
{
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk;
	int ret;

	if (sbi->read_only)
		return -EROFS;
	if (!sbi->gd || index >= g->gdt_blocks)
		return -EINVAL;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	sfs_gdt_block_build(blk, sbi, index, 1 + (uint64_t)index, sbi->gd);
	ret = sfs_gdt_block_verify(blk, g->block_size, 1 + (uint64_t)index, sbi);
	if (!ret)
		ret = sfs_io_write_blocks(sbi->bdev, blk, g->block_log, 1 + (uint64_t)index, 1);
	mc_free(blk);
	return ret;
}
