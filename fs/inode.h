/*
 * In-memory inodes and the inode cache.
 *
 * An inode is found by number in the cache (a hash table) or read from its
 * inode table block; its on-disk record is kept decoded in ip->d and
 * written back into the table block, through the journal, by every
 * transaction that changes it (ext4's mark_inode_dirty): the cache never
 * holds changes the journal does not know about, so an unreferenced inode
 * can be dropped at any time.
 *
 * Life of a cached inode (enum sfs_inode_state):
 *   NEW       being read or created; others wait for it to become LIVE
 *   LIVE      usable
 *   FREEING   its last reference went with no link left: its blocks and
 *             record are being freed; a lookup meanwhile gets -ENOENT
 * References: ref counts every user (operations in progress and the front
 * end's holds); at zero a LIVE inode with links goes on the LRU, one
 * without is freed.  A shrinker registered with alloc/ frees LRU inodes.
 *
 * Locks of one inode (order: rwsem -> journal handle -> data_sem ->
 * attr_lock):
 *   rwsem      serialises changes to the file: writes, truncate, setattr,
 *              link counts (the VFS's i_rwsem)
 *   data_sem   the extent tree: root (ip->root) and tree blocks; readers
 *              map blocks, writers change the tree (ext4's i_data_sem)
 *   attr_lock  ip->d while it is read or changed; never held across I/O
 */
#ifndef SFS_INODE_H
#define SFS_INODE_H

#include "fs/es/extent_status.h"
#include "fs/format/inode.h"
#include "fs/super.h"
#include "fs/trans.h"

enum sfs_inode_state {
	SFS_I_NEW,
	SFS_I_LIVE,
	SFS_I_FREEING,
};

struct sfs_inode_info {
	uint64_t ino;
	struct sfs_fs *fs;
	/* under the icache lock */
	int ref;
	enum sfs_inode_state state;
	int holds;                     /* front-end holds (part of ref) */
	struct sfs_inode_info *hnext;  /* hash chain */
	struct sfs_inode_info *lru_prev, *lru_next;   /* may stay while in use (icache.c) */
	bool lru_referenced;           /* used since it went on the LRU: a second chance */

	mc_rwlock_t rwsem;
	mc_rwlock_t data_sem;
	mc_mutex_t attr_lock;

	struct sfs_inode d;            /* the record, host order (d.root: last logged root) */
	uint8_t root[SFS_INODE_INLINE_MAX]; /* live extent root, under data_sem */
	uint64_t itable_blk;           /* where the record lives */
	uint32_t itable_off;
	jnl_tid_t last_tid;            /* last transaction that changed it (fsync) */
	/* Last transaction that changed what reading the data back needs --
	 * the size or the extent tree (fdatasync; ext4's i_datasync_tid) --
	 * and the size that transaction logged. */
	jnl_tid_t data_tid;
	uint64_t logged_size;

	/* preallocation window (prealloc.c), under fs->pa_lock */
	uint64_t pa_pblk;              /* next physical block of the window */
	uint32_t pa_lblk;              /* logical block it is kept for */
	uint32_t pa_len;               /* blocks left; 0 = no window */
	struct sfs_inode_info *pa_prev, *pa_next;   /* fs->pa_list */

	/* extent tree change counter: bumped under data_sem (write) by every
	 * change, so a cache of the tree (issue 9) can tell it is stale */
	uint64_t ext_seq;
	/* in-memory twins of the tree blocks lookups went through, under
	 * data_sem (fs/extent_cache.c, "the index cache" in extent_tree.h) */
	struct sfs_ext_cache *ext_cache;

	/* what is known of each logical range (fs/es/es_map.h): consulted
	 * before the tree, kept exact by the tree's own change functions;
	 * its lock nests inside data_sem */
	struct sfs_es_tree es;

	struct jnl_inode ji;           /* ordered data (issue 10) */
};

static inline bool sfs_inode_is_dir(const struct sfs_inode_info *ip)
{
	return (ip->d.mode & 0170000) == 0040000;
}

