/*
 * Where an inode's extended attributes live: its inline area (the bytes of
 * the inode record past the 256-byte core) and at most one external block
 * (fs/format/xattr.h).  A change loads every attribute into memory,
 * applies itself there, and packs the result again -- inline first, the
 * rest in the block -- in one transaction: simple, and attributes are few
 * and small.  The external block is the inode's alone (refcount 1); it is
 * journaled metadata, so freeing it revokes it.
 *
 * Callers hold the inode's rwsem (read to load, write to store).
 */
#include <errno.h>
#include <string.h>

#include "fs/balloc.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"
#include "fs/namespace/xattr.h"

static int inline_cap(const struct sfs_fs *fs)
{
	return (int)fs->sbi->geo.inode_size - (int)SFS_INODE_CORE_SIZE;
}

void sfs_xattr_set_free(struct sfs_xattr_set *s)
{
	mc_free(s->v);
	mc_free(s->buf);
	memset(s, 0, sizeof(*s));
}

static int set_append(struct sfs_xattr_set *s, const struct sfs_xattr_rec *r)
{
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct sfs_xattr_rec *nv = mc_alloc(cap * sizeof(*nv), MC_KERNEL);

		if (!nv)
			return -ENOMEM;
		if (s->v)
			memcpy(nv, s->v, s->n * sizeof(*nv));
		mc_free(s->v);
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = *r;
	return 0;
}

static int read_block(struct sfs_inode_info *ip, uint64_t blk, struct sfs_buf **out)
{
	struct sfs_fs *fs = ip->fs;
	int ret = sfs_buf_read(fs->bc, blk, &sfs_xattr_buf_ops, 0, out);

	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return SFS_ERROR(fs, -EUCLEAN, ip->ino, blk, "xattr block: %s", sfs_verify_reason());
	if (!ret && sfs_get_le((const uint8_t *)(*out)->data + offsetof(struct sfs_disk_hdr, owner),
			       8) != ip->ino) {
		sfs_buf_release(*out);
		return SFS_ERROR(fs, -EUCLEAN, ip->ino, blk, "xattr block belongs to another inode");
	}
	return ret;
}

/* Copy @len bytes of records into the set's buffer at *used and list them. */
static int load_area(struct sfs_inode_info *ip, struct sfs_xattr_set *s, const uint8_t *area,
		     uint32_t len, long count, size_t *used)
{
	struct sfs_xattr_rec r;
	uint32_t off = 0;
	uint8_t *copy = s->buf + *used;
	long n = 0;
	int ret;

	memcpy(copy, area, len);
	*used += len;
	while ((count < 0 || n < count) && (ret = sfs_xattr_next(copy, len, &off, &r)) > 0) {
		ret = set_append(s, &r);
		if (ret)
			return ret;
		n++;
	}
	if (ret < 0 || (count >= 0 && n < count))
		return SFS_ERROR(ip->fs, -EUCLEAN, ip->ino, 0, "malformed xattr record at %u", off);
	return 0;
}

int sfs_xattr_load(struct sfs_inode_info *ip, struct sfs_xattr_set *s)
{
	struct sfs_fs *fs = ip->fs;
	struct sfs_buf *ib = NULL, *xb = NULL;
	uint32_t ilen;
	uint64_t xblk;
	size_t used = 0;
	int ret;

	memset(s, 0, sizeof(*s));
	mc_mutex_lock(&ip->attr_lock);
	ilen = ip->d.inline_xattr_len;
	xblk = ip->d.xattr_block;
	mc_mutex_unlock(&ip->attr_lock);
	if ((int)ilen > inline_cap(fs))
		return SFS_ERROR(fs, -EUCLEAN, ip->ino, 0, "inline xattr area of %u bytes", ilen);
	if (!ilen && !xblk)
		return 0;
	s->buf = mc_alloc_named("ns.xattr", (size_t)inline_cap(fs) + fs->bsize, MC_KERNEL);
	if (!s->buf)
		return -ENOMEM;
	if (ilen) {
		ret = sfs_buf_read(fs->bc, ip->itable_blk, &sfs_itable_buf_ops, 0, &ib);
		if (ret)
			goto err;
		sfs_buf_lock(ib);
		ret = load_area(ip, s, (const uint8_t *)ib->data + ip->itable_off + SFS_INODE_CORE_SIZE,
				ilen, -1, &used);
		sfs_buf_unlock(ib);
		sfs_buf_release(ib);
		if (ret)
			goto err;
	}
	s->inline_n = s->n;
	if (xblk) {
		ret = read_block(ip, xblk, &xb);
		if (ret)
			goto err;
		ret = load_area(ip, s, (const uint8_t *)xb->data + SFS_XATTR_BLOCK_BODY,
				fs->bsize - SFS_XATTR_BLOCK_BODY, sfs_xattr_block_entries(xb->data),
				&used);
		sfs_buf_release(xb);
		if (ret)
			goto err;
	}
	return 0;
err:
	sfs_xattr_set_free(s);
	return ret;
}

int sfs_xattr_find(const struct sfs_xattr_set *s, unsigned index, const char *name,
		   unsigned len)
{
	struct sfs_xattr_rec want = { .index = index, .name = name, .name_len = len };

	for (unsigned i = 0; i < s->n; i++)
		if (sfs_xattr_same(&s->v[i], &want))
			return (int)i;
	return -ENODATA;
}

int sfs_xattr_set_put(struct sfs_xattr_set *s, const struct sfs_xattr_rec *r)
{
	int i = sfs_xattr_find(s, r->index, r->name, r->name_len);

	if (i >= 0) {
		s->v[i] = *r;
		return 0;
	}
	return set_append(s, r);
}

