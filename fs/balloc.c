/*
 * Block allocation: the space arithmetic, the search for a run near the
 * goal, and taking the run (see balloc.h for the rules).
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/bitscan.h"
#include "fs/format/bitmap.h"
#include "fs/format/group.h"
#include "fs/inode.h"

/* The filesystem reserve: 2% of the data blocks, at most 4096 (ext4's
 * s_resv_clusters), at least 8 so a tiny test image keeps one. */
static uint64_t fs_reserve(const struct sfs_geo *g)
{
	uint64_t data = 0, r;

	for (uint32_t i = 0; i < g->group_count; i++)
		data += sfs_geo_group_blocks(g, i) - sfs_geo_group_overhead(g);
	r = data / 50;
	if (r > 4096)
		r = 4096;
	if (r < 8)
		r = 8;
	return r < data / 2 ? r : data / 2;
}

int sfs_balloc_init(struct sfs_fs *fs)
{
	struct sfs_sb_info *sbi = fs->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint64_t free_blocks = 0, free_inodes = 0;

	fs->groups = mc_calloc(g->group_count, sizeof(*fs->groups), MC_KERNEL);
	if (!fs->groups)
		return -ENOMEM;
	for (uint32_t i = 0; i < g->group_count; i++) {
		mc_mutex_init(&fs->groups[i].lock, "sfs_group");
		mc_spin_init(&fs->groups[i].held_lock, "sfs_group_held");
		free_blocks += sbi->gd[i].free_blocks;
		free_inodes += sbi->gd[i].free_inodes;
	}
	mc_spin_init(&fs->cnt_lock, "sfs_counts");
	mc_mutex_init(&fs->pa_lock, "sfs_prealloc");
	if (free_blocks != sbi->sb.free_blocks || free_inodes != sbi->sb.free_inodes)
		/* The descriptors are journaled with the superblock, so this
		 * is an older tool's doing; they are the truth. */
		fprintf(stderr, "scopefs: %s: superblock free counts %llu/%llu, descriptors say "
			"%llu/%llu: using the descriptors\n", fs->path,
			(unsigned long long)sbi->sb.free_blocks,
			(unsigned long long)sbi->sb.free_inodes, (unsigned long long)free_blocks,
			(unsigned long long)free_inodes);
	fs->counts.free = free_blocks;
	fs->inodes_free = free_inodes;
	fs->counts.root_resv = sbi->sb.reserved_blocks;
	fs->counts.fs_resv = fs_reserve(g);
	return 0;
}

void sfs_balloc_destroy(struct sfs_fs *fs)
{
	if (!fs->groups)
		return;
	for (uint32_t i = 0; i < fs->sbi->geo.group_count; i++) {
		mc_free(fs->groups[i].held);
		mc_mutex_destroy(&fs->groups[i].lock);
		mc_spin_destroy(&fs->groups[i].held_lock);
	}
	mc_free(fs->groups);
	fs->groups = NULL;
	mc_spin_destroy(&fs->cnt_lock);
	mc_mutex_destroy(&fs->pa_lock);
}

void sfs_balloc_counts(struct sfs_fs *fs, struct sfs_block_counts *out)
{
	mc_spin_lock(&fs->cnt_lock);
	*out = fs->counts;
	mc_spin_unlock(&fs->cnt_lock);
}

/* Under cnt_lock. */
static uint64_t available_locked(struct sfs_fs *fs, unsigned flags)
{
	const struct sfs_block_counts *c = &fs->counts;
	uint64_t keep = c->busy + c->dirty;

	if (!(flags & SFS_ALLOC_PRIVILEGED))
		keep += c->root_resv;
	if (!(flags & SFS_ALLOC_USE_RESERVE))
		keep += c->fs_resv;
	return c->free > keep ? c->free - keep : 0;
}

uint64_t sfs_balloc_available(struct sfs_fs *fs, unsigned flags)
{
	uint64_t n;

	mc_spin_lock(&fs->cnt_lock);
	n = available_locked(fs, flags);
	mc_spin_unlock(&fs->cnt_lock);
	return n;
}

