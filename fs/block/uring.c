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
 * Timeouts (blk-mq's request timeout): every bio in flight is on a list
 * with the time it was issued; the reaper wakes at least every quarter of
 * io_timeout and sends IORING_OP_ASYNC_CANCEL for any bio older than that.
 * A bio that comes back cancelled (or interrupted, for one an io-wq worker
 * was running) is redone with pread/pwrite on the reaper.  This is the
 * defence against a request the kernel never completes -- seen on this
 * project's CI host, an io-wq punt whose worker never ran -- which would
 * otherwise hang every waiter on the device.  hang_every= makes such
 * requests on purpose (reads of an empty pipe, writes to a full one).
 *
 * Lock order: sq_lock → bdev->lock (the reaper holds neither while
 * delivering).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "fs/block/bdev_internal.h"

#define REAP_BATCH 64
#define EAGAIN_MAX 1000
#define STOP_TAG   0      /* user_data of the NOP that stops the reaper */
#define CANCEL_TAG 1      /* user_data of the timeout scan's cancels */
#define TIMEOUT_DEFAULT_NS 30000000000ull

struct uring {
	struct io_uring ring;
	mc_mutex_t sq_lock;
	pthread_cond_t space;        /* signalled when inflight drops below depth */
	unsigned inflight;           /* bios handed to the kernel, under sq_lock */
	unsigned depth;
	struct mc_list live;         /* those bios, for the timeout scan; under sq_lock */
	uint64_t timeout_ns;
	uint64_t hang_every, hang_count;   /* hang_count under sq_lock */
	int hang_pipe[2][2];         /* [0]: stays empty (reads), [1]: kept full (writes) */
	pthread_t reaper;
};

/* The file the bio goes to: the image, or with hang_every a pipe where it
 * waits for ever (until the timeout scan cancels it). */
static int target_fd(struct sfs_bdev *bdev, struct uring *u, const struct sfs_bio *bio)
{
	if (!u->hang_every || bio->op == SFS_BIO_FLUSH || ++u->hang_count % u->hang_every)
		return bdev->fd;
	return bio->op == SFS_BIO_READ ? u->hang_pipe[0][0] : u->hang_pipe[1][1];
}

/* Under sq_lock. */
static void prep(struct sfs_bdev *bdev, struct io_uring_sqe *sqe, struct sfs_bio *bio)
{
	struct uring *u = bdev->engine_priv;
	uint64_t off = bio->off + bio->done;
	int cnt = 0;
	const struct iovec *v = bio->op == SFS_BIO_FLUSH ? NULL : bio_rest(bio, &cnt);
	int fd = target_fd(bdev, u, bio);

	if (fd != bdev->fd)
		off = (uint64_t)-1;   /* a pipe has no offsets */
	bio->issued_ns = mc_monotonic_ns();
	bio->cancelled = false;
	/* One segment: the plain opcodes (no iovec for the kernel to copy). */
	switch (bio->op) {
	case SFS_BIO_READ:
		if (cnt == 1)
			io_uring_prep_read(sqe, fd, v->iov_base, (unsigned)v->iov_len, off);
		else
			io_uring_prep_readv(sqe, fd, v, (unsigned)cnt, off);
		break;
	case SFS_BIO_WRITE:
		if (cnt == 1)
			io_uring_prep_write(sqe, fd, v->iov_base, (unsigned)v->iov_len, off);
		else
			io_uring_prep_writev(sqe, fd, v, (unsigned)cnt, off);
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
		mc_list_add_tail(&u->live, &chain->ring_link);
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
	/* Only our cancels end a bio with -ECANCELED; an io-wq worker that
	 * was running it when the cancel came is interrupted instead. */
	if (res == -ECANCELED || (res == -EINTR && bio->cancelled)) {
		__atomic_fetch_add(&bdev->stats.sync_redos, 1, __ATOMIC_RELAXED);
		bio->error = bdev_psync_rw(bdev, bio);
		return true;
	}
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

/* Cancel every bio in flight for longer than the timeout (not twice). */
static void timeout_scan(struct sfs_bdev *bdev, struct uring *u)
{
	uint64_t now = mc_monotonic_ns(), first_off = 0;
	enum sfs_bio_op first_op = SFS_BIO_READ;
	struct mc_list *pos, *tmp;
	unsigned n = 0;

	mc_mutex_lock(&u->sq_lock);
	mc_list_for_each_safe(pos, tmp, &u->live) {
		struct sfs_bio *b = mc_list_entry(pos, struct sfs_bio, ring_link);
		struct io_uring_sqe *sqe;

		if (b->cancelled || now - b->issued_ns < u->timeout_ns)
			continue;
		b->cancelled = true;
		if (!n++) {
			first_op = b->op;
			first_off = b->off;
		}
		sqe = get_sqe(u);
		io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)b, 0);
		io_uring_sqe_set_data64(sqe, CANCEL_TAG);
	}
	if (n)
		submit_all(u);
	mc_mutex_unlock(&u->sq_lock);
	if (!n)
		return;
	__atomic_fetch_add(&bdev->stats.timeouts, n, __ATOMIC_RELAXED);
	bdev_log("io_uring: %u bio(s) not completed in %llu ms (first: %s at byte %llu); "
		 "cancelling them, pread/pwrite will redo them", n,
		 (unsigned long long)(u->timeout_ns / 1000000),
		 first_op == SFS_BIO_READ ? "read" : first_op == SFS_BIO_WRITE ? "write" : "flush",
		 (unsigned long long)first_off);
}

static void *reaper_main(void *arg)
{
	struct sfs_bdev *bdev = arg;
	struct uring *u = bdev->engine_priv;
	/* A quarter of the timeout: a stuck bio is found within 1.25 of it. */
	uint64_t tick = u->timeout_ns / 4, next_scan = mc_monotonic_ns() + tick;
	struct __kernel_timespec ts = { .tv_sec = (long long)(tick / 1000000000ull),
					.tv_nsec = (long long)(tick % 1000000000ull) };
	/* Without EXT_ARG, liburing would take an SQE for the timeout behind
	 * the submitters' backs: no timeouts then. */
	bool timed = u->ring.features & IORING_FEAT_EXT_ARG, stop = false;

	if (!timed)
		bdev_log("io_uring: no IORING_FEAT_EXT_ARG; stuck bios will not time out");
	while (!stop) {
		struct io_uring_cqe *cqes[REAP_BATCH], *cqe;
		struct { uint64_t data; int res; } got[REAP_BATCH];
		struct sfs_bio *done[REAP_BATCH];
		unsigned n, i, finished = 0;
		int ret;

		/* Busy or idle, the scan runs once a tick. */
		if (timed && mc_monotonic_ns() >= next_scan) {
			timeout_scan(bdev, u);
			next_scan = mc_monotonic_ns() + tick;
		}
		ret = timed ? io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts)
			    : io_uring_wait_cqe(&u->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN || ret == -ETIME)
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
			if (got[i].data == CANCEL_TAG)
				continue;   /* the cancelled bio reports for itself */
			if (handle_cqe(bdev, bio, got[i].res))
				done[finished++] = bio;
		}
		if (!finished)
			continue;
		/* Release the slots first: once the last bio is delivered the
		 * device may be closed and this structure freed. */
		mc_mutex_lock(&u->sq_lock);
		for (i = 0; i < finished; i++)
			mc_list_del(&done[i]->ring_link);
		u->inflight -= finished;
		pthread_cond_broadcast(&u->space);
		mc_mutex_unlock(&u->sq_lock);
		for (i = 0; i < finished; i++)
			bdev_complete(done[i]);
	}
	return NULL;
}

