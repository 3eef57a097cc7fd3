/*
 * The namespace problems of fsck.scopefs (directories, link counts,
 * extended attributes, the orphan file): more rows of problem.h's table
 * type, kept apart by pass, reported, counted and printed (-P) by the same
 * code (problem.c).
 */
#ifndef SFS_FSCK_PROBLEM_NS_H
#define SFS_FSCK_PROBLEM_NS_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/fsck/problem.h"

struct fsck;

enum ns_problem {
	/* directories */
	PN_DIR_BAD,             /* structure broken: reported */
	PN_DIR_NAMES,           /* root's names count */
	PN_DIRENT_FREE,         /* a name of a free or reserved inode */
	PN_DIRENT_TYPE,         /* a name's file type differs from its inode's */
	PN_DIR_SECOND_NAME,     /* a directory named twice */
	PN_DIR_DOTDOT,          /* ".." does not name the parent */
	PN_DIR_SALVAGE,         /* an entry block to salvage */
	/* link counts and reachability */
	PN_LINK_COUNT,
	PN_UNATTACHED,          /* links but no name */
	PN_UNATTACHED_DIR,      /* a directory the root does not reach */
	PN_NO_LINK_NOT_ORPHAN,  /* no link, no name, not recorded as orphan */
	PN_LINKS_UNCHECKED,     /* a damaged directory: counts left alone */
	PN_LOST_FOUND_MISSING,  /* reconnecting needs /lost+found: none */
	PN_LOST_FOUND_BAD,      /* /lost+found exists but cannot take names */
	/* xattrs */
	PN_XATTR_INLINE,
	PN_XATTR_BLOCK_OWNER,
	PN_XATTR_DUP,
	/* the orphan file */
	PN_ORPHAN_FILE,
	PN_ORPHAN_BLOCK,
	PN_ORPHAN_SLOT_DUP,
	PN_ORPHAN_SLOT_XATTR,
	PN_ORPHAN_FLAG,
	PN_ORPHAN_STALE_BLOCK,
	PN_COUNT
};

extern const struct problem_desc problem_ns_table[PN_COUNT];

/* fix_problem / fix_failed for these rows. */
bool fix_ns_problem(struct fsck *f, enum ns_problem p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fix_ns_failed(struct fsck *f, enum ns_problem p, int err);

#endif
