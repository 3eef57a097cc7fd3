/*
 * The buffer cache: block buffers keyed by block number, over one bdev.
 *
 * A buffer is found or created by block number, pinned by a reference
 * (sfs_buf_get/read ... sfs_buf_release), and moves through these states:
 *   uptodate    data matches the disk (or is newer): readable
 *   dirty       newer than the disk; written back in batches or by sync
 *   writeback   a write of it is in flight (the buffer is locked meanwhile)
 *   journal     owned by the journal: never written to its home location
 *               until the journal releases it (its transaction committed);
 *               writeback skips it, sfs_buf_write refuses it
 *   stale       invalidated (its block was freed): unhashed, never written,
 *               freed at the last release
 * Contents are changed only under the buffer lock (sfs_buf_lock), which
 * reads and writes hold for the duration of their I/O, as the kernel's
 * lock_buffer.  Every read from disk runs ops->verify_read; every write runs
 * ops->prepare_write first (buf_ops.h).  Block size is per cache: 1 KiB,
 * 4 KiB, 64 KiB (any power of two from 1 KiB to 64 KiB).  A block smaller
 * than the device's DIO alignment is read and written synchronously through
 * the block layer's bounce path instead of as async bios.
 *
 * Memory: buffers come from mc_alloc; unreferenced clean buffers sit on an
 * LRU that a shrinker registered with alloc/ frees under pressure.  The
 * shrinker needs neither MC_FS nor MC_IO: it frees only clean, unlocked,
 * unreferenced, non-journal buffers, takes only the cache's own lock (under
 * which nothing allocates) and never waits; seeing dirty buffers it may
 * call the kick set with sfs_bcache_set_kick, only when the reclaim context
 * allows I/O.
 *
 * Read-ahead: explicit (sfs_bcache_readahead) and automatic when
 * sfs_buf_read sees consecutive block numbers (one stream per cache); the
 * blocks are read by one batch of bios.
 */
#ifndef SFS_BUFFER_H
#define SFS_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fs/block/bdev.h"
#include "fs/block/buf_ops.h"

struct sfs_bcache;

/* State bits (sfs_buf.state); read them with the predicates below. */
enum {
	SFS_BS_UPTODATE  = 1u << 0,
	SFS_BS_DIRTY     = 1u << 1,
	SFS_BS_WRITEBACK = 1u << 2,   /* write in flight */
	SFS_BS_READING   = 1u << 3,   /* read in flight */
	SFS_BS_LOCKED    = 1u << 4,   /* buffer lock (content, I/O) */
	SFS_BS_JOURNAL   = 1u << 5,   /* journal-owned: not written home */
	SFS_BS_VERIFIED  = 1u << 6,   /* verify_read passed since the last read */
	SFS_BS_STALE     = 1u << 7,   /* invalidated, unhashed */
	SFS_BS_WRITE_ERR = 1u << 8,   /* last write failed (buffer kept dirty) */
	SFS_BS_READAHEAD = 1u << 9,   /* read ahead, not yet asked for */
	SFS_BS_REFERENCED= 1u << 10,  /* LRU second chance */
};

struct sfs_buf {
	uint64_t blkno;
	void *data;                   /* block_size bytes */
	uint32_t size;                /* block size */
	struct sfs_bcache *cache;
	const struct sfs_buf_ops *ops;/* verifier in use, NULL = raw block */
	void *jpriv;                  /* the journal's per-buffer data */
	/* below: private to the cache, under its lock */
	unsigned state;
	int ref;
	int error;                    /* last I/O error */
	uint32_t wb_pass;             /* writeback pass that last tried it */
	struct sfs_buf *hnext;        /* hash chain */
	struct sfs_buf *lru_prev, *lru_next;     /* LRU (ref == 0 only) */
	struct sfs_buf *dirty_prev, *dirty_next; /* dirty list, oldest first */
	struct sfs_bio bio;
};

struct sfs_bcache_opts {
	uint32_t block_size;          /* power of two, 1 KiB .. 64 KiB */
	size_t max_bytes;             /* soft cap on buffer memory, 0 = shrinker only */
	unsigned ra_max;              /* read-ahead window cap in blocks, 0 = 32 */
	void *verifier_ctx;           /* passed to every sfs_buf_ops call */
	const char *name;             /* shrinker name, default "sfs_buffers" */
};

int sfs_bcache_create(struct sfs_bdev *bdev, const struct sfs_bcache_opts *o,
		      struct sfs_bcache **out);
/* Every reference must be released.  Dirty buffers are discarded with a log
 * line: sync first. */
void sfs_bcache_destroy(struct sfs_bcache *c);
uint32_t sfs_bcache_block_size(const struct sfs_bcache *c);
struct sfs_bdev *sfs_bcache_bdev(const struct sfs_bcache *c);

