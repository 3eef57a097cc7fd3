/*
 * The block layer: one image file (or block device) seen as a device.
 *
 * I/O goes through io_uring against a file opened O_DIRECT, so the daemon's
 * own caches are the only ones between the filesystem and the disk.  Where
 * the host refuses O_DIRECT the file is reopened buffered (one log line);
 * where io_uring is unavailable a pool of pread/pwrite workers does the I/O.
 * Options force each mode (tests use them).
 *
 * Two interfaces:
 *  - synchronous calls (sfs_bdev_read/write/flush): whole length or a
 *    negative errno; unaligned requests are bounced (and writes done as
 *    read-modify-write, serialised against each other) so callers such as
 *    mkfs and fsck need not care about the device alignment;
 *  - asynchronous bios (sfs_bdev_submit*): many at once, one end_io call per
 *    bio.  Bios must be aligned to sfs_bdev_align(); a misaligned bio
 *    completes with -EINVAL.
 *
 * Rules every mode keeps:
 *  - errors reach callers as -EIO (the host errno is kept in bio->host_errno);
 *  - short transfers are resubmitted, -EAGAIN is retried;
 *  - a flush is issued only after every write submitted before it has been
 *    reaped (completed and reported); it then covers those writes;
 *  - writes are reported to alloc/ as writeback (4 KiB pages) when
 *    submitted and when reaped, so reclaim can throttle on them;
 *  - completions are reaped by a thread that never throttles or allocates.
 *
 * Device emulation (latency, bandwidth, stalls, injected EIO, power cut) and
 * the write log are described in emul.h and wlog.h.
 */
#ifndef SFS_BDEV_H
#define SFS_BDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "alloc/list.h"
#include "fs/block/emul.h"

struct sfs_bdev;

#define SFS_BDEV_RDONLY 0x1   /* open read-only */
#define SFS_BDEV_CREATE 0x2   /* create the file if absent (mkfs) */
#define SFS_BDEV_EXCL   0x4   /* take an exclusive flock on the image: -EBUSY if held */

enum sfs_bdev_engine {
	SFS_ENGINE_AUTO,      /* io_uring, else pread/pwrite workers (default) */
	SFS_ENGINE_URING,     /* io_uring or fail to open */
	SFS_ENGINE_PSYNC,     /* pread/pwrite workers */
};

enum sfs_bdev_cache {
	SFS_CACHE_AUTO,       /* O_DIRECT, else buffered with one log line (default) */
	SFS_CACHE_DIRECT,     /* O_DIRECT or fail to open with -EINVAL */
	SFS_CACHE_BUFFERED,   /* through the host page cache */
};

#define SFS_WLOG_PATH_MAX 256

struct sfs_bdev_opts {
	enum sfs_bdev_engine engine;
	enum sfs_bdev_cache cache;
	unsigned align;            /* force the DIO alignment (power of two); 0 = statx DIOALIGN */
	unsigned queue_depth;      /* io_uring SQ entries and in-flight cap; 0 = 128 */
	unsigned iowq_workers;     /* io-wq bound and unbound worker cap; 0 = 4 */
	unsigned psync_workers;    /* pread/pwrite worker threads; 0 = 4 */
	uint64_t io_timeout_ns;    /* io_uring: a bio not completed by then is
				    * cancelled and redone with pread/pwrite; 0 = 30 s */
	uint64_t hang_every;       /* io_uring test aid: every Nth read or write goes
				    * to a pipe that never becomes ready; 0 = never */
	struct sfs_emul_opts emul; /* device emulation, all off when zero */
	char wlog[SFS_WLOG_PATH_MAX]; /* write log file ("" = none), see wlog.h */
};

/*
 * Parse "engine=psync,cache=buffered,latency=2ms,bw=20M,eio=100-110,..."
 * into @o (keys not named keep their value; see emul.h for the emulation
 * keys).  Other keys: engine=auto|uring|psync, cache=auto|direct|buffered,
 * align=N, qd=N, iowq=N, workers=N, wlog=PATH, io_timeout=DURATION,
 * hang_every=N (io_uring only).  -EINVAL with a message
 * naming the key and value in @err on bad input.
 */
int sfs_bdev_opts_parse(struct sfs_bdev_opts *o, const char *s, char *err, size_t errlen);

/* NULL opts = defaults (O_DIRECT + io_uring, falling back with one log line). */
int sfs_bdev_open(const char *path, unsigned flags, const struct sfs_bdev_opts *opts,
		  struct sfs_bdev **out);
/* Waits for every bio in flight, then closes. */
void sfs_bdev_close(struct sfs_bdev *bdev);
uint64_t sfs_bdev_size(const struct sfs_bdev *bdev);
/* Grow or shrink the image file (mkfs); -errno. */
int sfs_bdev_set_size(struct sfs_bdev *bdev, uint64_t size);
/* Required alignment of buffer addresses, lengths and offsets for bios
 * (from statx DIOALIGN, 4096 when unreported; 1 in buffered mode). */
