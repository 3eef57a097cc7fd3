/*
 * Freeing blocks, and the deferred-reuse rule.
 *
 * A freed block is cleared in the on-disk bitmap in the freeing
 * transaction (so the descriptor, superblock and bitmap stay exact and
 * agree at every commit), but stays "busy" in the group's held map until
 * that transaction has committed: until then a crash would bring back its
 * old owner, and a block handed to a new owner -- overwritten with data --
 * would corrupt it.  The journal's commit callback clears the busy bits.
 * The record the callback needs is allocated NOFAIL at every call site:
 * freeing is what makes progress, and a free that could fail after the
 * tree let go of the blocks would leak them (ext4 allocates its
 * free-extent records the same way).
 */
#include <errno.h>
#include <stddef.h>

#include "fs/balloc.h"
#include "fs/bitscan.h"
#include "fs/format/bitmap.h"
#include "fs/format/group.h"

enum sfs_bfree_state {
	SFS_BFREE_PREPARED,   /* buffers acquired, blocks held, nothing changed */
	SFS_BFREE_COMMITTED,  /* cleared on disk, busy until the commit callback */
};

struct sfs_bfree {
	struct jnl_callback cb;      /* first: the callback finds us from it */
	struct sfs_fs *fs;
	enum sfs_bfree_state state;
	uint32_t grp, idx, len;
	struct sfs_buf *bmap, *gdt;
};

static void busy_done(struct jnl_callback *cb, jnl_tid_t tid, int err)
{
	struct sfs_bfree *f = (struct sfs_bfree *)cb;
	struct sfs_fs *fs = f->fs;

	(void)tid;
	(void)err;   /* aborted: nothing will reuse them anyway */
	/* Runs on the commit thread: only held_lock and cnt_lock, no I/O. */
	mc_spin_lock(&fs->groups[f->grp].held_lock);
	fs->groups[f->grp].busy_count -= f->len;
	mc_spin_unlock(&fs->groups[f->grp].held_lock);
	sfs_group_unhold(fs, f->grp, f->idx, f->len);
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.busy -= f->len;
	mc_spin_unlock(&fs->cnt_lock);
	SFS_STAT(fs, busy_released, f->len);
	mc_free(f);
}

void sfs_bfree_abort(struct sfs_bfree *f)
{
	if (!f)
		return;
	sfs_group_unhold(f->fs, f->grp, f->idx, f->len);
	sfs_brelse(f->bmap);
	sfs_brelse(f->gdt);
	mc_free(f);
}

int sfs_bfree_prepare(struct sfs_trans *t, uint64_t pblk, uint32_t len, bool nofail,
		      struct sfs_bfree **out)
{
	struct sfs_fs *fs = t->fs;
	const struct sfs_geo *g = &fs->sbi->geo;
	struct sfs_bfree *f;
	uint32_t grp, idx;
	bool fresh;
	int ret;

	*out = NULL;
	if (!len || !sfs_geo_block_group(g, pblk, &grp, &idx) ||
	    idx < sfs_geo_group_overhead(g) || idx + len > sfs_geo_group_blocks(g, grp))
		return SFS_ERROR(fs, -EUCLEAN, 0, pblk,
				 "freeing blocks %llu+%u outside one group's data area",
				 (unsigned long long)pblk, len);
	f = mc_alloc_named("balloc.busy", sizeof(*f), MC_KERNEL | MC_NOFAIL | MC_ZERO);
	f->cb.fn = busy_done;
	f->fs = fs;
	f->grp = grp;
	f->idx = idx;
	f->len = len;
	f->state = SFS_BFREE_PREPARED;

	mc_mutex_lock(&fs->groups[grp].lock);
	ret = sfs_group_bitmap(fs, grp, nofail, &f->bmap, &fresh);
	if (!ret && (fresh || !sfs_bits_all(sfs_bitmap_cdata(f->bmap->data), idx, len, 1)))
		ret = SFS_ERROR(fs, -EUCLEAN, 0, pblk, "freeing blocks %llu+%u that are free",
				(unsigned long long)pblk, len);
	if (!ret)
		/* Held now (they are in use on disk, so this changes nothing
		 * for searches): keeps the held map alive until the commit. */
		ret = sfs_group_hold(fs, grp, idx, len, true);
	mc_mutex_unlock(&fs->groups[grp].lock);
	if (ret) {
		sfs_brelse(f->bmap);
		mc_free(f);
		return ret;
	}
	ret = sfs_trans_access(t, f->bmap);
	if (!ret)
		ret = sfs_group_gdt_get(t, grp, nofail, &f->gdt);
	if (!ret)
		ret = sfs_trans_sb_prepare(t);
	if (ret) {
		sfs_bfree_abort(f);
		return ret;
	}
	*out = f;
	return 0;
}

int sfs_bfree_commit(struct sfs_trans *t, struct sfs_bfree *f)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_group_info *gi = &fs->groups[f->grp];
	uint8_t *map = sfs_bitmap_data(f->bmap->data);
	int ret;

	mc_mutex_lock(&gi->lock);
	sfs_buf_lock(f->bmap);
	sfs_bits_clear(map, f->idx, f->len);
	ret = sfs_trans_dirty(t, f->bmap);
	sfs_buf_unlock(f->bmap);
	if (!ret) {
		sfs_group_summary_update(fs, f->grp, map, f->idx, f->len, false);
		ret = sfs_group_gdt_commit(t, f->grp, f->gdt);
	}
	mc_spin_lock(&gi->held_lock);
	gi->busy_count += f->len;
	mc_spin_unlock(&gi->held_lock);
	mc_mutex_unlock(&gi->lock);

	mc_spin_lock(&fs->cnt_lock);
	fs->counts.free += f->len;
	fs->counts.busy += f->len;
	mc_spin_unlock(&fs->cnt_lock);
	if (!ret)
		ret = sfs_trans_sb_commit(t);

	SFS_STAT(fs, free_calls, 1);
	SFS_STAT(fs, free_blocks, f->len);
	sfs_brelse(f->bmap);
	sfs_brelse(f->gdt);
	f->bmap = f->gdt = NULL;
	f->state = SFS_BFREE_COMMITTED;
	t->frees++;   /* pinned until the commit: sfs_trans_ensure bounds them */
	if (sfs_trans_on_commit(t, &f->cb))
		/* The journal is gone (aborted): nothing reuses them again. */
		busy_done(&f->cb, 0, -EIO);
	return ret;
}

int sfs_bfree(struct sfs_trans *t, uint64_t pblk, uint32_t len, bool nofail)
{
	struct sfs_bfree *f;
	int ret;

	ret = sfs_bfree_prepare(t, pblk, len, nofail, &f);
	if (ret)
		return ret;
	return sfs_bfree_commit(t, f);
}
