/*
 * The journal's on-disk log format.  The journal owns it; fs/format only
 * reserves the area (superblock fields journal_start, journal_blocks) and
 * the four magic numbers, whose values are repeated here so that journal/
 * needs nothing from fs/ but the block layer.  tests/journal/test_format.c
 * pins both copies against each other.
 *
 * The area is `blocks` blocks from `start`.  Positions below are relative
 * to `start`: position 0 is the journal superblock, positions 1 .. blocks-1
 * are the circular log.  All integers are little-endian.
 *
 * Every journal block (superblock, descriptor, revoke, commit) starts with
 * the 64-byte header every scopefs metadata block carries, with the same
 * layout as fs/format's struct sfs_disk_hdr:
 *
 *    0 le32 magic       JNL_MAGIC_*
 *    4 le16 version     JNL_HDR_VERSION
 *    6 le16 zero
 *    8 le64 csum        see below
 *   16 le64 blkno       absolute block number of this block (misplaced writes)
 *   24 le64 owner       zero
 *   32 u8[16] uuid      filesystem UUID (a stale journal of another fs)
 *   48 le64 seq         transaction sequence; 0 in the superblock
 *   56 le64 zero
 *
 * Checksums are XXH3-64.  The seed is XXH3-64(uuid) (the filesystem's
 * csum_seed).  A header checksum covers the whole block with the 8-byte
 * field left out: the bytes before it seed the hash of the bytes after it,
 * exactly as fs/format/checksum.h does, so fs/format's verifier accepts our
 * superblock.  A logged copy of a metadata block cannot carry a header of
 * ours; its checksum lives in its descriptor tag and is seeded with
 * XXH3-64(le64 seq, csum_seed), which binds the copy to the filesystem and
 * to its transaction (a stale copy left from an earlier lap of the log
 * fails it).
 *
 * A transaction in the log, at consecutive positions (wrapping from the
 * last block back to position 1):
 *
 *     [revoke]* ([descriptor] [copy] x nr_tags)* [commit]
 *
 * The commit block carries nr_blocks (blocks before it in this
 * transaction) and txn_csum: XXH3-64 chained over the revoke blocks'
 * header checksums and then every tag's copy checksum, in log order
 * (txn = XXH3_64(le64 csum, seed = txn), starting from 0).  Recovery
 * accepts a transaction only if every block checks and the commit block
 * matches, so a torn commit (or, in data=writeback where the commit block
 * is not fenced off by a flush, a commit that reached the disk before its
 * copies) is detected and discarded with everything after it.
 *
 * Escaping: a copy whose first four bytes equal a journal magic has them
 * zeroed in the log, the original kept in its tag (JNL_TAG_ESCAPED), so no
 * copy can pass for a journal block.  Sequence, position and checksum
 * would already refuse one; the escape keeps the log unambiguous to tools
 * that look at magics alone.
 */
#ifndef JNL_FORMAT_H
#define JNL_FORMAT_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/block/bdev.h"

typedef uint16_t jnl_le16;
typedef uint32_t jnl_le32;
typedef uint64_t jnl_le64;

static inline uint16_t jnl_le16_to_cpu(jnl_le16 v) { return le16toh(v); }
static inline uint32_t jnl_le32_to_cpu(jnl_le32 v) { return le32toh(v); }
static inline uint64_t jnl_le64_to_cpu(jnl_le64 v) { return le64toh(v); }
static inline jnl_le16 jnl_cpu_to_le16(uint16_t v) { return htole16(v); }
static inline jnl_le32 jnl_cpu_to_le32(uint32_t v) { return htole32(v); }
static inline jnl_le64 jnl_cpu_to_le64(uint64_t v) { return htole64(v); }

#define JNL_FOURCC(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* Same values as fs/format/ondisk.h's SFS_MAGIC_J*. */
#define JNL_MAGIC_SB      JNL_FOURCC('S', 'F', 'J', 'S')
#define JNL_MAGIC_DESC    JNL_FOURCC('S', 'F', 'J', 'D')
#define JNL_MAGIC_COMMIT  JNL_FOURCC('S', 'F', 'J', 'C')
#define JNL_MAGIC_REVOKE  JNL_FOURCC('S', 'F', 'J', 'R')

