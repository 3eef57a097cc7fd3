/*
 * Per-block-type operations the buffer cache runs: a verifier on every read
 * and, before every write, a hook that stamps the checksum and verifies
 * (XFS's struct xfs_buf_ops).  Implemented by fs/format for each metadata
 * block type; NULL ops = raw block (data, journal payload).
 */
#ifndef SFS_BUF_OPS_H
#define SFS_BUF_OPS_H
#include <stddef.h>
#include <stdint.h>

struct sfs_buf_ops {
	const char *name;
	/* 0, -EFSBADCRC (checksum) or -EFSCORRUPTED (structure); ctx = the filesystem. */
	int (*verify_read)(const void *blk, size_t len, uint64_t blkno, void *ctx);
	/* Stamp self-description + checksum, then verify; non-zero = refuse the write. */
	int (*prepare_write)(void *blk, size_t len, uint64_t blkno, void *ctx);
};

#ifndef EFSBADCRC
#define EFSBADCRC    EBADMSG   /* bad checksum (XFS's convention) */
#define EFSCORRUPTED EUCLEAN   /* structure corrupted */
#endif
#endif
