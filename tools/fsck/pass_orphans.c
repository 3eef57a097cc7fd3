/*
 * Pass 2b: the orphan file (fs/namespace/orphan.h has the rules).  The
 * superblock must name a live regular file at SFS_ORPHAN_INO; each of its
 * blocks must verify; a slot is valid when its inode is live with that
 * generation, flag ORPHAN and orphan_next pointing back at the slot, and
 * stale otherwise (legal: a path outside the namespace freed the inode).
 * A valid slot's xattr block must be its inode's; a stale slot's block
 * belongs to the orphan file until the next mount sweeps it, so it is
 * claimed here for pass 3.  Pending orphans are not problems: the next
 * read-write mount finishes them.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/io.h"
#include "fs/format/orphan.h"
#include "fs/format/verify.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/pass_ns.h"

static void clear_flag(struct sfs_inode *in, uint8_t *raw, void *arg)
{
	(void)raw;
	(void)arg;
	in->flags &= ~SFS_INODE_FL_ORPHAN;
	in->orphan_next = 0;
}

/* Rewrite an orphan block after its slots were edited. */
static int write_orphan_block(struct fsck *f, uint8_t *blk, uint64_t pblk)
{
	int ret = sfs_orphan_buf_ops.prepare_write(blk, f->sbi.geo.block_size, pblk, &f->sbi);

	return ret ? ret : fsck_write_block(f, blk, pblk);
}

static int check_block(struct ns *ns, uint8_t *blk, uint32_t lblk, uint64_t pblk)
{
	struct fsck *f = ns->f;
	unsigned per = sfs_orphan_slots(f->sbi.geo.block_size);
	bool dirty = false;
	int ret;

	for (unsigned i = 0; i < per; i++) {
		uint64_t slot = (uint64_t)lblk * per + i;
		struct sfs_orphan_slot s;
		struct ns_inode *t;

		sfs_orphan_slot_get(&s, blk, i);
		if (!s.ino)
			continue;
		t = ns_get(ns, s.ino);
		if (t && t->generation == s.generation && (t->flags & SFS_INODE_FL_ORPHAN) &&
		    t->orphan_next == slot + 1) {
			t->orphan_valid = 1;
			if (s.xattr_block != t->xattr_block &&
			    fix_ns_problem(f, PN_ORPHAN_SLOT_XATTR,
					   "orphan slot %llu: xattr block %llu, inode %llu has %llu",
					   (unsigned long long)slot, (unsigned long long)s.xattr_block,
					   (unsigned long long)s.ino,
					   (unsigned long long)t->xattr_block)) {
				s.xattr_block = t->xattr_block;
				sfs_orphan_slot_put(blk, i, &s);
				dirty = true;
			}
			continue;
		}
		/* Stale: the block it keeps is the orphan file's until swept. */
		if (s.xattr_block && !fsck_claim_block(f, s.xattr_block) &&
		    fix_ns_problem(f, PN_ORPHAN_STALE_BLOCK,
				   "stale orphan slot %llu (inode %llu) keeps block %llu, which is in use",
				   (unsigned long long)slot, (unsigned long long)s.ino,
				   (unsigned long long)s.xattr_block)) {
			s.xattr_block = 0;
			sfs_orphan_slot_put(blk, i, &s);
			dirty = true;
		}
	}
	if (!dirty)
		return 0;
	ret = write_orphan_block(f, blk, pblk);
	if (ret)
		fix_ns_failed(f, PN_ORPHAN_BLOCK, ret);
	return 0;
}

static int check_file(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_raw_map map = { 0 };
	struct sfs_inode in;
	uint8_t *blk;
	uint32_t nblocks;
	int ret;

	if (sfs_raw_inode(f->bdev, &f->sbi, SFS_ORPHAN_INO, &in, NULL) ||
	    sfs_raw_extents(f->bdev, &f->sbi, &in, &map))
		return 0;   /* pass 2 reported it */
	blk = sfs_io_alloc(g->block_size);
	if (!blk) {
		sfs_raw_map_free(&map);
		return fsck_fatal(f, "out of memory for the orphan pass");
	}
	nblocks = (uint32_t)(in.size >> g->block_log);
	for (uint32_t l = 0; l < nblocks && !fsck_cancelled; l++) {
		uint64_t pblk = sfs_raw_map_lookup(&map, l);

		ret = pblk ? sfs_io_read_blocks(f->bdev, blk, g->block_log, pblk, 1) : -ENOENT;
		if (!ret)
			ret = sfs_orphan_block_verify(blk, g->block_size, pblk, &f->sbi);
		if (ret) {
			if (pblk && fix_ns_problem(f, PN_ORPHAN_BLOCK, "orphan file block %u (%llu): %s",
						   l, (unsigned long long)pblk,
						   ret == -EIO ? "unreadable" : sfs_verify_reason())) {
				sfs_orphan_block_init(blk, &f->sbi, pblk);
				ret = write_orphan_block(f, blk, pblk);
				if (ret)
					fix_ns_failed(f, PN_ORPHAN_BLOCK, ret);
			}
			continue;
		}
		check_block(ns, blk, l, pblk);
	}
	mc_free(blk);
	sfs_raw_map_free(&map);
	return 0;
}

int fsck_pass_orphans(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint64_t head = f->sbi.sb.orphan_head;
	int ret = 0;

	if (head) {
		struct ns_inode *e = ns_get(ns, head);

		if (head != SFS_ORPHAN_INO || !e || !S_ISREG(e->mode)) {
			if (fix_ns_problem(f, PN_ORPHAN_FILE, "superblock names inode %llu as the orphan file",
					   (unsigned long long)head)) {
				f->sbi.sb.orphan_head = 0;
				f->sb_dirty = true;
			}
		} else {
			ret = check_file(ns);
		}
	}
	for (uint32_t grp = 0; grp < g->group_count && !ret; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i];
			uint64_t ino = (uint64_t)grp * g->inodes_per_group + i + 1;

			if (!e->live || !(e->flags & SFS_INODE_FL_ORPHAN) || e->orphan_valid)
				continue;
			if (fix_ns_problem(f, PN_ORPHAN_FLAG, "inode %llu: flagged orphan, slot %llu does not record it",
					   (unsigned long long)ino, (unsigned long long)e->orphan_next)) {
				int r = ns_edit_inode(ns, ino, clear_flag, NULL);

				if (r)
					fix_ns_failed(f, PN_ORPHAN_FLAG, r);
				else
					e->flags &= ~SFS_INODE_FL_ORPHAN;
			}
		}
	}
	return ret;
}
