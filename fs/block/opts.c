/*
 * Parsing of the block-layer option string (keys listed in bdev.h and
 * emul.h).  Options are checked completely before @o is touched, so a bad
 * string leaves the caller's options as they were.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno || *end ? -EINVAL : 0;
}

static int parse_duration(const char *s, uint64_t *out)
{
	static const struct { const char *unit; uint64_t mult; } units[] = {
		{ "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
	};
	char *end;
	double v;
	unsigned i;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		v *= (double)units[i].mult;
		if (v < 0 || v > 1e18)
			return -EINVAL;
		*out = (uint64_t)v;
		return 0;
	}
	return -EINVAL;
}

static int parse_size64(const char *s, uint64_t *out)
{
	size_t v;

	if (mc_parse_size(s, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_range(const char *s, struct sfs_emul_range *r)
{
	char buf[64], *dash;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(buf, &r->first))
		return -EINVAL;
	r->last = r->first;
	if (dash && parse_u64(dash + 1, &r->last))
		return -EINVAL;
	return r->last < r->first ? -EINVAL : 0;
}

static int is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* One "key=value" into @o; -EINVAL with a message on anything odd. */
static int parse_one(struct sfs_bdev_opts *o, const char *key, const char *val,
		     char *err, size_t errlen)
{
	struct sfs_emul_opts *e = &o->emul;
	uint64_t v;

#define NEED(cond, what) do { if (!(cond)) return bad(err, errlen,                \
		"block option %s=%s: %s", key, val, what); } while (0)
	if (!strcmp(key, "engine")) {
		if (!strcmp(val, "auto"))
			o->engine = SFS_ENGINE_AUTO;
		else if (!strcmp(val, "uring") || !strcmp(val, "io_uring"))
			o->engine = SFS_ENGINE_URING;
		else if (!strcmp(val, "psync") || !strcmp(val, "pread"))
			o->engine = SFS_ENGINE_PSYNC;
		else
			NEED(0, "expected auto, uring or psync");
	} else if (!strcmp(key, "cache")) {
		if (!strcmp(val, "auto"))
			o->cache = SFS_CACHE_AUTO;
		else if (!strcmp(val, "direct"))
			o->cache = SFS_CACHE_DIRECT;
		else if (!strcmp(val, "buffered"))
			o->cache = SFS_CACHE_BUFFERED;
		else
			NEED(0, "expected auto, direct or buffered");
	} else if (!strcmp(key, "align")) {
		NEED(!parse_size64(val, &v) && is_pow2(v) && v <= 65536,
		     "expected a power of two up to 64K");
		o->align = (unsigned)v;
	} else if (!strcmp(key, "qd")) {
		NEED(!parse_u64(val, &v) && v >= 1 && v <= 4096, "expected 1..4096");
		o->queue_depth = (unsigned)v;
	} else if (!strcmp(key, "iowq")) {
		NEED(!parse_u64(val, &v) && v >= 1 && v <= 1024, "expected 1..1024");
		o->iowq_workers = (unsigned)v;
	} else if (!strcmp(key, "workers")) {
		NEED(!parse_u64(val, &v) && v >= 1 && v <= 256, "expected 1..256");
		o->psync_workers = (unsigned)v;
	} else if (!strcmp(key, "io_timeout")) {
		NEED(!parse_duration(val, &v) && v >= 10000000ull,
		     "expected a duration of at least 10ms (ns, us, ms, s)");
		o->io_timeout_ns = v;
	} else if (!strcmp(key, "hang_every")) {
		NEED(!parse_u64(val, &o->hang_every) && o->hang_every, "expected a count >= 1");
	} else if (!strcmp(key, "wlog")) {
		NEED(*val && strlen(val) < sizeof(o->wlog), "expected a path shorter than 256 bytes");
		strcpy(o->wlog, val);
	} else if (!strcmp(key, "latency")) {
		NEED(!parse_duration(val, &e->latency_ns), "expected a duration like 2ms (ns, us, ms, s)");
	} else if (!strcmp(key, "bw")) {
		NEED(!parse_size64(val, &e->bw_bytes) && e->bw_bytes, "expected bytes per second like 20M");
	} else if (!strcmp(key, "stall")) {
		NEED(!parse_duration(val, &e->stall_ns), "expected a duration like 500ms (ns, us, ms, s)");
		if (!e->stall_every)
			e->stall_every = 100;
	} else if (!strcmp(key, "stall_every")) {
		NEED(!parse_u64(val, &e->stall_every) && e->stall_every, "expected a count >= 1");
	} else if (!strcmp(key, "eio")) {
		NEED(e->nr_eio < SFS_EMUL_EIO_MAX, "too many eio ranges");
		NEED(!parse_range(val, &e->eio[e->nr_eio]), "expected FIRST or FIRST-LAST block numbers");
		e->nr_eio++;
	} else if (!strcmp(key, "eio_bs")) {
		NEED(!parse_size64(val, &v) && v >= 512 && v <= (1u << 20), "expected a size 512..1M");
		e->eio_bs = (uint32_t)v;
	} else if (!strcmp(key, "eio_op")) {
		if (!strcmp(val, "rw"))
			e->eio_op = SFS_EMUL_RW;
		else if (!strcmp(val, "read"))
			e->eio_op = SFS_EMUL_READ;
		else if (!strcmp(val, "write"))
			e->eio_op = SFS_EMUL_WRITE;
		else
			NEED(0, "expected read, write or rw");
	} else if (!strcmp(key, "eio_after")) {
		NEED(!parse_u64(val, &e->eio_after) && e->eio_after, "expected a write count >= 1");
	} else if (!strcmp(key, "cut_after")) {
		NEED(!parse_u64(val, &e->cut_after) && e->cut_after, "expected a write count >= 1");
	} else if (!strcmp(key, "cut_flush")) {
		NEED(!parse_u64(val, &e->cut_flush) && e->cut_flush, "expected a flush count >= 1");
	} else {
		return bad(err, errlen, "unknown block option '%s'", key);
	}
#undef NEED
	return 0;
}

int sfs_bdev_opts_parse(struct sfs_bdev_opts *o, const char *s, char *err, size_t errlen)
{
	struct sfs_bdev_opts tmp = *o;
	char item[512];
	const char *p = s;

	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char *eq;
		int ret;

		if (n >= sizeof(item))
			return bad(err, errlen, "block option too long: %.40s...", p);
		memcpy(item, p, n);
		item[n] = '\0';
		p = end ? end + 1 : NULL;
		if (!n)
			continue;
		eq = strchr(item, '=');
		if (!eq)
			return bad(err, errlen, "block option '%s' needs a value (key=value)", item);
		*eq = '\0';
		ret = parse_one(&tmp, item, eq + 1, err, errlen);
		if (ret)
			return ret;
	}
	*o = tmp;
	return 0;
}
