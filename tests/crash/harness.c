/*
 * The crash harness (see harness.h).
 *
 * The starting image and the durable state of the current epoch are kept in
 * memory; each crash state is materialised by writing the durable image to
 * a work file and applying the chosen pending writes (one maybe torn) over
 * it, then handed to the workload's oracle.  Variants of an epoch are
 * numbered deterministically from the seed, so "--only EPOCH:VARIANT"
 * rebuilds exactly one failing state.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "crashlog.h"
#include "harness.h"
#include "stuck.h"

#define UNIT 4096u            /* the device's atomic write unit */
#define FULL_MAX_ENUM 8       /* epochs up to this many pending writes: every subset */
#define FULL_SAMPLES 256
#define QUICK_SAMPLES 2

static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x ? x : 0x9e3779b97f4a7c15ull;
}

struct variant {
	unsigned char *sel;     /* sel[i]: pending write i applied */
	long torn;              /* pending write torn (applied partly), -1 none */
	uint64_t tear_seed;
};

/* Pending writes spanning more than one unit: the ones that can tear. */
static size_t multi_unit(const struct crashlog *cl, size_t first, size_t n, size_t *idx, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (cl->w[first + i].len > UNIT)
			idx[k++] = i;
	return k;
}

/*
 * Variant @k of an epoch with @n pending writes; 0 when there is none.
 * Order: whole subsets first (all of them for small epochs in `full`,
 * else the empty set, everything, and seeded samples), then torn variants:
 * every pending write before a multi-unit write applied, that one torn.
 */
static int gen_variant(const struct crashlog *cl, size_t first, size_t n, size_t k,
		       enum crash_set set, uint64_t seed, struct variant *v)
{
	size_t subsets, multi[16], nm = multi_unit(cl, first, n, multi, 16);
	uint64_t r = seed * 0x9e3779b97f4a7c15ull + k + 1;

