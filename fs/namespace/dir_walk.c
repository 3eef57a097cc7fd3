/* The directory structure walk (see dir_walk.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/verify.h"
#include "fs/namespace/dir_walk.h"

struct walk_state {
	struct sfs_dir_walk *w;
	/* The block last fetched and what it was fetched as. */
	uint32_t cur_lblk;
	enum sfs_dir_expect cur_expect;
	uint64_t cur_lo, cur_hi;
	uint8_t *seen;               /* one bit per logical block */
	struct sfs_dir_sorted *sorted;
	unsigned max_sorted;
	uint32_t bs;
};

static int fail(struct sfs_dir_walk *w, uint32_t lblk, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct sfs_dir_walk *w, uint32_t lblk, const char *fmt, ...)
{
	va_list ap;

	w->bad_lblk = lblk;
	w->bad_expect = SFS_DIR_EXPECT_NONE;
	va_start(ap, fmt);
	vsnprintf(w->why, sizeof(w->why), fmt, ap);
	va_end(ap);
	return -EUCLEAN;
}

/* A violation in the block last fetched is that block's: say what it
 * was wanted as, so that fsck can rebuild the block alone. */
static int fail_here(struct walk_state *s, int ret)
{
	struct sfs_dir_walk *w = s->w;

	if (ret == -EUCLEAN && w->bad_lblk == s->cur_lblk) {
		w->bad_expect = s->cur_expect;
		w->bad_lo = s->cur_lo;
		w->bad_hi = s->cur_hi;
	}
	return ret;
}

static int get(struct walk_state *s, uint32_t lblk, enum sfs_dir_expect expect, uint64_t lo,
	       uint64_t hi, const void **data, void **cookie)
{
	struct sfs_dir_walk *w = s->w;
	int ret;

	if (lblk >= w->nblocks)
		return fail(w, lblk, "block %u is past the directory's end (%u blocks)", lblk,
			    w->nblocks);
	if (s->seen[lblk / 8] & (1u << (lblk % 8)))
		return fail(w, lblk, "block %u is referenced twice", lblk);
	s->seen[lblk / 8] |= (uint8_t)(1u << (lblk % 8));
	s->cur_lblk = lblk;
	s->cur_expect = expect;
	s->cur_lo = lo;
	s->cur_hi = hi;
	ret = w->ops->get(w->ctx, lblk, data, cookie);
	if (ret == -EUCLEAN || ret == -EFSCORRUPTED || ret == -EFSBADCRC)
		return fail_here(s, fail(w, lblk, "block %u: %s", lblk, sfs_verify_reason()));
	if (ret == -ENOENT)
		return fail(w, lblk, "block %u is not mapped", lblk);
	return ret;
}

/* The records of one entry block: keys in [lo, hi), no key or name twice,
 * each name reported. */