static void hang_pipes_close(struct uring *u)
{
	for (int i = 0; i < 2; i++)
		for (int k = 0; k < 2; k++)
			if (u->hang_pipe[i][k] >= 0)
				close(u->hang_pipe[i][k]);
}

/* Two blocking pipes: one never written (reads from it wait), one filled
 * to the brim (writes to it wait).  io_uring parks both on poll. */
static int hang_pipes_open(struct uring *u)
{
	static const char fill[4096];
	int wr;

	if (pipe2(u->hang_pipe[0], O_CLOEXEC) || pipe2(u->hang_pipe[1], O_CLOEXEC))
		return -errno;
	wr = u->hang_pipe[1][1];
	if (fcntl(wr, F_SETFL, O_NONBLOCK))
		return -errno;
	while (write(wr, fill, sizeof(fill)) > 0)
		;
	if (errno != EAGAIN || fcntl(wr, F_SETFL, 0))
		return -errno;
	return 0;
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
	u->timeout_ns = bdev->opts.io_timeout_ns ? bdev->opts.io_timeout_ns : TIMEOUT_DEFAULT_NS;
	u->hang_every = bdev->opts.hang_every;
	mc_list_init(&u->live);
	memset(u->hang_pipe, -1, sizeof(u->hang_pipe));
	if (u->hang_every) {
		ret = hang_pipes_open(u);
		if (ret)
			goto err_free;
	}
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
	hang_pipes_close(u);
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
	hang_pipes_close(u);
	mc_free(u);
	bdev->engine_priv = NULL;
}

const struct bdev_engine bdev_uring_engine = {
	.name = "io_uring",
	.start = uring_start,
	.dispatch = uring_dispatch,
	.stop = uring_stop,
};