	memset(v->sel, 0, n);
	v->torn = -1;
	if (set == CRASH_FULL && n <= FULL_MAX_ENUM)
		subsets = (size_t)1 << n;
	else
		subsets = n ? 2 + (set == CRASH_FULL ? FULL_SAMPLES : QUICK_SAMPLES) : 1;
	if (set == CRASH_QUICK && nm > 1)
		nm = 1;
	if (k < subsets) {
		if (set == CRASH_FULL && n <= FULL_MAX_ENUM) {
			for (size_t i = 0; i < n; i++)
				v->sel[i] = (k >> i) & 1;
		} else if (k == 1) {
			memset(v->sel, 1, n);
		} else if (k > 1) {
			for (size_t i = 0; i < n; i++)
				v->sel[i] = rng_next(&r) & 1;
		}
		return 1;
	}
	k -= subsets;
	if (k >= nm)
		return 0;
	for (size_t i = 0; i < multi[k]; i++)
		v->sel[i] = 1;
	v->sel[multi[k]] = 1;
	v->torn = (long)multi[k];
	v->tear_seed = rng_next(&r);
	return 1;
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static void apply(unsigned char *img, size_t size, const struct crashlog *cl, const struct cl_write *w)
{
	if (w->off < size)
		memcpy(img + w->off, cl->payload + w->data,
		       w->off + w->len <= size ? w->len : size - w->off);
}

/* Apply the variant's pending writes over the durable image in @fd. */
static int materialise(int fd, const struct crashlog *cl, size_t first, size_t n,
		       const struct variant *v)
{
	int ret = 0;

	for (size_t i = 0; !ret && i < n; i++) {
		const struct cl_write *w = &cl->w[first + i];
		if (!v->sel[i])
			continue;
		if ((long)i != v->torn) {
			ret = write_all(fd, cl->payload + w->data, w->len, w->off);
			continue;
		}
		/* A torn write: a proper, non-empty subset of its units landed. */
		uint64_t r = v->tear_seed;
		size_t units = (w->len + UNIT - 1) / UNIT;
		int landed = 0, missed = 0;
		for (size_t u = 0; u < units && !ret; u++) {
			int take = rng_next(&r) & 1;
			if (u == units - 1)
				take = !landed ? 1 : !missed ? 0 : take;
			if (!take) {
				missed = 1;
				continue;
			}
			landed = 1;
			size_t len = w->len - u * UNIT < UNIT ? w->len - u * UNIT : UNIT;
			ret = write_all(fd, cl->payload + w->data + u * UNIT, len, w->off + u * UNIT);
		}
	}
	return ret;
}

/* Put back the durable contents of [off, off + len) in @fd. */
static int restore_range(int fd, const unsigned char *durable, size_t size, uint64_t off,
			 uint64_t len)
{
	if (off >= size)
		return 0;
	if (off + len > size)
		len = size - off;
	return write_all(fd, durable + off, len, off);
}

/*
 * Undo a check: the variant's writes and whatever recovery wrote (the
 * check's own write log says what) go back to their durable contents, so
 * the next variant starts from the durable image without rewriting it all.
 */
static int restore(int fd, const unsigned char *durable, size_t size, const struct crashlog *cl,
		   size_t first, size_t n, const struct variant *v, const char *check_log)
{
	struct crashlog rec;
	char err[256];
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		if (v->sel[i])
			ret = restore_range(fd, durable, size, cl->w[first + i].off,
					    cl->w[first + i].len);
	if (ret || access(check_log, F_OK))
		return ret;
	ret = crashlog_load(check_log, &rec, err, sizeof(err));
	if (ret) {
		/* Cannot tell what recovery wrote: rewrite everything. */
		unlink(check_log);
		return write_all(fd, durable, size, 0);
	}
	for (size_t i = 0; i < rec.nw && !ret; i++)
		ret = restore_range(fd, durable, size, rec.w[i].off, rec.w[i].len);
	crashlog_free(&rec);
	unlink(check_log);
	return ret;
}

static int read_file(const char *path, unsigned char **buf, size_t *size)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	*size = (size_t)st.st_size;
	*buf = malloc(*size ? *size : 1);
	if (!*buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t done = 0; done < *size;) {
		ssize_t n = pread(fd, *buf + done, *size - done, (off_t)done);
		if (n <= 0) {
			ret = n < 0 ? -errno : -EIO;
			goto out;
		}
		done += (size_t)n;
	}
out:
	close(fd);
	return ret;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void describe(char *buf, size_t len, const unsigned char *sel, size_t n, long torn)
{
	size_t k = (size_t)snprintf(buf, len, "pending %zu, applied {", n);
	for (size_t i = 0; i < n && k < len; i++)
		if (sel[i])
			k += (size_t)snprintf(buf + k, len - k, "%s%zu%s", k && buf[k - 1] != '{' ?
					      "," : "", i, (long)i == torn ? "(torn)" : "");
	if (k < len)
		snprintf(buf + k, len - k, "}");
}

int crash_run(const struct crash_workload *wl, const struct crash_opts *o,
	      struct crash_result *res)
{
	char base[512], img[512], log[512], work[512], clog[512], opts[600], err[512];
	unsigned char *start = NULL, *durable = NULL, *sel = NULL;
	size_t size = 0, applied = 0;
	struct crashlog cl = { 0 };
	double t0 = now_s();
	/* the set decides the variants (and a family's sequences): say it */
	const char *set_name = o->set == CRASH_FULL ? "full" : "quick";
	int fd = -1, ret;

	memset(res, 0, sizeof(*res));
	snprintf(base, sizeof(base), "%s/scopefs-crash-%s-%d.base", o->dir, wl->name, getpid());
	snprintf(img, sizeof(img), "%s/scopefs-crash-%s-%d.img", o->dir, wl->name, getpid());
	snprintf(log, sizeof(log), "%s/scopefs-crash-%s-%d.wlog", o->dir, wl->name, getpid());
	snprintf(work, sizeof(work), "%s/scopefs-crash-%s-%d.work", o->dir, wl->name, getpid());
	snprintf(clog, sizeof(clog), "%s/scopefs-crash-%s-%d.check.wlog", o->dir, wl->name,
		 getpid());
	/* Buffered I/O: the harness judges ordering, which the log records
	 * identically either way, and scratch space may be tmpfs. */
	snprintf(opts, sizeof(opts), "cache=buffered,wlog=%s", log);

