/*
 * The journal workload: 500 handles through journal/ over the block layer,
 * in ordered mode, with the commit thread, checkpoints and wrap-around of
 * a 1,024-block log.  Handle h changes 1-6 of 256 home blocks to version h;
 * every few handles a forced commit, then a MARK "txn h".  Every 50th
 * handle also journals a block of a separate revoke zone, the next handle
 * frees it (jnl_forget: a revoke record), and after that commit the block
 * is rewritten as plain data, flushed, and marked "data Z h": replay must
 * never put the old journaled copy back over it.
 *
 * Oracle, after jnl_recover(): the home blocks equal the state after some
 * prefix of handles no shorter than the last acknowledged one (a committed
 * prefix: nothing half-applied, nothing acknowledged lost), every
 * acknowledged data block holds its data, and the log is clean on a second
 * look.  A third of the handles also write a data block in ordered mode
 * (jnl_inode_add): the data must be on the device before the commit that
 * covers the handle, so a recovered handle never comes with an older data
 * block.  The unsafe twin commits without the flush that must separate
 * the log blocks and ordered data from the commit block
 * (jnl_config.unsafe_no_preflush); the checksums in the log cannot vouch
 * for data outside it, so the ordered-data check catches it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/block/buffer.h"
#include "journal/journal.h"
#include "kit.h"
#include "workload.h"

#define BSZ KIT_BSZ
#define HOME (KIT_JSTART + KIT_JBLOCKS)
#define NHOME 256u
#define ZONE (HOME + NHOME)          /* revoke zone */
#define NZONE 8u
#define DATA (ZONE + NZONE)          /* ordered data blocks */
#define NDATA 32u
#define NBLOCKS (DATA + NDATA + 1)
#define NH 500u
#define MAXW 6u
#define REVOKE_EVERY 50u

struct handle_plan {
	unsigned n, blk[MAXW];
	int commit_after;
	int data;                        /* ordered data block, -1 = none */
};

static void plan(unsigned seed, struct handle_plan *p)
{
	uint64_t r = seed * 0x9e3779b97f4a7c15ull + 12345;
	for (unsigned h = 0; h < NH; h++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		p[h].n = 1 + (unsigned)(r >> 61) % MAXW;
		for (unsigned i = 0; i < p[h].n; i++) {
			r = r * 6364136223846793005ull + 1442695040888963407ull;
			p[h].blk[i] = (unsigned)(r >> 33) % NHOME;
		}
		p[h].commit_after = (r >> 17) % 5 == 0;
		p[h].data = (r >> 11) % 3 == 0 ? (int)((r >> 40) % NDATA) : -1;
	}
}

/* Last handle <= @k that wrote data block @d (0 = none). */
static unsigned data_writer(const struct handle_plan *p, unsigned d, unsigned k)
{
	unsigned w = 0;
	for (unsigned h = 1; h <= k; h++)
		if (p[h - 1].data == (int)d)
			w = h;
	return w;
}

static int prepare(const char *path, unsigned seed, char *err, size_t errlen)
{
	(void)seed;
	return kit_format_journal(path, NBLOCKS, err, errlen);
}