/* Flags for get/read. */
#define SFS_BUF_NEW    0x1   /* freshly allocated block: zero-filled and uptodate, no read */
#define SFS_BUF_NOFAIL 0x2   /* the allocation may not fail (truncate paths) */

/* Find or create, without reading: 0 or -ENOMEM. */
int sfs_buf_get(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops,
		unsigned flags, struct sfs_buf **out);
/* Find or create and make uptodate (read + verify): 0, -EIO, -ENOMEM, or the
 * verifier's -EFSBADCRC / -EFSCORRUPTED (then the buffer is not kept uptodate). */
int sfs_buf_read(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops,
		 unsigned flags, struct sfs_buf **out);
/* The cached buffer with a reference, or NULL; never reads. */
struct sfs_buf *sfs_buf_find(struct sfs_bcache *c, uint64_t blkno);
void sfs_buf_hold(struct sfs_buf *bh);
void sfs_buf_release(struct sfs_buf *bh);

void sfs_buf_lock(struct sfs_buf *bh);
bool sfs_buf_trylock(struct sfs_buf *bh);
void sfs_buf_unlock(struct sfs_buf *bh);

/* Contents changed (buffer locked by the caller, and uptodate). */
void sfs_buf_mark_dirty(struct sfs_buf *bh);
/* Write this buffer home now and wait (e.g. the superblock).  Takes the
 * buffer lock itself.  -EBUSY if journal-owned; 0 if it was clean. */
int sfs_buf_write(struct sfs_buf *bh);
/* Wait until no write of this buffer is in flight. */
void sfs_buf_wait_writeback(struct sfs_buf *bh);

/* Journal ownership (call with the buffer locked). */
void sfs_buf_set_journal(struct sfs_buf *bh);
/* The transaction committed: the buffer may go home; stays dirty if it was. */
void sfs_buf_clear_journal(struct sfs_buf *bh);

unsigned sfs_buf_state(const struct sfs_buf *bh);
static inline bool sfs_buf_uptodate(const struct sfs_buf *bh) { return sfs_buf_state(bh) & SFS_BS_UPTODATE; }
static inline bool sfs_buf_dirty(const struct sfs_buf *bh) { return sfs_buf_state(bh) & SFS_BS_DIRTY; }
static inline bool sfs_buf_writeback(const struct sfs_buf *bh) { return sfs_buf_state(bh) & SFS_BS_WRITEBACK; }
static inline bool sfs_buf_journal(const struct sfs_buf *bh) { return sfs_buf_state(bh) & SFS_BS_JOURNAL; }
static inline bool sfs_buf_stale(const struct sfs_buf *bh) { return sfs_buf_state(bh) & SFS_BS_STALE; }

/* Blocks [blkno, blkno + count) were freed: drop their buffers' pending
 * writes and forget them (waits for writes already in flight). */
void sfs_bcache_invalidate(struct sfs_bcache *c, uint64_t blkno, uint64_t count);
/* Start reading blocks not cached yet; never waits for the reads. */
void sfs_bcache_readahead(struct sfs_bcache *c, uint64_t blkno, unsigned nr,
			  const struct sfs_buf_ops *ops);

/* Write back up to @max dirty buffers (not journal-owned, not locked), in
 * batches sorted by block.  @wait: also wait for those writes.  Returns the
 * number started, or the first error when waiting. */
long sfs_bcache_writeback(struct sfs_bcache *c, size_t max, bool wait);
/* Write back every dirty buffer that may go home, wait, flush the device.
 * Returns the first error since the last sync (-EIO, or a prepare_write
 * refusal), 0 if none. */
int sfs_bcache_sync(struct sfs_bcache *c);
/* Free up to @nr clean unreferenced buffers (what the shrinker does). */
size_t sfs_bcache_shrink(struct sfs_bcache *c, size_t nr);

/* Called (never waited for) when reclaim finds dirty buffers it cannot free. */
typedef void (*sfs_bcache_kick_fn)(void *arg, size_t nr_dirty);
void sfs_bcache_set_kick(struct sfs_bcache *c, sfs_bcache_kick_fn fn, void *arg);

struct sfs_bcache_stats {
	uint64_t buffers, dirty, lru;          /* now */
	uint64_t hits, misses;                 /* get/read lookups */
	uint64_t reads, writes;                /* block I/Os done */
	uint64_t read_errors, write_errors, verify_failures, prepare_failures;
	uint64_t ra_issued, ra_hits;           /* read-ahead blocks started / later used */
	uint64_t evicted, invalidated, journal_skips;
};
void sfs_bcache_stats(struct sfs_bcache *c, struct sfs_bcache_stats *out);

#endif
