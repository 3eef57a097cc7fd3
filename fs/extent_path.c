/*
 * Extent tree paths and lookups: descending from the root to a leaf,
 * moving between leaves, searching left and right, and the per-level
 * helpers every change uses.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/extent_tree.h"
#include "fs/format/hdr.h"
#include "fs/format/verify.h"

int sfs_ext_corrupt(struct sfs_inode_info *ip, uint64_t blk, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return sfs_fs_error(ip->fs, -EUCLEAN, ip->ino, blk, "extent tree", "inode %llu: %s",
			    (unsigned long long)ip->ino, why);
}

unsigned sfs_ext_cap(struct sfs_fs *fs, unsigned capacity)
{
	return fs->ext_cap && fs->ext_cap < capacity ? fs->ext_cap : capacity;
}

void sfs_ext_level_load(struct sfs_fs *fs, struct sfs_ext_level *l)
{
	struct sfs_extent_header h;

	sfs_extent_header_decode(&h, l->node);
	l->entries = h.entries;
	l->max = sfs_ext_cap(fs, h.max);
}

void sfs_ext_set_entries(struct sfs_ext_level *l, unsigned n)
{
	struct sfs_extent_header h;

	sfs_extent_header_decode(&h, l->node);
	h.entries = (uint16_t)n;
	sfs_extent_header_encode(l->node, &h);
	l->entries = n;
}

/* First logical block a node covers (its first entry); 0 when empty. */
uint32_t sfs_ext_level_key(const struct sfs_ext_level *l, unsigned node_depth)
{
	if (!l->entries)
		return 0;
	if (node_depth == 0) {
		struct sfs_extent e;

		sfs_extent_get(&e, l->node, 0);
		return e.lblk;
	} else {
		struct sfs_extent_idx x;

		sfs_extent_idx_get(&x, l->node, 0);
		return x.lblk;
	}
}

unsigned sfs_ext_depth(struct sfs_inode_info *ip)
{
	struct sfs_extent_header h;

	sfs_extent_header_decode(&h, ip->root);
	return h.depth;
}

/* Let go of level @l's buffer (a borrowed one is the index cache's). */
static void level_put(struct sfs_ext_level *l)
{
	if (l->bh && !l->borrowed)
		sfs_buf_release(l->bh);
	l->bh = NULL;
	l->cn = NULL;
	l->borrowed = false;
}

/* Let go of every level's buffer (the path's own memory stays). */
static void path_release(struct sfs_ext_path *p)
{
	for (unsigned i = 1; i <= p->depth; i++)
		level_put(&p->lv[i]);
}

void sfs_ext_path_free(struct sfs_ext_path *p)
{
	if (!p)
		return;
	path_release(p);
	mc_free(p);
}

static inline uint32_t slot_key(const struct sfs_ext_level *l, unsigned i)
{
	uint32_t key;

	memcpy(&key, sfs_ext_slot(l, i), 4);
	return le32toh(key);
}

/* Last entry whose key is <= @lblk; -1 if none.  Leaf and index entries
 * both start with their le32 logical block: only that is read.
 *
 * Keys are strictly increasing, so the answer is the number of keys <= lblk,
 * minus one, and counting needs no data-dependent branch.  In a large tree
 * a node is cold: a binary search would take about log2(entries) cache
 * misses one after the other, each probe waiting for the last.  Instead,
 * count over SAMPLES evenly spaced keys (independent loads: their misses
 * overlap), then over the one stretch between two samples that holds the
 * answer -- two rounds of misses whatever the node size, one when the
 * node's twin holds the samples (search_twin). */
#define SAMPLES 16u

static unsigned node_stride(unsigned n, unsigned samples)
{
	return n > samples ? (n + samples - 1) / samples : 1;
}

/* The answer within the stretch after sample @cnt - 1 (cnt >= 1). */
static int search_stretch(const struct sfs_ext_level *l, unsigned stride, unsigned cnt,
			  uint32_t lblk)
{
	unsigned n = l->entries, lo = (cnt - 1) * stride, hi, more = 0;

	hi = lo + stride < n ? lo + stride : n;
	for (unsigned i = lo + 1; i < hi; i++)
		more += slot_key(l, i) <= lblk;
	return (int)(lo + more);
}

