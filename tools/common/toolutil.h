/*
 * Helpers shared by mkfs.scopefs, fsck.scopefs and scopefs-db: size
 * arguments, human-readable sizes, and a progress bar that only a terminal
 * sees.  Nothing here knows the format.
 */
#ifndef SFS_TOOLUTIL_H
#define SFS_TOOLUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse "123", "64K", "16M", "1G", "1T", "2P" (binary units; "KiB", "MB" and
 * lower case accepted too).  A bare number is multiplied by @unit.
 * 0, or -EINVAL (not a size: empty, negative, junk) / -ERANGE (overflow).
 */
int tu_parse_size(const char *s, uint64_t unit, uint64_t *out);
/* Plain unsigned number (decimal or 0x hex); 0, -EINVAL or -ERANGE. */
int tu_parse_u64(const char *s, uint64_t *out);

/* "16.0 MiB" style into @buf; returns @buf. */
const char *tu_human(uint64_t bytes, char *buf, size_t len);

/* Monotonic seconds, for "done in 0.12 s". */
double tu_now(void);

/*
 * Progress bar on stderr, drawn only when stderr is a terminal and the tool
 * was not asked to be quiet; redrawn at most ten times a second.
 */
struct tu_progress {
	bool enabled;
	const char *label;
	uint64_t total;
	int last_permille;
	double last_draw;
};
void tu_progress_start(struct tu_progress *p, const char *label, uint64_t total, bool quiet);
void tu_progress_update(struct tu_progress *p, uint64_t done);
void tu_progress_end(struct tu_progress *p);

#endif
