/*
 * fsck.scopefs [-n|-y|-p] [-f] [-v] [-C] [-b BLOCK] IMAGE
 *
 * Exit status per fsck(8): 0 no errors, 1 errors corrected, 4 errors left
 * uncorrected, 8 operational error, 16 usage error, 32 cancelled.
 * Always takes the exclusive image lock (imagelock.h), also with -n: a
 * check of an image that changes underneath is meaningless.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/imagelock.h"
#include "fs/format/io.h"
#include "tools/fsck/fsck.h"
#include "tools/fsck/pass_ns.h"

#define PROG "fsck.scopefs"

volatile sig_atomic_t fsck_cancelled;

static void on_signal(int sig)
{
	(void)sig;
	fsck_cancelled = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: " PROG " [-n|-y|-p] [-f] [-v] [-C] [-b BLOCK] IMAGE\n"
		"Check (and repair) the scopefs filesystem in the image file IMAGE.\n"
		"\n"
		"  -n        check only: open read-only, answer no to every repair\n"
		"  -y        answer yes to every repair\n"
		"  -p, -a    preen: repair what is safe unattended, stop at anything else\n"
		"  -f        check even if the filesystem is marked clean\n"
		"  -v        verbose\n"
		"  -C        progress bar even when it would be suppressed (terminal only)\n"
		"  -b BLOCK  use the superblock copy at BLOCK (default: primary, else the\n"
		"            backup in the image's last block)\n"
		"  -P        print the table of problems this fsck knows, and exit\n"
		"\n"
		"Exit: 0 clean, 1 corrected, 4 uncorrected, 8 operational error, 16 usage,\n"
		"32 cancelled.\n");
}

int fsck_fatal(struct fsck *f, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", f->image);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	f->operational_error = true;
	return -1;
}

int fsck_write_block(struct fsck *f, const void *buf, uint64_t blkno)
{
	const struct sfs_geo *g = &f->sbi.geo;
	int ret;

	if (f->mode == FSCK_NO)
		return -EROFS;   /* a pass asked to repair under -n: a bug */
	ret = sfs_io_write_blocks(f->bdev, buf, g->block_log, blkno, 1);
	if (ret)
		fprintf(stderr, "%s: cannot write block %llu: %s\n", f->image,
			(unsigned long long)blkno, strerror(-ret));
	return ret;
}

static int parse_args(int argc, char **argv, struct fsck *f)
{
	int c, modes = 0;
	uint64_t v;

	opterr = 0;
	while ((c = getopt(argc, argv, ":nypafvCb:Ph")) != -1) {
		switch (c) {
		case 'n': f->mode = FSCK_NO; modes++; break;
		case 'y': f->mode = FSCK_YES; modes++; break;
		case 'p':
		case 'a': f->mode = FSCK_PREEN; modes++; break;
		case 'f': f->force = true; break;
		case 'v': f->verbose = true; break;
		case 'C': f->progress = true; break;
		case 'b':
			if (tu_parse_u64(optarg, &v) || v == 0) {
				fprintf(stderr, PROG ": -b %s: not a block number\n", optarg);
				return FSCK_USAGE;
			}
			f->backup_blk = v;
			break;
		case 'P':
			problem_table_print(stdout);
			exit(FSCK_OK);
		case 'h':
			usage(stdout);
			exit(FSCK_OK);
		case ':':
			fprintf(stderr, PROG ": option -%c needs a value\n", optopt);
			usage(stderr);
			return FSCK_USAGE;
		default:
			fprintf(stderr, PROG ": unknown option -%c\n", optopt);
			usage(stderr);
			return FSCK_USAGE;
		}
	}
	if (modes > 1) {
		fprintf(stderr, PROG ": only one of -n, -y and -p may be given\n");
		return FSCK_USAGE;
	}
	if (optind != argc - 1) {
		fprintf(stderr, PROG ": %s\n", optind >= argc ? "no IMAGE given" : "too many arguments");
		usage(stderr);
		return FSCK_USAGE;
	}
	f->image = argv[optind];
	return 0;
}

static void release(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;

	if (f->sbi_ready) {
		for (uint32_t i = 0; f->used_blocks && i < g->group_count; i++)
			mc_free(f->used_blocks[i]);
		for (uint32_t i = 0; f->used_inodes && i < g->group_count; i++)
			mc_free(f->used_inodes[i]);
		for (uint32_t i = 0; f->own_blocks && i < g->group_count; i++)
			mc_free(f->own_blocks[i]);
		for (uint32_t i = 0; f->own_inodes && i < g->group_count; i++)
			mc_free(f->own_inodes[i]);
		sfs_sb_info_destroy(&f->sbi);
	}
	mc_free(f->used_blocks);
	mc_free(f->used_inodes);
	mc_free(f->own_blocks);
	mc_free(f->own_inodes);
	mc_free(f->dirs);
	mc_free(f->hwm);
	mc_free(f->gdt_dirty);
	if (f->bdev)
		sfs_bdev_close(f->bdev);
	sfs_image_unlock(f->lock_fd);
}

/* Forget what pass 1 read and decided (fixes are found again). */
static void restart(struct fsck *f)
{
	if (f->sbi_ready)
		sfs_sb_info_destroy(&f->sbi);
	memset(&f->sbi, 0, sizeof(f->sbi));
	f->sbi_ready = false;
	mc_free(f->gdt_dirty);
	f->gdt_dirty = NULL;
	f->sb_source = 0;
	f->sb_dirty = f->backup_dirty = f->backup_gdt_dirty = false;
	f->jsb_ok = false;
	f->replayed = false;
}

