/* Mount option strings (see sfs_mount_opts_parse in fs.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/ondisk.h"
#include "fs/fs.h"

static int bad(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int number(const char *key, const char *v, uint64_t max, uint64_t *out, char *err,
		  size_t len)
{
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return bad(err, len, "option %s needs a value", key);
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || *end || n > max)
		return bad(err, len, "option %s: bad value '%s'", key, v);
	*out = n;
	return 0;
}

static int one(struct sfs_mount_opts *o, char *key, char *v, char *err, size_t len)
{
	uint64_t n = 0;
	size_t sz;
	int ret = 0;

	if (!strcmp(key, "ro") && !v) {
		o->read_only = true;
	} else if (!strcmp(key, "rw") && !v) {
		o->read_only = false;
	} else if (!strcmp(key, "noprealloc") && !v) {
		o->no_prealloc = true;
	} else if (!strcmp(key, "commit")) {
		ret = number(key, v, UINT32_MAX, &n, err, len);
		o->commit_ms = (uint32_t)n;
	} else if (!strcmp(key, "fanout")) {
		ret = number(key, v, 65535, &n, err, len);
		if (!ret && n && n < 3)
			ret = bad(err, len, "fanout must be 0 or at least 3");
		o->extent_fanout = (unsigned)n;
	} else if (!strcmp(key, "icache")) {
		ret = number(key, v, SIZE_MAX, &n, err, len);
		o->inode_cache = (size_t)n;
	} else if (!strcmp(key, "prealloc")) {
		ret = number(key, v, SFS_MAX_EXTENT_LEN, &n, err, len);
		o->prealloc_max = (uint32_t)n;
	} else if (!strcmp(key, "cache")) {
		if (!v || mc_parse_size(v, &sz))
			return bad(err, len, "option cache: bad size '%s'", v ? v : "");
		o->cache_bytes = sz;
	} else if (!strcmp(key, "data")) {
		if (v && !strcmp(v, "ordered"))
			o->data = SFS_DATA_ORDERED;
		else if (v && !strcmp(v, "writeback"))
			o->data = SFS_DATA_WRITEBACK;
		else
			ret = bad(err, len, "option data: ordered or writeback");
	} else if (!strcmp(key, "errors")) {
		if (v && !strcmp(v, "continue"))
			o->errors = SFS_ERRORS_CONTINUE;
		else if (v && !strcmp(v, "remount-ro"))
			o->errors = SFS_ERRORS_RO;
		else if (v && !strcmp(v, "shutdown"))
			o->errors = SFS_ERRORS_SHUTDOWN;
		else
			ret = bad(err, len, "option errors: continue, remount-ro or shutdown");
	} else if (!strcmp(key, "bdev")) {
		/* Block-layer options use ',' themselves: ':' separates them here. */
		if (!v || strlen(v) >= sizeof(o->bdev))
			return bad(err, len, "option bdev: missing or too long");
		for (size_t i = 0; v[i]; i++)
			o->bdev[i] = v[i] == ':' ? ',' : v[i];
		o->bdev[strlen(v)] = 0;
	} else {
		ret = bad(err, len, "unknown option '%s'", key);
	}
	return ret;
}

int sfs_mount_opts_parse(struct sfs_mount_opts *o, const char *s, char *err, size_t errlen)
{
	struct sfs_mount_opts tmp = *o;
	char item[600];

	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t n = end ? (size_t)(end - s) : strlen(s);
		char *eq;
		int ret;

		if (n >= sizeof(item))
			return bad(err, errlen, "option too long");
		memcpy(item, s, n);
		item[n] = 0;
		s = end ? end + 1 : NULL;
		if (!n)
			continue;
		eq = strchr(item, '=');
		if (eq)
			*eq++ = 0;
		ret = one(&tmp, item, eq, err, errlen);
		if (ret)
			return ret;
	}
	*o = tmp;
	return 0;
}
