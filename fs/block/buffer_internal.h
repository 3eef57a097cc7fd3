/*
 * Private to the buffer cache (buffer.c: lookup, LRU, states, shrinker;
 * buffer_io.c: reads, read-ahead, writeback).
 *
 * c->lock protects the hash, the LRU, the dirty list, every buffer's state,
 * ref and error, and the statistics.  Nothing allocates and nothing submits
 * I/O under it (bio completions take it, and the shrinker takes it from
 * reclaim).  Waits for the buffer lock or for I/O use c->wait.
 */
#ifndef SFS_BUFFER_INTERNAL_H
#define SFS_BUFFER_INTERNAL_H

#include <pthread.h>
#include "alloc/mc.h"
#include "fs/block/buffer.h"

struct sfs_bcache {
	struct sfs_bdev *bdev;
	uint32_t bsize;
	unsigned bshift;
	bool sync_io;                 /* block smaller than the DIO alignment: bounce path */
	size_t max_bytes;
	unsigned ra_max;
	void *vctx;

	mc_mutex_t lock;
	pthread_cond_t wait;          /* buffer unlocked, I/O done */
	struct sfs_buf **hash;
	size_t nbuckets;              /* power of two */
	size_t nr;                    /* buffers hashed */
	size_t nr_lru, nr_dirty;
	struct sfs_buf *lru_head, *lru_tail;      /* head = most recent */
	struct sfs_buf *dirty_head, *dirty_tail;  /* head = oldest */
	unsigned wb_inflight;         /* async writes of this cache in flight */
	int wb_error;                 /* first write error since the last sync */
	uint32_t wb_pass;             /* writeback call counter */
	uint64_t ra_last, ra_end;     /* read-ahead stream: last block read, end of window */
	unsigned ra_window;

	sfs_bcache_kick_fn kick;
	void *kick_arg;
	struct mc_shrinker shrinker;
	struct sfs_bcache_stats st;
};

/* buffer.c, c->lock held */
void lru_del(struct sfs_bcache *c, struct sfs_buf *bh);
void dirty_add(struct sfs_bcache *c, struct sfs_buf *bh);
void dirty_del(struct sfs_bcache *c, struct sfs_buf *bh);
/* Drop a reference with c->lock held; returns the buffer if it must be
 * freed (stale and unreferenced) after the lock is dropped. */
struct sfs_buf *put_locked(struct sfs_bcache *c, struct sfs_buf *bh);
void buf_free(struct sfs_buf *bh);
/* A new unhashed buffer, or NULL (mc flags decide whether it may fail). */
struct sfs_buf *buf_alloc(struct sfs_bcache *c, uint64_t blkno, mc_flags_t gfp);
/* Insert @nb unless @blkno is cached: returns the buffer now hashed (with a
 * reference); *spare is set to @nb when it was not used. */
struct sfs_buf *insert_or_find(struct sfs_bcache *c, struct sfs_buf *nb, struct sfs_buf **spare);
struct sfs_buf *hash_find(struct sfs_bcache *c, uint64_t blkno);

/* buffer_io.c */
int buf_read_verify(struct sfs_buf *bh, const struct sfs_buf_ops *ops);
void ra_note_read(struct sfs_bcache *c, uint64_t blkno, const struct sfs_buf_ops *ops);

#endif