static int exit_code(const struct fsck *f)
{
	int code = FSCK_OK;

	if (fsck_cancelled)
		code |= FSCK_CANCELLED;
	if (f->operational_error)
		return code | FSCK_ERROR;
	if (f->unfixed || f->preen_abort)
		code |= FSCK_UNCORRECTED;
	else if (f->fixed)
		code |= FSCK_CORRECTED;
	return code;
}

static void summary(const struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	uint64_t used_inodes = g->inode_count - f->total_free_inodes;
	uint64_t used_blocks = g->block_count - f->total_free_blocks;

	printf("%s: %llu/%llu inodes (%.1f%%), %llu/%llu blocks%s\n", f->image,
	       (unsigned long long)used_inodes, (unsigned long long)g->inode_count,
	       100.0 * (double)used_inodes / (double)g->inode_count,
	       (unsigned long long)used_blocks, (unsigned long long)g->block_count,
	       f->unfixed ? " -- UNCORRECTED ERRORS REMAIN" : "");
}

int main(int argc, char **argv)
{
	struct fsck f = { .mode = FSCK_ASK, .lock_fd = -1 };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret;

	ret = parse_args(argc, argv, &f);
	if (ret)
		return ret;
	if (f.mode == FSCK_ASK && !isatty(STDIN_FILENO)) {
		fprintf(stderr, PROG ": %s: interactive repair needs a terminal; use -n, -y or -p\n",
			f.image);
		return FSCK_ERROR;
	}
	f.progress = f.progress || isatty(STDERR_FILENO);
	if (f.mode == FSCK_PREEN)
		f.progress = false;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	ret = sfs_image_lock(f.image, true, &f.lock_fd);
	if (ret) {
		fsck_fatal(&f, ret == -EBUSY ? "in use (mounted, or being checked): not checked"
					     : "cannot open: %s", strerror(-ret));
		goto out;
	}
	ret = sfs_bdev_open(f.image, f.mode == FSCK_NO ? SFS_BDEV_RDONLY : 0, NULL, &f.bdev);
	if (ret) {
		fsck_fatal(&f, "cannot open%s: %s", f.mode == FSCK_NO ? "" : " for writing",
			   strerror(-ret));
		goto out;
	}

	if (f.mode != FSCK_PREEN)
		printf("Pass 1: superblocks and group descriptors\n");
	if (fsck_pass_super(&f) < 0)
		goto out;
	if (!f.force && fsck_is_clean(&f)) {
		printf("%s: clean, %llu/%llu inodes, %llu/%llu blocks (use -f to check anyway)\n",
		       f.image,
		       (unsigned long long)(f.sbi.geo.inode_count - f.sbi.sb.free_inodes),
		       (unsigned long long)f.sbi.geo.inode_count,
		       (unsigned long long)(f.sbi.geo.block_count - f.sbi.sb.free_blocks),
		       (unsigned long long)f.sbi.geo.block_count);
		goto out;
	}
	if (fsck_pass_groups(&f) < 0 || f.preen_abort || fsck_cancelled)
		goto out;
	if (fsck_pass_journal(&f) < 0 || f.preen_abort || fsck_cancelled)
		goto out;
	if (f.replayed) {
		/* The superblock and descriptors pass 1 read predate the replay
		 * (it may have brought newer copies of both): read everything
		 * again, as e2fsck restarts after recovering its journal. */
		if (f.mode != FSCK_PREEN)
			printf("Journal replayed: restarting pass 1\n");
		restart(&f);
		if (fsck_pass_super(&f) < 0 || fsck_pass_groups(&f) < 0 || f.preen_abort ||
		    fsck_cancelled || fsck_pass_journal(&f) < 0 || f.preen_abort || fsck_cancelled)
			goto out;
	}
	if (f.mode != FSCK_PREEN)
		printf("Pass 2: inodes and the blocks they own\n");
	if (fsck_pass_inodes(&f) < 0 || f.preen_abort || fsck_cancelled)
		goto out;
	/* Passes 2b-2d: they claim the blocks stale orphan slots keep, which
	 * pass 3 must then find owned. */
	if (fsck_pass_namespace(&f) < 0 || f.preen_abort || fsck_cancelled)
		goto out;
	if (f.mode != FSCK_PREEN)
		printf("Pass 3: allocation bitmaps and counts\n");
	if (fsck_pass_bitmaps(&f) < 0 || f.preen_abort || fsck_cancelled)
		goto out;
	if (fsck_write_groups(&f) < 0 || fsck_write_super(&f) < 0)
		goto out;
	if (f.mode != FSCK_NO) {
		ret = sfs_bdev_flush(f.bdev);
		if (ret)
			fsck_fatal(&f, "flush failed: %s", strerror(-ret));
	}
	summary(&f);
out:
	if (f.preen_abort)
		printf("%s: UNEXPECTED INCONSISTENCY; RUN " PROG " MANUALLY.\n"
		       "\t(i.e., without -a or -p options)\n", f.image);
	if (fsck_cancelled)
		printf("%s: check cancelled\n", f.image);
	ret = exit_code(&f);
	release(&f);
	return ret;
}
