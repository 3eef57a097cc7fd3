/*
 * The orphan file (see orphan.h for why slots, and ondisk.h for the
 * format).
 *
 * Life of a slot:
 *   free      ino 0
 *   valid     names a live inode of that generation with flag ORPHAN: the
 *             next mount must finish it (free it, or finish its truncate)
 *   stale     names anything else: the inode was freed (by a path that does
 *             not know slots) or reused; its xattr_block, if any, is still
 *             to be freed.  Swept by reap, forget and replay.
 * A slot turns valid -> free in the transaction that frees the inode (reap)
 * or ends the truncate (del); valid -> stale in the freeing transaction of
 * a path outside the namespace; stale -> free in a sweep.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/format/orphan.h"
#include "fs/format/super.h"
#include "fs/format/verify.h"
#include "fs/namespace/ns.h"

static mc_mutex_t orphan_lock;
static pthread_once_t orphan_once = PTHREAD_ONCE_INIT;

static void orphan_lock_init(void)
{
	mc_mutex_init(&orphan_lock, "sfs_orphan");
}

static void olock(void)
{
	pthread_once(&orphan_once, orphan_lock_init);
	mc_mutex_lock(&orphan_lock);
}

static void ounlock(void)
{
	mc_mutex_unlock(&orphan_lock);
}

static uint64_t orphan_head(struct sfs_fs *fs)
{
	uint64_t h;

	mc_mutex_lock(&fs->sbi->sb_lock);
	h = fs->sbi->sb.orphan_head;
	mc_mutex_unlock(&fs->sbi->sb_lock);
	return h;
}

/* Create the orphan file: a reserved inode nothing names (ext4's
 * orphan_file), recorded in the superblock. */
static int orphan_file_create(struct sfs_trans *t, struct sfs_fs *fs, struct sfs_inode_info **out)
{
	struct sfs_sb_info *sbi = fs->sbi;
	struct sfs_inode_info *ip;
	struct sfs_buf *bh = NULL;
	uint8_t *raw;
	uint32_t gen;
	int ret;

	ip = sfs_inode_alloc(fs, SFS_ORPHAN_INO);
	if (!ip)
		return -ENOMEM;
	ret = sfs_buf_read(fs->bc, ip->itable_blk, &sfs_itable_buf_ops,
			   sfs_buf_flags(sfs_trans_nofail(t)), &bh);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (!ret)
		ret = sfs_trans_sb_prepare(t);
	if (ret)
		goto err;
	raw = (uint8_t *)bh->data + ip->itable_off;
	gen = 1;
	if (!sfs_inode_slot_unused(raw) && !sfs_inode_verify(raw, SFS_ORPHAN_INO, sbi)) {
		struct sfs_inode old;

		sfs_inode_decode(&old, raw);
		if (old.mode) {
			ret = SFS_ERROR(fs, -EUCLEAN, SFS_ORPHAN_INO, ip->itable_blk,
					"the orphan file exists but the superblock does not name it");
			goto err;
		}
		gen = old.generation + 1;
	}
	ip->d.ino = SFS_ORPHAN_INO;
	ip->d.mode = S_IFREG | 0600;
	ip->d.core_size = SFS_INODE_CORE_SIZE;
	ip->d.generation = gen;
	ip->d.nlink = 1;
	sfs_now(&ip->d.atime);
	ip->d.mtime = ip->d.ctime = ip->d.btime = ip->d.atime;
	sfs_extent_root_init(ip->d.root);
	memcpy(ip->root, ip->d.root, sizeof(ip->root));
	sfs_buf_lock(bh);
	memset(raw, 0, sbi->geo.inode_size);
	sfs_inode_encode(raw, &ip->d, sbi);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	bh = NULL;
	if (ret)
		goto err;
	mc_mutex_lock(&sbi->sb_lock);
	sbi->sb.orphan_head = SFS_ORPHAN_INO;
	mc_mutex_unlock(&sbi->sb_lock);
	ret = sfs_trans_sb_commit(t);
	ip->last_tid = sfs_trans_tid(t);
	sfs_icache_insert_new(fs, ip);
	*out = ip;
	return ret;
err:
	sfs_brelse(bh);
	mc_rwlock_destroy(&ip->rwsem);
	mc_rwlock_destroy(&ip->data_sem);
	mc_mutex_destroy(&ip->attr_lock);
	mc_free(ip);
	return ret;
}

