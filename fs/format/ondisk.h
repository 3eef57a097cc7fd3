/*
 * The scopefs on-disk format, revision 1: every structure as it lies on disk.
 *
 * This header is the single definition of the format, shared by the
 * library, mkfs, fsck and the offline tool (XFS's libxfs habit: one copy).
 * docs/format.md describes the same structures in prose; the static
 * assertions at the bottom pin every offset the document states.
 *
 * Conventions
 *  - All integers little-endian (sfs_le*), converted only in the
 *    encode/decode functions of the module owning the structure.
 *  - Block numbers are 64-bit everywhere.  Inode numbers are 64-bit.
 *  - Every metadata block starts with struct sfs_disk_hdr (64 bytes): magic,
 *    checksum, its own block number, its owner, the filesystem UUID.  Inode
 *    records are self-describing on their own (magic, inode number,
 *    generation, checksum) because an inode table block holds many owners.
 *  - Checksums are XXH3-64 (see checksum.h for exactly which bytes).
 *
 * Image layout (block numbers; B = block size):
 *
 *   0                      primary superblock (first 1024 bytes of block 0)
 *   1 .. G                 group descriptor table (G = gdt_blocks)
 *   G+1 .. G+J             journal area (J = journal_blocks, may be 0)
 *   first_data_block ...   block groups 0 .. N-1, each laid out as
 *                            [block bitmap][inode bitmap][inode table][data]
 *   block_count-1-G ..     backup group descriptor table (G blocks)
 *   block_count-1          backup superblock
 *
 * Only the groups are covered by block bitmaps; the header area (superblock,
 * GDT, journal) and the trailing backups are fixed and never allocated.
 */
#ifndef SFS_FORMAT_ONDISK_H
#define SFS_FORMAT_ONDISK_H

#include <stddef.h>
#include <stdint.h>
#include "fs/format/le.h"

/* Magic numbers read as four ASCII characters in a hex dump. */
#define SFS_FOURCC(a, b, c, d) \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

#define SFS_MAGIC_SB        SFS_FOURCC('S', 'F', 'S', 'B')  /* superblock (and its backup) */
#define SFS_MAGIC_GDT       SFS_FOURCC('S', 'F', 'G', 'D')  /* group descriptor table block */
#define SFS_MAGIC_BBITMAP   SFS_FOURCC('S', 'F', 'B', 'B')  /* block allocation bitmap */
#define SFS_MAGIC_IBITMAP   SFS_FOURCC('S', 'F', 'I', 'B')  /* inode allocation bitmap */
#define SFS_MAGIC_INODE     SFS_FOURCC('S', 'F', 'I', 'N')  /* inode record (not a block) */
#define SFS_MAGIC_EXTENT    SFS_FOURCC('S', 'F', 'X', 'T')  /* extent tree index/leaf block */
#define SFS_MAGIC_DIRLEAF   SFS_FOURCC('S', 'F', 'D', 'L')  /* directory entry block */
#define SFS_MAGIC_DIRINDEX  SFS_FOURCC('S', 'F', 'D', 'X')  /* directory index block */
#define SFS_MAGIC_XATTR     SFS_FOURCC('S', 'F', 'X', 'A')  /* external xattr block (issue 8) */
#define SFS_MAGIC_JSB       SFS_FOURCC('S', 'F', 'J', 'S')  /* journal superblock */
#define SFS_MAGIC_JDESC     SFS_FOURCC('S', 'F', 'J', 'D')  /* journal descriptor (issue 5) */
#define SFS_MAGIC_JCOMMIT   SFS_FOURCC('S', 'F', 'J', 'C')  /* journal commit (issue 5) */
#define SFS_MAGIC_JREVOKE   SFS_FOURCC('S', 'F', 'J', 'R')  /* journal revoke (issue 5) */
#define SFS_MAGIC_ORPHAN    SFS_FOURCC('S', 'F', 'O', 'R')  /* orphan file block (issue 8) */

#define SFS_EXTENT_HDR_MAGIC 0x5853u   /* "SX": extent header, inline root and blocks */

#define SFS_FORMAT_REV       1u        /* superblock rev_level written by this code */
#define SFS_HDR_VERSION      1u        /* struct sfs_disk_hdr layout version */

/* Block sizes: powers of two from 1 KiB to 64 KiB. */
#define SFS_MIN_BLOCK_LOG    10u
#define SFS_MAX_BLOCK_LOG    16u
#define SFS_DEFAULT_BLOCK_LOG 12u

