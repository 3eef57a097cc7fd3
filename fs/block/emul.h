/*
 * Device emulation: a slower or faulty device for experiments and tests.
 *
 * Timing (applied to when a completion is delivered, never to whether the
 * data reached the image): every bio is delivered no earlier than
 *   submission + latency, and no earlier than a device clock that advances
 *   by len / bw per bio and by a stall every stall_every bios.
 * Faults (decided at submission; a faulted bio never reaches the image):
 *   eio ranges   bios touching blocks [first, last] (units of eio_bs bytes)
 *                complete with -EIO, for the ops eio_op selects;
 *   eio_after=N  every write after the Nth fails with -EIO;
 *   power cut    every write after the Nth (cut_after=N), or submitted after
 *                the Nth flush (cut_flush=N), and every later flush, is
 *                silently dropped: it completes with success and never
 *                reaches the image, as after a crash.
 *
 * String keys (sfs_bdev_opts_parse): latency=DUR bw=SIZE (bytes per
 * second) stall=DUR stall_every=N (default 100 with stall)
 * eio=FIRST[-LAST] (repeatable, up to SFS_EMUL_EIO_MAX) eio_bs=SIZE
 * eio_op=read|write|rw eio_after=N cut_after=N cut_flush=N.
 * DUR takes a unit: ns, us, ms or s.
 */
#ifndef SFS_EMUL_H
#define SFS_EMUL_H

#include <stdint.h>

#define SFS_EMUL_EIO_MAX 8

enum sfs_emul_op {
	SFS_EMUL_RW = 0,      /* reads and writes */
	SFS_EMUL_READ,
	SFS_EMUL_WRITE,
};

struct sfs_emul_range {
	uint64_t first, last;        /* inclusive, in eio_bs units */
};

struct sfs_emul_opts {
	uint64_t latency_ns;         /* added to every bio */
	uint64_t bw_bytes;           /* bytes per second, 0 = unlimited */
	uint64_t stall_ns;           /* length of one stall */
	uint64_t stall_every;        /* a stall every this many bios (0 = never) */
	struct sfs_emul_range eio[SFS_EMUL_EIO_MAX];
	unsigned nr_eio;
	uint32_t eio_bs;             /* unit of the eio ranges, 0 = 4096 */
	enum sfs_emul_op eio_op;
	uint64_t eio_after;          /* writes that succeed before all fail, 0 = off */
	uint64_t cut_after;          /* writes kept before the power cut, 0 = off */
	uint64_t cut_flush;          /* flushes before the power cut, 0 = off */
};

/* 1 if any timing option is set (the delivery thread is needed). */
static inline int sfs_emul_timed(const struct sfs_emul_opts *e)
{
	return e->latency_ns || e->bw_bytes || (e->stall_ns && e->stall_every);
}

#endif
