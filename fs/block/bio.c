/*
 * Bio submission and delivery, common to every engine.
 *
 * Flush ordering: a write carries flush_gen = the number of flushes
 * submitted before it; flush number F covers the writes with flush_gen < F.
 * When F is submitted, every such write still in flight is counted in
 * F->wait_writes; each delivery of a covered write decrements it, and F is
 * dispatched only at zero, i.e. after the completions of all the writes it
 * covers were reaped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "fs/block/bdev_internal.h"

/* Set on threads that deliver completions, whose dispatches must not wait
 * for queue space (they are the ones who free it). */
static __thread bool in_completion;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bdev_log(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("scopefs: block: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static void chain_add(struct sfs_bio **head, struct sfs_bio **tail, struct sfs_bio *bio)
{
	bio->next = NULL;
	if (*tail)
		(*tail)->next = bio;
	else
		*head = bio;
	*tail = bio;
}

static void dispatch(struct sfs_bdev *bdev, struct sfs_bio *chain)
{
	if (chain)
		bdev->engine->dispatch(bdev, chain, in_completion);
}

void sfs_bdev_submit_batch(struct sfs_bdev *bdev, struct sfs_bio **bios, unsigned nr)
{
	struct sfs_bio *run = NULL, *run_tail = NULL, *fin = NULL, *fin_tail = NULL;
	uint64_t now = now_ns(), wb_pages = 0;
	unsigned i;

	mc_mutex_lock(&bdev->lock);
	for (i = 0; i < nr; i++) {
		struct sfs_bio *bio = bios[i];
		enum bio_fate fate;

		bio->bdev = bdev;
		bio->error = 0;
		bio->host_errno = 0;
		bio->done = 0;
		bio->eagain = 0;
		bio->wait_writes = 0;
		bio->wlog_covers = 0;
		bdev->inflight++;
		fate = emul_decide(bdev, bio);
		bio->fate = (uint8_t)fate;
		if (bio->op == SFS_BIO_WRITE) {
			bio->flush_gen = bdev->flushes_submitted;
			bdev->writes_inflight++;
			wb_pages += bdev_pages(bio->len);
		}
		if (fate != FATE_RUN) {
			emul_schedule(bdev, bio, now);
			chain_add(&fin, &fin_tail, bio);
			continue;
		}
		if (bio->op == SFS_BIO_FLUSH) {
			bio->flush_gen = bdev->flushes_submitted;
			bio->wait_writes = (uint32_t)bdev->writes_inflight;
			if (bio->wait_writes) {
				/* parked: released by the last covered write */
				bdev->stats.flushes_held++;
				chain_add(&bdev->flush_head, &bdev->flush_tail, bio);
				continue;
			}
			bio->wlog_covers = bdev->wlog ? sfs_wlog_last_write(bdev->wlog) : 0;
		}
		emul_schedule(bdev, bio, now);
		chain_add(&run, &run_tail, bio);
	}
	mc_mutex_unlock(&bdev->lock);

	if (wb_pages)
		mc_writeback_submitted(wb_pages);
	dispatch(bdev, run);
	while (fin) {
		struct sfs_bio *next = fin->next;

		bdev_complete(fin);
		fin = next;
	}
}

/* Under bdev->lock: a covered write was reaped; release flushes now free. */
static struct sfs_bio *release_flushes(struct sfs_bdev *bdev, struct sfs_bio *wr)
{
	struct sfs_bio **pp = &bdev->flush_head, *prev = NULL, *ready = NULL, *tail = NULL;
	uint64_t now = now_ns();

	while (*pp) {
		struct sfs_bio *f = *pp;

		if (f->flush_gen > wr->flush_gen && --f->wait_writes == 0) {
			*pp = f->next;
			if (bdev->flush_tail == f)
				bdev->flush_tail = prev;
			emul_schedule(bdev, f, now);
			chain_add(&ready, &tail, f);
			continue;
		}
		prev = f;
		pp = &f->next;
	}
	return ready;
}

const struct iovec *bio_rest(struct sfs_bio *bio, int *cnt)
{
	uint32_t start = 0;

	*cnt = 1;
	if (!bio->nr_iov) {
		bio->rest.iov_base = (uint8_t *)bio->buf + bio->done;
		bio->rest.iov_len = bio->len - bio->done;
		return &bio->rest;
	}
	if (!bio->done) {
		*cnt = bio->nr_iov;
		return bio->iov;
	}
	for (unsigned i = 0; i < bio->nr_iov; start += (uint32_t)bio->iov[i++].iov_len) {
		if (bio->done < start + bio->iov[i].iov_len) {
			bio->rest.iov_base = (uint8_t *)bio->iov[i].iov_base + (bio->done - start);
			bio->rest.iov_len = bio->iov[i].iov_len - (bio->done - start);
			return &bio->rest;
		}
	}
	bio->rest.iov_len = 0;   /* not reached: done < len */
	return &bio->rest;
}

/* One write-log record per segment: the log is of device writes, and a
 * multi-segment bio may tear at any block boundary anyway. */
static void wlog_bio(struct sfs_wlog *wlog, const struct sfs_bio *bio)
{
	uint64_t off = bio->off;

	if (!bio->nr_iov) {
		sfs_wlog_write(wlog, bio->off, bio->buf, bio->len);
		return;
	}
	for (unsigned i = 0; i < bio->nr_iov; off += bio->iov[i++].iov_len)
		sfs_wlog_write(wlog, off, bio->iov[i].iov_base, bio->iov[i].iov_len);
}


static void deliver(struct sfs_bio *bio)
{
	struct sfs_bdev *bdev = bio->bdev;
	struct sfs_bio *ready = NULL, *f;
	bool ok = bio->fate == FATE_RUN && !bio->error;

	if (bio->fate == FATE_RUN && bio->error) {
		bio->host_errno = -bio->error;
		bio->error = -EIO;
	} else if (bio->fate == FATE_EIO) {
		bio->error = -EIO;
	}
	/* The write record must precede any flush this delivery releases. */
	if (ok && bdev->wlog && bio->op == SFS_BIO_WRITE)
		wlog_bio(bdev->wlog, bio);
	if (ok && bdev->wlog && bio->op == SFS_BIO_FLUSH)
		sfs_wlog_flush(bdev->wlog, bio->wlog_covers);

	mc_mutex_lock(&bdev->lock);
	switch (bio->op) {
	case SFS_BIO_READ:
		bdev->stats.reads++;
		bdev->stats.read_bytes += ok ? bio->len : 0;
		break;
	case SFS_BIO_WRITE:
		bdev->stats.writes++;
		bdev->stats.write_bytes += ok ? bio->len : 0;
		bdev->writes_inflight--;
		if (bio->fate == FATE_DROP)
			bdev->stats.dropped_writes++;
		if (bdev->flush_head)
			ready = release_flushes(bdev, bio);
		break;
	case SFS_BIO_FLUSH:
		bdev->stats.flushes++;
		break;
	}
	if (bio->error == -EIO)
		bdev->stats.errors++;
	if (bio->fate == FATE_EIO)
		bdev->stats.injected_eio++;
	for (f = ready; f; f = f->next)
		f->wlog_covers = bdev->wlog ? sfs_wlog_last_write(bdev->wlog) : 0;
	mc_mutex_unlock(&bdev->lock);

	if (bio->op == SFS_BIO_WRITE)
		mc_writeback_completed(bdev_pages(bio->len));
	dispatch(bdev, ready);
	bio->end_io(bio);

	/* Last: close and drain may free the device once inflight is zero. */
	mc_mutex_lock(&bdev->lock);
	if (--bdev->inflight == 0)
		pthread_cond_broadcast(&bdev->idle);
	mc_mutex_unlock(&bdev->lock);
}

void bdev_complete(struct sfs_bio *bio)
{
	struct sfs_bdev *bdev = bio->bdev;
	bool was = in_completion;

	in_completion = true;
	if (bdev->delay_running && bio->ready_ns > now_ns()) {
		struct sfs_bio **pp;

		mc_mutex_lock(&bdev->lock);
		pp = &bdev->delay_head;
		while (*pp && (*pp)->ready_ns <= bio->ready_ns)
			pp = &(*pp)->next;
		bio->next = *pp;
		*pp = bio;
		pthread_cond_signal(&bdev->delay_cond);
		mc_mutex_unlock(&bdev->lock);
	} else {
		deliver(bio);
	}
	in_completion = was;
}

/* Emulated device time: holds completions until their ready time.  This
 * thread sleeps on the emulated clock only, never in reclaim throttling. */
static void *delay_main(void *arg)
{
	struct sfs_bdev *bdev = arg;

	in_completion = true;
	mc_mutex_lock(&bdev->lock);
	for (;;) {
		struct sfs_bio *bio = bdev->delay_head;

		if (bio && (bdev->delay_stop || bio->ready_ns <= now_ns())) {
			bdev->delay_head = bio->next;
			mc_mutex_unlock(&bdev->lock);
			deliver(bio);
			mc_mutex_lock(&bdev->lock);
			continue;
		}
		if (bdev->delay_stop)
			break;
		if (bio)
			mc_cond_timedwait(&bdev->delay_cond, &bdev->lock, bio->ready_ns);
		else
			mc_cond_wait(&bdev->delay_cond, &bdev->lock);
	}
	mc_mutex_unlock(&bdev->lock);
	return NULL;
}

int bdev_delay_start(struct sfs_bdev *bdev)
{
	int ret;

	mc_cond_init(&bdev->delay_cond);
	ret = mc_thread_create(&bdev->delay_thread, "sfs-devemul", delay_main, bdev);
	if (ret)
		return ret;
	bdev->delay_running = true;
	return 0;
}

void bdev_delay_stop(struct sfs_bdev *bdev)
{
	if (!bdev->delay_running)
		return;
	mc_mutex_lock(&bdev->lock);
	bdev->delay_stop = true;
	pthread_cond_signal(&bdev->delay_cond);
	mc_mutex_unlock(&bdev->lock);
	pthread_join(bdev->delay_thread, NULL);
	bdev->delay_running = false;
	pthread_cond_destroy(&bdev->delay_cond);
}

void sfs_bdev_drain(struct sfs_bdev *bdev)
{
	mc_mutex_lock(&bdev->lock);
	while (bdev->inflight)
		mc_cond_wait(&bdev->idle, &bdev->lock);
	mc_mutex_unlock(&bdev->lock);
}