static int bsearch_node(const struct sfs_ext_level *l, unsigned node_depth, uint32_t lblk)
{
	unsigned n = l->entries, stride = node_stride(n, SAMPLES), cnt = 0;

	(void)node_depth;
	for (unsigned i = 0; i < n; i += stride)
		cnt += slot_key(l, i) <= lblk;
	if (!cnt)
		return -1;
	return stride == 1 ? (int)cnt - 1 : search_stretch(l, stride, cnt, lblk);
}

/* Take the samples of level @c's node into its twin for @seq. */
static void summary_fill(struct sfs_ext_cnode *k, const struct sfs_ext_level *c, uint64_t seq)
{
	unsigned n = c->entries, stride = node_stride(n, SFS_EXT_SAMPLES), m = 0;

	for (unsigned i = 0; i < n; i += stride)
		__atomic_store_n(&k->sum_key[m++], slot_key(c, i), __ATOMIC_RELAXED);
	__atomic_store_n(&k->sum_entries, (uint16_t)n, __ATOMIC_RELAXED);
	__atomic_store_n(&k->sum_max, (uint16_t)c->max, __ATOMIC_RELAXED);
	__atomic_store_n(&k->sum_stride, (uint16_t)stride, __ATOMIC_RELAXED);
	__atomic_store_n(&k->sum_n, (uint16_t)m, __ATOMIC_RELAXED);
	__atomic_store_n(&k->sum_seq, seq + 1, __ATOMIC_RELEASE);
}

/* bsearch_node from the twin's samples (valid: the node is unchanged). */
static int search_twin(const struct sfs_ext_level *l, const struct sfs_ext_cnode *k,
		       uint32_t lblk)
{
	unsigned m = __atomic_load_n(&k->sum_n, __ATOMIC_RELAXED);
	unsigned stride = __atomic_load_n(&k->sum_stride, __ATOMIC_RELAXED), cnt = 0;

	for (unsigned i = 0; i < m; i++)
		cnt += __atomic_load_n(&k->sum_key[i], __ATOMIC_RELAXED) <= lblk;
	if (!cnt)
		return -1;
	if (stride == 1)
		return (int)cnt - 1;
	/* the stretch's lines, all at once */
	for (unsigned i = (cnt - 1) * stride; i < cnt * stride && i < l->entries; i += 4)
		__builtin_prefetch(sfs_ext_slot(l, i));
	return search_stretch(l, stride, cnt, lblk);
}

/* Start loading the lines bsearch_node will read from a node of about
 * @n entries, together with its header: a cold node then costs one round
 * of misses instead of two.  Only a hint -- a wrong @n costs a few useless
 * prefetches. */
static void prefetch_node(const uint8_t *node, unsigned n)
{
	unsigned stride = node_stride(n, SAMPLES);

	__builtin_prefetch(node);
	for (unsigned i = 0; i < n; i += stride)
		__builtin_prefetch(node + sizeof(struct sfs_disk_extent_hdr) + (size_t)i * 16);
}

/* Read the child block @blk expected at depth @depth into level @l. */
static int read_node(struct sfs_ext_path *p, uint64_t blk, unsigned depth,
		     struct sfs_ext_level *l)
{
	struct sfs_inode_info *ip = p->ip;
	struct sfs_fs *fs = ip->fs;
	struct sfs_extent_header h;
	struct sfs_hdr hdr;
	struct sfs_buf *bh;
	int ret;

