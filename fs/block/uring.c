/*
 * The io_uring engine.  One ring per device, no SQPOLL.
 *
 * Submission: any thread, serialised by u->sq_lock (one submitter at a
 * time); at most queue_depth bios in flight, submitters wait for space —
 * except on the completion path, which frees space and so never waits.
 * Completion: one reaper thread waits on the CQ, copies a batch of CQEs out
 * and releases them before handling any, resubmits short transfers and
 * -EAGAIN, and hands finished bios to bdev_complete().  It never allocates
 * and never throttles.  io-wq workers are bounded (iowq_workers) so a burst
 * of buffered I/O cannot fork hundreds of kernel threads.
 *
 * Lock order: sq_lock → bdev->lock (the reaper holds neither while
 * delivering).
 */
#include <errno.h>
#include <liburing.h>
#include <sched.h>
#include <string.h>

#include "fs/block/bdev_internal.h"

#define REAP_BATCH 64
#define EAGAIN_MAX 1000
#define STOP_TAG   0      /* user_data of the NOP that stops the reaper */

struct uring {
	struct io_uring ring;
	mc_mutex_t sq_lock;
	pthread_cond_t space;        /* signalled when inflight drops below depth */
	unsigned inflight;           /* bios handed to the kernel, under sq_lock */
	unsigned depth;
	pthread_t reaper;
};

static void prep(struct sfs_bdev *bdev, struct io_uring_sqe *sqe, struct sfs_bio *bio)
{
	uint64_t off = bio->off + bio->done;
	int cnt = 0;
	const struct iovec *v = bio->op == SFS_BIO_FLUSH ? NULL : bio_rest(bio, &cnt);

	/* One segment: the plain opcodes (no iovec for the kernel to copy). */
	switch (bio->op) {
	case SFS_BIO_READ:
		if (cnt == 1)
			io_uring_prep_read(sqe, bdev->fd, v->iov_base, (unsigned)v->iov_len, off);
		else
			io_uring_prep_readv(sqe, bdev->fd, v, (unsigned)cnt, off);
		break;
	case SFS_BIO_WRITE:
		if (cnt == 1)
			io_uring_prep_write(sqe, bdev->fd, v->iov_base, (unsigned)v->iov_len, off);
		else
			io_uring_prep_writev(sqe, bdev->fd, v, (unsigned)cnt, off);
		break;
	case SFS_BIO_FLUSH:
		io_uring_prep_fsync(sqe, bdev->fd, IORING_FSYNC_DATASYNC);
		break;
	}
	io_uring_sqe_set_data(sqe, bio);
}

/* Hand every prepared SQE to the kernel.  -EBUSY/-EAGAIN mean the kernel is
 * short of CQ space or memory for a moment; the reaper releases CQEs
 * without taking sq_lock, so retrying here makes progress. */
static void submit_all(struct uring *u)
{
	while (io_uring_sq_ready(&u->ring)) {
		int ret = io_uring_submit(&u->ring);

		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			bdev_log("io_uring_submit: %s", strerror(-ret));
			sched_yield();
		} else if (ret <= 0) {
			sched_yield();
		}
	}
}

static struct io_uring_sqe *get_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&u->ring)))
		submit_all(u);
	return sqe;
}

static void uring_dispatch(struct sfs_bdev *bdev, struct sfs_bio *chain, bool reaper)
{
	struct uring *u = bdev->engine_priv;

	mc_mutex_lock(&u->sq_lock);
	while (chain) {
		struct sfs_bio *next = chain->next;

		if (!reaper && u->inflight >= u->depth) {
			/* what we prepared must reach the kernel before we wait
			 * for completions to free space */
			submit_all(u);
			while (u->inflight >= u->depth)
				mc_cond_wait(&u->space, &u->sq_lock);
		}
		u->inflight++;
		prep(bdev, get_sqe(u), chain);
		chain = next;
	}
	submit_all(u);
	mc_mutex_unlock(&u->sq_lock);
}

static void resubmit(struct sfs_bdev *bdev, struct sfs_bio *bio)
{
	struct uring *u = bdev->engine_priv;

	mc_mutex_lock(&u->sq_lock);
	prep(bdev, get_sqe(u), bio);
	submit_all(u);
	mc_mutex_unlock(&u->sq_lock);
}

