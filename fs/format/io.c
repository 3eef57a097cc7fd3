/* Bounds-checked synchronous I/O (see io.h). */
#include <errno.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/io.h"

void *sfs_io_alloc(size_t len)
{
	/* Round to 4 KiB so the allocator hands out a page-aligned buffer,
	 * which spares the block layer a bounce copy under O_DIRECT. */
	size_t rounded = (len + 4095) & ~(size_t)4095;

	return mc_zalloc(rounded ? rounded : 4096, MC_KERNEL);
}

/* A structure past the end of the image is a truncated image, not a
 * device error the block layer should see (and possibly count). */
static int io_bounds(struct sfs_bdev *bdev, size_t len, uint64_t off)
{
	uint64_t size = sfs_bdev_size(bdev);

	if (off > size || len > size - off)
		return -EIO;
	return 0;
}

int sfs_io_read(struct sfs_bdev *bdev, void *buf, size_t len, uint64_t off)
{
	int ret = io_bounds(bdev, len, off);

	return ret ? ret : sfs_bdev_read(bdev, buf, len, off);
}

int sfs_io_write(struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off)
{
	int ret = io_bounds(bdev, len, off);

	return ret ? ret : sfs_bdev_write(bdev, buf, len, off);
}
