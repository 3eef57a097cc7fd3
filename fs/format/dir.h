/*
 * Directory blocks: entry blocks (SFS_MAGIC_DIRLEAF) and index blocks
 * (SFS_MAGIC_DIRINDEX); ondisk.h has both layouts and the key scheme.
 *
 * Entry blocks hold variable-length records from byte 64 to the end of the
 * block, ext4 style: a record's rec_len reaches the next record, the last
 * one reaches the end of the block; an unused record has ino 0.  Each live
 * record carries its key, (hash56(name) << 7) | seq; the key is both where
 * the record belongs in the directory's index and its readdir cookie.
 *
 * The first block of a directory that is not indexed starts with "." (key
 * 1) at byte 64 and ".." (key 2) at byte 88; nothing ever moves them.  An
 * indexed directory's first block is the root index node, which names the
 * parent instead.
 *
 * Everything here works on a block in memory: no I/O, no allocation.
 */
#ifndef SFS_FORMAT_DIR_H
#define SFS_FORMAT_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/block/buf_ops.h"
#include "fs/format/ondisk.h"

struct sfs_sb_info;

/* Offsets of "." and ".." in a directory's first entry block. */
#define SFS_DIR_DOT_OFF     SFS_HDR_SIZE
#define SFS_DIR_DOTDOT_OFF  (SFS_HDR_SIZE + 24u)

struct sfs_dirent {
	uint64_t ino;
	uint16_t rec_len;
	uint8_t name_len;
	uint8_t file_type;
	uint64_t key;
	const char *name;            /* points into the block */
	uint32_t offset;             /* of the record in the block */
};

static inline uint32_t sfs_dirent_size(unsigned name_len)
{
	return (SFS_DIRENT_HDR_SIZE + name_len + SFS_DIRENT_ALIGN - 1) & ~(SFS_DIRENT_ALIGN - 1);
}

/* ---- keys ------------------------------------------------------------- */

/* hash56 of a name: 1 .. 2^56 - 1 (a name never hashes to 0). */
uint64_t sfs_dir_hash56(uint64_t seed, const char *name, unsigned len);
static inline uint64_t sfs_dirkey(uint64_t hash56, unsigned seq)
{
	return hash56 << SFS_DIRKEY_SEQ_BITS | seq;
}
static inline uint64_t sfs_dirkey_hash(uint64_t key)
{
	return key >> SFS_DIRKEY_SEQ_BITS;
}
static inline unsigned sfs_dirkey_seq(uint64_t key)
{
	return (unsigned)(key & SFS_DIRKEY_SEQ_MAX);
}
/* A name a directory may hold: 1..255 bytes, no '/' or NUL. */
bool sfs_dir_name_ok(const char *name, unsigned len);
static inline bool sfs_dir_is_dots(const char *name, unsigned len)
{
	return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.');
}

/* ---- entry blocks ----------------------------------------------------- */

/* An empty entry block for directory @owner: unused records only. */
void sfs_dir_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner);
/* Add a name in the first record with room, its key computed: "." and
 * ".." get their fixed keys, other names their hash (seeded from the UUID
 * in the block's header, as the filesystem's csum_seed is) and the lowest
 * sequence free in this block -- right for a block that holds every name
 * of its hash (a linear directory; the tests).  -ENOSPC if no room,
 * -EINVAL for a bad name or type. */
int sfs_dir_block_add(void *blk, size_t len, uint64_t ino, const char *name, unsigned name_len,
		      unsigned file_type);
/* Add a record with @key in the first record with room (no compaction):
 * 0, -ENOSPC, -EINVAL for a bad name or type. */
int sfs_dir_rec_add(void *blk, size_t len, uint64_t ino, uint64_t key, const char *name,
		    unsigned name_len, unsigned file_type);
/* Write one record at @p (rec_len bytes, padding zeroed). */
void sfs_dir_rec_put(void *p, uint64_t ino, uint16_t rec_len, uint64_t key, const char *name,
		     unsigned name_len, unsigned file_type);
/* Iterate: start with *off = 0; returns 1 with the next record (unused ones
 * included, ino 0), 0 at the end, -EFSCORRUPTED on a malformed record. */
int sfs_dir_block_next(const void *blk, size_t len, uint32_t *off, struct sfs_dirent *de);
/* Bytes free in the block (unused records and slack after live ones). */
uint32_t sfs_dir_block_free(const void *blk, size_t len);
/* Rewrite the live records packed from byte 64 (order kept, so "." and
 * ".." stay where they are), the free space in one tail record. */
void sfs_dir_block_compact(void *blk, size_t len);
/* Entry block verifier: self-description, record structure, names, types,
 * and every key against its name's hash. */
int sfs_dir_block_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi);

/* ---- index blocks ----------------------------------------------------- */

struct sfs_dirindex_hdr {
	uint64_t parent;
	uint64_t names;
	uint16_t level, count, limit, flags;
};

static inline unsigned sfs_dirindex_limit(uint32_t block_size)
{
	return (block_size - (unsigned)sizeof(struct sfs_disk_dirindex)) /
	       (unsigned)sizeof(struct sfs_disk_dirindex_entry);
}
/* A new index node at @level with no entries (root: @parent set). */
void sfs_dirindex_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner,
		       unsigned level, bool root, uint64_t parent);
void sfs_dirindex_hdr_get(struct sfs_dirindex_hdr *h, const void *blk);
void sfs_dirindex_hdr_put(void *blk, const struct sfs_dirindex_hdr *h);
static inline unsigned sfs_dirindex_hdr_count(const void *blk)
{
	return sfs_le16_to_cpu(((const struct sfs_disk_dirindex *)blk)->count);
}
static inline struct sfs_disk_dirindex_entry *sfs_dirindex_entry(void *blk, unsigned i)
{
	return (struct sfs_disk_dirindex_entry *)((uint8_t *)blk + sizeof(struct sfs_disk_dirindex)) + i;
}
uint64_t sfs_dirindex_key(const void *blk, unsigned i);
uint32_t sfs_dirindex_lblk(const void *blk, unsigned i);
void sfs_dirindex_set(void *blk, unsigned i, uint64_t key, uint32_t lblk);
/* Entry whose range holds @key: the last one with key_i <= key. */
unsigned sfs_dirindex_find(const void *blk, unsigned count, uint64_t key);
/* Index block verifier: self-description, header, sorted hash-boundary
 * keys starting at 0, child blocks other than 0. */
int sfs_dirindex_block_verify(const void *blk, size_t len, uint64_t blkno,
			      const struct sfs_sb_info *sbi);

/* Buffer ops for any directory block: dispatch on the magic, so logical
 * block 0 may turn from an entry block into the root index node. */
extern const struct sfs_buf_ops sfs_dirblock_buf_ops;

#endif
