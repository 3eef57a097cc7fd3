/*
 * Checking a directory's whole structure: the one copy of the directory
 * rules, shared by the library (sfs_dir_check, blocks from the buffer
 * cache) and fsck (blocks read raw from the image).  The caller supplies
 * the blocks; the walk says what is wrong with them.
 *
 * Rules: logical block 0 is either a linear directory's only entry block
 * ("." naming the directory itself at byte 64 and ".." at byte 88, then
 * names) or the root index node; index nodes sit at the level their parent
 * expects, each child is a block of the directory referenced exactly once,
 * and every key lies in the range its parent gives the child; entry blocks
 * below an index hold names only; no two records share a key or a name;
 * the root counts the names exactly; every block of the directory is
 * reached.  Block self-description (magic, owner, checksum, record
 * structure, keys matching names) is the verifiers' job, which @get runs.
 */
#ifndef SFS_NS_DIR_WALK_H
#define SFS_NS_DIR_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "fs/format/mount.h"
#include "fs/namespace/dir.h"

struct sfs_dir_walk_ops {
	/* Directory block @lblk, verified: 0 and *data (valid until @put), or
	 * -errno (-EUCLEAN with the reason in sfs_verify_reason()). */
	int (*get)(void *ctx, uint32_t lblk, const void **data, void **cookie);
	void (*put)(void *ctx, void *cookie);
	/* Every name ("." and ".." excluded) and the block it is in; a
	 * non-zero return stops the walk with that value.  May be NULL. */
	int (*name)(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		    uint32_t lblk);
};

struct sfs_dir_walk {
	/* in */
	const struct sfs_sb_info *sbi;
	uint64_t ino;
	uint32_t nblocks;            /* the directory's size in blocks */
	const struct sfs_dir_walk_ops *ops;
	void *ctx;
	/* out */
	uint64_t parent;             /* what ".." names */
	uint64_t names;              /* names found */
	uint64_t names_recorded;     /* what the root says (= names when linear) */
	unsigned depth;              /* index levels, 0 = linear */
	uint32_t bad_lblk;           /* where the first violation is */
	/* What the walk wanted bad_lblk to be, when the violation is inside
	 * that block (so a repair of the block alone may cure it): */
	enum sfs_dir_expect {
		SFS_DIR_EXPECT_NONE,     /* not known: the fault is not the block's */
		SFS_DIR_EXPECT_BLOCK0,   /* block 0: a linear block or the root */
		SFS_DIR_EXPECT_INDEX,
		SFS_DIR_EXPECT_LEAF,     /* an entry block below an index */
	} bad_expect;
	uint64_t bad_lo, bad_hi;     /* the keys a LEAF may hold */
	char why[256];
};

/* 0: the structure is sound (names_recorded may still differ from names:
 * the one repair fsck makes on its own); -EUCLEAN with w->why; or the
 * error @get or @name returned. */
int sfs_dir_walk(struct sfs_dir_walk *w);

#endif