bool sfs_balloc_commit_would_help(struct sfs_fs *fs)
{
	bool busy;

	mc_spin_lock(&fs->cnt_lock);
	busy = fs->counts.busy != 0;
	mc_spin_unlock(&fs->cnt_lock);
	return busy;
}

int sfs_blocks_reserve(struct sfs_fs *fs, uint64_t n, unsigned flags)
{
	int ret = 0;

	mc_spin_lock(&fs->cnt_lock);
	if (available_locked(fs, flags) < n)
		ret = -ENOSPC;
	else
		fs->counts.dirty += n;
	mc_spin_unlock(&fs->cnt_lock);
	return ret;
}

void sfs_blocks_unreserve(struct sfs_fs *fs, uint64_t n)
{
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.dirty -= n;
	mc_spin_unlock(&fs->cnt_lock);
}

/* ---- search ------------------------------------------------------- */

struct found {
	uint32_t grp, idx, len;
};

/*
 * First run of at least @want free, unheld blocks in the data area of
 * group @grp at or after @start (wrapping once); failing that the longest
 * run seen.  Group lock held.
 */
static void search_group(struct sfs_fs *fs, uint32_t grp, const uint8_t *map, uint32_t start,
			 uint32_t want, struct found *best)
{
	struct sfs_group_info *gi = &fs->groups[grp];
	uint32_t nbits = sfs_geo_group_blocks(&fs->sbi->geo, grp);
	uint32_t lo = sfs_geo_group_overhead(&fs->sbi->geo);

	if (start < lo || start >= nbits)
		start = lo;
	mc_spin_lock(&gi->held_lock);
	for (int pass = 0; pass < 2; pass++) {
		uint32_t i = pass ? lo : start, end = pass ? start : nbits;

		while (i < end) {
			uint32_t s = sfs_cm_next(map, gi->held, i, end, 0), e;

			if (s >= end)
				break;
			e = sfs_cm_next(map, gi->held, s, nbits, 1);
			if (e - s > best->len) {
				best->grp = grp;
				best->idx = s;
				best->len = e - s;
				if (e - s >= want)
					goto out;
			}
			i = e;
		}
	}
out:
	mc_spin_unlock(&gi->held_lock);
}

/*
 * A tree block: the last free block of the group.  Data grows up from a
 * group's start and tree blocks down from its end, so a file's next data
 * block is not taken by its own index (ext4 gets the same effect from its
 * locality-group preallocation).
 */
static void search_group_last(struct sfs_fs *fs, uint32_t grp, const uint8_t *map,
			      struct found *best)
{
	struct sfs_group_info *gi = &fs->groups[grp];
	uint32_t nbits = sfs_geo_group_blocks(&fs->sbi->geo, grp);
	uint32_t lo = sfs_geo_group_overhead(&fs->sbi->geo);
	int64_t i;

	mc_spin_lock(&gi->held_lock);
	i = sfs_cm_prev_free(map, gi->held, (int64_t)nbits - 1);
	mc_spin_unlock(&gi->held_lock);
	if (i >= (int64_t)lo)
		*best = (struct found){ grp, (uint32_t)i, 1 };
}

/* ---- taking a run --------------------------------------------------- */

/*
 * Allocate [idx, idx + n) of group @grp on disk: bitmap, descriptor,
 * superblock, all in @t.  Group lock held, @bh its bitmap (@fresh: built
 * from the implied content, logged whole now).  Nothing changes unless
 * every buffer could be had.
 */
