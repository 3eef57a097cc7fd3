/*
 * Shared by the mkfs-suite tests: the built tools (argv[1..3] from meson:
 * mkfs.scopefs, fsck.scopefs, scopefs-db) and a runner that captures their
 * output.  Scratch images come from tests/format/helpers.h's directory
 * rule and are removed by each test.
 */
#ifndef TESTS_MKFS_TOOLS_H
#define TESTS_MKFS_TOOLS_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../format/helpers.h"

struct tools {
	const char *mkfs, *fsck, *db;
};

extern struct tools tools;

#define OUT_MAX 16384

/* Run a tool with a NULL-terminated argument list; output in @out. */
static inline int tool(char *out, const char *exe, ...)
{
	char *argv[32];
	va_list ap;
	int n = 0;

	argv[n++] = (char *)exe;
	va_start(ap, exe);
	while (n < 31 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_tool(out, OUT_MAX, argv);
}

static inline int tools_init(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s MKFS FSCK DB\n", argv[0]);
		return -1;
	}
	tools.mkfs = argv[1];
	tools.fsck = argv[2];
	tools.db = argv[3];
	return 0;
}

#endif