static int run_common(const char *path, const char *opts, unsigned seed, int unsafe, char *err,
		      size_t errlen)
{
	static struct handle_plan p[NH];
	struct sfs_bcache_opts co = { .block_size = BSZ, .name = "crash_jnl_buffers" };
	struct jnl_config cfg = { .mode = JNL_DATA_ORDERED, .commit_interval_ms = 50,
				  .unsafe_no_preflush = unsafe };
	struct jnl_area a;
	struct sfs_bdev *b = NULL;
	struct sfs_bcache *c = NULL;
	struct jnl_journal *j = NULL;
	void *data = mc_alloc(BSZ, MC_KERNEL);
	static struct kit_data df;
	char label[48];
	int ret;

	plan(seed, p);
	kit_area(&a);
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (!ret)
		ret = kit_data_init(&df, b, DATA, NDATA);
	if (ret)
		goto out;
	ret = sfs_bcache_create(b, &co, &c);
	if (!ret)
		ret = jnl_open(c, &a, &cfg, NULL, &j);
	if (ret) {
		snprintf(err, errlen, "open journal: %s", strerror(-ret));
		goto out;
	}
	for (unsigned h = 1; h <= NH && !ret; h++) {
		const struct handle_plan *hp = &p[h - 1];
		unsigned zone = (h / REVOKE_EVERY) % NZONE;
		struct jnl_handle *jh;

		ret = jnl_start(j, MAXW + 2, 0, &jh);
		if (ret)
			break;
		for (unsigned i = 0; i < hp->n && !ret; i++)
			ret = kit_change(c, jh, HOME + hp->blk[i], h);
		if (!ret && h % REVOKE_EVERY == 0)
			ret = kit_change(c, jh, ZONE + zone, h);
		if (!ret && h % REVOKE_EVERY == 1 && h > 1)
			ret = kit_forget(c, jh, ZONE + ((h - 1) / REVOKE_EVERY) % NZONE);
		if (!ret && hp->data >= 0)
			ret = kit_data_write(&df, jh, (unsigned)hp->data, h);
		int sret = jnl_stop(jh);
		ret = ret ? ret : sret;
		if (ret)
			break;
		if (h % REVOKE_EVERY == 1 && h > 1) {
			/* The revoke is durable: reuse the block for plain data. */
			unsigned z = ((h - 1) / REVOKE_EVERY) % NZONE;
			ret = jnl_force_commit(j);
			kit_fill(data, ZONE + z, 100000 + h);
			if (!ret)
				ret = sfs_bdev_write(b, data, BSZ, (uint64_t)(ZONE + z) * BSZ);
			if (!ret)
				ret = sfs_bdev_flush(b);
			snprintf(label, sizeof(label), "data %u %u", z, 100000 + h);
			if (!ret)
				sfs_bdev_log_mark(b, label);
		}
		if (!ret && hp->commit_after) {
			ret = jnl_force_commit(j);
			snprintf(label, sizeof(label), "txn %u", h);
			if (!ret)
				sfs_bdev_log_mark(b, label);
		}
	}
	if (ret)
		snprintf(err, errlen, "journal I/O: %s", strerror(-ret));
out:
	if (j) {
		/* As a filesystem writes an inode's data before evicting it:
		 * commit (which writes the ordered data), then release. */
		int fret = jnl_force_commit(j);
		kit_data_release(&df, j);
		int cret = jnl_close(j);
		cret = cret ? cret : fret;
		if (!ret && cret) {
			ret = cret;
			snprintf(err, errlen, "jnl_close: %s", strerror(-ret));
		}
	}
	if (c)
		sfs_bcache_destroy(c);
	else
		kit_data_release(&df, NULL);
	if (b)
		sfs_bdev_close(b);
	mc_free(data);
	return ret;
}

static int run_safe(const char *path, const char *opts, unsigned seed, char *err, size_t errlen)
{
	return run_common(path, opts, seed, 0, err, errlen);
}

static int run_unsafe(const char *path, const char *opts, unsigned seed, char *err, size_t errlen)
{
	return run_common(path, opts, seed, 1, err, errlen);
}

/*
 * Acknowledgements.  Marks are logged in order, so the last required one
 * tells everything: "txn H" means handles <= H committed; "data Z V" means
 * the data write to zone block Z with version V is durable (and so is the
 * handle before it).  Data marks are cumulative per zone block: a zone
 * block's required version is the last data mark for it up to the
 * required mark, which the harness does not tell us -- so the workload
 * re-derives the whole mark sequence from the plan.
 */
struct acks {
	unsigned txn;
	long zone[NZONE];     /* required version of each zone block, 0 = none */
};

/* Position of version @v of zone block @z in its history (journaled copy
 * at handle h, then data 100000 + h + 1 after the revoke), -1 if never. */
static long zone_pos(unsigned z, long v)
{
	if (v == 0)
		return 0;
	for (unsigned h = REVOKE_EVERY; h <= NH; h += REVOKE_EVERY) {
		if ((h / REVOKE_EVERY) % NZONE != z)
			continue;
		if (v == (long)h)
			return 2 * (long)h;
		if (v == 100000 + (long)h + 1)
			return 2 * (long)h + 1;
	}
	return -1;
}

static void acks_upto(const struct handle_plan *p, const char *mark, struct acks *a)
{
	char label[48];

	memset(a, 0, sizeof(*a));
	if (!mark)
		return;
	for (unsigned h = 1; h <= NH; h++) {
		if (h % REVOKE_EVERY == 1 && h > 1) {
			unsigned z = ((h - 1) / REVOKE_EVERY) % NZONE;
			a->txn = h;
			a->zone[z] = 100000 + h;
			snprintf(label, sizeof(label), "data %u %u", z, 100000 + h);
			if (!strcmp(label, mark))
				return;
		}
		if (p[h - 1].commit_after) {
			a->txn = h;
			snprintf(label, sizeof(label), "txn %u", h);
			if (!strcmp(label, mark))
				return;
		}
	}
}

