/* The namespace rows of the problem table (see problem_ns.h). */
#include <stdarg.h>
#include <stdio.h>

#include "tools/fsck/fsck.h"
#include "tools/fsck/problem_ns.h"

const struct problem_desc problem_ns_table[PN_COUNT] = {
	[PN_DIR_BAD] = { "D01", "directory structure damaged (index, keys, blocks, \".\" or \"..\")",
			 NULL, PR_NO_FIX },
	[PN_DIR_NAMES] = { "D02", "directory's names count differs from its names",
			   "Set it to the counted value", PR_PREEN_OK },
	[PN_DIRENT_FREE] = { "D03", "directory entry names a free or reserved inode",
			     "Remove the entry", 0 },
	[PN_DIRENT_TYPE] = { "D04", "directory entry's file type differs from its inode's",
			     "Set the entry's type", PR_PREEN_OK },
	[PN_DIR_SECOND_NAME] = { "D05", "directory has a second name (a hard link)",
				 "Remove the second name", 0 },
	[PN_DIR_DOTDOT] = { "D06", "\"..\" does not name the directory's parent",
			    "Point \"..\" at the parent", PR_PREEN_OK },
	[PN_DIR_SALVAGE] = { "D07", "directory entry block damaged",
			     "Keep its valid records, drop the rest", 0 },
	[PN_LINK_COUNT] = { "L01", "inode link count differs from its names",
			    "Set it to the counted value", PR_PREEN_OK },
	[PN_UNATTACHED] = { "L02", "inode has links but no name (unattached)",
			    "Connect it to /lost+found", 0 },
	[PN_UNATTACHED_DIR] = { "L03", "directory not reachable from the root (no name, or a cycle)",
				"Connect it to /lost+found", 0 },
	[PN_NO_LINK_NOT_ORPHAN] = { "L04", "inode has no link and is not on the orphan list",
				    NULL, PR_NO_FIX },
	[PN_LINKS_UNCHECKED] = { "L05", "link counts not checked: a directory is damaged", NULL,
				 PR_NO_FIX },
	[PN_LOST_FOUND_MISSING] = { "L06", "/lost+found missing (needed to reconnect inodes)",
				    "Create it", 0 },
	[PN_LOST_FOUND_BAD] = { "L07", "/lost+found is not a directory that can take names",
				NULL, PR_NO_FIX },
	[PN_XATTR_INLINE] = { "X01", "inline xattr area damaged",
			      "Keep the records before the damage", 0 },
	[PN_XATTR_BLOCK_OWNER] = { "X02", "xattr block belongs to another inode", NULL, PR_NO_FIX },
	[PN_XATTR_DUP] = { "X03", "attribute stored twice (inline and in the block)", NULL,
			   PR_NO_FIX },
	[PN_ORPHAN_FILE] = { "O01", "orphan file missing, or not a regular file",
			     "Forget it (the superblock stops naming it)", 0 },
	[PN_ORPHAN_BLOCK] = { "O02", "orphan file block damaged", "Rewrite it empty", 0 },
	[PN_ORPHAN_SLOT_DUP] = { "O03", "inode recorded in two orphan slots",
				 "Clear the second slot", PR_PREEN_OK },
	[PN_ORPHAN_SLOT_XATTR] = { "O04", "orphan slot's xattr block differs from its inode's",
				   "Set it from the inode", PR_PREEN_OK },
	[PN_ORPHAN_FLAG] = { "O05", "inode flagged orphan but no valid slot records it",
			     "Clear the flag", PR_PREEN_OK },
	[PN_ORPHAN_STALE_BLOCK] = { "O06", "stale orphan slot keeps a block another owner uses",
				    "Forget the block in the slot", 0 },
};

bool fix_ns_problem(struct fsck *f, enum ns_problem p, const char *fmt, ...)
{
	va_list ap;
	bool fix;

	va_start(ap, fmt);
	fix = problem_vreport(f, &problem_ns_table[p], fmt, ap);
	va_end(ap);
	return fix;
}

void fix_ns_failed(struct fsck *f, enum ns_problem p, int err)
{
	problem_report_failed(f, &problem_ns_table[p], err);
}