unsigned sfs_bdev_align(const struct sfs_bdev *bdev);
/* 1 if the image is open O_DIRECT, 0 if buffered. */
int sfs_bdev_is_direct(const struct sfs_bdev *bdev);
/* 1 if io_uring does the I/O, 0 for the pread/pwrite workers. */
int sfs_bdev_is_uring(const struct sfs_bdev *bdev);

/* Synchronous I/O: whole length or -EIO/-errno.  Any alignment works;
 * aligned buffers (mc_alloc of a multiple of 4096) avoid a bounce copy. */
int sfs_bdev_read(struct sfs_bdev *bdev, void *buf, size_t len, uint64_t off);
int sfs_bdev_write(struct sfs_bdev *bdev, const void *buf, size_t len, uint64_t off);
/* Durability barrier covering every write whose call (or end_io) has returned. */
int sfs_bdev_flush(struct sfs_bdev *bdev);

/* ---- asynchronous bios ---- */

enum sfs_bio_op { SFS_BIO_READ, SFS_BIO_WRITE, SFS_BIO_FLUSH };

struct sfs_bio;
/*
 * Runs once per bio, normally on the completion thread: it must not sleep,
 * throttle or wait for other I/O; it may take short locks and submit bios.
 * A bio refused at submission (misaligned) may complete in the submitter.
 */
typedef void (*sfs_bio_end_fn)(struct sfs_bio *bio);

struct sfs_bio {
	/* set by the submitter */
	enum sfs_bio_op op;
	void *buf;                 /* aligned; untouched for FLUSH; unused with iov */
	uint32_t len;              /* bytes; 0 for FLUSH; the sum of the iov lengths */
	/* Scattered buffers of one contiguous device range (nr_iov > 0): each
	 * segment aligned like buf; the array is only read, and must stay
	 * valid until end_io.  One bio per run of pages instead of one per
	 * page: one SQE, one syscall. */
	const struct iovec *iov;
	uint16_t nr_iov;
	uint64_t off;              /* byte offset in the image */
	sfs_bio_end_fn end_io;
	void *private;             /* the submitter's */
	/* result, valid in end_io */
	int error;                 /* 0, -EIO, or -EINVAL for a malformed bio */
	int host_errno;            /* what the host said when error is -EIO (0 if injected) */
	/* private to the block layer */
	struct sfs_bdev *bdev;
	struct sfs_bio *next;
	uint32_t done;             /* bytes transferred so far */
	uint16_t eagain;           /* -EAGAIN retries so far */
	uint8_t fate;              /* emulation decision, see bdev_internal.h */
	uint64_t flush_gen;        /* writes: flushes submitted before; flushes: own number */
	uint32_t wait_writes;      /* flushes: covered writes not yet reaped */
	uint64_t ready_ns;         /* emulation: earliest delivery time */
	uint64_t wlog_covers;      /* flushes: write-log records covered */
	struct iovec rest;         /* what is left after a short transfer */
	/* io_uring engine: in flight, for the timeout scan */
	struct mc_list ring_link;
	uint64_t issued_ns;
	bool cancelled;            /* timed out, cancel sent */
};

/* Submit @nr bios in one batch; every bio gets exactly one end_io call. */
void sfs_bdev_submit_batch(struct sfs_bdev *bdev, struct sfs_bio **bios, unsigned nr);
static inline void sfs_bdev_submit(struct sfs_bdev *bdev, struct sfs_bio *bio)
{
	sfs_bdev_submit_batch(bdev, &bio, 1);
}
/* Wait until every bio submitted so far has completed. */
void sfs_bdev_drain(struct sfs_bdev *bdev);

/* ---- crash testing and statistics ---- */

/* Power cut now: every later write and flush is silently dropped. */
void sfs_bdev_power_cut(struct sfs_bdev *bdev);
/* 1 once the power has been cut (by option or by call). */
int sfs_bdev_is_cut(const struct sfs_bdev *bdev);
/* Append a MARK record with @label to the write log (no-op without one). */
int sfs_bdev_log_mark(struct sfs_bdev *bdev, const char *label);

struct sfs_bdev_stats {
	uint64_t reads, writes, flushes;          /* bios completed, by kind */
	uint64_t read_bytes, write_bytes;
	uint64_t errors;                          /* bios completed with -EIO */
	uint64_t injected_eio;                    /* of which injected */
	uint64_t dropped_writes;                  /* writes eaten by a power cut */
	uint64_t flushes_held;                    /* flushes that waited for covered writes */
	uint64_t short_resubmits, eagain_retries;
	uint64_t bounced;                         /* synchronous calls that needed a bounce buffer */
	uint64_t timeouts;                        /* bios past io_timeout, cancelled */
	uint64_t sync_redos;                      /* of which redone with pread/pwrite */
};
void sfs_bdev_stats(struct sfs_bdev *bdev, struct sfs_bdev_stats *out);
/* "io_uring+O_DIRECT(align 512)" style description, into buf; returns buf. */
const char *sfs_bdev_describe(const struct sfs_bdev *bdev, char *buf, size_t len);

#endif
