/* The namespace problem table (see problem_ns.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/fsck/fsck.h"
#include "tools/fsck/problem_ns.h"

static const struct problem_desc table[PN_COUNT] = {
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
	[PN_LINK_COUNT] = { "L01", "inode link count differs from its names",
			    "Set it to the counted value", PR_PREEN_OK },
	[PN_UNATTACHED] = { "L02", "inode has links but no name (unattached)", NULL, PR_NO_FIX },
	[PN_UNATTACHED_DIR] = { "L03", "directory not reachable from the root", NULL, PR_NO_FIX },
	[PN_NO_LINK_NOT_ORPHAN] = { "L04", "inode has no link and is not on the orphan list",
				    NULL, PR_NO_FIX },
	[PN_LINKS_UNCHECKED] = { "L05", "link counts not checked: a directory is damaged", NULL,
				 PR_NO_FIX },
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

static bool ask(const char *question)
{
	char line[32];

	for (;;) {
		fprintf(stdout, "%s<y>? ", question);
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return false;
		if (line[0] == '\n' || line[0] == 'y' || line[0] == 'Y')
			return true;
		if (line[0] == 'n' || line[0] == 'N')
			return false;
	}
}

bool fix_ns_problem(struct fsck *f, enum ns_problem p, const char *fmt, ...)
{
	const struct problem_desc *d = &table[p];
	bool fix = false;
	va_list ap;

	f->problems++;
	printf("%s: [%s] ", f->image, d->code);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (d->flags & PR_NO_FIX) {
		printf(".  Not fixed by this fsck.\n");
		f->unfixed++;
		fflush(stdout);
		return false;
	}
	switch (f->mode) {
	case FSCK_NO:
		printf(".  %s? no\n", d->fix);
		break;
	case FSCK_YES:
		printf(".  %s? yes\n", d->fix);
		fix = true;
		break;
	case FSCK_PREEN:
		if (d->flags & PR_PREEN_OK) {
			printf(".  FIXED (%s).\n", d->fix);
			fix = true;
		} else {
			printf(".\n");
			f->preen_abort = true;
		}
		break;
	case FSCK_ASK:
		printf(".\n");
		fix = ask(d->fix);
		break;
	}
	if (fix)
		f->fixed++;
	else
		f->unfixed++;
	fflush(stdout);
	return fix;
}

void fix_ns_failed(struct fsck *f, enum ns_problem p, int err)
{
	printf("%s: [%s] repair failed: %s\n", f->image, table[p].code, strerror(-err));
	f->fixed--;
	f->unfixed++;
}

void problem_ns_table_print(FILE *out)
{
	for (int i = 0; i < PN_COUNT; i++) {
		const struct problem_desc *d = &table[i];

		fprintf(out, "%-4s %-6s %-62s %s\n", d->code,
			(d->flags & PR_NO_FIX) ? "-" : (d->flags & PR_PREEN_OK) ? "yes" : "no",
			d->what, d->fix ? d->fix : "(none yet)");
	}
}