#define SFS_SB_OFFSET        0u        /* byte offset of the primary superblock */
#define SFS_SB_SIZE          1024u     /* bytes of block 0 the superblock occupies */

#define SFS_HDR_SIZE         64u
#define SFS_GD_SIZE          64u

/* Inodes: fixed size per filesystem, a 256-byte core then inline xattrs. */
#define SFS_INODE_CORE_SIZE  256u
#define SFS_MIN_INODE_SIZE   256u
#define SFS_DEFAULT_INODE_SIZE 512u
#define SFS_MAX_INODE_SIZE   4096u

#define SFS_ROOT_INO         2u        /* as ext4 */
#define SFS_ORPHAN_INO       3u        /* the orphan file (reserved, created on first use) */
#define SFS_FIRST_INO        11u       /* 1..10 reserved, as ext4 */

/* Extents: the longest extent the format allows (ext4's initialised limit). */
#define SFS_MAX_EXTENT_LEN   32768u
#define SFS_EXTENT_ROOT_ENTRIES 4u     /* entries in the inline root */
#define SFS_EXTENT_MAX_DEPTH 8u        /* verifier bound; the tree uses <= 5 */

/* Journal: smallest log jbd2 accepts; mkfs -J 0 creates none. */
#define SFS_MIN_JOURNAL_BLOCKS 1024u

/* Feature flags.  compat: safe to ignore; ro_compat: a reader that does not
 * know the bit may only read; incompat: a reader that does not know the bit
 * must not touch the filesystem. */
#define SFS_FEATURE_COMPAT_HAS_JOURNAL   0x0001u  /* journal area present */
#define SFS_FEATURE_COMPAT_SUPP          (SFS_FEATURE_COMPAT_HAS_JOURNAL)

#define SFS_FEATURE_RO_COMPAT_UNINIT_BG  0x0001u  /* groups may be uninitialised (lazy) */
#define SFS_FEATURE_RO_COMPAT_SUPP       (SFS_FEATURE_RO_COMPAT_UNINIT_BG)

#define SFS_FEATURE_INCOMPAT_RECOVER     0x0001u  /* journal needs replay before use */
#define SFS_FEATURE_INCOMPAT_SUPP        (SFS_FEATURE_INCOMPAT_RECOVER)

/* Superblock state (bits). */
#define SFS_STATE_VALID      0x0001u   /* cleanly unmounted / checked */
#define SFS_STATE_ERROR      0x0002u   /* errors detected at runtime */

/* Behaviour on runtime errors. */
#define SFS_ERRORS_CONTINUE  1u
#define SFS_ERRORS_RO        2u
#define SFS_ERRORS_SHUTDOWN  3u

/* Group descriptor flags. */
#define SFS_BG_BLOCK_UNINIT  0x0001u   /* block bitmap never written: implied */
#define SFS_BG_INODE_UNINIT  0x0002u   /* inode bitmap never written: all free */
#define SFS_BG_ITABLE_ZEROED 0x0004u   /* whole inode table known to be zero */
#define SFS_BG_FLAGS_KNOWN   0x0007u

/* Inode flags: the low 24 bits are Linux's FS_*_FL values (FS_IOC_GETFLAGS). */
#define SFS_INODE_FL_SYNC      0x00000008u
#define SFS_INODE_FL_IMMUTABLE 0x00000010u
#define SFS_INODE_FL_APPEND    0x00000020u
#define SFS_INODE_FL_NODUMP    0x00000040u
#define SFS_INODE_FL_NOATIME   0x00000080u
#define SFS_INODE_FL_USER_MASK 0x00ffffffu
#define SFS_INODE_FL_INLINE    0x10000000u  /* root area holds data (short symlink) */
#define SFS_INODE_FL_ORPHAN    0x20000000u  /* on the orphan list */
#define SFS_INODE_FL_KNOWN     (SFS_INODE_FL_USER_MASK | SFS_INODE_FL_INLINE | SFS_INODE_FL_ORPHAN)

/* Extent flags. */
#define SFS_EXTENT_FL_UNWRITTEN 0x0001u   /* preallocated, reads as zeros */

