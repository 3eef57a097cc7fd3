/*
 * The write log (the dm-log-writes idea): every write that reached the
 * image and every completed flush, in the order the block layer reaped
 * them, so a crash harness can rebuild the image as it stood at any flush
 * (or at any write, to model torn ordering).
 *
 * File format, all integers little-endian:
 *
 *   file header, 64 bytes:
 *     0  char[8]  magic "SFSWLOG1"
 *     8  u32      version (1)
 *    12  u32      header size (64)
 *    16  u32      device alignment when recorded
 *    20  u8[44]   zero
 *
 *   then records, each a 56-byte header followed by len bytes of payload
 *   (no padding):
 *     0  u32  magic 0x474f4c57 ("WLOG")
 *     4  u16  type: 1 WRITE, 2 FLUSH, 3 MARK
 *     6  u16  zero
 *     8  u64  seq: 1, 2, 3... over all records
 *    16  u64  epoch: FLUSH records written before this one
 *    24  u64  WRITE: byte offset in the image; else 0
 *    32  u32  len: WRITE: data bytes; MARK: label bytes (no NUL); FLUSH: 0
 *    36  u32  zero
 *    40  u64  FLUSH: seq of the last WRITE it covers (0 = none); else 0
 *    48  u64  XXH64 (seed 0) of the 56-byte header with this field zero,
 *             continued over the payload
 *
 * Meaning: a WRITE record is appended when the write's completion is
 * reaped.  A flush is issued only after every earlier write was reaped, so
 * a FLUSH record with covers = C makes durable exactly the WRITE records
 * with seq <= C; writes logged between C and the FLUSH record raced with
 * the flush and are not covered by it.  Writes that failed, were injected
 * with -EIO or were dropped by a power cut are not logged.  The state of
 * the image after FLUSH record F = the initial image plus all WRITE
 * records with seq <= F.covers applied in seq order.
 */
#ifndef SFS_WLOG_H
#define SFS_WLOG_H

#include <stddef.h>
#include <stdint.h>

#define SFS_WLOG_MAGIC      "SFSWLOG1"
#define SFS_WLOG_VERSION    1
#define SFS_WLOG_HDR_SIZE   64
#define SFS_WLOG_REC_MAGIC  0x474f4c57u
#define SFS_WLOG_REC_SIZE   56

enum sfs_wlog_type { SFS_WLOG_WRITE = 1, SFS_WLOG_FLUSH = 2, SFS_WLOG_MARK = 3 };

/* ---- writer (used by the block layer) ---- */

struct sfs_wlog;
int sfs_wlog_create(const char *path, unsigned align, struct sfs_wlog **out);
/* Append a record; the log is written synchronously with write(2). */
int sfs_wlog_write(struct sfs_wlog *w, uint64_t off, const void *data, uint32_t len);
/* Seq of the last record appended (0 = none). */
uint64_t sfs_wlog_last_write(struct sfs_wlog *w);
int sfs_wlog_flush(struct sfs_wlog *w, uint64_t covers);
int sfs_wlog_mark(struct sfs_wlog *w, const char *label);
/* Returns the first error the log met (0 if none); closes the file. */
int sfs_wlog_close(struct sfs_wlog *w);

/* ---- reader (crash harness, tests) ---- */

struct sfs_wlog_rec {
	enum sfs_wlog_type type;
	uint64_t seq, epoch;
	uint64_t off;              /* WRITE */
	uint32_t len;              /* payload bytes */
	uint64_t covers;           /* FLUSH */
	const void *data;          /* payload, valid until the next call */
};

struct sfs_wlog_reader;
/* -ENOENT, -EFSCORRUPTED (not a log / bad header), -ENOMEM. */
int sfs_wlog_reader_open(const char *path, struct sfs_wlog_reader **out);
/* 1 = a record in @rec, 0 = clean end, -EFSCORRUPTED = torn or bad checksum. */
int sfs_wlog_reader_next(struct sfs_wlog_reader *r, struct sfs_wlog_rec *rec);
unsigned sfs_wlog_reader_align(const struct sfs_wlog_reader *r);
void sfs_wlog_reader_close(struct sfs_wlog_reader *r);

#endif
