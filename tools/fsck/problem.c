/* The problem table and the fix/ask/count logic every table shares (see
 * problem.h); the namespace rows are problem_ns.c's. */
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tools/fsck/fsck.h"
#include "tools/fsck/problem.h"
#include "tools/fsck/problem_ns.h"

const struct problem_desc problem_table[PR_COUNT] = {
	[PR_SB_PRIMARY_BAD] = { "S01", "primary superblock damaged (checksum, magic, geometry)",
				"Restore it from the backup", 0 },
	[PR_SB_BACKUP_BAD] = { "S02", "backup superblock damaged or missing",
			       "Rewrite it from the primary", PR_PREEN_OK },
	[PR_SB_BACKUP_DIFFERS] = { "S03", "backup superblock disagrees with the primary",
				   "Rewrite it from the primary", PR_PREEN_OK },
	[PR_SB_NEEDS_RECOVERY] = { "S04", "journal needs recovery",
				   "Replay the journal (pass 1c)", PR_PREEN_OK },
	[PR_SB_FREE_BLOCKS] = { "S05", "superblock free block count wrong",
				"Set it to the counted value", PR_PREEN_OK },
	[PR_SB_FREE_INODES] = { "S06", "superblock free inode count wrong",
				"Set it to the counted value", PR_PREEN_OK },
	[PR_SB_ERROR_STATE] = { "S07", "filesystem recorded runtime errors",
				"Clear the error state once checked", PR_PREEN_OK },
	[PR_JSB_BAD] = { "S08", "journal superblock damaged",
			 "Re-create an empty journal superblock", 0 },
	[PR_JOURNAL_REPLAY] = { "J01", "journal holds committed transactions not yet written home",
				"Replay them", PR_PREEN_OK },
	[PR_JOURNAL_ERRNO] = { "J02", "journal recorded an abort (an I/O error while mounted)",
			       "Record it in the superblock and clear it", PR_PREEN_OK },
	[PR_JOURNAL_LOG_BAD] = { "J03", "journal log cannot be scanned (damaged superblock fields)",
				 "Re-create an empty journal (its transactions are lost)", 0 },
	[PR_GDT_BLOCK_BAD] = { "G01", "group descriptor block damaged",
			       "Restore it from the backup (or rebuild it)", 0 },
	[PR_GDT_BACKUP_BAD] = { "G02", "backup group descriptor block damaged",
				"Rewrite it from the primary", PR_PREEN_OK },
	[PR_GD_LOCATION] = { "G03", "group descriptor points somewhere the geometry does not",
			     "Set it from the geometry", 0 },
	[PR_GD_FLAGS] = { "G04", "group descriptor flags invalid",
			  "Clear the invalid flags", 0 },
	[PR_INODE_BAD] = { "I01", "inode record damaged (checksum, identity, fields)",
			   "Clear the inode", 0 },
	[PR_INODE_GARBAGE] = { "I02", "inode slot in use range holds no inode record",
			       "Zero the slot", PR_PREEN_OK },
	[PR_INODE_BLOCKS] = { "I03", "inode block count wrong",
			      "Set it to the counted value", PR_PREEN_OK },
	[PR_EXTENT_BAD] = { "I04", "extent tree damaged or out of range",
			    "Clear the inode", 0 },
	[PR_BLOCK_DUP] = { "I05", "blocks claimed by two inodes (cross-linked)",
			   "Clear the inode that claims them second", 0 },
	[PR_ROOT_BAD] = { "I06", "root directory missing or not a directory",
			  "Re-create an empty root directory", 0 },
	[PR_DIRBLOCK_BAD] = { "I07", "directory block damaged",
			      "Re-create the root directory block", 0 },
	[PR_DIRBLOCK_UNFIXABLE] = { "I08", "directory block damaged (see D01 or D07 for its directory)",
				    "Leave it to the directory pass (D07 salvages an entry block)", 0 },
	[PR_EXTENT_KEY] = { "I09", "extent index key differs from its child's first block",
			    "Set the key to the child's first block", PR_PREEN_OK },
	[PR_BLOCK_DUP_SELF] = { "I10", "blocks mapped twice within one inode's extent tree",
				"Keep the first mapping, trim or drop the later extent", 0 },
	[PR_BBITMAP_BAD] = { "B01", "block bitmap damaged (checksum, self-description)",
			     "Rebuild it from the inode tables", 0 },
	[PR_IBITMAP_BAD] = { "B02", "inode bitmap damaged (checksum, self-description)",
			     "Rebuild it from the inode tables", 0 },
	[PR_BBITMAP_DIFF] = { "B03", "block bitmap disagrees with what the inodes own",
			      "Correct the bitmap", PR_PREEN_OK },
	[PR_IBITMAP_DIFF] = { "B04", "inode bitmap disagrees with the inode table",
			      "Correct the bitmap", PR_PREEN_OK },
	[PR_UNINIT_IN_USE] = { "B05", "uninitialised group holds blocks of a live inode",
			       "Initialise the group's bitmap", 0 },
	[PR_GD_COUNTS] = { "B06", "group descriptor counts or free-space summary wrong",
			   "Set them to the counted values", PR_PREEN_OK },
};