	crash_stuck_start();
	crash_stuck_at("%s seed %u: preparing and running the workload", wl->name, o->seed);
	ret = wl->prepare(base, o->seed, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "scopefs-crash: %s: prepare: %s\n", wl->name, err);
		goto out;
	}
	ret = read_file(base, &start, &size);
	if (ret || write_all(fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600), start, size, 0)) {
		fprintf(stderr, "scopefs-crash: %s: cannot copy the starting image\n", wl->name);
		ret = ret ? ret : -EIO;
		goto out;
	}
	close(fd);
	fd = -1;
	ret = wl->run(img, opts, o->seed, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "scopefs-crash: %s: run: %s\n", wl->name, err);
		goto out;
	}
	ret = crashlog_load(log, &cl, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "scopefs-crash: %s: %s\n", wl->name, err);
		goto out;
	}
	res->writes = cl.nw;
	res->flushes = cl.nf;
	durable = malloc(size);
	sel = malloc(cl.nw + 1);
	fd = open(work, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!durable || !sel || fd < 0) {
		ret = -ENOMEM;
		goto out;
	}
	memcpy(durable, start, size);
	if (write_all(fd, durable, size, 0)) {
		ret = -EIO;
		goto out;
	}
	/* The check logs its own writes (recovery's), so they can be undone. */
	snprintf(opts, sizeof(opts), "cache=buffered,engine=psync,workers=1,wlog=%s", clog);
	for (size_t e = 0; e < crashlog_epochs(&cl); e++) {
		size_t dur, first, end;
		const char *mark = crashlog_required_mark(&cl, e);

		crashlog_epoch(&cl, e, &dur, &first, &end);
		for (; applied < dur; applied++) {
			apply(durable, size, &cl, &cl.w[applied]);
			if (restore_range(fd, durable, size, cl.w[applied].off, cl.w[applied].len)) {
				ret = -EIO;
				goto out;
			}
		}
		if (o->only_epoch >= 0 && (size_t)o->only_epoch != e)
			continue;
		res->epochs++;
		for (size_t k = 0;; k++) {
			struct variant v = { .sel = sel };
			if (!gen_variant(&cl, first, end - first, k, o->set, o->seed ^ (e * 7919), &v))
				break;
			if (o->only_epoch >= 0 && k != o->only_mask)
				continue;
			if (materialise(fd, &cl, first, end - first, &v)) {
				fprintf(stderr, "scopefs-crash: cannot write %s\n", work);
				ret = -EIO;
				goto out;
			}
			res->points++;
			err[0] = '\0';
			crash_stuck_at("%s seed %u epoch %zu variant %zu (reproduce: scopefs-crash "
				       "%s --workload %s --seed %u --only %zu:%zu)", wl->name, o->seed,
				       e, k, set_name, wl->name, o->seed, e, k);
			int bad = wl->check(work, opts, mark, o->seed, err, sizeof(err));
			if (!bad) {
				if (restore(fd, durable, size, &cl, first, end - first, &v, clog)) {
					ret = -EIO;
					goto out;
				}
				continue;
			}
			res->failures++;
			char d[256];
			describe(d, sizeof(d), sel, end - first, v.torn);
			/* An unsafe variant is expected to fail: one example is enough. */
			if (o->verbose || (!o->quiet &&
					   res->failures <= (wl->expect_failures ? 1u : 10u)))
				printf("FAIL %s seed %u epoch %zu variant %zu (%s; last ack %s): %s\n"
				       "  reproduce: scopefs-crash %s --workload %s --seed %u --only %zu:%zu --keep\n",
				       wl->name, o->seed, e, k, d, mark ? mark : "none", err,
				       set_name, wl->name, o->seed, e, k);
			if (o->keep) {
				char kept[600];
				snprintf(kept, sizeof(kept), "%s.e%zu.v%zu", work, e, k);
				if (!rename(work, kept))
					printf("  image kept: %s\n", kept);
				close(fd);
				fd = open(work, O_RDWR | O_CREAT | O_TRUNC, 0600);
				if (fd < 0 || write_all(fd, durable, size, 0)) {
					ret = -EIO;
					goto out;
				}
				unlink(clog);
			} else if (restore(fd, durable, size, &cl, first, end - first, &v, clog)) {
				ret = -EIO;
				goto out;
			}
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(base);
	unlink(img);
	unlink(log);
	unlink(work);
	unlink(clog);
	crashlog_free(&cl);
	free(start);
	free(durable);
	free(sel);
	res->seconds = now_s() - t0;
	return ret;
}
