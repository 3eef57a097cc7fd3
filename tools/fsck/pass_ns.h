/*
 * The namespace passes of fsck.scopefs, run after pass 2 (which claimed
 * every block a live inode owns) and before pass 3 (bitmaps and counts):
 *
 *   2b orphans  (pass_orphans.c)  the orphan file: its blocks, valid and
 *               stale slots, the ORPHAN flags; claims the xattr blocks
 *               stale slots keep, so pass 3 finds them owned
 *   2c dirs     (pass_dirs.c)     every directory's structure (the
 *               library's own walk, fs/namespace/dir_walk.h), its names
 *               against the inodes they name, "..", link counts and
 *               reachability from the root; what the root does not reach
 *               is reconnected to /lost+found (lost_found.c)
 *   2d xattrs   (pass_xattr.c)    inline areas and external blocks
 *
 * They share a table of what pass 2 found live (struct ns_inode, one per
 * live inode, loaded from the inode tables once).
 */
#ifndef SFS_FSCK_PASS_NS_H
#define SFS_FSCK_PASS_NS_H

#include <stdbool.h>
#include <stdint.h>

#include "fs/format/inode.h"
#include "tools/fsck/fsck.h"
#include "tools/fsck/problem_ns.h"

struct ns_inode {
	uint16_t mode;
	uint8_t live;
	uint8_t orphan_valid;        /* a valid orphan slot records it */
	uint32_t nlink;              /* recorded */
	uint32_t links;              /* names found */
	uint32_t subdirs;            /* directories: names of directories inside */
	uint32_t flags, generation;
	uint32_t inline_xattr_len;
	uint64_t parent;             /* directories: the directory naming it */
	uint64_t dotdot;             /* directories: what ".." says */
	uint64_t xattr_block;
	uint64_t orphan_next;
	uint64_t size;
	uint8_t reach;               /* directories: 0 unknown, 1 walking, 2 reached, 3 not */
	uint8_t dir_ok;              /* directories: walked without damage */
	uint8_t top_seen;            /* reported once as the top of a detached tree */
};

struct ns {
	struct fsck *f;
	struct ns_inode **grp;       /* per group: inodes_per_group entries, or NULL */
	bool dirs_damaged;           /* some directory could not be walked */
	uint64_t lost_found;         /* /lost+found once found or made, else 0 */
	int lost_found_err;          /* why it cannot be used (reported once) */
};

/* The entry of a live inode, NULL otherwise. */
struct ns_inode *ns_get(struct ns *ns, uint64_t ino);
/* Rewrite inode @ino's record after @edit changed its decoded copy (the
 * inline area is the record's raw bytes past the core, editable too). */
int ns_edit_inode(struct ns *ns, uint64_t ino,
		  void (*edit)(struct sfs_inode *in, uint8_t *raw, void *arg), void *arg);

/*
 * Give inode @ino, which has no name (or, a directory, is named only
 * inside a cycle the root does not reach), the name "#<ino>" in
 * /lost+found, finding or making that first (lost_found.c).  A directory's
 * ".." and the link counts that change with it follow; the table is kept
 * in step.  0 or -errno (a lost+found that cannot be used is reported
 * once, on its own line).
 */
int ns_reconnect(struct ns *ns, uint64_t ino, struct ns_inode *e);

struct sfs_raw_dir;
/* Rewrite entry block @lblk of @d with the records of it that are each
 * valid and hold keys in [@lo, @hi) (dir_salvage.c); @linear: block 0 of
 * a linear directory ("." and ".." re-made).  0, -ENOENT, -EIO, -ENOMEM. */
int fsck_dir_salvage(struct sfs_raw_dir *d, uint32_t lblk, bool linear, uint64_t lo, uint64_t hi);
int fsck_pass_orphans(struct ns *ns);
int fsck_pass_dirs(struct ns *ns);
int fsck_pass_xattr(struct ns *ns);
/* All of them; 0, or negative after a fatal error (fsck_fatal). */
int fsck_pass_namespace(struct fsck *f);

#endif