/*
 * One line from the terminal, or -1 once cancelled.  SIGINT and SIGTERM
 * stay blocked except inside ppoll, which unblocks them atomically: a ^C
 * that lands between the prompt and the wait is not lost (with a plain
 * read it would set the flag and fsck would go on waiting for an answer).
 * read(2), not stdio: a line stdio buffered ahead would be invisible to
 * ppoll.  A terminal in canonical mode hands over one line per read.
 */
static ssize_t read_answer(char *line, size_t len)
{
	struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
	sigset_t block, old;
	ssize_t n = -1;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	while (!fsck_cancelled) {
		if (ppoll(&p, 1, NULL, &old) < 0)
			continue;       /* EINTR: the loop tests the flag */
		n = read(STDIN_FILENO, line, len - 1);
		break;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (n < 0 || fsck_cancelled)
		return -1;
	line[n] = 0;
	return n;
}

static bool ask(const char *question)
{
	char line[256];

	for (;;) {
		fprintf(stdout, "%s<y>? ", question);
		fflush(stdout);
		if (read_answer(line, sizeof(line)) <= 0)
			return false;
		if (line[0] == '\n' || line[0] == 'y' || line[0] == 'Y')
			return true;
		if (line[0] == 'n' || line[0] == 'N')
			return false;
	}
}

bool problem_vreport(struct fsck *f, const struct problem_desc *d, const char *fmt, va_list ap)
{
	bool fix = false;

	f->problems++;
	printf("%s: [%s] ", f->image, d->code);
	vprintf(fmt, ap);
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
		/* After ^C the answer is no without asking: the person has
		 * gone, and the terminal read would only wait for them. */
		fix = !fsck_cancelled && ask(d->fix);
		break;
	}
	if (fix)
		f->fixed++;
	else
		f->unfixed++;
	fflush(stdout);
	return fix;
}

void problem_report_failed(struct fsck *f, const struct problem_desc *d, int err)
{
	printf("%s: [%s] repair failed: %s\n", f->image, d->code, strerror(-err));
	f->fixed--;
	f->unfixed++;
}

bool fix_problem(struct fsck *f, enum problem p, const char *fmt, ...)
{
	va_list ap;
	bool fix;

	va_start(ap, fmt);
	fix = problem_vreport(f, &problem_table[p], fmt, ap);
	va_end(ap);
	return fix;
}

void fix_failed(struct fsck *f, enum problem p, int err)
{
	problem_report_failed(f, &problem_table[p], err);
}

static void print_rows(FILE *out, const struct problem_desc *t, int n)
{
	for (int i = 0; i < n; i++) {
		const struct problem_desc *d = &t[i];

		fprintf(out, "%-4s %-6s %-62s %s\n", d->code,
			(d->flags & PR_NO_FIX) ? "-" : (d->flags & PR_PREEN_OK) ? "yes" : "no",
			d->what, d->fix ? d->fix : "(none yet)");
	}
}

void problem_table_print(FILE *out)
{
	fprintf(out, "%-4s %-6s %-62s %s\n", "code", "preen", "problem", "fix");
	print_rows(out, problem_table, PR_COUNT);
	print_rows(out, problem_ns_table, PN_COUNT);
}
