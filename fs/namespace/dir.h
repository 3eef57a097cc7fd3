/*
 * Directories inside the library: the indexed entry store the namespace
 * operations are built on (fs/format/dir.h has the blocks, ondisk.h the
 * key scheme).
 *
 * Shape.  Logical block 0 starts as one entry block holding ".", ".." and
 * the names (ext4's linear directory).  When it is full it becomes the root
 * of a B+tree: its names move to a new entry block, and block 0 turns into
 * an index node that names the parent and counts the names.  An entry
 * block that fills up is split at a hash boundary into a new block appended
 * to the directory, and the split key goes into its parent index node; a
 * full index node splits the same way, and a full root moves its entries
 * into a new node one level down (the tree grows at the root, up to
 * SFS_DIR_MAX_LEVELS index levels).  Blocks are never freed while the
 * directory lives (as ext4); rmdir frees them all (sfs_dir_release).
 *
 * Every lookup, insert and delete reads one block per level: O(log n).
 *
 * Failure atomicity (trans.h's two-phase rule).  Room for a name is made
 * first, in transactions of its own (sfs_dir_make_room: each split a
 * complete consistent step).  The insertion is then prepared inside the
 * operation's transaction (sfs_dir_prepare_add): it finds the entry block,
 * checks the name is new and takes write access to what the insertion will
 * change; only then does the caller create the inode, and
 * sfs_dir_commit_add writes the record, which cannot fail but on I/O.  A
 * prepared insertion that is not wanted any more is dropped with
 * sfs_dir_abort_add (splits already made stay: they are harmless).
 *
 * Locking: the caller holds the directory's rwsem -- for reading to look
 * up or iterate, for writing to change anything -- so one thread at a time
 * changes a directory's blocks and readers never see a change half made.
 * Changes run under a handle (the journal copies blocks as they are, so a
 * block is changed under its buffer lock between write access and dirty).
 */
#ifndef SFS_NS_DIR_H
#define SFS_NS_DIR_H

#include "fs/format/dir.h"
#include "fs/format/hdr.h"
#include "fs/inode.h"
#include "fs/trans.h"

struct sfs_dir_entry {
	uint64_t ino;
	unsigned ftype;              /* SFS_FT_* */
	uint64_t key;                /* the record's key: its readdir cookie */
};

/* An insertion made ready by sfs_dir_prepare_add. */
struct sfs_dir_slot {
	struct sfs_buf *leaf;        /* entry block with room, write access taken */
	struct sfs_buf *root;        /* block 0 when indexed (names count), write access taken */
	uint64_t key;
	uint32_t offset;             /* of the record (change and remove) */
	const char *name;
	unsigned len;
};

/* A path from the root to an entry block (dir_index.c). */
struct sfs_dir_path {
	unsigned depth;              /* index levels; 0: block 0 is the only entry block */
	struct {
		struct sfs_buf *bh;
		uint32_t lblk;
		unsigned pos;        /* entry followed */
	} lv[SFS_DIR_MAX_LEVELS];
	struct sfs_buf *leaf;
	uint32_t leaf_lblk;
};

/* ---- reading and finding ---- */

/* @name (@len bytes, checked by the caller) in @dir: 0 and *e, or -ENOENT. */
int sfs_dir_lookup(struct sfs_inode_info *dir, const char *name, unsigned len,
		   struct sfs_dir_entry *e);
/* The parent named by ".." (the root index node's parent when indexed). */
int sfs_dir_parent(struct sfs_inode_info *dir, uint64_t *parent);
/* 1 if the directory holds nothing but "." and "..", 0 if it holds names. */
int sfs_dir_empty(struct sfs_inode_info *dir);

/* Call @fn for every name with key >= @pos in key order ("." and ".."
 * included, keys 1 and 2); @fn returns non-zero to stop, and that value is
 * returned.  Names added or removed between calls never make a name that
 * stayed be seen twice or skipped. */
typedef int (*sfs_dir_iter_fn)(void *arg, const struct sfs_dir_entry *e, const char *name,
			       unsigned len);
int sfs_dir_iterate(struct sfs_inode_info *dir, uint64_t pos, sfs_dir_iter_fn fn, void *arg);

/* ---- changing ---- */

/* Make sure the entry block where @name belongs has room for it,
 * splitting blocks (and growing the tree) in transactions of their own:
 * each split is a consistent state, and the operation that then adds the
 * name needs no credits for splits.  Call with the rwsem held for
 * writing, without a handle.  0 also when the name exists (the operation
 * reports that). */
int sfs_dir_make_room(struct sfs_fs *fs, struct sfs_inode_info *dir, const char *name,
		      unsigned len);
/* Credits of one insertion or removal once room is made (the entry block,
 * the root's names count, the directory's inode). */
#define SFS_DIR_CHANGE_CREDITS 3u
/* Credits of one step of sfs_dir_make_room. */
unsigned sfs_dir_room_credits(struct sfs_inode_info *dir);
/* Credits of sfs_dir_init. */
unsigned sfs_dir_init_credits(struct sfs_inode_info *dir);

int sfs_dir_prepare_add(struct sfs_trans *t, struct sfs_inode_info *dir, const char *name,
			unsigned len, struct sfs_dir_slot *s);
int sfs_dir_commit_add(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s,
		       uint64_t ino, unsigned ftype);
/* Prepare removing or re-pointing the existing @name (write access to its
 * entry block and the root); *e (may be NULL) gets what it names.
 * -ENOENT.  Then one of: */
int sfs_dir_prepare_change(struct sfs_trans *t, struct sfs_inode_info *dir, const char *name,
			   unsigned len, struct sfs_dir_slot *s, struct sfs_dir_entry *e);