static int take_run(struct sfs_trans *t, uint32_t grp, struct sfs_buf *bh, bool fresh,
		    uint32_t idx, uint32_t n, bool nofail)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_group_desc *gd = &fs->sbi->gd[grp];
	struct sfs_buf *gdt = NULL;
	uint8_t *map = sfs_bitmap_data(bh->data);
	int ret;

	ret = sfs_trans_access(t, bh);
	if (!ret)
		ret = sfs_group_gdt_get(t, grp, nofail, &gdt);
	if (!ret)
		ret = sfs_trans_sb_prepare(t);
	if (ret)
		goto out;

	sfs_buf_lock(bh);
	if (!sfs_bits_all(map, idx, n, 0)) {
		sfs_buf_unlock(bh);
		ret = SFS_ERROR(fs, -EUCLEAN, 0, sfs_geo_group_start(&fs->sbi->geo, grp) + idx,
				"allocating blocks the bitmap of group %u has in use", grp);
		goto out;
	}
	sfs_bits_set(map, idx, n);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	if (ret)
		goto out;
	if (fresh) {
		gd->flags &= (uint16_t)~SFS_BG_BLOCK_UNINIT;
		SFS_STAT(fs, alloc_lazy_inits, 1);
	}
	sfs_group_summary_update(fs, grp, map, idx, n, true);
	ret = sfs_group_gdt_commit(t, grp, gdt);
	if (ret)
		goto out;
	mc_spin_lock(&fs->cnt_lock);
	fs->counts.free -= n;
	mc_spin_unlock(&fs->cnt_lock);
	ret = sfs_trans_sb_commit(t);
out:
	if (gdt)
		sfs_buf_release(gdt);
	return ret;
}

/* Blocks handed out from @ip's window: take them on disk. */
static int take_window(struct sfs_trans *t, uint64_t pblk, uint32_t n, bool nofail)
{
	struct sfs_fs *fs = t->fs;
	uint32_t grp, idx;
	struct sfs_buf *bh;
	bool fresh;
	int ret;

	if (!sfs_geo_block_group(&fs->sbi->geo, pblk, &grp, &idx))
		return -EUCLEAN;
	mc_mutex_lock(&fs->groups[grp].lock);
	ret = sfs_group_bitmap(fs, grp, nofail, &bh, &fresh);
	if (!ret) {
		ret = take_run(t, grp, bh, fresh, idx, n, nofail);
		sfs_buf_release(bh);
	}
	mc_mutex_unlock(&fs->groups[grp].lock);
	/* Taken or given back: either way no longer held. */
	sfs_group_unhold(fs, grp, idx, n);
	return ret;
}

static uint32_t goal_group(struct sfs_fs *fs, const struct sfs_alloc_req *req, uint32_t *idx)
{
	const struct sfs_geo *g = &fs->sbi->geo;
	uint32_t grp;

	*idx = 0;
	if (req->goal && sfs_geo_block_group(g, req->goal, &grp, idx))
		return grp;
	if (req->ip)
		return sfs_geo_ino_group(g, req->ip->ino);
	return atomic_load_explicit(&fs->last_group, memory_order_relaxed) % g->group_count;
}

/*
 * Look for a run in the groups from the goal's on; take it when found.
 * @pass 0: the goal itself, then first fit of @want in groups whose
 * summary promises it; pass 1: the longest run anywhere.  Returns 1 when
 * nothing was found, 0 with *pblk / *got, or -errno.
 */