#define JNL_HDR_VERSION   1u
#define JNL_HDR_SIZE      64u
#define JNL_FIRST         1u    /* first log position; 0 is the superblock */
#define JNL_MIN_BLOCKS    16u   /* smallest area we accept (mkfs uses >= 1024) */

/* Journal feature bits (superblock `features`). */
#define JNL_FEAT_ASYNC_COMMIT 0x1u  /* data=writeback: commit blocks may precede their copies */
#define JNL_FEAT_KNOWN        (JNL_FEAT_ASYNC_COMMIT)

struct jnl_disk_hdr {
	jnl_le32 magic;
	jnl_le16 version;
	jnl_le16 pad0;
	jnl_le64 csum;
	jnl_le64 blkno;
	jnl_le64 owner;
	uint8_t  uuid[16];
	jnl_le64 seq;
	jnl_le64 pad1;
};

/* Journal superblock, position 0.  Bytes 64..111 match fs/format's
 * struct sfs_disk_jsb field for field. */
struct jnl_disk_sb {
	struct jnl_disk_hdr hdr;   /*   0 seq 0 */
	jnl_le32 block_log;        /*  64 block size = 1 << block_log */
	jnl_le32 features;         /*  68 JNL_FEAT_* */
	jnl_le64 maxlen;           /*  72 area blocks, this one included */
	jnl_le64 first;            /*  80 first log position: JNL_FIRST */
	jnl_le64 sequence;         /*  88 sequence of the transaction at `start`
				    *     (log empty: of the next one to be written) */
	jnl_le64 start;            /*  96 position of the oldest transaction not yet
				    *     checkpointed; 0 = clean, nothing to replay */
	jnl_le32 errno_;           /* 104 positive errno of the abort that stopped
				    *     the journal; 0 = none.  Survives remount. */
	jnl_le32 pad;              /* 108 */
	/* 112: zero to the end of the block */
};

/* Descriptor: which home blocks the copies that follow it belong to. */
struct jnl_disk_tag {
	jnl_le64 blkno;            /* home block of the copy */
	jnl_le64 csum;             /* XXH3-64 of the copy as logged, seeded per sequence */
	jnl_le32 flags;            /* JNL_TAG_* */
	jnl_le32 escaped;          /* JNL_TAG_ESCAPED: the copy's original first word */
};
#define JNL_TAG_ESCAPED 0x1u

struct jnl_disk_desc {
	struct jnl_disk_hdr hdr;   /*  0 */
	jnl_le32 nr_tags;          /* 64 copies following this block */
	jnl_le32 flags;            /* 68 zero */
	struct jnl_disk_tag tags[];/* 72 */
};

/* Revoke: home blocks whose copies in this or earlier transactions must
 * not be replayed (the block was freed and may hold other data now). */
struct jnl_disk_revoke {
	struct jnl_disk_hdr hdr;   /*  0 */
	jnl_le32 count;            /* 64 */
	jnl_le32 pad;              /* 68 */
	jnl_le64 blknos[];         /* 72 */
};

/* Commit: the transaction is complete if this block and everything it
 * sums up check. */
struct jnl_disk_commit {
	struct jnl_disk_hdr hdr;   /*  0 */
	jnl_le32 nr_blocks;        /* 64 blocks of the transaction before this one */
	jnl_le32 flags;            /* 68 JNL_COMMIT_* */
	jnl_le64 txn_csum;         /* 72 chained checksum, see above */
	jnl_le64 sec;              /* 80 commit time */
	jnl_le32 nsec;             /* 88 */
	jnl_le32 nr_copies;        /* 92 descriptor tags */
	jnl_le32 nr_revokes;       /* 96 revoke records */
	jnl_le32 pad;              /* 100 */
};
#define JNL_COMMIT_ASYNC 0x1u      /* written without a flush before it */

