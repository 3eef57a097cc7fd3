/*
 * The log writer: how the commit thread gets blocks into the log.
 *
 * Copies go through a staging ring allocated at open, two halves: one is
 * filled while the other's writes are in flight; consecutive log positions
 * in consecutive slots go out as one bio.  Descriptor, revoke and commit
 * blocks are small control buffers of their own (a descriptor is finished
 * only after the copies it describes, which may already be on their way).
 * Everything is preallocated: committing never allocates, so it completes
 * under an exhausted memory budget, and the completions it waits for
 * depend on nothing but the device.
 *
 * When the block size is below the device's DIO alignment the writes are
 * synchronous through the block layer's bounce path instead.
 *
 * Only the commit thread uses the writer.  logw.lock protects what bio
 * completions change (pending counts, busy flags, the first error); end_io
 * takes it briefly and never waits.
 */
#include <errno.h>
#include <string.h>

#include "journal/internal.h"

static struct jnl_logw *bio_logw(struct sfs_bio *bio)
{
	return bio->private;
}

static void note_error(struct jnl_logw *w, int err)
{
	if (err && !w->err)
		w->err = err;
}

static void data_end_io(struct sfs_bio *bio)
{
	struct jnl_logw *w = bio_logw(bio);
	unsigned h = (unsigned)(bio - w->bios) / w->half;

	mc_mutex_lock(&w->lock);
	note_error(w, bio->error);
	if (--w->pending[h] == 0)
		pthread_cond_broadcast(&w->cond);
	mc_mutex_unlock(&w->lock);
}

static void ctl_end_io(struct sfs_bio *bio)
{
	struct jnl_ctl *ctl = mc_list_entry(bio, struct jnl_ctl, bio);
	struct jnl_logw *w = bio->private;

	mc_mutex_lock(&w->lock);
	note_error(w, bio->error);
	ctl->busy = false;
	pthread_cond_broadcast(&w->cond);
	mc_mutex_unlock(&w->lock);
}

int jnl_logw_init(struct jnl_journal *j)
{
	struct jnl_logw *w = &j->logw;
	unsigned i;

	w->nslots = j->cfg.ring_blocks;
	w->half = w->nslots / 2;
	mc_mutex_init(&w->lock, "jnl.logw");
	mc_cond_init(&w->cond);
	w->ring = mc_alloc_named("journal.ring", (size_t)w->nslots * j->bsize, MC_KERNEL);
	w->slot_pos = mc_calloc(w->nslots, sizeof(*w->slot_pos), MC_KERNEL);
	w->bios = mc_calloc(w->nslots, sizeof(*w->bios), MC_KERNEL);
	w->bio_ptrs = mc_calloc(w->nslots, sizeof(*w->bio_ptrs), MC_KERNEL);
	if (!w->ring || !w->slot_pos || !w->bios || !w->bio_ptrs)
		goto fail;
	for (i = 0; i < JNL_NCTL; i++) {
		w->ctl[i].buf = mc_alloc_named("journal.ctl", j->bsize, MC_KERNEL);
		if (!w->ctl[i].buf)
			goto fail;
	}
	return 0;
fail:
	jnl_logw_destroy(j);
	return -ENOMEM;
}

void jnl_logw_destroy(struct jnl_journal *j)
{
	struct jnl_logw *w = &j->logw;

	if (!w->nslots)
		return;
	mc_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	for (unsigned i = 0; i < JNL_NCTL; i++)
		mc_free(w->ctl[i].buf);
	mc_free(w->ring);
	mc_free(w->slot_pos);
	mc_free(w->bios);
	mc_free(w->bio_ptrs);
	memset(w, 0, sizeof(*w));
}

void jnl_logw_begin(struct jnl_journal *j, uint64_t pos)
{
	struct jnl_logw *w = &j->logw;

	w->pos = pos;
	w->cur = 0;
	w->fill = 0;
	w->written = 0;
	w->err = 0;
}

uint64_t jnl_logw_next_pos(struct jnl_journal *j)
{
	uint64_t pos = j->logw.pos;

	j->logw.pos = jnl_log_next(j, pos);
	if (j->logw.pos == JNL_FIRST)
		JNL_STAT_ADD(j, wraps, 1);
	j->logw.written++;
	return pos;
}