static int search_and_take(struct sfs_trans *t, const struct sfs_alloc_req *req, uint32_t want,
			   int pass, uint64_t *pblk, uint32_t *got)
{
	struct sfs_fs *fs = t->fs;
	const struct sfs_geo *g = &fs->sbi->geo;
	bool nofail = req->flags & SFS_ALLOC_NOFAIL;
	uint32_t gidx, g0 = goal_group(fs, req, &gidx);

	for (uint32_t i = 0; i < g->group_count; i++) {
		uint32_t grp = (g0 + i) % g->group_count;
		struct sfs_group_info *gi = &fs->groups[grp];
		struct found best = { 0 };
		struct sfs_buf *bh;
		bool fresh;
		int ret;

		/* Unlocked peek at the summary: only a hint, rechecked below. */
		if (!fs->sbi->gd[grp].free_blocks)
			continue;
		if (pass == 0 && i > 0 && fs->sbi->gd[grp].largest_free < want)
			continue;
		SFS_STAT(fs, alloc_groups_scanned, 1);
		mc_mutex_lock(&gi->lock);
		ret = sfs_group_bitmap(fs, grp, nofail, &bh, &fresh);
		if (ret) {
			mc_mutex_unlock(&gi->lock);
			return ret;
		}
		if (req->flags & SFS_ALLOC_METADATA) {
			search_group_last(fs, grp, sfs_bitmap_cdata(bh->data), &best);
			want = 1;
		} else if (pass == 0 && i == 0 && req->goal) {
			uint32_t n = sfs_group_free_run_at(fs, grp, sfs_bitmap_cdata(bh->data), gidx,
							   want);

			if (n) {
				best = (struct found){ grp, gidx, n };
				SFS_STAT(fs, alloc_goal_hits, 1);
			}
		}
		if (!best.len)
			search_group(fs, grp, sfs_bitmap_cdata(bh->data), i == 0 ? gidx : 0, want,
				     &best);
		if (best.len && (pass == 1 || best.len >= want || (i == 0 && best.idx == gidx &&
								    req->goal))) {
			uint32_t n = best.len < want ? best.len : want;

			ret = take_run(t, grp, bh, fresh, best.idx, n, nofail);
			if (!ret) {
				*pblk = sfs_geo_group_start(g, grp) + best.idx;
				*got = n;
				atomic_store_explicit(&fs->last_group, grp, memory_order_relaxed);
				if (req->ip && !(req->flags & SFS_ALLOC_METADATA) &&
				    !fs->opts.no_prealloc)
					sfs_pa_open(fs, req->ip, grp, sfs_bitmap_cdata(bh->data),
						    req->lblk + n, *pblk + n);
			}
			sfs_buf_release(bh);
			mc_mutex_unlock(&gi->lock);
			return ret;
		}
		sfs_buf_release(bh);
		mc_mutex_unlock(&gi->lock);
	}
	return 1;
}

int sfs_balloc(struct sfs_trans *t, const struct sfs_alloc_req *req, uint64_t *pblk,
	       uint32_t *got)
{
	struct sfs_fs *fs = t->fs;
	bool nofail = req->flags & SFS_ALLOC_NOFAIL;
	uint32_t want = req->len, n;
	uint64_t claimed = 0, p;
	int ret;

	SFS_STAT(fs, alloc_calls, 1);
	if (!want || want > SFS_MAX_EXTENT_LEN)
		return -EINVAL;

	/* Claim the space first, so concurrent allocators cannot both take
	 * the last free blocks (ext4's claim of free clusters). */
	if (!(req->flags & SFS_ALLOC_RESERVED)) {
		mc_spin_lock(&fs->cnt_lock);
		claimed = available_locked(fs, req->flags);
		if (claimed > want)
			claimed = want;
		fs->counts.dirty += claimed;
		mc_spin_unlock(&fs->cnt_lock);
		if (!claimed) {
			SFS_STAT(fs, alloc_enospc, 1);
			return -ENOSPC;
		}
		want = (uint32_t)claimed;
	}

	if (req->ip && !(req->flags & SFS_ALLOC_METADATA)) {
		n = sfs_pa_take(fs, req->ip, req->lblk, want, &p);
		if (n) {
			ret = take_window(t, p, n, nofail);
			if (!ret) {
				SFS_STAT(fs, alloc_window_hits, 1);
				*pblk = p;
				*got = n;
			}
			goto out;
		}
	}

	ret = search_and_take(t, req, want, 0, pblk, got);
	if (ret == 1)
		ret = search_and_take(t, req, want, 1, pblk, got);
	if (ret == 1 && sfs_pa_discard_all(fs)) {
		/* The space was in other files' windows: take it back. */
		SFS_STAT(fs, alloc_window_discards, 1);
		ret = search_and_take(t, req, want, 1, pblk, got);
	}
	if (ret == 1) {
		/* The counters promised space the bitmaps do not have. */
		ret = -ENOSPC;
		SFS_STAT(fs, alloc_enospc, 1);
	}
out:
	mc_spin_lock(&fs->cnt_lock);
	if (req->flags & SFS_ALLOC_RESERVED)
		fs->counts.dirty -= ret ? 0 : *got;
	else
		fs->counts.dirty -= claimed;
	mc_spin_unlock(&fs->cnt_lock);
	if (!ret) {
		SFS_STAT(fs, alloc_blocks, *got);
		if (*got < req->len)
			SFS_STAT(fs, alloc_partial, 1);
	}
	return ret;
}