/* Directory entry file types (ext4's values). */
#define SFS_FT_UNKNOWN  0
#define SFS_FT_REG      1
#define SFS_FT_DIR      2
#define SFS_FT_CHR      3
#define SFS_FT_BLK      4
#define SFS_FT_FIFO     5
#define SFS_FT_SOCK     6
#define SFS_FT_LNK      7
#define SFS_FT_MAX      7

#define SFS_NAME_MAX    255u

/* ---- common metadata block header: 64 bytes at offset 0 of every block --- */
struct sfs_disk_hdr {
	sfs_le32 magic;       /*  0 SFS_MAGIC_* of the block type */
	sfs_le16 version;     /*  4 SFS_HDR_VERSION */
	sfs_le16 pad0;        /*  6 zero */
	sfs_le64 csum;        /*  8 XXH3-64, see checksum.h */
	sfs_le64 blkno;       /* 16 this block's own number */
	sfs_le64 owner;       /* 24 owning inode or structure id (per type) */
	uint8_t  uuid[16];    /* 32 filesystem UUID */
	sfs_le64 lsn;         /* 48 journal sequence of the last logged write, 0 */
	sfs_le64 pad1;        /* 56 zero */
};

/* ---- superblock: 1024 bytes at byte 0; backup at block block_count-1 ---- */
struct sfs_disk_super {
	struct sfs_disk_hdr hdr;     /*   0 owner 0 (primary) or 1 (backup) */
	sfs_le32 rev_level;          /*  64 SFS_FORMAT_REV */
	sfs_le32 block_log;          /*  68 block size = 1 << block_log */
	sfs_le64 block_count;        /*  72 blocks in the filesystem (= image) */
	sfs_le64 free_blocks;        /*  80 sum of group free counts */
	sfs_le64 inode_count;        /*  88 group_count * inodes_per_group */
	sfs_le64 free_inodes;        /*  96 sum of group free inode counts */
	sfs_le64 reserved_blocks;    /* 104 kept for privileged users (ext4 r_blocks) */
	sfs_le64 first_data_block;   /* 112 first block of group 0 */
	sfs_le64 journal_start;      /* 120 first block of the journal area */
	sfs_le64 journal_blocks;     /* 128 journal area length, 0 = none */
	sfs_le64 backup_gdt_start;   /* 136 first block of the backup GDT */
	sfs_le64 backup_sb_block;    /* 144 = block_count - 1 */
	sfs_le64 root_ino;           /* 152 SFS_ROOT_INO */
	sfs_le64 first_ino;          /* 160 first non-reserved inode */
	sfs_le64 orphan_head;        /* 168 inode of the orphan file, 0 = none yet */
	sfs_le64 csum_seed;          /* 176 XXH3-64(uuid): seed of all other checksums */
	sfs_le32 blocks_per_group;   /* 184 blocks in every group but maybe the last */
	sfs_le32 inodes_per_group;   /* 188 */
	sfs_le32 group_count;        /* 192 */
	sfs_le32 gdt_blocks;         /* 196 blocks of the GDT (and of its backup) */
	sfs_le32 itable_blocks;      /* 200 inode table blocks per group */
	sfs_le16 inode_size;         /* 204 bytes per inode record */
	sfs_le16 desc_size;          /* 206 SFS_GD_SIZE */
	sfs_le32 feature_compat;     /* 208 */
	sfs_le32 feature_ro_compat;  /* 212 */
	sfs_le32 feature_incompat;   /* 216 */
	sfs_le16 state;              /* 220 SFS_STATE_* */
	sfs_le16 errors;             /* 222 SFS_ERRORS_* */
	sfs_le32 mount_count;        /* 224 mounts since the last check */
	sfs_le32 max_mount_count;    /* 228 0 = no count-based check */
	sfs_le64 mkfs_time;          /* 232 seconds since the epoch */
	sfs_le64 mount_time;         /* 240 */
	sfs_le64 write_time;         /* 248 */
	sfs_le64 check_time;         /* 256 */
	sfs_le32 error_count;        /* 264 runtime errors recorded (journal issue) */
	sfs_le32 first_error_errno;  /* 268 */
	sfs_le64 first_error_time;   /* 272 */
	sfs_le64 first_error_ino;    /* 280 */
	sfs_le64 first_error_block;  /* 288 */
	char     first_error_func[32]; /* 296 NUL-padded */
	sfs_le32 last_error_errno;   /* 328 */
	sfs_le32 pad2;               /* 332 */
	sfs_le64 last_error_time;    /* 336 */
	sfs_le64 last_error_ino;     /* 344 */
	sfs_le64 last_error_block;   /* 352 */
	char     last_error_func[32]; /* 360 */
	char     label[64];          /* 392 NUL-padded volume label */
	char     last_mounted[64];   /* 456 last mount point */
	uint8_t  reserved[504];      /* 520 zero; room for later revisions */
};