/* Returns true when the bio is finished (successfully or not). */
static bool handle_cqe(struct sfs_bdev *bdev, struct sfs_bio *bio, int res)
{
	if (res == -EAGAIN && ++bio->eagain < EAGAIN_MAX) {
		__atomic_fetch_add(&bdev->stats.eagain_retries, 1, __ATOMIC_RELAXED);
		resubmit(bdev, bio);
		return false;
	}
	if (res < 0) {
		bio->error = res;
		return true;
	}
	if (bio->op == SFS_BIO_FLUSH)
		return true;
	if (res == 0) {
		bio->error = -ENODATA;   /* past the end of the image */
		return true;
	}
	bio->done += (uint32_t)res;
	if (bio->done < bio->len) {
		__atomic_fetch_add(&bdev->stats.short_resubmits, 1, __ATOMIC_RELAXED);
		resubmit(bdev, bio);
		return false;
	}
	return true;
}

static void *reaper_main(void *arg)
{
	struct sfs_bdev *bdev = arg;
	struct uring *u = bdev->engine_priv;
	bool stop = false;

	while (!stop) {
		struct io_uring_cqe *cqes[REAP_BATCH], *cqe;
		struct { uint64_t data; int res; } got[REAP_BATCH];
		struct sfs_bio *done[REAP_BATCH];
		unsigned n, i, finished = 0;
		int ret;

		ret = io_uring_wait_cqe(&u->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0) {
			bdev_log("io_uring_wait_cqe: %s; completions stop", strerror(-ret));
			break;
		}
		n = io_uring_peek_batch_cqe(&u->ring, cqes, REAP_BATCH);
		for (i = 0; i < n; i++) {
			got[i].data = cqes[i]->user_data;
			got[i].res = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		for (i = 0; i < n; i++) {
			struct sfs_bio *bio = (struct sfs_bio *)(uintptr_t)got[i].data;

			if (got[i].data == STOP_TAG) {
				stop = true;
				continue;
			}
			if (handle_cqe(bdev, bio, got[i].res))
				done[finished++] = bio;
		}
		if (!finished)
			continue;
		/* Release the slots first: once the last bio is delivered the
		 * device may be closed and this structure freed. */
		mc_mutex_lock(&u->sq_lock);
		u->inflight -= finished;
		pthread_cond_broadcast(&u->space);
		mc_mutex_unlock(&u->sq_lock);
		for (i = 0; i < finished; i++)
			bdev_complete(done[i]);
	}
	return NULL;
}

static int uring_start(struct sfs_bdev *bdev)
{
	unsigned depth = bdev->opts.queue_depth ? bdev->opts.queue_depth : 128;
	unsigned wq = bdev->opts.iowq_workers ? bdev->opts.iowq_workers : 4;
	unsigned limits[2] = { wq, wq };   /* bounded, unbounded */
	struct uring *u;
	int ret;

	u = mc_zalloc(sizeof(*u), MC_KERNEL);
	if (!u)
		return -ENOMEM;
	ret = io_uring_queue_init(depth, &u->ring, 0);
	if (ret)
		goto err_free;
	u->depth = depth;
	ret = io_uring_register_iowq_max_workers(&u->ring, limits);
	if (ret)
		bdev_log("cannot bound io-wq workers (%s); the kernel default applies",
			 strerror(-ret));
	mc_mutex_init(&u->sq_lock, "sfs_bdev_uring.sq_lock");
	mc_cond_init(&u->space);
	bdev->engine_priv = u;
	ret = mc_thread_create(&u->reaper, "sfs-reaper", reaper_main, bdev);
	if (ret)
		goto err_exit;
	return 0;

err_exit:
	bdev->engine_priv = NULL;
	pthread_cond_destroy(&u->space);
	mc_mutex_destroy(&u->sq_lock);
	io_uring_queue_exit(&u->ring);
err_free:
	mc_free(u);
	return ret;
}

/* Called with nothing in flight (close drains first). */
static void uring_stop(struct sfs_bdev *bdev)
{
	struct uring *u = bdev->engine_priv;
	struct io_uring_sqe *sqe;

	mc_mutex_lock(&u->sq_lock);
	sqe = get_sqe(u);
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data64(sqe, STOP_TAG);
	submit_all(u);
	mc_mutex_unlock(&u->sq_lock);
	pthread_join(u->reaper, NULL);
	io_uring_queue_exit(&u->ring);
	pthread_cond_destroy(&u->space);
	mc_mutex_destroy(&u->sq_lock);
	mc_free(u);
	bdev->engine_priv = NULL;
}

const struct bdev_engine bdev_uring_engine = {
	.name = "io_uring",
	.start = uring_start,
	.dispatch = uring_dispatch,
	.stop = uring_stop,
};
