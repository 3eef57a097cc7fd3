/*
 * Opening the image, choosing the mode, and the synchronous interface.
 *
 * Mode choice at open: O_DIRECT unless refused (EINVAL at open or at a
 * probe read), then buffered with one log line; io_uring unless
 * io_uring_queue_init fails, then pread/pwrite workers with one log line.
 * A DIO alignment above 4096 cannot be met by alloc/'s page-aligned
 * buffers, so it is treated as a refusal too.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/block/bdev_internal.h"

#define SYNC_CHUNK   (1u << 30)   /* largest single bio of a synchronous call */
#define BOUNCE_CHUNK (1u << 20)   /* largest bounce buffer */

static unsigned dio_align(int fd)
{
	struct statx stx;
	unsigned a;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ||
	    !(stx.stx_mask & STATX_DIOALIGN) || !stx.stx_dio_offset_align)
		return 4096;
	a = stx.stx_dio_offset_align;
	if (stx.stx_dio_mem_align > a)
		a = stx.stx_dio_mem_align;
	return a;
}

/* A first aligned read: some filesystems accept O_DIRECT at open and refuse
 * it (EINVAL) at the first I/O. */
static int probe_direct(int fd, unsigned align)
{
	void *buf = mc_alloc(4096, MC_KERNEL);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	if (pread(fd, buf, align, 0) < 0)
		ret = -errno;
	mc_free(buf);
	return ret;
}

static int refuse_direct(struct sfs_bdev *bdev, const char *path, const char *why)
{
	int fl;

	if (bdev->opts.cache == SFS_CACHE_DIRECT) {
		bdev_log("%s: O_DIRECT refused (%s) and cache=direct was asked", path, why);
		return -EINVAL;
	}
	bdev_log("%s: O_DIRECT refused (%s): using the host page cache (buffered mode)",
		 path, why);
	fl = fcntl(bdev->fd, F_GETFL);
	if (fl < 0 || fcntl(bdev->fd, F_SETFL, fl & ~O_DIRECT) < 0)
		return -errno;
	bdev->direct = false;
	bdev->align = 1;
	return 0;
}

static int open_file(struct sfs_bdev *bdev, const char *path, unsigned flags)
{
	int oflags = O_CLOEXEC | ((flags & SFS_BDEV_RDONLY) ? O_RDONLY : O_RDWR);
	int ret;

	if (flags & SFS_BDEV_CREATE)
		oflags |= O_CREAT;
	if (bdev->opts.cache != SFS_CACHE_BUFFERED) {
		bdev->fd = open(path, oflags | O_DIRECT, 0644);
		if (bdev->fd >= 0) {
			bdev->direct = true;
			return 0;
		}
		if (errno != EINVAL)
			return -errno;
		if (bdev->opts.cache == SFS_CACHE_DIRECT) {
			bdev_log("%s: O_DIRECT refused at open and cache=direct was asked", path);
			return -EINVAL;
		}
		bdev_log("%s: O_DIRECT refused at open: using the host page cache (buffered mode)",
			 path);
	}
	bdev->fd = open(path, oflags, 0644);
	ret = bdev->fd < 0 ? -errno : 0;
	return ret;
}

static int setup_mode(struct sfs_bdev *bdev, const char *path)
{
	char why[64];
	int ret;

	if (!bdev->direct) {
		bdev->align = 1;
		return 0;
	}
	bdev->align = bdev->opts.align ? bdev->opts.align : dio_align(bdev->fd);
	if (bdev->align > 4096) {
		snprintf(why, sizeof(why), "alignment %u above 4096", bdev->align);
		return refuse_direct(bdev, path, why);
	}
	if (bdev->size < bdev->align)
		return 0;
	ret = probe_direct(bdev->fd, bdev->align);
	if (ret == -EINVAL)
		return refuse_direct(bdev, path, "EINVAL on the first read");
	return ret;
}