/* ---- group descriptor: 64 bytes; a GDT block holds (B - 64) / 64 -------- */
struct sfs_disk_gd {
	sfs_le64 block_bitmap;       /*  0 block of the block bitmap */
	sfs_le64 inode_bitmap;       /*  8 block of the inode bitmap */
	sfs_le64 inode_table;        /* 16 first block of the inode table */
	sfs_le32 free_blocks;        /* 24 free blocks in the group */
	sfs_le32 free_inodes;        /* 28 free inodes in the group */
	sfs_le32 used_dirs;          /* 32 directories in the group */
	sfs_le32 itable_unused;      /* 36 never-used inodes at the table's end */
	sfs_le32 largest_free;       /* 40 longest run of free blocks */
	sfs_le32 free_runs;          /* 44 number of maximal free runs */
	sfs_le16 flags;              /* 48 SFS_BG_* */
	sfs_le16 pad0;               /* 50 */
	sfs_le32 pad1;               /* 52 */
	sfs_le64 reserved;           /* 56 */
};

/* ---- inode record: inode_size bytes, 256-byte core + inline xattrs ----- */
struct sfs_disk_extent_hdr {
	sfs_le16 magic;              /*  0 SFS_EXTENT_HDR_MAGIC */
	sfs_le16 entries;            /*  2 valid entries */
	sfs_le16 max;                /*  4 capacity of this node */
	sfs_le16 depth;              /*  6 0 = entries are extents */
	sfs_le32 generation;         /*  8 tree generation (issue 7), 0 */
	sfs_le32 pad;                /* 12 */
};

struct sfs_disk_extent {             /* leaf entry, depth 0 */
	sfs_le32 lblk;               /*  0 first logical block */
	sfs_le16 len;                /*  4 1 .. SFS_MAX_EXTENT_LEN */
	sfs_le16 flags;              /*  6 SFS_EXTENT_FL_* */
	sfs_le64 pblk;               /*  8 first physical block */
};

struct sfs_disk_extent_idx {         /* index entry, depth > 0 */
	sfs_le32 lblk;               /*  0 first logical block covered */
	sfs_le32 pad;                /*  4 */
	sfs_le64 child;              /*  8 block of the child node */
};

struct sfs_disk_inode {
	sfs_le32 magic;              /*   0 SFS_MAGIC_INODE */
	sfs_le16 mode;               /*   4 type and permissions; 0 = free */
	sfs_le16 core_size;          /*   6 SFS_INODE_CORE_SIZE */
	sfs_le64 csum;               /*   8 XXH3-64 over the record, seeded */
	sfs_le64 ino;                /*  16 own inode number */
	sfs_le32 generation;         /*  24 bumped on every reuse */
	sfs_le32 flags;              /*  28 SFS_INODE_FL_* */
	sfs_le32 uid;                /*  32 */
	sfs_le32 gid;                /*  36 */
	sfs_le32 nlink;              /*  40 */
	sfs_le32 inline_xattr_len;   /*  44 bytes used in the inline xattr area */
	sfs_le64 size;               /*  48 bytes */
	sfs_le64 blocks;             /*  56 filesystem blocks owned (data + tree + xattr) */
	sfs_le64 atime_sec;          /*  64 signed seconds since the epoch */
	sfs_le64 mtime_sec;          /*  72 */
	sfs_le64 ctime_sec;          /*  80 */
	sfs_le64 btime_sec;          /*  88 birth time */
	sfs_le32 atime_nsec;         /*  96 0 .. 999999999 */
	sfs_le32 mtime_nsec;         /* 100 */
	sfs_le32 ctime_nsec;         /* 104 */
	sfs_le32 btime_nsec;         /* 108 */
	sfs_le32 rdev_major;         /* 112 character/block devices */
	sfs_le32 rdev_minor;         /* 116 */
	sfs_le64 xattr_block;        /* 120 external xattr block, 0 = none */
	sfs_le64 orphan_next;        /* 128 ORPHAN: its slot in the orphan file + 1 */
	sfs_le64 version;            /* 136 change counter (i_version) */
	uint8_t  reserved[32];       /* 144 zero */
	union {                      /* 176 80 bytes */
		struct {
			struct sfs_disk_extent_hdr hdr;
			struct sfs_disk_extent ext[SFS_EXTENT_ROOT_ENTRIES];
		} extent_root;
		uint8_t inline_data[80];     /* SFS_INODE_FL_INLINE */
	} u;
	/* 256: inline xattr area up to inode_size: inline_xattr_len bytes of
	 * struct sfs_disk_xattr_entry records */
};
#define SFS_INODE_INLINE_MAX 80u