/* The orphan file, created when @t is given and there is none. */
static int orphan_file(struct sfs_trans *t, struct sfs_fs *fs, struct sfs_inode_info **out)
{
	uint64_t head = orphan_head(fs);
	int ret;

	if (!head)
		return t ? orphan_file_create(t, fs, out) : -ENOENT;
	if (head != SFS_ORPHAN_INO)
		return SFS_ERROR(fs, -EUCLEAN, head, 0, "superblock names inode %llu as the orphan file",
				 (unsigned long long)head);
	ret = sfs_iget(fs, head, out);
	if (!ret && !S_ISREG((*out)->d.mode)) {
		sfs_iput(*out);
		ret = SFS_ERROR(fs, -EUCLEAN, head, 0, "the orphan file is not a regular file");
	}
	return ret;
}

static uint32_t orphan_blocks(struct sfs_inode_info *of)
{
	uint64_t size;

	mc_mutex_lock(&of->attr_lock);
	size = of->d.size;
	mc_mutex_unlock(&of->attr_lock);
	return (uint32_t)(size >> of->fs->blog);
}

static int orphan_bread(struct sfs_inode_info *of, uint32_t lblk, bool nofail, struct sfs_buf **out)
{
	struct sfs_fs *fs = of->fs;
	struct sfs_mapping m;
	int ret;

	ret = sfs_map_blocks(NULL, of, lblk, 1, nofail ? SFS_MAPF_NOFAIL : 0, &m);
	if (ret)
		return ret;
	if (m.state != SFS_MAPPED_WRITTEN)
		return SFS_ERROR(fs, -EUCLEAN, of->ino, 0, "orphan file block %u is not mapped", lblk);
	ret = sfs_buf_read(fs->bc, m.pblk, &sfs_orphan_buf_ops, sfs_buf_flags(nofail), out);
	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		ret = SFS_ERROR(fs, -EUCLEAN, of->ino, m.pblk, "orphan file block %u: %s", lblk,
				sfs_verify_reason());
	return ret;
}

/* A new block at the end of the orphan file, write access taken. */
static int orphan_grow(struct sfs_trans *t, struct sfs_inode_info *of, struct sfs_buf **out,
		       uint32_t *lblk_out)
{
	struct sfs_fs *fs = of->fs;
	bool nofail = sfs_trans_nofail(t);
	uint32_t lblk = orphan_blocks(of);
	struct sfs_mapping m;
	struct sfs_buf *bh = NULL;
	int ret;

	/* The root reserve too: unlink must work on a nearly full filesystem. */
	ret = sfs_map_blocks(t, of, lblk, 1,
			     SFS_MAPF_CREATE | SFS_MAPF_PRIVILEGED | (nofail ? SFS_MAPF_NOFAIL : 0),
			     &m);
	if (ret)
		return ret;
	if (!m.fresh)
		return SFS_ERROR(fs, -EUCLEAN, of->ino, m.pblk,
				 "orphan file block %u past its end is mapped", lblk);
	ret = sfs_buf_new(fs, m.pblk, &sfs_orphan_buf_ops, true, &bh);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (ret) {
		sfs_brelse(bh);
		mc_write_lock(&of->data_sem);
		sfs_ext_remove(t, of, lblk, (uint64_t)lblk + 1, SFS_EXT_NOFAIL | SFS_EXT_USE_RESERVE,
			       NULL);
		mc_rw_unlock(&of->data_sem);
		return ret;
	}
	sfs_buf_lock(bh);
	sfs_orphan_block_init(bh->data, fs->sbi, bh->blkno);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	mc_mutex_lock(&of->attr_lock);
	of->d.size = ((uint64_t)lblk + 1) << fs->blog;
	mc_mutex_unlock(&of->attr_lock);
	if (!ret)
		ret = sfs_inode_update(t, of);
	if (ret) {
		sfs_buf_release(bh);
		return ret;
	}
	*out = bh;
	*lblk_out = lblk;
	return 0;
}