	/* Cached and verified (the common case): take it without the read
	 * path's read-ahead bookkeeping, which costs a syscall per call. */
	bh = sfs_buf_find(fs->bc, blk);
	if (bh && (!(sfs_buf_state(bh) & SFS_BS_VERIFIED) || !sfs_buf_uptodate(bh) ||
		   bh->ops != &sfs_extent_buf_ops)) {
		sfs_buf_release(bh);
		bh = NULL;
	}
	ret = bh ? 0 : sfs_buf_read(fs->bc, blk, &sfs_extent_buf_ops,
				    sfs_buf_flags(p->flags & SFS_EXT_NOFAIL), &bh);
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return sfs_ext_corrupt(ip, blk, "%s", sfs_verify_reason());
	if (ret == -EIO)
		return SFS_ERROR(fs, -EIO, ip->ino, blk, "cannot read extent block");
	if (ret)
		return ret;
	sfs_hdr_decode(&hdr, bh->data);
	sfs_extent_header_decode(&h, (uint8_t *)bh->data + SFS_HDR_SIZE);
	if (hdr.owner != ip->ino || h.depth != depth || !h.entries) {
		sfs_buf_release(bh);
		return sfs_ext_corrupt(ip, blk, "extent block owned by %llu at depth %u with %u entries, "
				       "expected owner %llu, depth %u, not empty",
				       (unsigned long long)hdr.owner, h.depth, h.entries,
				       (unsigned long long)ip->ino, depth);
	}
	l->bh = bh;
	l->node = (uint8_t *)bh->data + SFS_HDR_SIZE;
	sfs_ext_level_load(fs, l);
	return 0;
}

/* Load level @L + 1 from block @blk, the child of level @L's entry pos:
 * through the index cache on a lookup's path (SFS_EXT_BORROW), else (or
 * when the cache has no twin yet) from the buffer cache, then giving the
 * child a twin when the parent has one. */
static int get_child(struct sfs_ext_path *p, unsigned L, uint64_t blk)
{
	struct sfs_ext_level *l = &p->lv[L], *c = &p->lv[L + 1];
	unsigned depth = p->depth - L - 1;
	struct sfs_ext_cnode *k;
	int ret;

	k = sfs_ext_cache_kid(l->cn, l->pos, blk);
	if (k) {
		c->bh = k->bh;
		c->borrowed = true;
		c->cn = k;
		c->node = k->node;
		/* Cold in a large tree: the node's page walk and a line from
		 * its middle start now, while its samples come from the twin. */
		__builtin_prefetch(k->node + sizeof(struct sfs_disk_extent_hdr) +
				   (size_t)k->hint * 8);
		if (__atomic_load_n(&k->sum_seq, __ATOMIC_ACQUIRE) == p->ip->ext_seq + 1) {
			c->entries = __atomic_load_n(&k->sum_entries, __ATOMIC_RELAXED);
			c->max = __atomic_load_n(&k->sum_max, __ATOMIC_RELAXED);
			return 0;
		}
		prefetch_node(k->node, k->hint);
		sfs_ext_level_load(p->ip->fs, c);
		summary_fill(k, c, p->ip->ext_seq);
		return 0;
	}
	ret = read_node(p, blk, depth, c);
	if (ret)
		return ret;
	c->borrowed = false;
	c->cn = sfs_ext_cache_fill(p->ip, l->cn, l->pos, c->bh, depth);
	return 0;
}

/* Descend from level @from (already loaded, pos set) to the leaf, taking
 * @lblk's way, or the leftmost (@leftmost) / rightmost way. */
enum descend { DESCEND_KEY, DESCEND_LEFT, DESCEND_RIGHT };

static int descend(struct sfs_ext_path *p, unsigned from, uint32_t lblk, enum descend how)
{
	for (unsigned L = from; L < p->depth; L++) {
		struct sfs_ext_level *l = &p->lv[L];
		struct sfs_extent_idx x;
		int ret;

		if (how == DESCEND_LEFT && L > from)
			l->pos = 0;
		else if (how == DESCEND_RIGHT && L > from)
			l->pos = (int)l->entries - 1;
		sfs_extent_idx_get(&x, l->node, (unsigned)l->pos);
		ret = get_child(p, L, x.child);
		if (ret)
			return ret;
		p->lv[L + 1].pos = -1;
		if (how == DESCEND_KEY) {
			struct sfs_ext_level *c = &p->lv[L + 1];
			int pos = c->borrowed ? search_twin(c, c->cn, lblk)
					      : bsearch_node(c, p->depth - L - 1, lblk);

			/* Below the first key: only on the leftmost path. */
			c->pos = (pos < 0 && L + 1 < p->depth) ? 0 : pos;
		}
	}
	if (how == DESCEND_LEFT && from < p->depth)
		p->lv[p->depth].pos = 0;
	else if (how == DESCEND_RIGHT && from < p->depth)
		p->lv[p->depth].pos = (int)p->lv[p->depth].entries - 1;
	return 0;
}