/* ---- extent tree node block (issue 7 fills the tree) ------------------- */
struct sfs_disk_extent_block {
	struct sfs_disk_hdr hdr;     /*  0 owner = inode number */
	struct sfs_disk_extent_hdr eh; /* 64 */
	/* 80: entries (16 bytes each) to the end of the block */
};

/* ---- directory entry block (SFS_MAGIC_DIRLEAF) ----------------------- */
/*
 * Records from byte 64 to the end of the block, ext4 style.  Every record
 * carries its name's key: (hash56(name) << 7) | seq, where hash56 is the
 * top 56 bits of XXH3-64(name, seed = superblock csum_seed) (0 is taken as
 * 1) and seq (0..127) tells apart names whose hash56 collide.  A key never
 * changes while its record exists: it is the readdir cookie.  "." and ".."
 * (the first two records of a directory's first block while it is not
 * indexed) have the keys 1 and 2.
 */
struct sfs_disk_dirent {
	sfs_le64 ino;                /*  0 0 = unused record */
	sfs_le16 rec_len;            /*  8 bytes to the next record, multiple of 8 */
	uint8_t  name_len;           /* 10 */
	uint8_t  file_type;          /* 11 SFS_FT_* */
	sfs_le64 key;                /* 12 hash56 << 7 | seq; "." 1, ".." 2 */
	char     name[];             /* 20 not NUL-terminated */
} __attribute__((packed));
#define SFS_DIRENT_HDR_SIZE 20u
#define SFS_DIRENT_ALIGN     8u
#define SFS_DIRKEY_DOT       1u        /* key of "." */
#define SFS_DIRKEY_DOTDOT    2u        /* key of ".." */
#define SFS_DIRKEY_SEQ_BITS  7u        /* collision sequence bits under the hash */
#define SFS_DIRKEY_SEQ_MAX   127u
#define SFS_DIRKEY_MIN       (1ull << SFS_DIRKEY_SEQ_BITS)   /* smallest key of a name */
#define SFS_DIRKEY_END       (1ull << 63)                     /* above every key */

/* ---- directory index block (SFS_MAGIC_DIRINDEX) ----------------------- */
/*
 * A directory grows from one entry block (logical block 0) into a B+tree
 * keyed by the record keys above: logical block 0 becomes the root index
 * node and the entry blocks are its leaves (ext4's htree, with the tree
 * allowed to grow to SFS_DIR_MAX_LEVELS index levels).  Entry i of a node
 * covers the keys [key_i, key_i+1); key_0 is 0, every other key is a hash
 * boundary (low 7 bits zero): all records of one hash56 live in one leaf.
 */
struct sfs_disk_dirindex {
	struct sfs_disk_hdr hdr;     /*  0 owner = the directory */
	sfs_le64 parent;             /* 64 root: the parent directory (".."); 0 elsewhere */
	sfs_le64 names;              /* 72 root: names in the directory ("." ".." not counted) */
	sfs_le16 level;              /* 80 0 = entries point at entry blocks */
	sfs_le16 count;              /* 82 entries in use, >= 1 */
	sfs_le16 limit;              /* 84 capacity: (block size - 96) / 16 */
	sfs_le16 flags;              /* 86 SFS_DIRINDEX_ROOT on logical block 0 */
	sfs_le64 pad;                /* 88 zero */
	/* 96: struct sfs_disk_dirindex_entry[limit] */
};
#define SFS_DIRINDEX_ROOT    0x0001u
#define SFS_DIR_MAX_LEVELS   4u         /* index levels, the root's included */

struct sfs_disk_dirindex_entry {
	sfs_le64 key;                /*  0 lowest key of the child's range */
	sfs_le32 lblk;               /*  8 child's logical block in the directory */
	sfs_le32 pad;                /* 12 zero */
};

