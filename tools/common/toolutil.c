/* Shared tool helpers (see toolutil.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tools/common/toolutil.h"

int tu_parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || *s == '-' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int tu_parse_size(const char *s, uint64_t unit, uint64_t *out)
{
	static const char units[] = "KMGTPE";
	unsigned long long v;
	uint64_t mult = unit;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (end == s)
		return -EINVAL;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));

		if (!u || !*u)
			return -EINVAL;
		mult = 1024;
		for (const char *q = units; q < u; q++)
			mult *= 1024;
		end++;
		/* Accept K, KB, KiB (all binary: images are sized in blocks). */
		if (!strcasecmp(end, "ib") || !strcasecmp(end, "b"))
			end += strlen(end);
		if (*end)
			return -EINVAL;
	}
	if (v && mult > UINT64_MAX / v)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

const char *tu_human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const names[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int i = 0;

	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, len, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.1f %s", v, names[i]);
	return buf;
}

double tu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void tu_progress_start(struct tu_progress *p, const char *label, uint64_t total, bool quiet)
{
	memset(p, 0, sizeof(*p));
	p->enabled = !quiet && isatty(STDERR_FILENO);
	p->label = label;
	p->total = total ? total : 1;
	p->last_permille = -1;
	tu_progress_update(p, 0);
}

void tu_progress_update(struct tu_progress *p, uint64_t done)
{
	const int width = 40;
	int permille, fill;
	double now;

	if (!p->enabled)
		return;
	permille = (int)(done >= p->total ? 1000 : done * 1000 / p->total);
	now = tu_now();
	if (permille == p->last_permille || (permille < 1000 && now - p->last_draw < 0.1))
		return;
	p->last_permille = permille;
	p->last_draw = now;
	fill = permille * width / 1000;
	fprintf(stderr, "\r%s: [%.*s%*s] %5.1f%%", p->label, fill,
		"========================================", width - fill, "", permille / 10.0);
	fflush(stderr);
}

void tu_progress_end(struct tu_progress *p)
{
	if (!p->enabled)
		return;
	tu_progress_update(p, p->total);
	/* Erase the bar so the summary that follows starts on a clean line. */
	fprintf(stderr, "\r\033[K");
	fflush(stderr);
}
