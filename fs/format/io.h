/*
 * Synchronous image I/O for the format layer (mount path, mkfs, fsck,
 * offline tool) on top of fs/block/bdev.h, which takes any alignment.
 * What this adds: a request past the end of the image fails with -EIO
 * before reaching the device (a truncated image), and buffers sized for
 * O_DIRECT.  The daemon's hot paths go through the buffer cache instead.
 */
#ifndef SFS_FORMAT_IO_H
#define SFS_FORMAT_IO_H

#include <stddef.h>
#include <stdint.h>

struct sfs_bdev;

/* Whole-length or -errno (-EIO for short transfers past the end). */
int sfs_io_read(struct sfs_bdev *bdev, void *buf, size_t len, uint64_t off);
int sfs_io_write(struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off);

static inline int sfs_io_read_blocks(struct sfs_bdev *bdev, void *buf, uint32_t block_log,
				     uint64_t blkno, size_t nblocks)
{
	return sfs_io_read(bdev, buf, nblocks << block_log, blkno << block_log);
}

static inline int sfs_io_write_blocks(struct sfs_bdev *bdev, const void *buf, uint32_t block_log,
				      uint64_t blkno, size_t nblocks)
{
	return sfs_io_write(bdev, buf, nblocks << block_log, blkno << block_log);
}

/* A zeroed buffer fit for sfs_bdev_* of @len bytes (mc_alloc, page aligned
 * for multiples of 4096); NULL on ENOMEM. Free with mc_free. */
void *sfs_io_alloc(size_t len);

#endif
