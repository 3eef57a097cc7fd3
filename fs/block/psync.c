/*
 * The pread/pwrite engine: a small pool of worker threads, for hosts where
 * io_uring is unavailable (and for comparison).  Each worker runs one bio
 * to the end, resubmitting short transfers and retrying EINTR/EAGAIN.
 *
 * Locking: ps->lock protects the queue; workers run I/O without it.
 */
#include <errno.h>
#include <unistd.h>

#include "fs/block/bdev_internal.h"

#define EAGAIN_MAX 1000

struct psync {
	mc_mutex_t lock;
	pthread_cond_t cond;
	struct sfs_bio *head, *tail;   /* queued bios, FIFO */
	bool stop;
	unsigned nr;
	pthread_t threads[];
};

int bdev_psync_rw(struct sfs_bdev *bdev, struct sfs_bio *bio)
{
	unsigned eagain = 0;

	if (bio->op == SFS_BIO_FLUSH) {
		while (fdatasync(bdev->fd))
			if (errno != EINTR)
				return -errno;
		return 0;
	}
	while (bio->done < bio->len) {
		off_t off = (off_t)(bio->off + bio->done);
		int cnt;
		const struct iovec *v = bio_rest(bio, &cnt);
		ssize_t n;

		n = bio->op == SFS_BIO_READ ? preadv(bdev->fd, v, cnt, off)
					    : pwritev(bdev->fd, v, cnt, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && ++eagain < EAGAIN_MAX) {
			__atomic_fetch_add(&bdev->stats.eagain_retries, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;   /* read past the end, or a write that cannot progress */
		bio->done += (uint32_t)n;
		if (bio->done < bio->len)
			__atomic_fetch_add(&bdev->stats.short_resubmits, 1, __ATOMIC_RELAXED);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct sfs_bdev *bdev = arg;
	struct psync *ps = bdev->engine_priv;

	mc_mutex_lock(&ps->lock);
	for (;;) {
		struct sfs_bio *bio = ps->head;

		if (!bio) {
			if (ps->stop)
				break;
			mc_cond_wait(&ps->cond, &ps->lock);
			continue;
		}
		ps->head = bio->next;
		if (!ps->head)
			ps->tail = NULL;
		mc_mutex_unlock(&ps->lock);
		bio->error = bdev_psync_rw(bdev, bio);
		bdev_complete(bio);
		mc_mutex_lock(&ps->lock);
	}
	mc_mutex_unlock(&ps->lock);
	return NULL;
}

static void psync_stop(struct sfs_bdev *bdev);

static int psync_start(struct sfs_bdev *bdev)
{
	unsigned nr = bdev->opts.psync_workers ? bdev->opts.psync_workers : 4, i;
	struct psync *ps;
	int ret;

	ps = mc_zalloc(sizeof(*ps) + nr * sizeof(pthread_t), MC_KERNEL);
	if (!ps)
		return -ENOMEM;
	mc_mutex_init(&ps->lock, "sfs_bdev_psync.lock");
	mc_cond_init(&ps->cond);
	bdev->engine_priv = ps;
	for (i = 0; i < nr; i++) {
		ret = mc_thread_create(&ps->threads[i], "sfs-psync", worker_main, bdev);
		if (ret) {
			psync_stop(bdev);
			return ret;
		}
		ps->nr++;
	}
	return 0;
}

static void psync_dispatch(struct sfs_bdev *bdev, struct sfs_bio *chain, bool reaper)
{
	struct psync *ps = bdev->engine_priv;
	struct sfs_bio *last = chain;

	(void)reaper;   /* the queue is unbounded: nobody waits for space */
	while (last->next)
		last = last->next;
	mc_mutex_lock(&ps->lock);
	if (ps->tail)
		ps->tail->next = chain;
	else
		ps->head = chain;
	ps->tail = last;
	pthread_cond_broadcast(&ps->cond);
	mc_mutex_unlock(&ps->lock);
}

static void psync_stop(struct sfs_bdev *bdev)
{
	struct psync *ps = bdev->engine_priv;
	unsigned i;

	if (!ps)
		return;
	mc_mutex_lock(&ps->lock);
	ps->stop = true;
	pthread_cond_broadcast(&ps->cond);
	mc_mutex_unlock(&ps->lock);
	for (i = 0; i < ps->nr; i++)
		pthread_join(ps->threads[i], NULL);
	pthread_cond_destroy(&ps->cond);
	mc_mutex_destroy(&ps->lock);
	mc_free(ps);
	bdev->engine_priv = NULL;
}

const struct bdev_engine bdev_psync_engine = {
	.name = "pread",
	.start = psync_start,
	.dispatch = psync_dispatch,
	.stop = psync_stop,
};
