/*
 * Device emulation decisions (see emul.h).  Both functions run under
 * bdev->lock, so write and flush numbering follows submission order.
 */
#include <errno.h>
#include <limits.h>

#include "fs/block/bdev_internal.h"

static bool misaligned(const struct sfs_bdev *bdev, const struct sfs_bio *bio)
{
	uint64_t a = bdev->align - 1, sum = 0;

	if (!bio->nr_iov)
		return ((uintptr_t)bio->buf & a) || (bio->len & a) || (bio->off & a);
	for (unsigned i = 0; i < bio->nr_iov; i++) {
		if (((uintptr_t)bio->iov[i].iov_base & a) || (bio->iov[i].iov_len & a) ||
		    !bio->iov[i].iov_len)
			return true;
		sum += bio->iov[i].iov_len;
	}
	/* A length that disagrees with the segments is malformed too. */
	return sum != bio->len || (bio->off & a) || bio->nr_iov > IOV_MAX;
}

static bool hits_eio_range(const struct sfs_emul_opts *e, const struct sfs_bio *bio)
{
	uint64_t bs = e->eio_bs ? e->eio_bs : 4096;
	uint64_t first = bio->off / bs, last = (bio->off + bio->len - 1) / bs;
	unsigned i;

	if (e->eio_op == SFS_EMUL_READ && bio->op != SFS_BIO_READ)
		return false;
	if (e->eio_op == SFS_EMUL_WRITE && bio->op != SFS_BIO_WRITE)
		return false;
	for (i = 0; i < e->nr_eio; i++)
		if (first <= e->eio[i].last && last >= e->eio[i].first)
			return true;
	return false;
}

enum bio_fate emul_decide(struct sfs_bdev *bdev, struct sfs_bio *bio)
{
	const struct sfs_emul_opts *e = &bdev->opts.emul;
	uint64_t n;

	if (bio->op == SFS_BIO_FLUSH) {
		n = ++bdev->flushes_submitted;
		if (bdev->cut)
			return FATE_DROP;
		/* This flush still runs: the cut takes the writes after it. */
		if (e->cut_flush && n == e->cut_flush)
			bdev->cut = true;
		return FATE_RUN;
	}
	if (!bio->len || misaligned(bdev, bio)) {
		bio->error = -EINVAL;
		return FATE_INVALID;
	}
	if (bio->op == SFS_BIO_WRITE) {
		if (bdev->flags & SFS_BDEV_RDONLY) {
			bio->error = -EROFS;
			return FATE_INVALID;
		}
		n = ++bdev->writes_submitted;
		if (e->cut_after && n > e->cut_after)
			bdev->cut = true;
		if (bdev->cut)
			return FATE_DROP;
		if (e->eio_after && n > e->eio_after)
			return FATE_EIO;
	}
	if (e->nr_eio && hits_eio_range(e, bio))
		return FATE_EIO;
	return FATE_RUN;
}

void emul_schedule(struct sfs_bdev *bdev, struct sfs_bio *bio, uint64_t now)
{
	const struct sfs_emul_opts *e = &bdev->opts.emul;
	uint64_t ready = now + e->latency_ns, dev;

	if (e->bw_bytes || (e->stall_ns && e->stall_every)) {
		dev = bdev->dev_clock_ns > now ? bdev->dev_clock_ns : now;
		if (e->bw_bytes)
			dev += (uint64_t)((unsigned __int128)bio->len * 1000000000u / e->bw_bytes);
		if (e->stall_every && ++bdev->ios_submitted % e->stall_every == 0)
			dev += e->stall_ns;
		bdev->dev_clock_ns = dev;
		if (dev > ready)
			ready = dev;
	}
	bio->ready_ns = ready;
}
