/*
 * Pass 2d: extended attributes.  Pass 2 verified each external block
 * (self-description, reference count 1, record structure); this pass
 * checks the inline areas, that a block belongs to its inode, and that no
 * attribute is stored twice.
 */
#include <errno.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/pass_ns.h"

struct inline_fix {
	uint32_t keep;               /* bytes of good records */
	uint32_t area;               /* capacity of the area */
};

static void cut_inline(struct sfs_inode *in, uint8_t *raw, void *arg)
{
	const struct inline_fix *x = arg;

	memset(raw + SFS_INODE_CORE_SIZE + x->keep, 0, x->area - x->keep);
	in->inline_xattr_len = x->keep;
}

/* The records of an area up to the first bad one: bytes kept. */
static uint32_t good_prefix(const uint8_t *area, uint32_t len)
{
	struct sfs_xattr_rec r;
	uint32_t off = 0, good = 0;

	while (sfs_xattr_next(area, len, &off, &r) > 0)
		good = off;
	return good;
}

static bool dups(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen, long bcount)
{
	struct sfs_xattr_rec x, y;
	uint32_t o1 = 0;
	long n1 = 0;

	/* Every pair in the union (attributes are few). */
	while (sfs_xattr_next(a, alen, &o1, &x) > 0) {
		uint32_t o2 = o1;

		while (sfs_xattr_next(a, alen, &o2, &y) > 0)
			if (sfs_xattr_same(&x, &y))
				return true;
		o2 = 0;
		n1 = 0;
		while (b && n1++ < bcount && sfs_xattr_next(b, blen, &o2, &y) > 0)
			if (sfs_xattr_same(&x, &y))
				return true;
	}
	o1 = 0;
	n1 = 0;
	while (b && n1++ < bcount && sfs_xattr_next(b, blen, &o1, &x) > 0) {
		uint32_t o2 = o1;
		long n2 = n1;

		while (n2++ < bcount && sfs_xattr_next(b, blen, &o2, &y) > 0)
			if (sfs_xattr_same(&x, &y))
				return true;
	}
	return false;
}

static void check_inode(struct ns *ns, uint64_t ino, struct ns_inode *e, uint8_t *raw,
			uint8_t *blk)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t area = g->inode_size - SFS_INODE_CORE_SIZE, ilen = e->inline_xattr_len;
	struct sfs_inode in;
	const uint8_t *bbody = NULL;
	long bcount = 0;

	if (sfs_raw_inode(f->bdev, &f->sbi, ino, &in, raw))
		return;
	if (ilen > area || sfs_xattr_area_check(raw + SFS_INODE_CORE_SIZE, ilen, -1, NULL, "inline")) {
		struct inline_fix x = { .area = area };

		x.keep = good_prefix(raw + SFS_INODE_CORE_SIZE, ilen > area ? area : ilen);
		if (fix_ns_problem(f, PN_XATTR_INLINE, "inode %llu: inline xattr area of %u bytes, %u of them good",
				   (unsigned long long)ino, ilen, x.keep)) {
			int r = ns_edit_inode(ns, ino, cut_inline, &x);

			if (r)
				fix_ns_failed(f, PN_XATTR_INLINE, r);
		}
		ilen = x.keep;
	}
	if (e->xattr_block && e->xattr_block < g->block_count &&
	    !sfs_io_read_blocks(f->bdev, blk, g->block_log, e->xattr_block, 1) &&
	    !sfs_xattr_block_verify(blk, g->block_size, e->xattr_block, &f->sbi)) {
		if (sfs_get_le(blk + offsetof(struct sfs_disk_hdr, owner), 8) != ino)
			fix_ns_problem(f, PN_XATTR_BLOCK_OWNER, "inode %llu: xattr block %llu belongs to inode %llu",
				       (unsigned long long)ino, (unsigned long long)e->xattr_block,
				       (unsigned long long)sfs_get_le(blk + 24, 8));
		bbody = blk + SFS_XATTR_BLOCK_BODY;
		bcount = sfs_xattr_block_entries(blk);
	}
	if (dups(raw + SFS_INODE_CORE_SIZE, ilen, bbody, g->block_size - SFS_XATTR_BLOCK_BODY,
		 bcount))
		fix_ns_problem(f, PN_XATTR_DUP, "inode %llu: an attribute is stored twice",
			       (unsigned long long)ino);
}

int fsck_pass_xattr(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint8_t *raw = mc_alloc(g->inode_size, MC_KERNEL), *blk = sfs_io_alloc(g->block_size);
	int ret = 0;

	if (!raw || !blk) {
		ret = fsck_fatal(f, "out of memory for the xattr pass");
		goto out;
	}
	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i];

			if (e->live && (e->inline_xattr_len || e->xattr_block))
				check_inode(ns, (uint64_t)grp * g->inodes_per_group + i + 1, e, raw, blk);
		}
	}
out:
	mc_free(raw);
	mc_free(blk);
	return ret;
}
