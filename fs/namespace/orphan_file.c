/*
 * The orphan file itself: creating it (a reserved inode, recorded in the
 * superblock), reading and growing its blocks, and telling a valid slot
 * from a stale one by the state the journal will commit (see orphan.h for
 * the life of a slot).
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
#include "fs/namespace/orphan_file.h"

static mc_mutex_t orphan_lock;
static pthread_once_t orphan_once = PTHREAD_ONCE_INIT;

static void orphan_lock_init(void)
{
	mc_mutex_init(&orphan_lock, "sfs_orphan");
}

void sfs_orphan_lock(void)
{
	pthread_once(&orphan_once, orphan_lock_init);
	mc_mutex_lock(&orphan_lock);
}

void sfs_orphan_unlock(void)
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

	ip = sfs_inode_alloc(fs, SFS_ORPHAN_INO, sfs_trans_nofail(t));
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
	sfs_inode_unlock_new(ip);   /* nothing more to fill in */
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
int sfs_orphan_file(struct sfs_trans *t, struct sfs_fs *fs, struct sfs_inode_info **out)
{
	if (!orphan_head(fs))
		return t ? orphan_file_create(t, fs, out) : -ENOENT;
	return sfs_orphan_file_get(fs, t && sfs_trans_nofail(t), out);
}

int sfs_orphan_file_get(struct sfs_fs *fs, bool nofail, struct sfs_inode_info **out)
{
	uint64_t head = orphan_head(fs);
	int ret;

	if (!head)
		return -ENOENT;
	if (head != SFS_ORPHAN_INO)
		return SFS_ERROR(fs, -EUCLEAN, head, 0, "superblock names inode %llu as the orphan file",
				 (unsigned long long)head);
	/* Under a NOFAIL handle (truncate) reading inode 3 in must not fail
	 * on ENOMEM either: the flag travels down (seed 000). */
	ret = nofail ? sfs_iget_nofail(fs, head, out) : sfs_iget(fs, head, out);
	if (!ret && !S_ISREG((*out)->d.mode)) {
		sfs_iput(*out);
		ret = SFS_ERROR(fs, -EUCLEAN, head, 0, "the orphan file is not a regular file");
	}
	return ret;
}

uint32_t sfs_orphan_nblocks(struct sfs_inode_info *of)
{
	uint64_t size;

	mc_mutex_lock(&of->attr_lock);
	size = of->d.size;
	mc_mutex_unlock(&of->attr_lock);
	return (uint32_t)(size >> of->fs->blog);
}

int sfs_orphan_bread(struct sfs_inode_info *of, uint32_t lblk, bool nofail, struct sfs_buf **out)
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

/*
 * Map a new block at @lblk (past the file's end: a hole).  Not through
 * sfs_map_blocks: the orphan file is what unlink records into, so its
 * growth may take the filesystem reserve (kept for removals) as well as
 * the root's -- unlink must work on a full filesystem.
 */
static int map_new_block(struct sfs_trans *t, struct sfs_inode_info *of, uint32_t lblk,
			 bool nofail, uint64_t *pblk)
{
	struct sfs_alloc_req req = {
		.lblk = lblk, .len = 1,
		.flags = SFS_ALLOC_METADATA | SFS_ALLOC_PRIVILEGED | SFS_ALLOC_USE_RESERVE |
			 (nofail ? SFS_ALLOC_NOFAIL : 0),
	};
	struct sfs_extent e;
	uint32_t got;
	int ret;

	mc_write_lock(&of->data_sem);
	/* Write access first: recording the block must not fail once taken. */
	ret = sfs_inode_access(t, of, nofail);
	if (!ret)
		ret = sfs_balloc(t, &req, pblk, &got);
	if (ret)
		goto out;
	e = (struct sfs_extent){ .lblk = lblk, .len = 1, .pblk = *pblk };
	ret = sfs_ext_insert(t, of, &e, SFS_EXT_USE_RESERVE | (nofail ? SFS_EXT_NOFAIL : 0));
	if (ret) {
		sfs_bfree(t, *pblk, 1, true);
		goto out;
	}
	mc_mutex_lock(&of->attr_lock);
	of->d.blocks++;
	mc_mutex_unlock(&of->attr_lock);
	ret = sfs_inode_commit(t, of);
out:
	mc_rw_unlock(&of->data_sem);
	return ret;
}

/* A new block at the end of the orphan file, write access taken. */
int sfs_orphan_grow(struct sfs_trans *t, struct sfs_inode_info *of, struct sfs_buf **out,
		       uint32_t *lblk_out)
{
	struct sfs_fs *fs = of->fs;
	bool nofail = sfs_trans_nofail(t);
	uint32_t lblk = sfs_orphan_nblocks(of);
	struct sfs_buf *bh = NULL;
	uint64_t pblk;
	int ret;

	ret = map_new_block(t, of, lblk, nofail, &pblk);
	if (ret == -EEXIST)
		return SFS_ERROR(fs, -EUCLEAN, of->ino, 0,
				 "orphan file block %u past its end is mapped", lblk);
	if (ret)
		return ret;
	ret = sfs_buf_new(fs, pblk, &sfs_orphan_buf_ops, true, &bh);
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

/* Clear slot @slot if it still names (@ino, @gen) -- any inode when @ino
 * is 0 -- and, with @stale_only, is stale, freeing the xattr block it
 * keeps; without, the caller is freeing the inode and its block itself.
 * Orphan lock held, in @t. */
static int clear_slot(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
		      uint64_t ino, uint32_t gen, bool stale_only)
{
	struct sfs_fs *fs = of->fs;
	unsigned per = sfs_orphan_slots(fs->bsize);
	struct sfs_orphan_slot s, none = { 0 };
	struct sfs_buf *bh;
	int ret;

	ret = sfs_orphan_bread(of, (uint32_t)(slot / per), true, &bh);
	if (ret)
		return ret;
	sfs_orphan_slot_get(&s, bh->data, (unsigned)(slot % per));
	if (!s.ino || (ino && (s.ino != ino || s.generation != gen)) ||
	    (stale_only && slot_valid(fs, s.ino, s.generation)))
		goto out;
	ret = sfs_trans_access(t, bh);
	if (!ret && stale_only && s.xattr_block)
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

int sfs_orphan_clear_if_stale(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
			      uint64_t ino, uint32_t gen)
{
	return clear_slot(t, of, slot, ino, gen, true);
}

int sfs_orphan_clear_freed(struct sfs_trans *t, struct sfs_inode_info *of, uint64_t slot,
			   uint64_t ino, uint32_t gen)
{
	return clear_slot(t, of, slot, ino, gen, false);
}