/* The on-disk record of @ino says it is what slot (@ino, @gen) recorded:
 * live, that generation, flag ORPHAN.  What the buffer holds is what the
 * journal will commit, so this is the state a crash would leave. */
static bool slot_valid(struct sfs_fs *fs, uint64_t ino, uint32_t gen)
{
	struct sfs_inode in;
	struct sfs_buf *bh;
	uint32_t off;
	uint64_t blk = sfs_geo_ino_block(&fs->sbi->geo, ino, &off);
	bool valid = true;

	if (sfs_buf_read(fs->bc, blk, &sfs_itable_buf_ops, SFS_BUF_NOFAIL, &bh))
		return true;   /* cannot tell: keep the slot */
	sfs_buf_lock(bh);
	if (sfs_inode_slot_unused((uint8_t *)bh->data + off)) {
		valid = false;
	} else if (!sfs_inode_verify((uint8_t *)bh->data + off, ino, fs->sbi)) {
		sfs_inode_decode(&in, (uint8_t *)bh->data + off);
		valid = in.mode && in.generation == gen && (in.flags & SFS_INODE_FL_ORPHAN);
	}
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	return valid;
}

/* Clear slot @slot if it still names (@ino, @gen) and is stale, freeing
 * the xattr block it keeps.  Orphan lock held, in @t. */
static int clear_if_stale(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
			  uint64_t ino, uint32_t gen)
{
	struct sfs_fs *fs = of->fs;
	unsigned per = sfs_orphan_slots(fs->bsize);
	struct sfs_orphan_slot s, none = { 0 };
	struct sfs_buf *bh;
	int ret;

	ret = orphan_bread(of, (uint32_t)(slot / per), true, &bh);
	if (ret)
		return ret;
	sfs_orphan_slot_get(&s, bh->data, (unsigned)(slot % per));
	if (!s.ino || (ino && (s.ino != ino || s.generation != gen)) ||
	    slot_valid(fs, s.ino, s.generation))
		goto out;
	ret = sfs_trans_access(t, bh);
	if (!ret && s.xattr_block)
		ret = sfs_ns_xattr_free_block(t, s.xattr_block);
	if (ret)
		goto out;
	sfs_buf_lock(bh);
	sfs_orphan_slot_put(bh->data, (unsigned)(slot % per), &none);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
out:
	sfs_buf_release(bh);
	return ret;
}

int sfs_orphan_prepare(struct sfs_trans *t, struct sfs_orphan_ref *r)
{
	struct sfs_fs *fs = t->fs;
	bool nofail = sfs_trans_nofail(t);
	unsigned per = sfs_orphan_slots(fs->bsize);
	struct sfs_orphan_slot s;
	uint32_t nblocks, lblk;
	int ret, idx = -1;

	memset(r, 0, sizeof(*r));
	olock();
	r->locked = true;
	ret = orphan_file(t, fs, &r->of);
	if (ret)
		goto err;
	nblocks = orphan_blocks(r->of);
	for (lblk = 0; lblk < nblocks && idx < 0; lblk++) {
		ret = orphan_bread(r->of, lblk, nofail, &r->bh);
		if (ret)
			goto err;
		for (unsigned i = 0; i < per && idx < 0; i++) {
			sfs_orphan_slot_get(&s, r->bh->data, i);
			if (!s.ino)
				idx = (int)i;
		}
		if (idx < 0) {
			sfs_buf_release(r->bh);
			r->bh = NULL;
		}
	}
	if (idx >= 0) {
		r->slot = (uint64_t)(lblk - 1) * per + (unsigned)idx;
		ret = sfs_trans_access(t, r->bh);
	} else {
		ret = orphan_grow(t, r->of, &r->bh, &lblk);
		r->slot = (uint64_t)lblk * per;
	}
	if (ret)
		goto err;
	return 0;
err:
	sfs_orphan_abort(r);
	return ret;
}