void sfs_xattr_set_del(struct sfs_xattr_set *s, unsigned i)
{
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
	s->n--;
}

/* Which records go inline (first fit, in order), and whether the rest fit
 * the block: *inline_len, *block_len (0 = no block needed). */
static int pack_plan(struct sfs_fs *fs, const struct sfs_xattr_set *s, uint8_t *where,
		     uint32_t *inline_len, uint32_t *block_len)
{
	uint32_t icap = (uint32_t)inline_cap(fs), bcap = fs->bsize - SFS_XATTR_BLOCK_BODY;
	uint32_t il = 0, bl = 0;

	for (unsigned i = 0; i < s->n; i++) {
		uint32_t sz = sfs_xattr_rec_size(s->v[i].name_len, s->v[i].value_len);

		if (il + sz <= icap) {
			il += sz;
			where[i] = 0;
		} else if (bl + sz <= bcap) {
			bl += sz;
			where[i] = 1;
		} else {
			return -ENOSPC;
		}
	}
	*inline_len = il;
	*block_len = bl;
	return 0;
}

int sfs_ns_xattr_free_block(struct sfs_trans *t, uint64_t blk)
{
	struct sfs_buf *bh = sfs_buf_find(t->fs->bc, blk);
	int ret;

	/* Revoke first: an older logged copy must never come back over the
	 * block's next owner. */
	if (bh) {
		ret = sfs_trans_forget(t, bh);
		sfs_buf_release(bh);
	} else {
		ret = jnl_revoke(t->h, blk);
	}
	return ret ? ret : sfs_bfree(t, blk, 1, true);
}

int sfs_xattr_store(struct sfs_trans *t, struct sfs_inode_info *ip, const struct sfs_xattr_set *s)
{
	struct sfs_fs *fs = ip->fs;
	struct sfs_buf *xb = NULL, *ib;
	uint32_t ilen, blen;
	uint64_t old_blk, new_blk = 0;
	bool fresh = false;
	uint8_t *where, *p;
	int ret;

	where = mc_alloc_named("ns.xattr", s->n + 1, MC_KERNEL);
	if (!where)
		return -ENOMEM;
	ret = pack_plan(fs, s, where, &ilen, &blen);
	if (ret)
		goto out;
	mc_mutex_lock(&ip->attr_lock);
	old_blk = ip->d.xattr_block;
	mc_mutex_unlock(&ip->attr_lock);

	/* Acquire: the inode, and the block to write (kept or new). */
	ret = sfs_inode_access(t, ip, sfs_trans_nofail(t));
	if (ret)
		goto out;
	if (blen && old_blk) {
		new_blk = old_blk;
		ret = read_block(ip, old_blk, &xb);
		if (!ret)
			ret = sfs_trans_access(t, xb);
	} else if (blen) {
		struct sfs_alloc_req req = { .goal = ip->itable_blk, .len = 1,
					     .flags = SFS_ALLOC_METADATA };
		uint32_t got;

		ret = sfs_balloc(t, &req, &new_blk, &got);
		if (!ret) {
			fresh = true;
			ret = sfs_buf_new(fs, new_blk, &sfs_xattr_buf_ops, false, &xb);
			if (!ret)
				ret = sfs_trans_access(t, xb);
			if (ret)
				sfs_bfree(t, new_blk, 1, true);   /* ours in this transaction: no revoke */
		}
	}
	if (!ret && !blen && old_blk)
		ret = sfs_ns_xattr_free_block(t, old_blk);
	if (ret)
		goto out;

	/* Change: nothing below fails but on I/O. */
	if (xb) {
		sfs_buf_lock(xb);
		if (fresh)
			sfs_xattr_block_init(xb->data, fs->sbi, new_blk, ip->ino);
		p = (uint8_t *)xb->data + SFS_XATTR_BLOCK_BODY;
		memset(p, 0, fs->bsize - SFS_XATTR_BLOCK_BODY);
		for (unsigned i = 0, n = 0; i < s->n; i++) {
			if (!where[i])
				continue;
			p += sfs_xattr_put(p, &s->v[i]);
			sfs_xattr_block_set_entries(xb->data, ++n);
		}
		ret = sfs_trans_dirty(t, xb);
		sfs_buf_unlock(xb);
		if (ret)
			goto out;
	}
	ib = sfs_buf_find(fs->bc, ip->itable_blk);
	if (!ib) {
		ret = SFS_ERROR(fs, -EIO, ip->ino, ip->itable_blk,
				"inode table block left the cache inside a transaction");
		goto out;
	}
	sfs_buf_lock(ib);
	p = (uint8_t *)ib->data + ip->itable_off + SFS_INODE_CORE_SIZE;
	memset(p, 0, (size_t)inline_cap(fs));
	for (unsigned i = 0; i < s->n; i++)
		if (!where[i])
			p += sfs_xattr_put(p, &s->v[i]);
	sfs_buf_unlock(ib);
	sfs_buf_release(ib);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.inline_xattr_len = ilen;
	ip->d.xattr_block = blen ? new_blk : 0;
	if (fresh)
		ip->d.blocks++;
	else if (!blen && old_blk)
		ip->d.blocks--;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_inode_touch(ip, SFS_T_CTIME);
	ret = sfs_inode_commit(t, ip);
	if (!ret && (fresh || (!blen && old_blk)))
		ret = sfs_orphan_note_xattr(t, ip);
out:
	sfs_brelse(xb);
	mc_free(where);
	return ret;
}
