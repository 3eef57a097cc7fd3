/* Journal superblock (see jsb.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/hdr.h"
#include "fs/format/jsb.h"
#include "fs/format/mount.h"
#include "fs/format/ondisk.h"
#include "fs/format/verify.h"

void sfs_jsb_decode(struct sfs_jsb *j, const void *blk)
{
	const struct sfs_disk_jsb *d = blk;

	memset(j, 0, sizeof(*j));
	j->block_log = sfs_le32_to_cpu(d->block_log);
	j->jfeatures = sfs_le32_to_cpu(d->jfeatures);
	j->maxlen = sfs_le64_to_cpu(d->maxlen);
	j->first = sfs_le64_to_cpu(d->first);
	j->sequence = sfs_le64_to_cpu(d->sequence);
	j->start = sfs_le64_to_cpu(d->start);
	j->errno_ = sfs_le32_to_cpu(d->errno_);
}

void sfs_jsb_init_empty(struct sfs_jsb *j, const struct sfs_sb_info *sbi)
{
	memset(j, 0, sizeof(*j));
	j->block_log = sbi->geo.block_log;
	j->maxlen = sbi->geo.journal_blocks;
	j->first = 1;
	j->sequence = 1;
}

void sfs_jsb_build(void *blk, const struct sfs_sb_info *sbi, const struct sfs_jsb *j)
{
	struct sfs_disk_jsb *d = blk;
	uint64_t blkno = sbi->geo.journal_start;

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_JSB, blkno, 0, sbi);
	d->block_log = sfs_cpu_to_le32(j->block_log);
	d->jfeatures = sfs_cpu_to_le32(j->jfeatures);
	d->maxlen = sfs_cpu_to_le64(j->maxlen);
	d->first = sfs_cpu_to_le64(j->first);
	d->sequence = sfs_cpu_to_le64(j->sequence);
	d->start = sfs_cpu_to_le64(j->start);
	d->errno_ = sfs_cpu_to_le32(j->errno_);
	sfs_hdr_stamp(blk, sbi->geo.block_size, blkno, sbi);
}

int sfs_jsb_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi)
{
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_jsb j;
	int ret;

	if (!g->journal_blocks || blkno != g->journal_start)
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu is not the journal superblock",
				       (unsigned long long)blkno);
	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_JSB, blkno, sbi);
	if (ret)
		return ret;
	sfs_jsb_decode(&j, blk);
	if (j.block_log != g->block_log)
		return sfs_verify_fail(-EFSCORRUPTED, "journal block size 2^%u, filesystem 2^%u",
				       j.block_log, g->block_log);
	if (j.maxlen != g->journal_blocks)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "journal claims %llu blocks, the superblock %llu",
				       (unsigned long long)j.maxlen,
				       (unsigned long long)g->journal_blocks);
	if (j.first < 1 || j.first >= j.maxlen)
		return sfs_verify_fail(-EFSCORRUPTED, "journal first log block %llu out of range",
				       (unsigned long long)j.first);
	if (j.start && (j.start < j.first || j.start >= j.maxlen))
		return sfs_verify_fail(-EFSCORRUPTED, "journal start %llu out of range",
				       (unsigned long long)j.start);
	return 0;
}
