/*
 * Pass 1: the superblock and its backup, feature bits, the image size, and
 * the journal superblock.  A damaged primary is replaced by the backup (the
 * last block of the image, probed for every block size, or -b).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/io.h"
#include "fs/format/jsb.h"
#include "journal/journal.h"
#include "fs/format/verify.h"
#include "tools/fsck/fsck.h"

/* First static field (fixed at mkfs) on which two copies differ, or NULL.
 * Counters and times legitimately lag in the backup. */
static const char *sb_static_diff(const struct sfs_super *a, const struct sfs_super *b)
{
#define CMP(field) if (a->field != b->field) return #field
	if (memcmp(a->uuid, b->uuid, 16))
		return "uuid";
	CMP(rev_level);
	CMP(block_log);
	CMP(block_count);
	CMP(inode_count);
	CMP(first_data_block);
	CMP(journal_start);
	CMP(journal_blocks);
	CMP(backup_gdt_start);
	CMP(backup_sb_block);
	CMP(root_ino);
	CMP(first_ino);
	CMP(csum_seed);
	CMP(blocks_per_group);
	CMP(inodes_per_group);
	CMP(group_count);
	CMP(gdt_blocks);
	CMP(itable_blocks);
	CMP(inode_size);
	CMP(desc_size);
	CMP(feature_compat);
	CMP(feature_ro_compat);
	CMP(feature_incompat);
	CMP(reserved_blocks);
	CMP(errors);
#undef CMP
	if (strcmp(a->label, b->label))
		return "label";
	return NULL;
}

/* Try every block size for an explicit -b copy. */
static int read_explicit_copy(struct fsck *f, struct sfs_super *sb, char *msg, size_t len)
{
	for (uint32_t log = SFS_MIN_BLOCK_LOG; log <= SFS_MAX_BLOCK_LOG; log++)
		if (!sfs_sb_read_copy(f->bdev, f->backup_blk, log, sb, NULL, 0))
			return 0;
	snprintf(msg, len, "no valid superblock copy at block %llu for any block size",
		 (unsigned long long)f->backup_blk);
	return -ENOENT;
}