int sfs_orphan_commit(struct sfs_trans *t, struct sfs_orphan_ref *r, struct sfs_inode_info *ip)
{
	unsigned per = sfs_orphan_slots(t->fs->bsize);
	struct sfs_orphan_slot s;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	s = (struct sfs_orphan_slot){ .ino = ip->ino, .generation = ip->d.generation,
				      .xattr_block = ip->d.xattr_block };
	ip->d.flags |= SFS_INODE_FL_ORPHAN;
	ip->d.orphan_next = r->slot + 1;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_buf_lock(r->bh);
	sfs_orphan_slot_put(r->bh->data, (unsigned)(r->slot % per), &s);
	ret = sfs_trans_dirty(t, r->bh);
	sfs_buf_unlock(r->bh);
	if (!ret)
		ret = sfs_inode_commit(t, ip);
	sfs_orphan_abort(r);
	return ret;
}

void sfs_orphan_abort(struct sfs_orphan_ref *r)
{
	sfs_brelse(r->bh);
	r->bh = NULL;
	if (r->locked)
		ounlock();
	r->locked = false;
	if (r->of)
		sfs_iput(r->of);
	r->of = NULL;
}

int sfs_orphan_add(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_orphan_ref r;
	bool recorded;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	recorded = ip->d.flags & SFS_INODE_FL_ORPHAN;
	mc_mutex_unlock(&ip->attr_lock);
	if (recorded)
		return 0;
	ret = sfs_orphan_prepare(t, &r);
	if (!ret)
		ret = sfs_inode_access(t, ip, sfs_trans_nofail(t));
	if (ret) {
		sfs_orphan_abort(&r);
		return ret;
	}
	return sfs_orphan_commit(t, &r, ip);
}

/* Slot @ip's record names, its block and index; orphan lock held. */
static int find_slot(struct sfs_inode_info *of, struct sfs_inode_info *ip, bool nofail,
		     struct sfs_buf **bh, unsigned *idx)
{
	unsigned per = sfs_orphan_slots(of->fs->bsize);
	struct sfs_orphan_slot s;
	uint64_t slot;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	slot = ip->d.orphan_next;
	mc_mutex_unlock(&ip->attr_lock);
	if (!slot || (slot - 1) / per >= orphan_blocks(of))
		return SFS_ERROR(of->fs, -EUCLEAN, ip->ino, 0, "orphan slot %llu is out of range",
				 (unsigned long long)slot);
	slot--;
	ret = orphan_bread(of, (uint32_t)(slot / per), nofail, bh);
	if (ret)
		return ret;
	*idx = (unsigned)(slot % per);
	sfs_orphan_slot_get(&s, (*bh)->data, *idx);
	if (s.ino != ip->ino || s.generation != ip->d.generation) {
		sfs_buf_release(*bh);
		return SFS_ERROR(of->fs, -EUCLEAN, ip->ino, 0, "orphan slot %llu names inode %llu",
				 (unsigned long long)slot, (unsigned long long)s.ino);
	}
	return 0;
}

int sfs_orphan_del(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_fs *fs = t->fs;
	bool nofail = sfs_trans_nofail(t);
	struct sfs_orphan_slot none = { 0 };
	struct sfs_inode_info *of = NULL;
	struct sfs_buf *bh = NULL;
	unsigned idx;
	bool skip;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	skip = !(ip->d.flags & SFS_INODE_FL_ORPHAN) || !ip->d.nlink;
	mc_mutex_unlock(&ip->attr_lock);
	if (skip)
		return 0;
	olock();
	ret = orphan_file(NULL, fs, &of);
	if (!ret)
		ret = find_slot(of, ip, nofail, &bh, &idx);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (!ret)
		ret = sfs_inode_access(t, ip, nofail);
	if (ret)
		goto out;
	sfs_buf_lock(bh);
	sfs_orphan_slot_put(bh->data, idx, &none);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.flags &= ~SFS_INODE_FL_ORPHAN;
	ip->d.orphan_next = 0;
	mc_mutex_unlock(&ip->attr_lock);
	if (!ret)
		ret = sfs_inode_commit(t, ip);
out:
	sfs_brelse(bh);
	ounlock();
	if (of)
		sfs_iput(of);
	return ret;
}

