/*
 * The problem table (e2fsck's problem.c idea): every inconsistency
 * fsck.scopefs knows has a stable code, a description, the fix it applies
 * and whether preen mode (-p) may apply that fix unattended.  The caller
 * formats the specific one-line message; fix_problem() prints it with the
 * code, asks or answers, counts, and says whether to repair.
 */
#ifndef SFS_FSCK_PROBLEM_H
#define SFS_FSCK_PROBLEM_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

struct fsck;

enum problem {
	/* pass 1: superblock */
	PR_SB_PRIMARY_BAD,
	PR_SB_BACKUP_BAD,
	PR_SB_BACKUP_DIFFERS,
	PR_SB_NEEDS_RECOVERY,
	PR_SB_FREE_BLOCKS,
	PR_SB_FREE_INODES,
	PR_SB_ERROR_STATE,
	PR_JSB_BAD,
	PR_JOURNAL_REPLAY,
	PR_JOURNAL_ERRNO,
	PR_JOURNAL_LOG_BAD,
	/* pass 1b: group descriptors */
	PR_GDT_BLOCK_BAD,
	PR_GDT_BACKUP_BAD,
	PR_GD_LOCATION,
	PR_GD_FLAGS,
	/* pass 2: inodes */
	PR_INODE_BAD,
	PR_INODE_GARBAGE,
	PR_INODE_BLOCKS,
	PR_EXTENT_BAD,
	PR_BLOCK_DUP,
	PR_ROOT_BAD,
	PR_DIRBLOCK_BAD,
	PR_DIRBLOCK_UNFIXABLE,
	PR_EXTENT_KEY,
	PR_BLOCK_DUP_SELF,
	/* pass 3: bitmaps and counts */
	PR_BBITMAP_BAD,
	PR_IBITMAP_BAD,
	PR_BBITMAP_DIFF,
	PR_IBITMAP_DIFF,
	PR_UNINIT_IN_USE,
	PR_GD_COUNTS,
	PR_COUNT
};

#define PR_PREEN_OK 0x1   /* -p may fix it */
#define PR_NO_FIX   0x2   /* this fsck cannot fix it: report only */

struct problem_desc {
	const char *code;            /* stable id printed with the message */
	const char *what;            /* description (for -P and the docs) */
	const char *fix;             /* the question / what "yes" does */
	unsigned flags;
};

extern const struct problem_desc problem_table[PR_COUNT];

/* Print the problem line; true if the caller should repair it now. */
bool fix_problem(struct fsck *f, enum problem p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A repair the caller attempted failed: counted as unfixed, reported. */
void fix_failed(struct fsck *f, enum problem p, int err);
/* The same for a row of any table (problem_ns.h's wrappers use them). */
bool problem_vreport(struct fsck *f, const struct problem_desc *d, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
void problem_report_failed(struct fsck *f, const struct problem_desc *d, int err);
/* Print every table, this one and the namespace's (fsck.scopefs -P). */
void problem_table_print(FILE *out);

#endif
