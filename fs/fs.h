/*
 * The scopefs library API: the one header front ends call (the FUSE daemon,
 * scopefs-db, the crash harness, tests).
 *
 * Shape (a FUSE low-level server's): every operation names its object by
 * inode number; lookup counting stays in the front end, which tells the
 * library when the kernel holds an inode (sfs_inode_hold) and when it has
 * forgotten it (sfs_inode_release); errors are negative errno with Linux's
 * meanings (-ENOENT, -ENOSPC, -EROFS, -EFBIG, -EIO, -EUCLEAN for metadata
 * found corrupt, -ENOMEM).  Each call is one library operation for alloc/'s
 * open-coded-retry detector (mc_op_begin/mc_op_end).  All calls may block
 * (device I/O, journal space, memory); none may be made from a shrinker or
 * an I/O completion.
 *
 * What the library does and what the front end does:
 *  - Permission checks (who may chmod, chown, write, set times) are the
 *    front end's: FUSE's default_permissions makes the kernel do them.
 *  - The mode side effects Linux applies are the library's: chown clears
 *    S_ISUID, and S_ISGID when group-execute is set (a non-directory);
 *    chmod by a caller outside the file's group without privilege drops
 *    S_ISGID; a write with SFS_WRITE_KILL_PRIV (FUSE_WRITE_KILL_SUIDGID, or
 *    any write by a caller without CAP_FSETID when the front end handles
 *    killpriv) clears S_ISUID and group-executable S_ISGID.
 *  - Data I/O goes through the library's write-behind page cache
 *    (fs/pagecache/pagecache.h): sfs_write returns once the data is in
 *    the cache (blocks reserved, allocated at writeback); it is durable
 *    after sfs_fsync, sfs_fs_sync or sfs_fs_commit (which write it back).
 *
 * Names of the other headers a front end may need: fs/block/bdev.h for the
 * block-layer option string carried in sfs_mount_opts.bdev.
 */
#ifndef SFS_FS_H
#define SFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct sfs_bdev;

struct sfs_fs;

/* ---- mounting ------------------------------------------------------- */

/* ORDERED: data of newly allocated blocks reaches the device before the
 * commit that maps them.  WRITEBACK (data=writeback): no such ordering --
 * UNSAFE: after a crash a file may show stale data (whatever a freed
 * block held before) where its new data had not been written yet; the
 * crash harness's data-unsafe workload shows it. */
enum sfs_data_mode { SFS_DATA_ORDERED = 0, SFS_DATA_WRITEBACK };

struct sfs_mount_opts {
	bool read_only;
	char bdev[512];               /* block-layer options (bdev.h), e.g. "wlog=/x,cache=buffered" */
	size_t cache_bytes;           /* buffer cache soft cap; 0 = shrinker only */
	uint32_t commit_ms;           /* journal commit interval; 0 = 5000 */
	enum sfs_data_mode data;
	unsigned extent_fanout;       /* debug: entries per extent node at most this (>= 3); 0 = full */
	size_t inode_cache;           /* unreferenced inodes kept at most; 0 = shrinker only */
	uint32_t prealloc_max;        /* per-inode preallocation window cap in blocks; 0 = 512 */
	bool no_prealloc;             /* no preallocation windows */
	int errors;                   /* 1 continue, 2 read-only, 3 shut down; 0 = superblock's */
};

/*
 * Parse "ro,commit=1000,fanout=4,cache=64M,icache=10000,prealloc=256,
 * noprealloc,data=writeback,errors=remount-ro,bdev=KEY=V:KEY=V" into @o
 * (keys not named keep their value; bdev options use ':' between them
 * because ',' separates ours).  -EINVAL with a message in @err.
 */
void sfs_mount_opts_default(struct sfs_mount_opts *o);
int sfs_mount_opts_parse(struct sfs_mount_opts *o, const char *s, char *err, size_t errlen);

/*
 * Mount the filesystem in the image at @path: open the device, take the
 * image lock, check the superblock and descriptors, open the journal
 * (replaying it after a crash), load the allocator state.  A read-write
 * mount needs a journal.  0 and *out, or -errno with one sentence in @msg.
 */
int sfs_fs_mount(const char *path, const struct sfs_mount_opts *o, struct sfs_fs **out,
		 char *msg, size_t msglen);
/*
 * Release every inode, commit and checkpoint the journal, write the
 * superblock clean.  Inodes still held by the front end are released
 * (and freed when unlinked).  Returns the first error met (the
 * filesystem is gone either way).
 */
int sfs_fs_unmount(struct sfs_fs *fs);
/* Write back all dirty data, commit everything and write it home (syncfs). */
int sfs_fs_sync(struct sfs_fs *fs);
/* Write back all dirty data, commit the running transaction and wait
 * (cheaper than sync: nothing is checkpointed). */
