/*
 * fsck.scopefs: shared state of the passes.
 *
 *   pass 1 (pass_super.c)   superblock, backup, features, size, journal sb
 *   pass 1b (pass_groups.c) descriptor table blocks and each descriptor
 *   pass 2 (pass_inodes.c)  inode tables up to each group's high-water mark,
 *                           the blocks each live inode owns, directories
 *   pass 3 (pass_bitmaps.c) bitmaps and every count against what pass 2 saw
 * then writeback (main.c): changed descriptors, superblock and backups.
 *
 * Every inconsistency goes through fix_problem() (problem.c), which prints
 * one line, decides (-n / -y / -p / ask) and counts; the caller repairs.
 * Later issues add their passes here (journal replay, extents, directories,
 * orphans).
 */
#ifndef SFS_FSCK_H
#define SFS_FSCK_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "fs/format/mount.h"
#include "tools/common/toolutil.h"
#include "tools/fsck/problem.h"

/* fsck(8) exit codes. */
#define FSCK_OK          0
#define FSCK_CORRECTED   1
#define FSCK_UNCORRECTED 4
#define FSCK_ERROR       8
#define FSCK_USAGE       16
#define FSCK_CANCELLED   32

enum fsck_mode {
	FSCK_ASK,      /* interactive: a terminal answers */
	FSCK_NO,       /* -n: change nothing, answer no */
	FSCK_YES,      /* -y: answer yes */
	FSCK_PREEN,    /* -p: fix what is safe, stop at anything else */
};

struct fsck {
	const char *image;
	enum fsck_mode mode;
	bool force;                  /* -f: check even if clean */
	bool verbose;                /* -v */
	bool progress;               /* -C / terminal: progress bar allowed */
	uint64_t backup_blk;         /* -b: use this superblock copy; 0 = probe */

	struct sfs_bdev *bdev;
	int lock_fd;
	struct sfs_sb_info sbi;
	bool sbi_ready;

	/* pass 1 results */
	uint64_t sb_source;          /* block the superblock came from (0 = primary) */
	bool sb_dirty;               /* rewrite the primary superblock */
	bool backup_dirty;           /* rewrite the backup superblock */
	bool jsb_ok;                 /* journal superblock usable */
	bool replayed;               /* pass 1c replayed the journal: pass 1 must run again */

	/* pass 1b */
	uint8_t *gdt_dirty;          /* per GDT block: rewrite primary */
	bool backup_gdt_dirty;       /* rewrite the whole backup GDT */

	/* pass 2: what the inode tables say */
	uint8_t **used_blocks;       /* per group bitmap of blocks owned, lazily */
	uint8_t **used_inodes;       /* per group bitmap of live inodes, lazily */
	uint32_t *dirs;              /* per group directories */
	uint32_t *hwm;               /* per group: highest live inode index + 1 */
	uint64_t live_inodes;
	bool root_ok;                /* inode 2 is a live directory */
	bool root_pending;           /* I06 repair agreed: root.c makes it after pass 2b */
	uint64_t root_old_blk;       /* first block of the non-directory in the root's slot */

	/* what fsck itself took (own_alloc.c): per group bitmaps, lazily */
	uint8_t **own_blocks;
	uint8_t **own_inodes;

	/* pass 3 */
	uint64_t total_free_blocks;
	uint64_t total_free_inodes;

	/* accounting */
	unsigned problems;           /* found */
	unsigned fixed;
	unsigned unfixed;
	bool operational_error;      /* could not do the job (exit 8) */
	bool preen_abort;            /* -p met a problem it must not fix */
};

extern volatile sig_atomic_t fsck_cancelled;

/* Passes: 0 to continue, FSCK_ERROR-style fatal stops return negative. */
int fsck_pass_super(struct fsck *f);
int fsck_pass_groups(struct fsck *f);
int fsck_pass_inodes(struct fsck *f);
int fsck_pass_bitmaps(struct fsck *f);
int fsck_pass_journal(struct fsck *f);
/* After pass 1: nothing suggests a check is needed (state clean). */
bool fsck_is_clean(const struct fsck *f);
/* Write back what the passes changed. */
int fsck_write_super(struct fsck *f);
int fsck_write_groups(struct fsck *f);

/* Fatal operational error: message, then the caller returns -1. */
int fsck_fatal(struct fsck *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes honour -n (never called then) and report failures as unfixed. */
int fsck_write_block(struct fsck *f, const void *buf, uint64_t blkno);

/* Mark that block @blk is owned (pass 2); false if already claimed. */
bool fsck_claim_block(struct fsck *f, uint64_t blk);
/* Count inode @ino live (pass 2's maps, which pass 3 checks the bitmaps
 * and the group counts against): for inodes a later pass creates. */
void fsck_mark_inode_live(struct fsck *f, uint64_t ino, bool dir);
/* The bitmap block pass 3 expects group @grp to have (pass 2's maps). */
void fsck_expected_bitmap(struct fsck *f, uint32_t grp, bool is_block, uint8_t *blk);

/*
 * fsck's own allocations (own_alloc.c): owned at once in pass 2's maps,
 * and put into the bitmaps and counts before pass 3 checks them, so that
 * pass 3 reports only what was wrong before.
 */
/* A block, @goal when it is free (0: none): 0 when none is. */
uint64_t fsck_own_block(struct fsck *f, uint64_t goal);
/* Give back a block fsck_own_block took (its use failed). */
void fsck_give_block(struct fsck *f, uint64_t blk);
/* A free inode number, 0 when none is; fsck_own_inode once it is used. */
uint64_t fsck_find_inode(struct fsck *f);
void fsck_own_inode(struct fsck *f, uint64_t ino, bool dir);
/* Block @blk, owned by nobody and in use on disk (the old root's), taken
 * for the new root without moving a count: false when it is not so. */
bool fsck_reuse_block(struct fsck *f, uint64_t blk);
/* Inode 2, live again as the root directory. */
void fsck_own_root_inode(struct fsck *f);
/* Write what fsck took into the bitmaps and counts (start of pass 3). */
int fsck_account_own(struct fsck *f);

/* root.c: the I06 repair, after pass 2b; the root's first block. */
int fsck_recreate_root(struct fsck *f);
int fsck_write_root_block(struct fsck *f, uint64_t pblk, uint8_t *blk);

#endif