/* ... remove the name; */
int sfs_dir_commit_remove(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s);
/* ... point it at another inode (rename over a name, the two halves of an
 * exchange): the record keeps its key; */
int sfs_dir_commit_replace(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s,
			   uint64_t ino, unsigned ftype);
/* ... or drop the preparation (also for sfs_dir_prepare_add). */
void sfs_dir_abort_add(struct sfs_dir_slot *s);
/* A new directory's first block: "." and ".." (mkdir; the directory's
 * inode must be in the transaction). */
int sfs_dir_init(struct sfs_trans *t, struct sfs_inode_info *dir, uint64_t parent);
/* Make ".." name @parent (a directory moved by rename), in two phases:
 * write access to the block naming it, then the change. */
int sfs_dir_prepare_parent(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_buf **bh);
int sfs_dir_commit_parent(struct sfs_trans *t, struct sfs_buf *bh, uint64_t parent);

/*
 * Free every block of a directory that lost its last link, in NOFAIL
 * transactions of their own, revoking each (they were journaled: an older
 * logged copy must never be replayed over the block's next owner).  The
 * inode must be on the orphan list, so a crash in between is finished at
 * the next mount.  Takes no lock but data_sem; call without a handle.
 */
int sfs_dir_release(struct sfs_fs *fs, struct sfs_inode_info *dir);

/* Walk the whole directory and check every rule of the format: node types
 * and levels, owners, keys inside their node's range, names matching their
 * keys, no duplicate key or name, "." and "..", the names count.  0 or
 * -EUCLEAN with the first violation in @why.  *names gets the names found.
 * Caller holds the rwsem. */
int sfs_dir_check(struct sfs_inode_info *dir, uint64_t *names, char *why, size_t whylen);

/* ---- shared by the dir_*.c files ---- */

/* Debug caps on entries per index node and names per entry block (0 = the
 * block's capacity), so that deep trees appear with few names in tests. */
extern unsigned sfs_dir_debug_index_cap, sfs_dir_debug_leaf_cap;

/* Read directory block @lblk (owner checked, verified); -EUCLEAN for a hole
 * or a block of another owner. */
int sfs_dir_bread(struct sfs_inode_info *dir, uint32_t lblk, bool nofail, struct sfs_buf **out);
/* Append a block to the directory in @t: mapped, a zeroed buffer with
 * write access, the size grown.  The caller fills it and dirties it. */
int sfs_dir_bnew(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_buf **out,
		 uint32_t *lblk);
/* Change a block: lock it, and after the change dirty and unlock it. */
static inline void sfs_dir_begin(struct sfs_buf *bh)
{
	sfs_buf_lock(bh);
}
int sfs_dir_end(struct sfs_trans *t, struct sfs_buf *bh);
int sfs_dir_corrupt(struct sfs_inode_info *dir, uint64_t blk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
uint64_t sfs_dir_seed(const struct sfs_inode_info *dir);

/* Paths (dir_index.c). */
int sfs_dir_descend(struct sfs_inode_info *dir, uint64_t key, struct sfs_dir_path *p);
void sfs_dir_path_release(struct sfs_dir_path *p);
/* Make room for a split below level @i of @p: split that node (or grow the
 * tree at the root).  The caller descends again afterwards. */
int sfs_dir_index_make_room(struct sfs_trans *t, struct sfs_inode_info *dir,
			    struct sfs_dir_path *p, unsigned i);
/* Insert (key, lblk) after position lv[i].pos of node @i (it has room). */
int sfs_dir_index_insert(struct sfs_trans *t, struct sfs_dir_path *p, unsigned i, uint64_t key,
			 uint32_t lblk);
/* Turn a linear directory (depth 0) into an indexed one. */
int sfs_dir_convert(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_path *p);
unsigned sfs_dir_index_cap(uint32_t block_size);

/* Entry block records (dir_leaf.c). */
int sfs_dir_leaf_find(const void *blk, size_t len, uint64_t hash, const char *name,
		      unsigned nlen, struct sfs_dirent *de);
/* Lowest sequence number free under @hash, -ENOSPC if none. */
int sfs_dir_leaf_seq(const void *blk, size_t len, uint64_t hash);
/* Room for a record of @nlen bytes (compacting if that helps) within the
 * debug cap: true if sfs_dir_leaf_insert will succeed. */
bool sfs_dir_leaf_has_room(const void *blk, size_t len, unsigned nlen);
int sfs_dir_leaf_insert(void *blk, size_t len, uint64_t ino, uint64_t key, const char *name,
			unsigned nlen, unsigned ftype);
/* Remove the record at @offset (merged into the one before it). */
void sfs_dir_leaf_remove(void *blk, size_t len, uint32_t offset);
unsigned sfs_dir_leaf_count(const void *blk, size_t len);
/* Where a full block splits: a hash boundary near the middle of its
 * records; -ENOSPC if every record shares one hash, -ENOMEM. */
int sfs_dir_leaf_split_key(const void *blk, size_t len, uint64_t *split_key);
/* Move the records with keys >= @split_key from @src into the empty @dst. */
void sfs_dir_leaf_split_at(void *src, void *dst, size_t len, uint64_t split_key);
/* The live records of a block sorted by key (names and dots), for
 * iteration: up to @max, returns the count. */
struct sfs_dir_sorted {
	uint64_t key;
	uint32_t offset;
};
unsigned sfs_dir_leaf_sorted(const void *blk, size_t len, struct sfs_dir_sorted *out,
			     unsigned max);

#endif