static int start_engine(struct sfs_bdev *bdev, const char *path)
{
	int ret;

	if (bdev->opts.engine != SFS_ENGINE_PSYNC) {
		bdev->engine = &bdev_uring_engine;
		ret = bdev->engine->start(bdev);
		if (!ret || bdev->opts.engine == SFS_ENGINE_URING)
			return ret;
		bdev_log("%s: io_uring unavailable (%s): using pread/pwrite workers",
			 path, strerror(-ret));
	}
	if (bdev->opts.hang_every) {
		bdev_log("%s: hang_every= needs the io_uring engine", path);
		return -EINVAL;
	}
	bdev->engine = &bdev_psync_engine;
	return bdev->engine->start(bdev);
}

static int read_size(const struct sfs_bdev *bdev, uint64_t *size)
{
	struct stat st;

	if (fstat(bdev->fd, &st))
		return -errno;
	if (S_ISBLK(st.st_mode))
		return ioctl(bdev->fd, BLKGETSIZE64, size) ? -errno : 0;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

int sfs_bdev_open(const char *path, unsigned flags, const struct sfs_bdev_opts *opts,
		  struct sfs_bdev **out)
{
	struct sfs_bdev *bdev;
	int ret;

	bdev = mc_zalloc(sizeof(*bdev), MC_KERNEL);
	if (!bdev)
		return -ENOMEM;
	bdev->fd = -1;
	bdev->flags = flags;
	if (opts)
		bdev->opts = *opts;
	mc_mutex_init(&bdev->lock, "sfs_bdev.lock");
	mc_mutex_init(&bdev->rmw_lock, "sfs_bdev.rmw_lock");
	mc_cond_init(&bdev->idle);

	ret = open_file(bdev, path, flags);
	if (ret)
		goto err_free;
	if ((flags & SFS_BDEV_EXCL) && flock(bdev->fd, LOCK_EX | LOCK_NB)) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto err_close;
	}
	ret = read_size(bdev, &bdev->size);
	if (ret)
		goto err_close;
	ret = setup_mode(bdev, path);
	if (ret)
		goto err_close;
	if (bdev->opts.wlog[0]) {
		ret = sfs_wlog_create(bdev->opts.wlog, bdev->align, &bdev->wlog);
		if (ret) {
			bdev_log("%s: cannot create write log %s: %s", path, bdev->opts.wlog,
				 strerror(-ret));
			goto err_close;
		}
	}
	ret = start_engine(bdev, path);
	if (ret)
		goto err_wlog;
	if (sfs_emul_timed(&bdev->opts.emul)) {
		ret = bdev_delay_start(bdev);
		if (ret)
			goto err_engine;
	}
	*out = bdev;
	return 0;

err_engine:
	bdev->engine->stop(bdev);
err_wlog:
	sfs_wlog_close(bdev->wlog);
err_close:
	close(bdev->fd);
err_free:
	pthread_cond_destroy(&bdev->idle);
	mc_mutex_destroy(&bdev->rmw_lock);
	mc_mutex_destroy(&bdev->lock);
	mc_free(bdev);
	return ret;
}

void sfs_bdev_close(struct sfs_bdev *bdev)
{
	int ret;

	if (!bdev)
		return;
	sfs_bdev_drain(bdev);
	bdev_delay_stop(bdev);
	bdev->engine->stop(bdev);
	ret = sfs_wlog_close(bdev->wlog);
	if (ret)
		bdev_log("write log %s: %s (records after the error are missing)",
			 bdev->opts.wlog, strerror(-ret));
	close(bdev->fd);
	pthread_cond_destroy(&bdev->idle);
	mc_mutex_destroy(&bdev->rmw_lock);
	mc_mutex_destroy(&bdev->lock);
	mc_free(bdev);
}

uint64_t sfs_bdev_size(const struct sfs_bdev *bdev)
{
	uint64_t size = bdev->size;

	/* A regular file grows with writes past its end: ask each time. */
	read_size(bdev, &size);
	return size;
}