static int check_leaf(struct walk_state *s, const void *blk, uint32_t lblk, uint64_t lo,
		      uint64_t hi, bool linear)
{
	struct sfs_dir_walk *w = s->w;
	unsigned n = sfs_dir_leaf_sorted(blk, s->bs, s->sorted, s->max_sorted);

	for (unsigned i = 0; i < n; i++) {
		struct sfs_dirent de, prev;
		uint32_t off = s->sorted[i].offset;
		int ret;

		sfs_dir_block_next(blk, s->bs, &off, &de);
		if (de.key < SFS_DIRKEY_MIN) {
			/* "." and "..": only at their places in a linear block 0. */
			uint32_t want = de.key == SFS_DIRKEY_DOT ? SFS_DIR_DOT_OFF : SFS_DIR_DOTDOT_OFF;

			if (!linear || de.offset != want)
				return fail(w, lblk, "block %u: \"%.*s\" at offset %u", lblk,
					    de.name_len, de.name, de.offset);
			continue;
		}
		if (de.key < lo || de.key >= hi)
			return fail(w, lblk, "block %u: key %#llx of \"%.*s\" outside the block's range %#llx..%#llx",
				    lblk, (unsigned long long)de.key, de.name_len, de.name,
				    (unsigned long long)lo, (unsigned long long)hi);
		for (unsigned j = i; j-- > 0;) {
			uint32_t o2 = s->sorted[j].offset;

			if (sfs_dirkey_hash(s->sorted[j].key) != sfs_dirkey_hash(de.key))
				break;
			sfs_dir_block_next(blk, s->bs, &o2, &prev);
			if (prev.key == de.key)
				return fail(w, lblk, "block %u: key %#llx twice", lblk,
					    (unsigned long long)de.key);
			if (prev.name_len == de.name_len && !memcmp(prev.name, de.name, de.name_len))
				return fail(w, lblk, "block %u: name \"%.*s\" twice", lblk, de.name_len,
					    de.name);
		}
		w->names++;
		if (w->ops->name) {
			struct sfs_dir_entry e = { .ino = de.ino, .ftype = de.file_type, .key = de.key };

			ret = w->ops->name(w->ctx, &e, de.name, de.name_len, lblk);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int walk_index(struct walk_state *s, const void *blk, uint32_t lblk, unsigned level,
		      uint64_t lo, uint64_t hi)
{
	struct sfs_dir_walk *w = s->w;
	struct sfs_dirindex_hdr h;
	int ret = 0;

	sfs_dirindex_hdr_get(&h, blk);
	if (h.level != level)
		return fail(w, lblk, "index block %u at level %u, its parent expects %u", lblk,
			    h.level, level);
	if (lblk && (h.flags & SFS_DIRINDEX_ROOT))
		return fail(w, lblk, "index block %u claims to be the root", lblk);
	for (unsigned i = 0; i < h.count && !ret; i++) {
		uint64_t clo = i ? sfs_dirindex_key(blk, i) : lo;
		uint64_t chi = i + 1 < h.count ? sfs_dirindex_key(blk, i + 1) : hi;
		uint32_t child = sfs_dirindex_lblk(blk, i);
		const void *cdata;
		void *cookie;

		if (clo < lo || clo >= hi || chi > hi || clo >= chi)
			return fail(w, lblk, "index block %u: entry %u key %#llx outside %#llx..%#llx",
				    lblk, i, (unsigned long long)clo, (unsigned long long)lo,
				    (unsigned long long)hi);
		ret = get(s, child, level ? SFS_DIR_EXPECT_INDEX : SFS_DIR_EXPECT_LEAF, clo, chi,
			  &cdata, &cookie);
		if (ret)
			return ret;
		if (sfs_hdr_magic(cdata) != (level ? SFS_MAGIC_DIRINDEX : SFS_MAGIC_DIRLEAF))
			ret = fail_here(s, fail(w, child, "block %u is not the %s block index block %u expects",
						child, level ? "index" : "entry", lblk));
		else if (level)
			ret = walk_index(s, cdata, child, level - 1, clo, chi);
		else
			ret = fail_here(s, check_leaf(s, cdata, child, clo, chi, false));
		w->ops->put(w->ctx, cookie);
	}
	return ret;
}

int sfs_dir_walk(struct sfs_dir_walk *w)
{
	struct walk_state s = { .w = w, .bs = w->sbi->geo.block_size };
	const void *blk;
	void *cookie;
	int ret;

	w->parent = w->names = w->names_recorded = 0;
	w->depth = 0;
	w->bad_lblk = 0;
	w->bad_expect = SFS_DIR_EXPECT_NONE;
	w->why[0] = 0;
	if (!w->nblocks)
		return fail(w, 0, "no blocks");
	s.max_sorted = s.bs / 24 + 1;
	s.seen = mc_zalloc(w->nblocks / 8 + 1, MC_KERNEL);
	s.sorted = mc_alloc(s.max_sorted * sizeof(*s.sorted), MC_KERNEL);
	if (!s.seen || !s.sorted) {
		ret = -ENOMEM;
		goto out;
	}
	ret = get(&s, 0, SFS_DIR_EXPECT_BLOCK0, SFS_DIRKEY_MIN, SFS_DIRKEY_END, &blk, &cookie);
	if (ret)
		goto out;
	if (sfs_hdr_magic(blk) == SFS_MAGIC_DIRLEAF) {
		struct sfs_dirent dot, dotdot;
		uint32_t o1 = SFS_DIR_DOT_OFF, o2 = SFS_DIR_DOTDOT_OFF;

		if (sfs_dir_block_next(blk, s.bs, &o1, &dot) <= 0 || dot.key != SFS_DIRKEY_DOT ||
		    dot.ino != w->ino || dot.offset != SFS_DIR_DOT_OFF ||
		    sfs_dir_block_next(blk, s.bs, &o2, &dotdot) <= 0 ||
		    dotdot.key != SFS_DIRKEY_DOTDOT || !dotdot.ino) {
			ret = fail_here(&s, fail(w, 0, "first block does not start with \".\" and \"..\""));
		} else {
			w->parent = dotdot.ino;
			ret = fail_here(&s, check_leaf(&s, blk, 0, SFS_DIRKEY_MIN, SFS_DIRKEY_END, true));
			w->names_recorded = w->names;
		}
	} else {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, blk);
		w->parent = h.parent;
		w->names_recorded = h.names;
		w->depth = h.level + 1u;
		if (!(h.flags & SFS_DIRINDEX_ROOT))
			ret = fail(w, 0, "block 0 is an index block but not the root");
		else
			ret = walk_index(&s, blk, 0, h.level, SFS_DIRKEY_MIN, SFS_DIRKEY_END);
	}
	w->ops->put(w->ctx, cookie);
	if (ret)
		goto out;
	for (uint32_t l = 0; l < w->nblocks; l++) {
		if (!(s.seen[l / 8] & (1u << (l % 8)))) {
			ret = fail(w, l, "block %u is not reached from the root", l);
			break;
		}
	}
out:
	mc_free(s.seen);
	mc_free(s.sorted);
	return ret;
}