/* Fill @p (zeroed here) with the path to @lblk; on error nothing is held. */
static int find_in(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
		   struct sfs_ext_path *p)
{
	struct sfs_fs *fs = ip->fs;
	struct sfs_extent_header h;
	int ret, pos;

	sfs_extent_header_decode(&h, ip->root);
	if (h.magic != SFS_EXTENT_HDR_MAGIC || h.depth > SFS_EXT_MAX_DEPTH ||
	    h.entries > h.max || h.max != SFS_EXTENT_ROOT_ENTRIES || (h.depth && !h.entries))
		return sfs_ext_corrupt(ip, 0, "bad extent root (magic 0x%x, depth %u, %u/%u entries)",
				       h.magic, h.depth, h.entries, h.max);
	memset(p, 0, sizeof(*p));
	p->ip = ip;
	p->flags = flags;
	p->depth = h.depth;
	p->lv[0].node = ip->root;
	sfs_ext_level_load(fs, &p->lv[0]);
	/* Only lookups borrow (extent_tree.h). */
	if ((flags & SFS_EXT_BORROW) && h.depth >= 1)
		p->lv[0].cn = sfs_ext_cache_root(ip);
	pos = bsearch_node(&p->lv[0], h.depth, lblk);
	p->lv[0].pos = (pos < 0 && h.depth) ? 0 : pos;
	ret = descend(p, 0, lblk, DESCEND_KEY);
	if (ret) {
		path_release(p);
		return ret;
	}
	SFS_STAT(fs, ext_lookups, 1);
	return 0;
}

int sfs_ext_find(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
		 struct sfs_ext_path **out)
{
	struct sfs_ext_path *p;
	int ret;

	*out = NULL;
	p = mc_alloc_named("extent.path", sizeof(*p), sfs_gfp(flags & SFS_EXT_NOFAIL));
	if (!p)
		return -ENOMEM;
	ret = find_in(ip, lblk, flags, p);
	if (ret) {
		mc_free(p);
		return ret;
	}
	*out = p;
	return 0;
}

/*
 * The read-only lookups below keep their path on the stack: a write into
 * the page cache looks its blocks up while memory may be full of its own
 * dirty pages, and a failed allocation there failed the write with
 * ENOMEM (the path is ~0.5 KiB, and nothing holds it past the call).
 */
static int find_borrowed(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
			 struct sfs_ext_path *p)
{
	return find_in(ip, lblk, flags | SFS_EXT_BORROW, p);
}

uint64_t sfs_ext_path_next_key(const struct sfs_ext_path *p)
{
	for (int L = (int)p->depth - 1; L >= 0; L--) {
		const struct sfs_ext_level *l = &p->lv[L];

		if (l->pos + 1 < (int)l->entries) {
			struct sfs_extent_idx x;

			sfs_extent_idx_get(&x, l->node, (unsigned)l->pos + 1);
			return x.lblk;
		}
	}
	return SFS_EXT_LBLK_END;
}

static int move_leaf(struct sfs_ext_path *p, int dir)
{
	for (int L = (int)p->depth - 1; L >= 0; L--) {
		struct sfs_ext_level *l = &p->lv[L];
		int next = l->pos + dir;

		if (next < 0 || next >= (int)l->entries)
			continue;
		l->pos = next;
		for (unsigned k = (unsigned)L + 1; k <= p->depth; k++)
			level_put(&p->lv[k]);
		return descend(p, (unsigned)L, 0, dir > 0 ? DESCEND_LEFT : DESCEND_RIGHT) ?: 1;
	}
	return 0;
}