int sfs_orphan_note_xattr(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_inode_info *of = NULL;
	struct sfs_buf *bh = NULL;
	struct sfs_orphan_slot s;
	unsigned idx;
	bool skip;
	int ret;

	mc_mutex_lock(&ip->attr_lock);
	skip = !(ip->d.flags & SFS_INODE_FL_ORPHAN);
	mc_mutex_unlock(&ip->attr_lock);
	if (skip)
		return 0;
	olock();
	ret = orphan_file(NULL, t->fs, &of);
	if (!ret)
		ret = find_slot(of, ip, sfs_trans_nofail(t), &bh, &idx);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (ret)
		goto out;
	sfs_buf_lock(bh);
	sfs_orphan_slot_get(&s, bh->data, idx);
	mc_mutex_lock(&ip->attr_lock);
	s.xattr_block = ip->d.xattr_block;
	mc_mutex_unlock(&ip->attr_lock);
	sfs_orphan_slot_put(bh->data, idx, &s);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
out:
	sfs_brelse(bh);
	ounlock();
	if (of)
		sfs_iput(of);
	return ret;
}

/* Credits of a reap: the nested free of the inode (truncating nothing, then
 * the record and the bitmap), the slot, the xattr block. */
static unsigned reap_credits(struct sfs_inode_info *ip)
{
	return sfs_ext_credits(ip) + 8 + SFS_CREDITS_GROUP + 2 + 2 + SFS_XATTR_FREE_CREDITS + 4;
}

void sfs_orphan_reap(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	struct sfs_inode_info *of;
	struct sfs_trans t;
	uint64_t ino = ip->ino, slot;
	uint32_t gen;
	bool recorded;

	mc_mutex_lock(&ip->attr_lock);
	recorded = ip->d.flags & SFS_INODE_FL_ORPHAN;
	slot = ip->d.orphan_next;
	gen = ip->d.generation;
	mc_mutex_unlock(&ip->attr_lock);
	if (!recorded || !slot || sfs_trans_start(fs, reap_credits(ip), SFS_TRANS_NOFAIL, &t)) {
		sfs_iput(ip);
		return;
	}
	/* The last reference frees the inode right here, its transactions
	 * joining ours: the slot can be cleared in the same commit. */
	sfs_iput(ip);
	olock();
	if (!orphan_file(NULL, fs, &of)) {
		clear_if_stale(&t, of, slot - 1, ino, gen);
		sfs_iput(of);
	}
	ounlock();
	sfs_trans_stop(&t);
}

/* ---- sweeping and replay --------------------------------------------- */

struct slot_ref {
	uint64_t slot, ino;
	uint32_t gen;
};