/* ---- journal superblock: block 0 of the journal area ------------------ */
struct sfs_disk_jsb {
	struct sfs_disk_hdr hdr;     /*  0 owner 0 */
	sfs_le32 block_log;          /* 64 must equal the filesystem's */
	sfs_le32 jfeatures;          /* 68 journal feature bits (issue 5), 0 */
	sfs_le64 maxlen;             /* 72 journal blocks including this one */
	sfs_le64 first;              /* 80 first log block (relative), 1 */
	sfs_le64 sequence;           /* 88 first expected transaction sequence */
	sfs_le64 start;              /* 96 relative block of the log start, 0 = empty */
	sfs_le32 errno_;             /* 104 abort error (jbd2 s_errno), 0 */
	sfs_le32 pad;                /* 108 */
	/* 112: reserved for the journal (issue 5) to the end of the block */
};

/* ---- extended attributes -------------------------------------------- */
/*
 * One record per attribute, in the inode's inline area (from byte 256,
 * inline_xattr_len bytes) or in its external block (from byte 72, `entries`
 * records); each record is padded to 4 bytes.  The name is stored without
 * its namespace prefix, which name_index gives (the POSIX ACLs have an empty
 * suffix).  An attribute lives in exactly one of the two places.
 */
struct sfs_disk_xattr_entry {
	uint8_t  name_index;         /*  0 SFS_XATTR_INDEX_* */
	uint8_t  name_len;           /*  1 suffix bytes */
	sfs_le16 value_len;          /*  2 */
	/* 4: name (name_len bytes), value (value_len bytes), zero padding */
};
#define SFS_XATTR_ENTRY_HDR     4u
#define SFS_XATTR_INDEX_USER            1u   /* "user." */
#define SFS_XATTR_INDEX_TRUSTED         2u   /* "trusted." */
#define SFS_XATTR_INDEX_SECURITY        3u   /* "security." */
#define SFS_XATTR_INDEX_ACL_ACCESS      4u   /* "system.posix_acl_access" */
#define SFS_XATTR_INDEX_ACL_DEFAULT     5u   /* "system.posix_acl_default" */
#define SFS_XATTR_INDEX_MAX             5u

/* External xattr block: not shared in revision 1 (refcount 1). */
struct sfs_disk_xattr_block {
	struct sfs_disk_hdr hdr;     /*  0 owner = the owning inode */
	sfs_le32 refcount;           /* 64 inodes sharing the block: 1 */
	sfs_le32 entries;            /* 68 records from byte 72 */
};

/* ---- orphan file blocks (SFS_MAGIC_ORPHAN) ----------------------------- */
/*
 * The orphan file (inode SFS_ORPHAN_INO, named by the superblock's
 * orphan_head) records the inodes a crash must not leak: unlinked inodes
 * still in use or being freed, and truncates that span transactions (ext4's
 * orphan_file).  A slot is valid while its inode is live with the same
 * generation and flag ORPHAN (orphan_next = slot + 1); any other non-empty
 * slot is stale -- its inode was freed by a path that does not clear slots
 * -- and its xattr_block, if any, still belongs to the orphan file until the
 * next sweep frees it.
 */
struct sfs_disk_orphan_block {
	struct sfs_disk_hdr hdr;     /*  0 owner = SFS_ORPHAN_INO */
	sfs_le32 slots;              /* 64 capacity: (block size - 80) / 24 */
	sfs_le32 pad0;               /* 68 */
	sfs_le64 pad1;               /* 72 */
	/* 80: struct sfs_disk_orphan_slot[slots] */
};

struct sfs_disk_orphan_slot {
	sfs_le64 ino;                /*  0 0 = free */
	sfs_le32 generation;         /*  8 of the inode when it was recorded */
	sfs_le32 pad;                /* 12 */
	sfs_le64 xattr_block;        /* 16 the inode's external xattr block, 0 = none */
};