int sfs_bdev_set_size(struct sfs_bdev *bdev, uint64_t size)
{
	if (bdev->flags & SFS_BDEV_RDONLY)
		return -EROFS;
	if (ftruncate(bdev->fd, (off_t)size))
		return -errno;
	bdev->size = size;
	return 0;
}

unsigned sfs_bdev_align(const struct sfs_bdev *bdev)
{
	return bdev->align;
}

int sfs_bdev_is_direct(const struct sfs_bdev *bdev)
{
	return bdev->direct;
}

int sfs_bdev_is_uring(const struct sfs_bdev *bdev)
{
	return bdev->engine == &bdev_uring_engine;
}

/* ---- synchronous calls, built on bios ---- */

struct sync_wait {
	struct sfs_bio bio;
	bool done;
};

static void sync_end_io(struct sfs_bio *bio)
{
	struct sfs_bdev *bdev = bio->bdev;
	struct sync_wait *w = bio->private;

	/* bdev->lock is free here (end_io runs with no block lock held) */
	mc_mutex_lock(&bdev->lock);
	w->done = true;
	pthread_cond_broadcast(&bdev->idle);
	mc_mutex_unlock(&bdev->lock);
}

static int sync_bio(struct sfs_bdev *bdev, enum sfs_bio_op op, void *buf, uint32_t len,
		    uint64_t off)
{
	struct sync_wait w = { .bio = { .op = op, .buf = buf, .len = len, .off = off,
					.end_io = sync_end_io } };

	w.bio.private = &w;
	sfs_bdev_submit(bdev, &w.bio);
	mc_mutex_lock(&bdev->lock);
	while (!w.done)
		mc_cond_wait(&bdev->idle, &bdev->lock);
	mc_mutex_unlock(&bdev->lock);
	return w.bio.error;
}

static int aligned_rw(struct sfs_bdev *bdev, enum sfs_bio_op op, uint8_t *buf, size_t len,
		      uint64_t off)
{
	while (len) {
		uint32_t n = len > SYNC_CHUNK ? SYNC_CHUNK : (uint32_t)len;
		int ret = sync_bio(bdev, op, buf, n, off);

		if (ret)
			return ret;
		buf += n;
		off += n;
		len -= n;
	}
	return 0;
}

static bool is_aligned(const struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off)
{
	uint64_t a = bdev->align - 1;

	return !(((uintptr_t)buf | len | off) & a);
}

/* Read one alignment unit for a read-modify-write; units past the end of
 * the file are zeros (a write there extends it). */
static int rmw_fill(struct sfs_bdev *bdev, uint8_t *unit, uint64_t off)
{
	if (off >= sfs_bdev_size(bdev)) {
		memset(unit, 0, bdev->align);
		return 0;
	}
	return sync_bio(bdev, SFS_BIO_READ, unit, bdev->align, off);
}

/*
 * Unaligned I/O on an O_DIRECT device goes through an aligned bounce
 * buffer, a piece at a time.  Writes are read-modify-write of the edge
 * units, serialised by rmw_lock so two of them cannot lose each other's
 * bytes in a shared unit.  They are not ordered against aligned bios that
 * overlap the same unit: callers that mix the two on one block are wrong.
 */