int fsck_pass_super(struct fsck *f)
{
	uint64_t size = sfs_bdev_size(f->bdev);
	char pmsg[256], bmsg[256], why[256];
	struct sfs_super sb, backup;
	const char *diff;
	int ret;

	if (size < SFS_SB_SIZE)
		return fsck_fatal(f, "image of %llu bytes is too small to hold a scopefs superblock "
				  "(truncated or not a scopefs image)", (unsigned long long)size);

	ret = f->backup_blk ? -EAGAIN : sfs_sb_read_copy(f->bdev, 0, 0, &sb, pmsg, sizeof(pmsg));
	if (ret == -EOPNOTSUPP)
		return fsck_fatal(f, "%s; this fsck.scopefs is too old for it", pmsg);
	if (ret) {
		uint64_t blk = 0;

		if (f->backup_blk) {
			ret = read_explicit_copy(f, &sb, bmsg, sizeof(bmsg));
			blk = f->backup_blk;
			snprintf(pmsg, sizeof(pmsg), "-b given");
		} else {
			ret = sfs_sb_probe_backup(f->bdev, &sb, &blk, bmsg, sizeof(bmsg));
		}
		if (ret)
			return fsck_fatal(f, "no valid superblock: %s; %s.  Is this a scopefs image?",
					  pmsg, bmsg);
		f->sb_source = blk;
		if (f->backup_blk ||
		    fix_problem(f, PR_SB_PRIMARY_BAD,
				"primary superblock is damaged: %s; a valid backup is at block %llu",
				pmsg, (unsigned long long)blk))
			f->sb_dirty = f->mode != FSCK_NO;
	}

	ret = sfs_sb_info_init(&f->sbi, &sb, why, sizeof(why));
	f->sbi_ready = true;
	if (ret)
		return fsck_fatal(f, "bad geometry: %s", why);
	f->sbi.bdev = f->bdev;

	switch (sfs_super_check_features(&sb, why, sizeof(why))) {
	case SFS_FEATURES_REFUSE:
	case SFS_FEATURES_RO:
		/* e2fsck's rule: what we do not understand we cannot check. */
		return fsck_fatal(f, "%s; this fsck.scopefs cannot check it", why);
	case SFS_FEATURES_OK:
		break;
	}
	if (size / f->sbi.geo.block_size < f->sbi.geo.block_count)
		return fsck_fatal(f, "image truncated: the filesystem needs %llu bytes (%llu blocks of %u) "
				  "but the image holds %llu; restore the image or re-create it",
				  (unsigned long long)(f->sbi.geo.block_count << f->sbi.geo.block_log),
				  (unsigned long long)f->sbi.geo.block_count, f->sbi.geo.block_size,
				  (unsigned long long)size);
	if (sb.feature_incompat & SFS_FEATURE_INCOMPAT_RECOVER)
		fix_problem(f, PR_SB_NEEDS_RECOVERY, "the journal holds transactions to replay");
	if (sb.state & SFS_STATE_ERROR) {
		/* The record of what went wrong (first/last error) is kept for
		 * the user; only the state and count are reset once checked. */
		if (fix_problem(f, PR_SB_ERROR_STATE,
				"the filesystem recorded %u runtime errors (first in %s, errno %u)",
				sb.error_count, sb.first_error_func[0] ? sb.first_error_func : "?",
				sb.first_error_errno)) {
			f->sbi.sb.state &= (uint16_t)~SFS_STATE_ERROR;
			f->sbi.sb.error_count = 0;
			f->sb_dirty = true;
		}
	}

	/* The backup: same static fields, valid self-description. */
	if (f->sb_source == 0) {
		ret = sfs_sb_read_copy(f->bdev, f->sbi.geo.backup_sb_block, f->sbi.geo.block_log,
				       &backup, bmsg, sizeof(bmsg));
		if (ret) {
			if (fix_problem(f, PR_SB_BACKUP_BAD, "backup superblock at block %llu: %s",
					(unsigned long long)f->sbi.geo.backup_sb_block, bmsg))
				f->backup_dirty = true;
		} else if ((diff = sb_static_diff(&sb, &backup))) {
			if (fix_problem(f, PR_SB_BACKUP_DIFFERS,
					"backup superblock at block %llu disagrees on %s",
					(unsigned long long)f->sbi.geo.backup_sb_block, diff))
				f->backup_dirty = true;
		}
	}
	return 0;
}

/* A clean filesystem is not checked without -f (e2fsck's rule). */
bool fsck_is_clean(const struct fsck *f)
{
	const struct sfs_super *sb = &f->sbi.sb;

	return sb->state == SFS_STATE_VALID && f->sb_source == 0 && !f->problems &&
	       !(sb->feature_incompat & SFS_FEATURE_INCOMPAT_RECOVER);
}

static void journal_area(const struct fsck *f, struct jnl_area *a)
{
	const struct sfs_geo *g = &f->sbi.geo;

	memset(a, 0, sizeof(*a));
	a->block_size = g->block_size;
	a->start = g->journal_start;
	a->blocks = g->journal_blocks;
	memcpy(a->uuid, f->sbi.sb.uuid, sizeof(a->uuid));
}

/*
 * Pass 1c: the journal's own three passes (scan, revoke, replay), or the
 * scan alone under -n.  Replaying is what the mount would do first, so
 * every later pass must look at the replayed image.
 */
