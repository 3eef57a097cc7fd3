/*
 * A recorded write log loaded for replay, and the crash states it admits.
 *
 * Epoch i begins when FLUSH record i completes (epoch 0 at the start).
 * What is durable in epoch i: every WRITE with seq <= covers of flush i.
 * What may also have reached the device: any subset of the writes reaped
 * after that and before the next FLUSH record (they raced with it or were
 * simply not flushed yet), any of them possibly torn (only some of its
 * 4 KiB units written).  A crash state is (epoch, subset, torn write).
 *
 * Acknowledgements: the workload logs a MARK after the durable point of an
 * operation it will later insist on (a completed fsync, a commit).  Every
 * state of epoch i can exist just before the next flush completes (pending
 * writes need not have landed), so the marks logged before the next FLUSH
 * record are required in epoch i: the crash may have come after them.
 */
#ifndef CRASH_LOG_H
#define CRASH_LOG_H

#include <stddef.h>
#include <stdint.h>

struct cl_write {
	uint64_t seq, off;
	uint32_t len;
	size_t data;          /* offset into crashlog.payload */
};

struct cl_flush {
	uint64_t seq, covers;
};

struct cl_mark {
	uint64_t seq;
	char label[64];
};

struct crashlog {
	struct cl_write *w;
	size_t nw;
	struct cl_flush *f;
	size_t nf;
	struct cl_mark *m;
	size_t nm;
	unsigned char *payload;
	size_t payload_len;
};

/* 0, or -errno with a message in @err. */
int crashlog_load(const char *path, struct crashlog *cl, char *err, size_t errlen);
void crashlog_free(struct crashlog *cl);

/* Epochs: 0 .. nf (epoch nf runs to the end of the log). */
static inline size_t crashlog_epochs(const struct crashlog *cl) { return cl->nf + 1; }
/* Writes durable in epoch @e: the first *n of cl->w.  Pending: w[*first .. *end). */
void crashlog_epoch(const struct crashlog *cl, size_t e, size_t *durable, size_t *first,
		    size_t *end);
/* The label of the last mark required in epoch @e, or NULL. */
const char *crashlog_required_mark(const struct crashlog *cl, size_t e);

#endif