/* Pin the documented layout. */
#define SFS_ASSERT_OFF(t, f, o) _Static_assert(offsetof(t, f) == (o), #t "." #f " offset")
_Static_assert(sizeof(struct sfs_disk_hdr) == SFS_HDR_SIZE, "header size");
SFS_ASSERT_OFF(struct sfs_disk_hdr, csum, 8);
SFS_ASSERT_OFF(struct sfs_disk_hdr, blkno, 16);
SFS_ASSERT_OFF(struct sfs_disk_hdr, uuid, 32);
SFS_ASSERT_OFF(struct sfs_disk_hdr, lsn, 48);
_Static_assert(sizeof(struct sfs_disk_super) == SFS_SB_SIZE, "superblock size");
SFS_ASSERT_OFF(struct sfs_disk_super, rev_level, 64);
SFS_ASSERT_OFF(struct sfs_disk_super, csum_seed, 176);
SFS_ASSERT_OFF(struct sfs_disk_super, blocks_per_group, 184);
SFS_ASSERT_OFF(struct sfs_disk_super, inode_size, 204);
SFS_ASSERT_OFF(struct sfs_disk_super, feature_compat, 208);
SFS_ASSERT_OFF(struct sfs_disk_super, state, 220);
SFS_ASSERT_OFF(struct sfs_disk_super, mkfs_time, 232);
SFS_ASSERT_OFF(struct sfs_disk_super, error_count, 264);
SFS_ASSERT_OFF(struct sfs_disk_super, first_error_func, 296);
SFS_ASSERT_OFF(struct sfs_disk_super, last_error_errno, 328);
SFS_ASSERT_OFF(struct sfs_disk_super, last_error_func, 360);
SFS_ASSERT_OFF(struct sfs_disk_super, label, 392);
SFS_ASSERT_OFF(struct sfs_disk_super, last_mounted, 456);
SFS_ASSERT_OFF(struct sfs_disk_super, reserved, 520);
_Static_assert(sizeof(struct sfs_disk_gd) == SFS_GD_SIZE, "descriptor size");
SFS_ASSERT_OFF(struct sfs_disk_gd, free_blocks, 24);
SFS_ASSERT_OFF(struct sfs_disk_gd, largest_free, 40);
SFS_ASSERT_OFF(struct sfs_disk_gd, flags, 48);
_Static_assert(sizeof(struct sfs_disk_extent_hdr) == 16, "extent header size");
_Static_assert(sizeof(struct sfs_disk_extent) == 16, "extent size");
_Static_assert(sizeof(struct sfs_disk_extent_idx) == 16, "extent index size");
_Static_assert(sizeof(struct sfs_disk_inode) == SFS_INODE_CORE_SIZE, "inode core size");
SFS_ASSERT_OFF(struct sfs_disk_inode, csum, 8);
SFS_ASSERT_OFF(struct sfs_disk_inode, ino, 16);
SFS_ASSERT_OFF(struct sfs_disk_inode, size, 48);
SFS_ASSERT_OFF(struct sfs_disk_inode, atime_sec, 64);
SFS_ASSERT_OFF(struct sfs_disk_inode, atime_nsec, 96);
SFS_ASSERT_OFF(struct sfs_disk_inode, rdev_major, 112);
SFS_ASSERT_OFF(struct sfs_disk_inode, xattr_block, 120);
SFS_ASSERT_OFF(struct sfs_disk_inode, version, 136);
SFS_ASSERT_OFF(struct sfs_disk_inode, u, 176);
_Static_assert(sizeof(struct sfs_disk_extent_block) == 80, "extent block header size");
_Static_assert(sizeof(struct sfs_disk_jsb) == 112, "journal superblock size");
_Static_assert(sizeof(struct sfs_disk_xattr_block) == 72, "xattr block header size");
_Static_assert(sizeof(struct sfs_disk_dirent) == SFS_DIRENT_HDR_SIZE, "dirent header size");
SFS_ASSERT_OFF(struct sfs_disk_dirent, rec_len, 8);
SFS_ASSERT_OFF(struct sfs_disk_dirent, key, 12);
_Static_assert(sizeof(struct sfs_disk_dirindex) == 96, "directory index header size");
SFS_ASSERT_OFF(struct sfs_disk_dirindex, parent, 64);
SFS_ASSERT_OFF(struct sfs_disk_dirindex, level, 80);
_Static_assert(sizeof(struct sfs_disk_dirindex_entry) == 16, "directory index entry size");
_Static_assert(sizeof(struct sfs_disk_xattr_entry) == SFS_XATTR_ENTRY_HDR, "xattr entry size");
_Static_assert(sizeof(struct sfs_disk_orphan_block) == 80, "orphan block header size");
_Static_assert(sizeof(struct sfs_disk_orphan_slot) == 24, "orphan slot size");

#endif