/* What a write or a chown does to the set-id bits of a non-directory
 * (Linux's file_remove_privs / chown): S_ISUID goes; S_ISGID goes when
 * group-execute is set (without it the bit means mandatory locking). */
static inline uint16_t sfs_mode_kill_priv(uint16_t mode)
{
	if ((mode & 0170000) == 0040000)
		return mode;
	mode &= (uint16_t)~04000;
	if ((mode & 02010) == 02010)
		mode &= (uint16_t)~02000;
	return mode;
}

int sfs_icache_init(struct sfs_fs *fs);
/* Drop every cached inode; with holds left they are released first (and
 * freed when unlinked). */
void sfs_icache_destroy(struct sfs_fs *fs);
struct sfs_icache_stats {
	uint64_t cached, lru, referenced;
};
void sfs_icache_stats(struct sfs_fs *fs, struct sfs_icache_stats *st);

/* A referenced, LIVE inode: 0, -ENOENT (free or never used), -EUCLEAN
 * (record corrupt), -EIO, -ENOMEM, -EINVAL (not an inode number). */
int sfs_iget(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out);
/* The same under a NOFAIL handle (truncate's orphan record, seed 000):
 * the in-memory inode and the read of its table block cannot fail on
 * ENOMEM (I/O and corruption still can). */
int sfs_iget_nofail(struct sfs_fs *fs, uint64_t ino, struct sfs_inode_info **out);
void sfs_iget_again(struct sfs_inode_info *ip);
/* Drop a reference; the last one of an unlinked inode frees it (its own
 * NOFAIL transactions: never call with a handle open). */
void sfs_iput(struct sfs_inode_info *ip);

/*
 * Allocate and initialise a new inode in @t (SFS_INODE_NEW_CREDITS
 * credits): mode, owner, times now, one link (two for a directory), an
 * empty extent root; generation one more than the slot's last one.
 */
#define SFS_INODE_NEW_CREDITS (SFS_CREDITS_GROUP + 1u)
int sfs_inode_new(struct sfs_trans *t, uint64_t dir_ino, uint32_t mode, uint64_t rdev,
		  uint32_t uid, uint32_t gid, struct sfs_inode_info **out);
/*
 * The inode sfs_inode_new returns is new (the kernel's I_NEW): an iget of
 * its number -- a stale number from a front end, say -- waits until the
 * creator has filled in what the type needs (a directory's first block, a
 * symlink's target) and calls this, still inside its transaction.
 */
void sfs_inode_unlock_new(struct sfs_inode_info *ip);

/* Write access to the inode's table block (phase one of an update). */
int sfs_inode_access(struct sfs_trans *t, struct sfs_inode_info *ip, bool nofail);
/* Encode ip->d into its record and dirty the block (phase two); bumps the
 * change counter and remembers the transaction. */
int sfs_inode_commit(struct sfs_trans *t, struct sfs_inode_info *ip);
/* Both (one credit). */
int sfs_inode_update(struct sfs_trans *t, struct sfs_inode_info *ip);
/* Copy the live extent root into ip->d (data_sem held for writing). */
void sfs_inode_sync_root(struct sfs_inode_info *ip);

/* Free an unlinked inode's blocks and record (ref 0, FREEING). */
int sfs_inode_free(struct sfs_fs *fs, struct sfs_inode_info *ip);

/* Timestamps: set the given ones to now (under attr_lock). */
/* Between inode.c (records) and icache.c (the cache). */
struct sfs_inode_info *sfs_inode_alloc(struct sfs_fs *fs, uint64_t ino, bool nofail);
int sfs_inode_read(struct sfs_fs *fs, struct sfs_inode_info *ip, bool nofail);
int sfs_icache_insert_new(struct sfs_fs *fs, struct sfs_inode_info *ip);
/* Front-end hold (+1) or release (-1) on a referenced inode. */
int sfs_icache_hold(struct sfs_inode_info *ip, int delta);

#define SFS_T_ATIME 0x1u
#define SFS_T_MTIME 0x2u
#define SFS_T_CTIME 0x4u
void sfs_inode_touch(struct sfs_inode_info *ip, unsigned which);

#endif
