/*
 * Extended attributes inside the library: the in-memory set an operation
 * works on (xattr_store.c) and the rules of the public calls (xattr.c).
 */
#ifndef SFS_NS_XATTR_H
#define SFS_NS_XATTR_H

#include "fs/format/xattr.h"
#include "fs/namespace/ns.h"

#define SFS_XATTR_SIZE_MAX 65536u    /* Linux's XATTR_SIZE_MAX */

/* Every attribute of an inode, records pointing into buf. */
struct sfs_xattr_set {
	struct sfs_xattr_rec *v;
	unsigned n, cap;
	unsigned inline_n;           /* the first inline_n came from the inline area */
	uint8_t *buf;
};

int sfs_xattr_load(struct sfs_inode_info *ip, struct sfs_xattr_set *s);
void sfs_xattr_set_free(struct sfs_xattr_set *s);
/* Index of the attribute in the set, or -ENODATA. */
int sfs_xattr_find(const struct sfs_xattr_set *s, unsigned index, const char *name,
		   unsigned len);
/* Add or replace (the record's pointers must outlive the store). */
int sfs_xattr_set_put(struct sfs_xattr_set *s, const struct sfs_xattr_rec *r);
void sfs_xattr_set_del(struct sfs_xattr_set *s, unsigned i);
/* Pack the set into the inline area and the external block, allocating,
 * keeping or freeing the block, in @t: -ENOSPC when it fits in neither.
 * Credits: SFS_XATTR_STORE_CREDITS. */
#define SFS_XATTR_STORE_CREDITS (1u + 1u + SFS_CREDITS_GROUP + 1u + 2u)
int sfs_xattr_store(struct sfs_trans *t, struct sfs_inode_info *ip, const struct sfs_xattr_set *s);

#endif
