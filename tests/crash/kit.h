/*
 * Pieces the workloads share: opening the device with an option string,
 * self-checking block versions, and a journal over a plain image (area,
 * formatting, changing and freeing journaled blocks, an ordered-data file).
 */
#ifndef CRASH_KIT_H
#define CRASH_KIT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "journal/journal.h"

#define KIT_BSZ 4096u

int kit_open_dev(const char *path, const char *opts, struct sfs_bdev **b, char *err,
		 size_t errlen);
/* A zero-filled image file of @blocks blocks. */
int kit_make_image(const char *path, uint64_t blocks, char *err, size_t errlen);

/* Version @ver of block @blk: every word names both (0 = a zero block). */
void kit_fill(void *buf, uint64_t blk, uint64_t ver);
/* The version @buf holds for @blk, or -1 if it is none (torn, garbage). */
long kit_version(const void *buf, uint64_t blk);

/* A journal at blocks [1, 1025) of the image. */
#define KIT_JSTART 1u
#define KIT_JBLOCKS 1024u
void kit_area(struct jnl_area *a);
int kit_format_journal(const char *path, uint64_t blocks, char *err, size_t errlen);
int kit_change(struct sfs_bcache *c, struct jnl_handle *h, uint64_t blk, uint64_t ver);
int kit_forget(struct sfs_bcache *c, struct jnl_handle *h, uint64_t blk);
/* jnl_recover, then insist the log is clean on a second look. */
int kit_recover(struct sfs_bdev *b, char *err, size_t errlen);

/* Ordered data: block versions the commit thread writes out before the
 * commit block that covers them (jnl_inode_add ranges are block indexes
 * from @first). */
struct kit_data {
	struct jnl_inode ji;
	struct sfs_bdev *bdev;
	pthread_mutex_t lock;
	uint64_t first;
	unsigned n;
	unsigned *ver;
	unsigned char *dirty;
	void *buf;
};
int kit_data_init(struct kit_data *d, struct sfs_bdev *b, uint64_t first, unsigned n);
/* Block @i becomes version @ver; it must reach the device with @h's commit. */
int kit_data_write(struct kit_data *d, struct jnl_handle *h, unsigned i, unsigned ver);
void kit_data_release(struct kit_data *d, struct jnl_journal *j);

#endif
