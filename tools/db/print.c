/* Printing and editing structures through the format's field tables. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fs/format/le.h"
#include "fs/format/uuid.h"
#include "tools/common/toolutil.h"
#include "tools/db/db.h"

static void print_value(FILE *out, const struct sfs_field *fl, const uint8_t *p)
{
	uint64_t v = fl->size <= 8 ? sfs_get_le(p, fl->size) : 0;
	char buf[64];

	switch (fl->kind) {
	case SFS_FK_UINT:
		fprintf(out, "%llu", (unsigned long long)v);
		break;
	case SFS_FK_HEX:
		fprintf(out, "0x%llx", (unsigned long long)v);
		break;
	case SFS_FK_OCTAL:
		fprintf(out, "0%llo", (unsigned long long)v);
		break;
	case SFS_FK_MAGIC:
		for (unsigned i = 0; i < fl->size; i++)
			buf[i] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '.';
		buf[fl->size] = 0;
		fprintf(out, "\"%s\" (0x%llx)", buf, (unsigned long long)v);
		break;
	case SFS_FK_TIME: {
		time_t t = (time_t)v;
		struct tm tm;

		if (v && gmtime_r(&t, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm))
			fprintf(out, "%llu (%s)", (unsigned long long)v, buf);
		else
			fprintf(out, "%llu", (unsigned long long)v);
		break;
	}
	case SFS_FK_STR:
		fprintf(out, "\"%.*s\"", (int)strnlen((const char *)p, fl->size), (const char *)p);
		break;
	case SFS_FK_UUID:
		fprintf(out, "%s", sfs_uuid_unparse(p, buf));
		break;
	case SFS_FK_BYTES:
		for (unsigned i = 0; i < fl->size; i++)
			fprintf(out, "%02x", p[i]);
		break;
	}
}

void db_print_fields(FILE *out, const struct sfs_field *tab, const void *base, const char *indent)
{
	for (; tab->name; tab++) {
		fprintf(out, "%s%-20s ", indent, tab->name);
		print_value(out, tab, (const uint8_t *)base + tab->off);
		fputc('\n', out);
	}
}

int db_set_field(const struct sfs_field *fl, void *base, const char *value)
{
	uint8_t *p = (uint8_t *)base + fl->off;
	uint64_t v;

	switch (fl->kind) {
	case SFS_FK_STR:
		if (strlen(value) > fl->size)
			return db_err("%s: value longer than %u bytes", fl->name, fl->size);
		memset(p, 0, fl->size);
		memcpy(p, value, strlen(value));
		return 0;
	case SFS_FK_UUID:
		if (sfs_uuid_parse(value, p))
			return db_err("%s: not a UUID", fl->name);
		return 0;
	case SFS_FK_MAGIC:
		if (strlen(value) == fl->size && tu_parse_u64(value, &v)) {
			memcpy(p, value, fl->size);
			return 0;
		}
		break;
	case SFS_FK_OCTAL:
		if (value[0] == '0' && value[1] && value[1] != 'x') {
			char *end;

			v = strtoull(value, &end, 8);
			if (*end)
				return db_err("%s: not an octal number: %s", fl->name, value);
			goto store;
		}
		break;
	default:
		break;
	}
	if (fl->size > 8)
		return db_err("%s cannot be set from %s", fl->name, value);
	if (db_parse_u64(value, &v, fl->name))
		return -1;
store:
	if (fl->size < 8 && v >> (fl->size * 8))
		return db_err("%s: %s does not fit in %u bytes", fl->name, value, fl->size);
	sfs_put_le(p, fl->size, v);
	return 0;
}

void db_hexdump(FILE *out, const void *buf, size_t len, uint64_t base)
{
	const uint8_t *p = buf;
	bool skipping = false;

	for (size_t off = 0; off < len; off += 16) {
		size_t n = len - off < 16 ? len - off : 16;
		bool zero = true;

		for (size_t i = 0; i < n; i++)
			zero = zero && !p[off + i];
		/* Runs of zero lines collapse to one "*" line, as hexdump does. */
		if (zero && off && off + 16 < len) {
			if (!skipping)
				fprintf(out, "*\n");
			skipping = true;
			continue;
		}
		skipping = false;
		fprintf(out, "%08llx ", (unsigned long long)(base + off));
		for (size_t i = 0; i < 16; i++) {
			if (i < n)
				fprintf(out, " %02x", p[off + i]);
			else
				fprintf(out, "   ");
		}
		fprintf(out, "  |");
		for (size_t i = 0; i < n; i++)
			fputc(p[off + i] >= 0x20 && p[off + i] < 0x7f ? p[off + i] : '.', out);
		fprintf(out, "|\n");
	}
}