static void write_sync(struct jnl_journal *j, struct sfs_bio *bio)
{
	bio->error = sfs_bdev_write(j->bdev, bio->buf, bio->len, bio->off);
	bio->end_io(bio);
}

/* Send the half being filled, then make the other one the current half,
 * waiting for its earlier writes. */
static void submit_half(struct jnl_journal *j)
{
	struct jnl_logw *w = &j->logw;
	unsigned h = w->cur, base = h * w->half, n = w->fill, i = 0, nb = 0;

	while (i < n) {
		unsigned s = i;
		struct sfs_bio *bio = &w->bios[base + nb];

		while (i + 1 < n && w->slot_pos[base + i + 1] == w->slot_pos[base + i] + 1)
			i++;
		i++;
		*bio = (struct sfs_bio){
			.op = SFS_BIO_WRITE,
			.buf = w->ring + (size_t)(base + s) * j->bsize,
			.len = (i - s) * j->bsize,
			.off = (j->area.start + w->slot_pos[base + s]) << j->bshift,
			.end_io = data_end_io,
			.private = w,
		};
		w->bio_ptrs[nb++] = bio;
	}
	if (nb) {
		mc_mutex_lock(&w->lock);
		w->pending[h] = nb;
		mc_mutex_unlock(&w->lock);
		if (j->aligned)
			sfs_bdev_submit_batch(j->bdev, w->bio_ptrs, nb);
		else
			for (i = 0; i < nb; i++)
				write_sync(j, w->bio_ptrs[i]);
	}
	w->cur ^= 1;
	w->fill = 0;
	mc_mutex_lock(&w->lock);
	while (w->pending[w->cur])
		mc_cond_wait(&w->cond, &w->lock);
	mc_mutex_unlock(&w->lock);
}

void *jnl_logw_slot(struct jnl_journal *j, uint64_t pos)
{
	struct jnl_logw *w = &j->logw;
	unsigned idx;

	if (w->fill == w->half)
		submit_half(j);
	idx = w->cur * w->half + w->fill++;
	w->slot_pos[idx] = pos;
	return w->ring + (size_t)idx * j->bsize;
}

struct jnl_ctl *jnl_logw_ctl_get(struct jnl_journal *j)
{
	struct jnl_logw *w = &j->logw;
	struct jnl_ctl *ctl = NULL;

	mc_mutex_lock(&w->lock);
	for (;;) {
		for (unsigned i = 0; i < JNL_NCTL && !ctl; i++)
			if (!w->ctl[i].busy)
				ctl = &w->ctl[i];
		if (ctl)
			break;
		mc_cond_wait(&w->cond, &w->lock);
	}
	ctl->busy = true;
	mc_mutex_unlock(&w->lock);
	return ctl;
}

void jnl_logw_ctl_submit(struct jnl_journal *j, struct jnl_ctl *ctl, uint64_t pos)
{
	ctl->bio = (struct sfs_bio){
		.op = SFS_BIO_WRITE,
		.buf = ctl->buf,
		.len = j->bsize,
		.off = (j->area.start + pos) << j->bshift,
		.end_io = ctl_end_io,
		.private = &j->logw,
	};
	if (j->aligned)
		sfs_bdev_submit(j->bdev, &ctl->bio);
	else
		write_sync(j, &ctl->bio);
}

/* Send what is staged and wait for every log write: 0 or the first error. */
int jnl_logw_wait(struct jnl_journal *j)
{
	struct jnl_logw *w = &j->logw;
	bool busy;
	int err;

	if (w->fill)
		submit_half(j);
	mc_mutex_lock(&w->lock);
	for (;;) {
		busy = w->pending[0] || w->pending[1];
		for (unsigned i = 0; i < JNL_NCTL; i++)
			busy |= w->ctl[i].busy;
		if (!busy)
			break;
		mc_cond_wait(&w->cond, &w->lock);
	}
	err = w->err;
	mc_mutex_unlock(&w->lock);
	JNL_STAT_ADD(j, log_blocks_written, w->written);
	w->written = 0;
	return err;
}

int jnl_dev_flush(struct jnl_journal *j)
{
	JNL_STAT_ADD(j, log_flushes, 1);
	return sfs_bdev_flush(j->bdev);
}