static int bounce_rw(struct sfs_bdev *bdev, enum sfs_bio_op op, uint8_t *buf, size_t len,
		     uint64_t off)
{
	uint64_t a = bdev->align;
	uint8_t *tmp;
	int ret = 0;

	tmp = mc_alloc(BOUNCE_CHUNK, MC_NOIO);   /* I/O path: reclaim must not recurse into I/O */
	if (!tmp)
		return -ENOMEM;
	__atomic_fetch_add(&bdev->stats.bounced, 1, __ATOMIC_RELAXED);
	if (op == SFS_BIO_WRITE)
		mc_mutex_lock(&bdev->rmw_lock);
	while (len) {
		uint64_t astart = off & ~(a - 1);
		uint64_t end = off + len < astart + BOUNCE_CHUNK ? off + len : astart + BOUNCE_CHUNK;
		uint64_t aend = (end + a - 1) & ~(a - 1);
		size_t n = (size_t)(end - off);

		if (op == SFS_BIO_READ) {
			ret = aligned_rw(bdev, op, tmp, aend - astart, astart);
			if (ret)
				break;
			memcpy(buf, tmp + (off - astart), n);
		} else {
			if (off != astart)
				ret = rmw_fill(bdev, tmp, astart);
			if (!ret && end != aend && (aend - a != astart || off == astart))
				ret = rmw_fill(bdev, tmp + (aend - a - astart), aend - a);
			if (ret)
				break;
			memcpy(tmp + (off - astart), buf, n);
			ret = aligned_rw(bdev, op, tmp, aend - astart, astart);
			if (ret)
				break;
		}
		buf += n;
		off += n;
		len -= n;
	}
	if (op == SFS_BIO_WRITE)
		mc_mutex_unlock(&bdev->rmw_lock);
	mc_free(tmp);
	return ret;
}

int sfs_bdev_read(struct sfs_bdev *bdev, void *buf, size_t len, uint64_t off)
{
	if (!len)
		return 0;
	if (!is_aligned(bdev, buf, len, off))
		return bounce_rw(bdev, SFS_BIO_READ, buf, len, off);
	return aligned_rw(bdev, SFS_BIO_READ, buf, len, off);
}

int sfs_bdev_write(struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off)
{
	if (bdev->flags & SFS_BDEV_RDONLY)
		return -EROFS;
	if (!len)
		return 0;
	/* The bio interface takes a non-const buffer; writes never modify it. */
	if (!is_aligned(bdev, buf, len, off))
		return bounce_rw(bdev, SFS_BIO_WRITE, (uint8_t *)buf, len, off);
	return aligned_rw(bdev, SFS_BIO_WRITE, (uint8_t *)buf, len, off);
}

int sfs_bdev_flush(struct sfs_bdev *bdev)
{
	return sync_bio(bdev, SFS_BIO_FLUSH, NULL, 0, 0);
}

/* ---- control and statistics ---- */

void sfs_bdev_power_cut(struct sfs_bdev *bdev)
{
	mc_mutex_lock(&bdev->lock);
	bdev->cut = true;
	mc_mutex_unlock(&bdev->lock);
}

int sfs_bdev_is_cut(const struct sfs_bdev *bdev)
{
	return __atomic_load_n(&bdev->cut, __ATOMIC_RELAXED);
}

int sfs_bdev_log_mark(struct sfs_bdev *bdev, const char *label)
{
	return bdev->wlog ? sfs_wlog_mark(bdev->wlog, label) : 0;
}

void sfs_bdev_stats(struct sfs_bdev *bdev, struct sfs_bdev_stats *out)
{
	mc_mutex_lock(&bdev->lock);
	*out = bdev->stats;
	mc_mutex_unlock(&bdev->lock);
	out->short_resubmits = __atomic_load_n(&bdev->stats.short_resubmits, __ATOMIC_RELAXED);
	out->eagain_retries = __atomic_load_n(&bdev->stats.eagain_retries, __ATOMIC_RELAXED);
	out->bounced = __atomic_load_n(&bdev->stats.bounced, __ATOMIC_RELAXED);
}

const char *sfs_bdev_describe(const struct sfs_bdev *bdev, char *buf, size_t len)
{
	if (bdev->direct)
		snprintf(buf, len, "%s+O_DIRECT(align %u)", bdev->engine->name, bdev->align);
	else
		snprintf(buf, len, "%s+buffered", bdev->engine->name);
	return buf;
}