int sfs_fs_commit(struct sfs_fs *fs);

struct sfs_statfs {
	uint32_t block_size;
	uint64_t blocks;              /* data blocks (group data areas) */
	uint64_t bfree;               /* free, reserved ones included */
	uint64_t bavail;              /* free to unprivileged users */
	uint64_t files, ffree;        /* inodes */
	uint32_t namemax;
};
int sfs_fs_statfs(struct sfs_fs *fs, struct sfs_statfs *st);
/* The device under the mount (crash harness: sfs_bdev_log_mark after an
 * acknowledged durable point, sfs_bdev_stats, sfs_bdev_power_cut). */
struct sfs_bdev *sfs_fs_bdev(struct sfs_fs *fs);
/* Statistics of every layer (allocator, inodes, extents, buffer cache,
 * journal): text for people, or JSON. */
void sfs_fs_print_stats(struct sfs_fs *fs, FILE *f, int json);

/* ---- inodes ----------------------------------------------------------- */

struct sfs_cred {
	uint32_t uid, gid;
	const uint32_t *groups;       /* supplementary groups */
	unsigned ngroups;
	bool privileged;              /* CAP_FSETID / CAP_CHOWN / CAP_SYS_RESOURCE: root reserve, suid rules */
};

struct sfs_attr {
	uint64_t ino;
	uint32_t generation;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid, gid;
	uint64_t rdev;                /* makedev(major, minor) */
	uint64_t size;
	uint64_t blocks;              /* 512-byte units, as st_blocks */
	uint32_t blksize;
	struct timespec atime, mtime, ctime, btime;
	uint32_t flags;               /* FS_*_FL */
};

int sfs_getattr(struct sfs_fs *fs, uint64_t ino, struct sfs_attr *out);

/* sfs_setattr valid bits. */
#define SFS_SET_MODE       0x0001u
#define SFS_SET_UID        0x0002u
#define SFS_SET_GID        0x0004u
#define SFS_SET_SIZE       0x0008u
#define SFS_SET_ATIME      0x0010u
#define SFS_SET_MTIME      0x0020u
#define SFS_SET_ATIME_NOW  0x0040u
#define SFS_SET_MTIME_NOW  0x0080u
#define SFS_SET_CTIME      0x0100u   /* explicit ctime (FUSE_SET_ATTR_CTIME) */
#define SFS_SET_FLAGS      0x0200u   /* FS_IOC_SETFLAGS user flags */
#define SFS_SET_KILL_PRIV  0x0400u   /* clear suid/sgid as a write would (ATTR_KILL_SUIDGID) */

struct sfs_setattr {
	unsigned valid;
	uint32_t mode;                /* permission bits (and suid/sgid/sticky) */
	uint32_t uid, gid;
	uint64_t size;
	struct timespec atime, mtime, ctime;
	uint32_t flags;
};
/* ctime is set to now by any change (unless SFS_SET_CTIME gives it).  A
 * size change truncates (cannot fail part-way on ENOMEM) or extends with
 * a hole.  -EPERM on an immutable or append-only inode for what Linux
 * refuses there.  @out may be NULL. */
int sfs_setattr(struct sfs_fs *fs, uint64_t ino, const struct sfs_setattr *sa,
		const struct sfs_cred *cr, struct sfs_attr *out);

/*
 * Create an inode of @mode (S_IFREG, S_IFDIR, ...; @rdev for devices) near
 * @dir_ino (its group is the allocation goal), owned by the caller (the
 * directory's gid and S_ISGID for directories when the directory has
 * S_ISGID), with one link (two for a directory) and no name: the namespace
 * (issue 8) links it.  -ENOSPC when no inode or block is left.
 */
int sfs_inode_create(struct sfs_fs *fs, uint64_t dir_ino, uint32_t mode, uint64_t rdev,
		     const struct sfs_cred *cr, struct sfs_attr *out);
/* Link count changes (the namespace's link/unlink/rename); an inode whose
 * count reaches zero is freed when nobody holds it any more. */
int sfs_inode_link(struct sfs_fs *fs, uint64_t ino);
int sfs_inode_unlink(struct sfs_fs *fs, uint64_t ino);
/* The front end keeps an inode (kernel lookup count went 0 -> 1) / forgets
 * it (-> 0).  Holds are counted. */
int sfs_inode_hold(struct sfs_fs *fs, uint64_t ino);
int sfs_inode_release(struct sfs_fs *fs, uint64_t ino);

/* ---- file data -------------------------------------------------------- */

/* Bytes read (short at end of file), or -errno.  Holes and unwritten
 * (preallocated) ranges read as zeros. */
ssize_t sfs_read(struct sfs_fs *fs, uint64_t ino, void *buf, size_t len, uint64_t off);