int sfs_ext_path_next_leaf(struct sfs_ext_path *p)
{
	return move_leaf(p, 1);
}

static int path_prev_leaf(struct sfs_ext_path *p)
{
	return move_leaf(p, -1);
}

int sfs_ext_lookup(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags,
		   struct sfs_extent *e)
{
	struct sfs_ext_path ps, *p = &ps;
	struct sfs_ext_level *leaf;
	uint64_t next;
	int ret;

	ret = find_borrowed(ip, lblk, flags, p);
	if (ret)
		return ret;
	leaf = &p->lv[p->depth];
	if (leaf->pos >= 0) {
		sfs_extent_get(e, leaf->node, (unsigned)leaf->pos);
		if (sfs_ext_end(e) > lblk) {
			ret = 1;
			goto out;
		}
	}
	if (leaf->pos + 1 < (int)leaf->entries) {
		struct sfs_extent n;

		sfs_extent_get(&n, leaf->node, (unsigned)(leaf->pos + 1));
		next = n.lblk;
	} else {
		next = sfs_ext_path_next_key(p);
	}
	e->lblk = lblk;
	e->len = (uint16_t)(next - lblk > SFS_MAX_EXTENT_LEN ? SFS_MAX_EXTENT_LEN : next - lblk);
	e->flags = 0;
	e->pblk = 0;
	ret = 0;
out:
	path_release(p);
	return ret;
}

int sfs_ext_next(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, struct sfs_extent *e)
{
	struct sfs_ext_path ps, *p = &ps;
	struct sfs_ext_level *leaf;
	int ret;

	ret = find_borrowed(ip, lblk, flags, p);
	if (ret)
		return ret;
	leaf = &p->lv[p->depth];
	if (leaf->pos >= 0) {
		sfs_extent_get(e, leaf->node, (unsigned)leaf->pos);
		if (sfs_ext_end(e) > lblk) {
			ret = 1;
			goto out;
		}
	}
	if (leaf->pos + 1 < (int)leaf->entries) {
		sfs_extent_get(e, leaf->node, (unsigned)(leaf->pos + 1));
		ret = 1;
		goto out;
	}
	ret = sfs_ext_path_next_leaf(p);
	if (ret == 1)
		sfs_extent_get(e, p->lv[p->depth].node, 0);
out:
	path_release(p);
	return ret;
}

int sfs_ext_prev(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, struct sfs_extent *e)
{
	struct sfs_ext_path ps, *p = &ps;
	struct sfs_ext_level *leaf;
	int ret;

	ret = find_borrowed(ip, lblk, flags, p);
	if (ret)
		return ret;
	leaf = &p->lv[p->depth];
	if (leaf->pos >= 0) {
		sfs_extent_get(e, leaf->node, (unsigned)leaf->pos);
		ret = 1;
	} else {
		/* Keys are exact, so only the leftmost leaf has nothing at or
		 * before @lblk; still, follow the tree rather than assume. */
		ret = path_prev_leaf(p);
		if (ret == 1)
			sfs_extent_get(e, p->lv[p->depth].node,
				       p->lv[p->depth].entries - 1);
	}
	path_release(p);
	return ret;
}

int sfs_ext_walk(struct sfs_inode_info *ip, uint32_t lblk, unsigned flags, sfs_ext_walk_fn fn,
		 void *arg)
{
	struct sfs_ext_path ps, *p = &ps;
	int ret;
	int i;

	ret = find_borrowed(ip, lblk, flags, p);
	if (ret)
		return ret;
	i = p->lv[p->depth].pos;
	if (i >= 0) {
		struct sfs_extent e;

		sfs_extent_get(&e, p->lv[p->depth].node, (unsigned)i);
		if (sfs_ext_end(&e) <= lblk)
			i++;
	} else {
		i = 0;
	}
	for (;;) {
		struct sfs_ext_level *leaf = &p->lv[p->depth];

		for (; i < (int)leaf->entries; i++) {
			struct sfs_extent e;

			sfs_extent_get(&e, leaf->node, (unsigned)i);
			ret = fn(arg, &e);
			if (ret)
				goto out;
		}
		ret = sfs_ext_path_next_leaf(p);
		if (ret <= 0)
			goto out;
		i = 0;
	}
out:
	path_release(p);
	return ret;
}