static int fsck_journal_replay(struct fsck *f)
{
	struct jnl_recovery_info ri;
	struct jnl_area a;
	int ret;

	journal_area(f, &a);
	ret = jnl_recover(f->bdev, &a, JNL_RECOVER_CHECK, &ri);
	if (ret == -EFSCORRUPTED || ret == -EFSBADCRC) {
		if (fix_problem(f, PR_JOURNAL_LOG_BAD, "journal at block %llu: %s",
				(unsigned long long)a.start, strerror(-ret))) {
			ret = jnl_format_area(f->bdev, &a);
			if (ret)
				fix_failed(f, PR_JOURNAL_LOG_BAD, ret);
		}
		return 0;
	}
	if (ret)
		return fsck_fatal(f, "cannot scan the journal: %s", strerror(-ret));
	if (ri.errno_ && fix_problem(f, PR_JOURNAL_ERRNO, "the journal aborted with errno %d",
				     ri.errno_)) {
		struct sfs_super *sb = &f->sbi.sb;
		if (!sb->first_error_errno)
			sb->first_error_errno = (uint32_t)ri.errno_;
		sb->last_error_errno = (uint32_t)ri.errno_;
		sb->state |= SFS_STATE_ERROR;
		sb->error_count++;
		f->sb_dirty = true;
		/* Positive: the errno it cleared; only a negative one failed. */
		ret = jnl_clear_recorded_error(f->bdev, &a);
		if (ret < 0)
			fix_failed(f, PR_JOURNAL_ERRNO, ret);
	}
	if (ri.was_clean) {
		if (f->sbi.sb.feature_incompat & SFS_FEATURE_INCOMPAT_RECOVER) {
			/* Nothing to replay: the flag outlived its log. */
			f->sbi.sb.feature_incompat &= ~SFS_FEATURE_INCOMPAT_RECOVER;
			f->sb_dirty = f->mode != FSCK_NO;
		}
		return 0;
	}
	if (!fix_problem(f, PR_JOURNAL_REPLAY, "%llu transactions (%llu block copies, %llu "
			 "revoked) from sequence %llu", (unsigned long long)ri.transactions,
			 (unsigned long long)ri.copies, (unsigned long long)ri.revoked,
			 (unsigned long long)ri.first_tid))
		return 0;
	ret = jnl_recover(f->bdev, &a, 0, &ri);
	if (ret) {
		fix_failed(f, PR_JOURNAL_REPLAY, ret);
		return 0;
	}
	f->sbi.sb.feature_incompat &= ~SFS_FEATURE_INCOMPAT_RECOVER;
	f->sb_dirty = true;
	f->replayed = true;
	return 0;
}

int fsck_pass_journal(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct jnl_area a;
	uint8_t *blk;
	int ret;

	if (!g->journal_blocks)
		return 0;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return fsck_fatal(f, "out of memory");
	ret = sfs_io_read_blocks(f->bdev, blk, g->block_log, g->journal_start, 1);
	if (ret) {
		fsck_fatal(f, "cannot read the journal superblock (block %llu): %s",
			   (unsigned long long)g->journal_start, strerror(-ret));
		goto out;
	}
	ret = sfs_jsb_verify(blk, g->block_size, g->journal_start, &f->sbi);
	if (!ret) {
		f->jsb_ok = true;
		ret = fsck_journal_replay(f);
		goto out;
	}
	if (!fix_problem(f, PR_JSB_BAD, "journal superblock (block %llu): %s",
			 (unsigned long long)g->journal_start, sfs_verify_reason()))
		goto out_ok;
	if (f->sbi.sb.feature_incompat & SFS_FEATURE_INCOMPAT_RECOVER) {
		/* Its transactions would be lost: leave it for the journal's fsck. */
		fix_failed(f, PR_JSB_BAD, -EBUSY);
		goto out_ok;
	}
	journal_area(f, &a);
	ret = jnl_format_area(f->bdev, &a);
	if (ret)
		fix_failed(f, PR_JSB_BAD, ret);
	else
		f->jsb_ok = true;
out_ok:
	ret = 0;
out:
	mc_free(blk);
	return ret ? -1 : 0;
}

int fsck_write_super(struct fsck *f)
{
	struct sfs_super *sb = &f->sbi.sb;
	int ret;

	if (f->mode == FSCK_NO)
		return 0;
	/* A completed check with nothing left broken marks the filesystem
	 * clean and records when it was checked. */
	if (!f->unfixed && !f->preen_abort) {
		uint16_t state = SFS_STATE_VALID;

		if (sb->state != state)
			f->sb_dirty = true;
		sb->state = state;
	}
	if (!f->sb_dirty && !f->backup_dirty && !f->fixed)
		return 0;
	sb->check_time = (uint64_t)time(NULL);
	sb->mount_count = 0;
	ret = sfs_sb_write(&f->sbi, true);
	if (ret == -EFSCORRUPTED || ret == -EFSBADCRC)
		return fsck_fatal(f, "superblock not written, it fails its verifier: %s",
				  sfs_verify_reason());
	if (ret)
		return fsck_fatal(f, "cannot write the superblock: %s", strerror(-ret));
	return 0;
}