#define SFS_WRITE_KILL_PRIV 0x1u   /* clear suid / group-exec sgid (see above) */
#define SFS_WRITE_SYNC      0x2u   /* O_SYNC / O_DSYNC: commit before returning */
/* Into the page cache: blocks for the holes it covers are reserved now
 * (-ENOSPC here, never at writeback), allocated and written by writeback
 * (ordered mode: before the transaction mapping them commits); the size
 * and times are logged now.  SFS_WRITE_SYNC writes back and commits
 * before returning.  Returns bytes written (short when space ran out
 * part-way) or -errno (-ENOSPC, -EFBIG past the largest file). */
ssize_t sfs_write(struct sfs_fs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off,
		  unsigned flags, const struct sfs_cred *cr);

/* fallocate(2) modes, Linux's values and rules (falloc.c has the errors):
 * none / KEEP_SIZE: allocate [off, off + len) as unwritten extents (reads
 * as zeros), growing the size unless KEEP_SIZE; PUNCH_HOLE (needs
 * KEEP_SIZE): unmap, size unchanged; ZERO_RANGE (+ KEEP_SIZE): reads as
 * zeros, blocks allocated; COLLAPSE_RANGE / INSERT_RANGE (alone, whole
 * blocks; FUSE cannot carry them): remove / open a gap of len bytes at
 * off, moving what follows, the size following.  None of them but
 * truncate is guaranteed against ENOMEM: -ENOMEM leaves the file
 * consistent (each step whole; punch and collapse may have done part). */
#define SFS_FALLOC_KEEP_SIZE      0x01u
#define SFS_FALLOC_PUNCH_HOLE     0x02u
#define SFS_FALLOC_COLLAPSE_RANGE 0x08u
#define SFS_FALLOC_ZERO_RANGE     0x10u
#define SFS_FALLOC_INSERT_RANGE   0x20u
int sfs_fallocate(struct sfs_fs *fs, uint64_t ino, unsigned mode, uint64_t off, uint64_t len,
		  const struct sfs_cred *cr);
/* Remove (unmap) the whole blocks of [off, off + len), zeroing the partial
 * blocks at the ends; the size is unchanged.  Works on a full filesystem
 * (splitting an extent may use the reserve). */
int sfs_remove_range(struct sfs_fs *fs, uint64_t ino, uint64_t off, uint64_t len);
/* lseek(2)'s SEEK_DATA / SEEK_HOLE from byte @off: *out gets the offset
 * of the next written data / hole (the end of the file is one).  -ENXIO
 * when @off is at or past the end, or no data follows.  Unwritten
 * (preallocated) ranges are holes here (no page cache yet). */
#define SFS_SEEK_DATA 3
#define SFS_SEEK_HOLE 4
int sfs_lseek_data_hole(struct sfs_fs *fs, uint64_t ino, uint64_t off, int whence,
			uint64_t *out);
/* Durable: the file's dirty pages are written back and waited for, then
 * what the inode needs is committed and the device flushed.  @datasync
 * (fdatasync) skips the commit when only timestamps changed. */
int sfs_fsync(struct sfs_fs *fs, uint64_t ino, bool datasync);

/* One mapped range of a file, in blocks (FIEMAP cannot cross FUSE). */
#define SFS_MAP_UNWRITTEN 0x1u
struct sfs_map {
	uint64_t lblk;                /* first logical block */
	uint64_t pblk;                /* first physical block */
	uint32_t len;                 /* blocks */
	uint32_t flags;               /* SFS_MAP_* */
};
/* Up to @max extents covering [lblk, lblk + count), in order; *n gets the
 * number written.  0 or -errno. */
int sfs_extent_map(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count,
		   struct sfs_map *out, unsigned max, unsigned *n);

/* ---- block-level operations (tools, crash harness, tests) ------------- */

/* Allocate blocks [lblk, lblk + count) of a file: unwritten extents
 * (@unwritten) or written ones holding whatever the device had (the tools'
 * raw mode: no data is written).  Holes only; mapped blocks are kept. */
int sfs_alloc_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count,
		    bool unwritten);
/* Unmap blocks [lblk, lblk + count) and free them (deferred until commit). */
int sfs_unmap_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count);
/* Mark blocks [lblk, lblk + count) written (unwritten -> written). */
int sfs_convert_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count);

/* Depth of the inode's extent tree and its tree node count; -errno. */
int sfs_extent_depth(struct sfs_fs *fs, uint64_t ino, unsigned *depth, uint64_t *nodes);
/* Walk the whole tree and check every invariant (order, overlap, depth,
 * index keys, owners, checksums, block count).  0, or -EUCLEAN with the
 * first violation in @why. */
int sfs_extent_verify(struct sfs_fs *fs, uint64_t ino, char *why, size_t whylen);

#endif