/* ---- changing a level ---------------------------------------------- */

int sfs_ext_level_access(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L)
{
	if (L == 0)
		return sfs_inode_access(t, p->ip, p->flags & SFS_EXT_NOFAIL);
	return sfs_trans_access(t, p->lv[L].bh);
}

void sfs_ext_level_begin(struct sfs_ext_path *p, unsigned L)
{
	if (L)
		sfs_buf_lock(p->lv[L].bh);
}

int sfs_ext_level_end(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L)
{
	int ret;

	p->ip->ext_seq++;
	/* what fdatasync must commit: the mapping changed */
	p->ip->data_tid = sfs_trans_tid(t);
	/* An index node or the root changed: its twin's children may be other
	 * blocks now (leaf changes leave the index alone). */
	if (L < p->depth || L == 0)
		sfs_ext_cache_drop(p->ip);
	if (L == 0) {
		sfs_inode_sync_root(p->ip);
		return sfs_inode_commit(t, p->ip);
	}
	ret = sfs_trans_dirty(t, p->lv[L].bh);
	sfs_buf_unlock(p->lv[L].bh);
	return ret;
}

void sfs_ext_slot_insert(struct sfs_ext_level *l, unsigned i, unsigned count)
{
	memmove(sfs_ext_slot(l, i + count), sfs_ext_slot(l, i), (size_t)(l->entries - i) * 16);
	memset(sfs_ext_slot(l, i), 0, (size_t)count * 16);
	sfs_ext_set_entries(l, l->entries + count);
}

void sfs_ext_slot_delete(struct sfs_ext_level *l, unsigned i, unsigned count)
{
	memmove(sfs_ext_slot(l, i), sfs_ext_slot(l, i + count),
		(size_t)(l->entries - i - count) * 16);
	memset(sfs_ext_slot(l, l->entries - count), 0, (size_t)count * 16);
	sfs_ext_set_entries(l, l->entries - count);
}

/* Levels above @L whose key follows @L's first key: L-1 always, and on
 * up while the path goes through entry 0. */
static unsigned keys_top(const struct sfs_ext_path *p, unsigned L)
{
	unsigned k = L;

	while (k > 0) {
		k--;
		if (p->lv[k].pos != 0)
			break;
	}
	return k;
}

int sfs_ext_keys_access(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L)
{
	if (L == 0)
		return 0;
	for (unsigned k = keys_top(p, L); k < L; k++) {
		int ret = sfs_ext_level_access(t, p, k);

		if (ret)
			return ret;
	}
	return 0;
}

int sfs_ext_keys_fix(struct sfs_trans *t, struct sfs_ext_path *p, unsigned L)
{
	uint32_t key = sfs_ext_level_key(&p->lv[L], p->depth - L);

	for (unsigned k = L; k > 0; k--) {
		struct sfs_ext_level *parent = &p->lv[k - 1];
		struct sfs_extent_idx x;
		int ret;

		sfs_extent_idx_get(&x, parent->node, (unsigned)parent->pos);
		if (x.lblk == key)
			return 0;
		sfs_ext_level_begin(p, k - 1);
		x.lblk = key;
		sfs_extent_idx_put(parent->node, (unsigned)parent->pos, &x);
		ret = sfs_ext_level_end(t, p, k - 1);
		if (ret)
			return ret;
		if (parent->pos != 0)
			return 0;
	}
	return 0;
}

uint64_t sfs_ext_tree_goal(const struct sfs_ext_path *p)
{
	const struct sfs_ext_level *leaf = &p->lv[p->depth];

	if (leaf->entries) {
		struct sfs_extent e;

		sfs_extent_get(&e, leaf->node, leaf->pos > 0 ? (unsigned)leaf->pos : 0);
		return e.pblk;
	}
	return 0;
}
