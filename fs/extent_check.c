/*
 * The extent tree checker: every invariant of extent_tree.h, at every
 * depth, on the tree as the library sees it (cached blocks included, their
 * checksums recomputed).  The model-based tests run it after every step;
 * scopefs-db and the library's sfs_extent_verify() expose it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/extent_tree.h"
#include "fs/format/hdr.h"
#include "fs/format/verify.h"

struct check {
	struct sfs_inode_info *ip;
	struct sfs_ext_stats *st;
	char *why;
	size_t len;
	uint64_t next_lblk;          /* extents must start at or after this */
	bool seen_extent;
};

static int bad(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int bad(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why && c->len) {
		va_start(ap, fmt);
		vsnprintf(c->why, c->len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

static int check_node(struct check *c, const uint8_t *node, unsigned expect_depth, bool is_root,
		      uint64_t blk, uint64_t lo, uint64_t hi)
{
	struct sfs_fs *fs = c->ip->fs;
	const struct sfs_geo *g = &fs->sbi->geo;
	struct sfs_extent_header h;
	unsigned cap;
	int ret;

	sfs_extent_header_decode(&h, node);
	cap = is_root ? SFS_EXTENT_ROOT_ENTRIES : sfs_extent_block_capacity(g->block_size);
	if (h.magic != SFS_EXTENT_HDR_MAGIC)
		return bad(c, "node %llu: magic 0x%04x", (unsigned long long)blk, h.magic);
	if (h.max != cap)
		return bad(c, "node %llu: capacity %u, expected %u", (unsigned long long)blk, h.max, cap);
	if (h.entries > sfs_ext_cap(fs, cap))
		return bad(c, "node %llu: %u entries, at most %u", (unsigned long long)blk, h.entries,
			   sfs_ext_cap(fs, cap));
	if (h.depth != expect_depth)
		return bad(c, "node %llu: depth %u, expected %u", (unsigned long long)blk, h.depth,
			   expect_depth);
	if (!h.entries && (!is_root || h.depth))
		return bad(c, "node %llu: empty", (unsigned long long)blk);
	for (unsigned i = 0; i < h.entries; i++) {
		if (h.depth == 0) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			if (!e.len || e.len > SFS_MAX_EXTENT_LEN || (e.flags & ~SFS_EXTENT_FL_UNWRITTEN))
				return bad(c, "node %llu entry %u: length %u flags 0x%x",
					   (unsigned long long)blk, i, e.len, e.flags);
			if (e.lblk < c->next_lblk || (c->seen_extent && e.lblk < c->next_lblk))
				return bad(c, "node %llu entry %u: extent at %u overlaps or is out of order "
					   "(previous ends at %llu)", (unsigned long long)blk, i, e.lblk,
					   (unsigned long long)c->next_lblk);
			if (e.lblk < lo || sfs_ext_end(&e) > hi)
				return bad(c, "node %llu entry %u: extent %u+%u outside its parent's range "
					   "%llu..%llu", (unsigned long long)blk, i, e.lblk, e.len,
					   (unsigned long long)lo, (unsigned long long)hi);
			if (e.pblk < g->first_data_block || e.pblk + e.len > g->backup_gdt_start ||
			    sfs_geo_is_fixed_metadata(g, e.pblk) ||
			    sfs_geo_is_fixed_metadata(g, e.pblk + e.len - 1))
				return bad(c, "node %llu entry %u: blocks %llu+%u are not data blocks",
					   (unsigned long long)blk, i, (unsigned long long)e.pblk, e.len);
			c->next_lblk = sfs_ext_end(&e);
			c->seen_extent = true;
			c->st->extents++;
			c->st->blocks += e.len;
			if (sfs_ext_unwritten(&e))
				c->st->unwritten += e.len;
		} else {
			struct sfs_extent_idx x, nx;
			uint64_t chi = hi;
			struct sfs_buf *bh;
			struct sfs_hdr hdr;
			const uint8_t *child;
			uint32_t first;

			sfs_extent_idx_get(&x, node, i);
			if (i + 1 < h.entries) {
				sfs_extent_idx_get(&nx, node, i + 1);
				if (nx.lblk <= x.lblk)
					return bad(c, "node %llu: index keys %u, %u not increasing",
						   (unsigned long long)blk, x.lblk, nx.lblk);
				chi = nx.lblk;
			}
			if (x.lblk < lo || x.lblk >= hi)
				return bad(c, "node %llu index %u: key %u outside %llu..%llu",
					   (unsigned long long)blk, i, x.lblk, (unsigned long long)lo,
					   (unsigned long long)hi);
			ret = sfs_buf_read(fs->bc, x.child, &sfs_extent_buf_ops, 0, &bh);
			if (ret)
				return bad(c, "node %llu index %u: child %llu unreadable: %s",
					   (unsigned long long)blk, i, (unsigned long long)x.child,
					   ret == -EIO ? "I/O error" : sfs_verify_reason());
			/* Cached blocks were verified when read: check what they
			 * hold now, checksum included. */
			ret = sfs_extent_block_verify(bh->data, bh->size, x.child, fs->sbi);
			sfs_hdr_decode(&hdr, bh->data);
			if (ret || hdr.owner != c->ip->ino) {
				sfs_buf_release(bh);
				return bad(c, "child %llu: %s", (unsigned long long)x.child,
					   ret ? sfs_verify_reason() : "owned by another inode");
			}
			child = (const uint8_t *)bh->data + SFS_HDR_SIZE;
			{
				struct sfs_ext_level cl = { .node = (uint8_t *)child };

				sfs_ext_level_load(fs, &cl);
				first = sfs_ext_level_key(&cl, h.depth - 1);
			}
			if (first != x.lblk) {
				sfs_buf_release(bh);
				return bad(c, "node %llu index %u: key %u but child %llu starts at %u",
					   (unsigned long long)blk, i, x.lblk,
					   (unsigned long long)x.child, first);
			}
			c->st->nodes++;
			ret = check_node(c, child, h.depth - 1, false, x.child, x.lblk, chi);
			sfs_buf_release(bh);
			if (ret)
				return ret;
		}
	}
	return 0;
}

int sfs_ext_check(struct sfs_inode_info *ip, struct sfs_ext_stats *st, char *why, size_t len)
{
	struct sfs_ext_stats local;
	struct check c = { .ip = ip, .st = st ? st : &local, .why = why, .len = len };
	uint64_t want;
	int ret;

	memset(c.st, 0, sizeof(*c.st));
	if (why && len)
		why[0] = 0;
	c.st->depth = sfs_ext_depth(ip);
	if (c.st->depth > SFS_EXT_MAX_DEPTH)
		return bad(&c, "root depth %u", c.st->depth);
	ret = check_node(&c, ip->root, c.st->depth, true, 0, 0, SFS_EXT_LBLK_END);
	if (ret)
		return ret;
	if (memcmp(ip->root, ip->d.root, sizeof(ip->root)))
		return bad(&c, "live root differs from the inode's copy");
	mc_mutex_lock(&ip->attr_lock);
	want = c.st->blocks + c.st->nodes + (ip->d.xattr_block ? 1 : 0);
	ret = ip->d.blocks == want ? 0 : bad(&c, "inode block count %llu, tree holds %llu",
					      (unsigned long long)ip->d.blocks,
					      (unsigned long long)want);
	mc_mutex_unlock(&ip->attr_lock);
	return ret;
}
