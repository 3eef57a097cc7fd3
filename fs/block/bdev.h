/* PLACEHOLDER CONTRACT — the block-layer helper replaces this file with the real header,
 * keeping these synchronous signatures unchanged (the format/mkfs/fsck code uses them). */
#ifndef SFS_BDEV_H
#define SFS_BDEV_H
#include <stddef.h>
#include <stdint.h>

struct sfs_bdev;
struct sfs_bdev_opts;   /* defined by the block layer: O_DIRECT/buffered, io_uring/pread, emulation, write log */

#define SFS_BDEV_RDONLY 0x1   /* open read-only */
#define SFS_BDEV_CREATE 0x2   /* create the file if absent (mkfs) */

/* NULL opts = defaults (O_DIRECT + io_uring, falling back with one log line). */
int sfs_bdev_open(const char *path, unsigned flags, const struct sfs_bdev_opts *opts,
		  struct sfs_bdev **out);
void sfs_bdev_close(struct sfs_bdev *bdev);
uint64_t sfs_bdev_size(const struct sfs_bdev *bdev);
/* Grow or shrink the image file (mkfs); -errno. */
int sfs_bdev_set_size(struct sfs_bdev *bdev, uint64_t size);
/* Required alignment of buffer addresses, lengths and offsets (from statx DIOALIGN). */
unsigned sfs_bdev_align(const struct sfs_bdev *bdev);
/* Synchronous I/O: whole-length or -EIO/-errno.  Buffers from mc_alloc of a
 * multiple of 4096 bytes are aligned enough. */
int sfs_bdev_read(struct sfs_bdev *bdev, void *buf, size_t len, uint64_t off);
int sfs_bdev_write(struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off);
/* Durability barrier covering every write whose call has returned. */
int sfs_bdev_flush(struct sfs_bdev *bdev);
#endif
