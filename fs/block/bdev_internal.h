/*
 * Private to fs/block: the device structure shared by the generic layer
 * (bdev.c, bio.c), the engines (uring.c, psync.c) and emulation (emul.c).
 *
 * Life of a bio: sfs_bdev_submit_batch() → bio_prepare() decides its fate
 * under bdev->lock (emulation: run, -EIO, dropped; flush: wait for covered
 * writes) → the engine's dispatch() runs it → the engine reaps it and calls
 * bdev_complete() (short transfers and -EAGAIN were already resubmitted by
 * the engine) → with timing emulation the bio waits on the delay thread
 * until ready_ns → bdev_deliver() accounts, logs, releases flushes the bio
 * was holding back, and calls end_io.
 *
 * Lock order: engine submission lock → bdev->lock → wlog lock.  end_io runs
 * with none of them held.
 */
#ifndef SFS_BDEV_INTERNAL_H
#define SFS_BDEV_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/block/wlog.h"

/* What emulation decided for a bio at submission. */
enum bio_fate {
	FATE_RUN = 0,     /* goes to the image */
	FATE_EIO,         /* injected -EIO, never reaches the image */
	FATE_DROP,        /* power cut: reported done, never reaches the image */
	FATE_INVALID,     /* malformed: -EINVAL */
};

struct bdev_engine {
	const char *name;
	int (*start)(struct sfs_bdev *bdev);
	/* Run a chain of bios (linked by ->next).  @reaper: called from the
	 * completion path, which must never wait for queue space. */
	void (*dispatch)(struct sfs_bdev *bdev, struct sfs_bio *chain, bool reaper);
	void (*stop)(struct sfs_bdev *bdev);
};

struct sfs_bdev {
	int fd;
	unsigned flags;            /* SFS_BDEV_* */
	bool direct;
	unsigned align;            /* bio alignment: DIO alignment, 1 when buffered */
	uint64_t size;             /* bytes, updated by set_size */
	struct sfs_bdev_opts opts;
	const struct bdev_engine *engine;
	void *engine_priv;

	/* bdev->lock protects everything below up to the statistics */
	mc_mutex_t lock;
	pthread_cond_t idle;       /* signalled when inflight drops to 0 */
	uint64_t inflight;         /* bios submitted and not yet delivered */
	uint64_t writes_submitted; /* numbering for eio_after / cut_after */
	uint64_t flushes_submitted;
	uint64_t ios_submitted;    /* numbering for stall_every */
	uint64_t dev_clock_ns;     /* emulated device busy until */
	bool cut;                  /* power cut in effect */
	/* flush ordering: flushes waiting for covered writes, oldest first */
	struct sfs_bio *flush_head, *flush_tail;
	uint64_t writes_inflight;  /* writes submitted and not yet delivered */

	/* delivery thread for timing emulation; delay list sorted by ready_ns */
	pthread_t delay_thread;
	bool delay_running, delay_stop;
	pthread_cond_t delay_cond;
	struct sfs_bio *delay_head;

	struct sfs_wlog *wlog;
	mc_mutex_t rmw_lock;       /* serialises bounced (read-modify-write) writes */

	struct sfs_bdev_stats stats;   /* under lock */
};

/* bio.c */
void bdev_complete(struct sfs_bio *bio);
/* What is left of a read or write (bio->done onwards) as an iovec array:
 * the whole iov of a vectored bio not yet started, else one segment (the
 * rest of a plain buffer, or of the vectored segment holding bio->done:
 * after a short transfer a vectored bio goes on a segment at a time). */
const struct iovec *bio_rest(struct sfs_bio *bio, int *cnt);
int bdev_delay_start(struct sfs_bdev *bdev);
void bdev_delay_stop(struct sfs_bdev *bdev);

/* emul.c: under bdev->lock */
enum bio_fate emul_decide(struct sfs_bdev *bdev, struct sfs_bio *bio);
void emul_schedule(struct sfs_bdev *bdev, struct sfs_bio *bio, uint64_t now);

/* engines */
extern const struct bdev_engine bdev_uring_engine;
extern const struct bdev_engine bdev_psync_engine;

/* Perform one bio synchronously with pread/pwrite/fdatasync: 0 or -errno.
 * Shared by the psync engine and the uring engine's fallback. */
int bdev_psync_rw(struct sfs_bdev *bdev, struct sfs_bio *bio);

void bdev_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static inline uint64_t bdev_pages(uint64_t bytes)
{
	return (bytes + 4095) / 4096;
}

#endif
