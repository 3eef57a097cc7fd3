/*
 * The journal superblock: block 0 of the journal area (header owner 0).
 *
 * The format layer defines only what mkfs and fsck need to agree with the
 * journal (issue 5) on an empty log: the log's size, where logging starts,
 * the next sequence number, and "start == 0 means the log is empty".  The
 * rest of the block is reserved for the journal, which owns the descriptor,
 * commit and revoke block formats (magics reserved in ondisk.h).
 */
#ifndef SFS_FORMAT_JSB_H
#define SFS_FORMAT_JSB_H

#include <stddef.h>
#include <stdint.h>

struct sfs_sb_info;

struct sfs_jsb {
	uint32_t block_log;
	uint32_t jfeatures;
	uint64_t maxlen;
	uint64_t first;
	uint64_t sequence;
	uint64_t start;
	uint32_t errno_;
};

void sfs_jsb_decode(struct sfs_jsb *j, const void *blk);
/* Build the whole journal superblock block for @sbi's journal area. */
void sfs_jsb_build(void *blk, const struct sfs_sb_info *sbi, const struct sfs_jsb *j);
/* A fresh, empty log for @sbi. */
void sfs_jsb_init_empty(struct sfs_jsb *j, const struct sfs_sb_info *sbi);
/* Verifier (buf_ops): header at journal_start, sizes agreeing with the
 * superblock, start/first inside the log. */
int sfs_jsb_verify(const void *blk, size_t len, uint64_t blkno, const struct sfs_sb_info *sbi);

#endif