_Static_assert(sizeof(struct jnl_disk_hdr) == JNL_HDR_SIZE, "journal header");
_Static_assert(sizeof(struct jnl_disk_sb) == 112, "journal superblock");
_Static_assert(offsetof(struct jnl_disk_sb, errno_) == 104, "journal superblock errno");
_Static_assert(sizeof(struct jnl_disk_tag) == 24, "descriptor tag");
_Static_assert(offsetof(struct jnl_disk_desc, tags) == 72, "descriptor tags");
_Static_assert(offsetof(struct jnl_disk_revoke, blknos) == 72, "revoke records");
_Static_assert(sizeof(struct jnl_disk_commit) == 104, "commit block");

static inline unsigned jnl_tags_per_desc(uint32_t bsize)
{
	return (bsize - (unsigned)offsetof(struct jnl_disk_desc, tags)) / sizeof(struct jnl_disk_tag);
}

static inline unsigned jnl_revokes_per_block(uint32_t bsize)
{
	return (bsize - (unsigned)offsetof(struct jnl_disk_revoke, blknos)) / sizeof(jnl_le64);
}

static inline int jnl_is_magic(uint32_t m)
{
	return m == JNL_MAGIC_SB || m == JNL_MAGIC_DESC || m == JNL_MAGIC_COMMIT ||
	       m == JNL_MAGIC_REVOKE;
}

/* ---- checksums ---- */

uint64_t jnl_csum_seed(const uint8_t uuid[16]);
/* Header checksum of a journal block of @len bytes. */
uint64_t jnl_hdr_csum(const void *blk, size_t len, uint64_t seed);
/* Checksum of a logged copy in transaction @seq. */
uint64_t jnl_copy_csum(const void *blk, size_t len, uint64_t seed, uint64_t seq);
/* One step of the commit block's chained transaction checksum. */
uint64_t jnl_txn_csum_step(uint64_t txn, uint64_t csum);

/* ---- headers ---- */

/* Zero the block and fill its header (the checksum is set by seal). */
void jnl_hdr_init(void *blk, size_t len, uint32_t magic, uint64_t blkno, uint64_t seq,
		  const uint8_t uuid[16]);
/* Stamp the header checksum; returns it. */
uint64_t jnl_hdr_seal(void *blk, size_t len, uint64_t seed);
/*
 * 0 if @blk is a journal block of type @magic (0 = any journal magic)
 * sitting at @blkno, of this filesystem, in transaction @seq, with a good
 * checksum; -EFSBADCRC or -EFSCORRUPTED otherwise.
 */
int jnl_hdr_check(const void *blk, size_t len, uint32_t magic, uint64_t blkno, uint64_t seq,
		  const uint8_t uuid[16], uint64_t seed);
static inline uint32_t jnl_hdr_magic(const void *blk)
{
	return jnl_le32_to_cpu(((const struct jnl_disk_hdr *)blk)->magic);
}

/* ---- the journal superblock ---- */

/* Decoded superblock. */
struct jnl_sb {
	uint32_t block_log;
	uint32_t features;
	uint64_t maxlen;
	uint64_t first;
	uint64_t sequence;
	uint64_t start;
	uint32_t errno_;
};

struct jnl_area;
/* Build the superblock block for @a into @blk (block_size bytes). */
void jnl_sb_build(void *blk, const struct jnl_area *a, const struct jnl_sb *sb);
/* Decode and check @blk against @a: 0, -EFSBADCRC, -EFSCORRUPTED or
 * -EOPNOTSUPP (unknown feature bits). */
int jnl_sb_decode(const void *blk, const struct jnl_area *a, struct jnl_sb *sb);
/* Read, or write then flush, the superblock through @buf (one aligned block). */
int jnl_sb_read(struct sfs_bdev *bdev, const struct jnl_area *a, void *buf, struct jnl_sb *sb);
int jnl_sb_write(struct sfs_bdev *bdev, const struct jnl_area *a, void *buf,
		 const struct jnl_sb *sb);

#endif