/* Every used slot of the orphan file (the caller frees *out). */
static int collect(struct sfs_fs *fs, struct slot_ref **out, size_t *n)
{
	unsigned per = sfs_orphan_slots(fs->bsize);
	struct sfs_inode_info *of;
	struct slot_ref *v = NULL;
	size_t cap = 0;
	uint32_t nblocks;
	int ret;

	*n = 0;
	olock();
	ret = orphan_file(NULL, fs, &of);
	if (ret) {
		ounlock();
		return ret == -ENOENT ? 0 : ret;
	}
	nblocks = orphan_blocks(of);
	for (uint32_t b = 0; b < nblocks && !ret; b++) {
		struct sfs_buf *bh;

		ret = orphan_bread(of, b, false, &bh);
		if (ret)
			break;
		for (unsigned i = 0; !ret && i < per; i++) {
			struct sfs_orphan_slot s;

			sfs_orphan_slot_get(&s, bh->data, i);
			if (!s.ino)
				continue;
			if (*n == cap) {
				struct slot_ref *nv;

				cap = cap ? cap * 2 : 64;
				nv = mc_alloc(cap * sizeof(*nv), MC_KERNEL);
				if (!nv) {
					ret = -ENOMEM;
					break;
				}
				if (v)
					memcpy(nv, v, *n * sizeof(*nv));
				mc_free(v);
				v = nv;
			}
			v[(*n)++] = (struct slot_ref){ .slot = (uint64_t)b * per + i, .ino = s.ino,
						       .gen = s.generation };
		}
		sfs_buf_release(bh);
	}
	ounlock();
	sfs_iput(of);
	if (ret) {
		mc_free(v);
		*n = 0;
		return ret;
	}
	*out = v;
	return 0;
}

/* Finish what a valid slot records. */
static int finish(struct sfs_fs *fs, const struct slot_ref *r)
{
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	uint64_t size;
	int ret;

	ret = sfs_iget(fs, r->ino, &ip);
	if (ret)
		return ret == -ENOENT ? 0 : ret;
	if (ip->d.generation != r->gen || !(ip->d.flags & SFS_INODE_FL_ORPHAN)) {
		sfs_iput(ip);
		return 0;
	}
	if (!ip->d.nlink) {
		sfs_ns_finish_unlinked(fs, ip);
		return 1;
	}
	/* A truncate that did not finish: blocks past the size go. */
	mc_mutex_lock(&ip->attr_lock);
	size = ip->d.size;
	mc_mutex_unlock(&ip->attr_lock);
	mc_write_lock(&ip->rwsem);
	ret = sfs_truncate_blocks(fs, ip, (size + fs->bsize - 1) >> fs->blog);
	if (!ret)
		ret = sfs_trans_start(fs, SFS_ORPHAN_DEL_CREDITS, SFS_TRANS_NOFAIL, &t);
	if (!ret) {
		ret = sfs_orphan_del(&t, ip);
		int ret2 = sfs_trans_stop(&t);

		if (!ret)
			ret = ret2;
	}
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
	return ret ? ret : 1;
}

/* Clear every stale slot of @v (valid ones are left alone). */
static int sweep(struct sfs_fs *fs, const struct slot_ref *v, size_t n)
{
	struct sfs_inode_info *of;
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++) {
		struct sfs_trans t;
		int ret2;

		ret = sfs_trans_start(fs, SFS_XATTR_FREE_CREDITS + 2, SFS_TRANS_NOFAIL, &t);
		if (ret)
			break;
		olock();
		ret = orphan_file(NULL, fs, &of);
		if (!ret) {
			ret = clear_if_stale(&t, of, v[i].slot, v[i].ino, v[i].gen);
			sfs_iput(of);
		}
		ounlock();
		ret2 = sfs_trans_stop(&t);
		if (!ret)
			ret = ret2;
	}
	return ret;
}

int sfs_orphan_replay(struct sfs_fs *fs, uint64_t *done)
{
	struct slot_ref *v = NULL;
	uint64_t finished = 0;
	size_t n = 0;
	int ret;

	mc_op_begin();
	if (done)
		*done = 0;
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = collect(fs, &v, &n);
	for (size_t i = 0; i < n && !ret; i++) {
		ret = finish(fs, &v[i]);
		if (ret > 0) {
			finished++;
			ret = 0;
		}
	}
	if (!ret)
		ret = sweep(fs, v, n);
	mc_free(v);
	if (done)
		*done = finished;
	mc_op_end();
	return ret;
}

int sfs_orphan_sweep_stale(struct sfs_fs *fs)
{
	struct slot_ref *v = NULL;
	size_t n = 0;
	int ret = collect(fs, &v, &n);

	if (!ret)
		ret = sweep(fs, v, n);
	mc_free(v);
	return ret;
}