static int check(const char *path, const char *opts, const char *mark, unsigned seed, char *err,
		 size_t errlen)
{
	static struct handle_plan p[NH];
	struct sfs_bdev *b;
	struct acks ack;
	unsigned char *img = NULL;
	long ver[NHOME];
	unsigned k = 0;
	int ret;

	plan(seed, p);
	acks_upto(p, mark, &ack);
	ret = kit_open_dev(path, opts, &b, err, errlen);
	if (ret)
		return ret;
	ret = kit_recover(b, err, errlen);
	if (ret)
		goto out;
	img = mc_alloc((NHOME + NZONE + NDATA) * BSZ, MC_KERNEL);
	ret = sfs_bdev_read(b, img, (NHOME + NZONE + NDATA) * BSZ, (uint64_t)HOME * BSZ);
	if (ret) {
		snprintf(err, errlen, "read home blocks: %s", strerror(-ret));
		goto out;
	}
	for (unsigned i = 0; i < NHOME; i++) {
		ver[i] = kit_version(img + (size_t)i * BSZ, HOME + i);
		if (ver[i] < 0 || ver[i] > NH) {
			snprintf(err, errlen, "home block %u holds garbage", i);
			ret = -1;
			goto out;
		}
		if ((unsigned long)ver[i] > k)
			k = (unsigned)ver[i];
	}
	if (k < ack.txn) {
		snprintf(err, errlen, "recovered to handle %u, but handle %u was acknowledged "
			 "committed", k, ack.txn);
		ret = -1;
		goto out;
	}
	/* The image must be exactly the state after handles 1..k. */
	for (unsigned i = 0; i < NHOME; i++) {
		long want = 0;
		for (unsigned h = 1; h <= k; h++)
			for (unsigned w = 0; w < p[h - 1].n; w++)
				if (p[h - 1].blk[w] == i)
					want = h;
		if (ver[i] != want) {
			snprintf(err, errlen, "not a committed prefix: handle %u is in, but home "
				 "block %u is at version %ld instead of %ld", k, i, ver[i], want);
			ret = -1;
			goto out;
		}
	}
	for (unsigned z = 0; z < NZONE; z++) {
		long v = kit_version(img + (size_t)(NHOME + z) * BSZ, ZONE + z);
		if (v < 0 || zone_pos(z, v) < 0) {
			snprintf(err, errlen, "zone block %u holds garbage", z);
			ret = -1;
			goto out;
		}
		/* Later versions may have landed too; older ones must not return. */
		if (ack.zone[z] && zone_pos(z, v) < zone_pos(z, ack.zone[z])) {
			snprintf(err, errlen, "zone block %u: data version %ld was durable, found "
				 "%ld (a revoked copy replayed over it?)", z, ack.zone[z], v);
			ret = -1;
			goto out;
		}
	}
	/* Ordered mode: no recovered handle comes with older data. */
	for (unsigned d = 0; d < NDATA; d++) {
		long v = kit_version(img + (size_t)(NHOME + NZONE + d) * BSZ, DATA + d);
		unsigned need = data_writer(p, d, k);
		if (v < 0 || v > NH || (v && p[v - 1].data != (int)d)) {
			snprintf(err, errlen, "data block %u holds garbage", d);
			ret = -1;
			goto out;
		}
		if ((unsigned long)v < need) {
			snprintf(err, errlen, "stale data: handle %u is recovered but its data "
				 "block %u holds version %ld", need, d, v);
			ret = -1;
			goto out;
		}
	}
out:
	mc_free(img);
	sfs_bdev_close(b);
	return ret;
}

const struct crash_workload wl_journal = {
	.name = "journal", .what = "500 handles, forced commits, checkpoints, revokes (ordered mode)",
	.prepare = prepare, .run = run_safe, .check = check,
};

const struct crash_workload wl_journal_unsafe = {
	.name = "journal-unsafe",
	.what = "journal without the flush before the commit block: must fail",
	.expect_failures = 1, .prepare = prepare, .run = run_unsafe, .check = check,
};
