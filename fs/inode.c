/*
 * Inode records: reading them into the cache, logging changes back into
 * their table block, creating and freeing inodes.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/format/extent.h"
#include "fs/format/verify.h"
#include "fs/ialloc.h"
#include "fs/inode.h"

void sfs_now(struct sfs_timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	ts->sec = now.tv_sec;
	ts->nsec = (uint32_t)now.tv_nsec;
}

struct sfs_inode_info *sfs_inode_alloc(struct sfs_fs *fs, uint64_t ino, bool nofail)
{
	struct sfs_inode_info *ip;

	ip = mc_alloc_named("inode.cache", sizeof(*ip),
			    MC_KERNEL | MC_ZERO | (nofail ? MC_NOFAIL : 0));
	if (!ip)
		return NULL;
	ip->fs = fs;
	ip->ino = ino;
	if (ino)
		ip->itable_blk = sfs_geo_ino_block(&fs->sbi->geo, ino, &ip->itable_off);
	mc_rwlock_init(&ip->rwsem, "sfs_inode_rwsem");
	mc_rwlock_init(&ip->data_sem, "sfs_inode_data");
	mc_mutex_init(&ip->attr_lock, "sfs_inode_attr");
	sfs_es_tree_init(&ip->es, fs->es);
	return ip;
}

static int itable_read(struct sfs_fs *fs, uint64_t blk, bool nofail, struct sfs_buf **out)
{
	int ret = sfs_buf_read(fs->bc, blk, &sfs_itable_buf_ops, sfs_buf_flags(nofail), out);

	if (ret == -EFSBADCRC || ret == -EFSCORRUPTED)
		return SFS_ERROR(fs, -EUCLEAN, 0, blk, "inode table block: %s", sfs_verify_reason());
	if (ret == -EIO)
		return SFS_ERROR(fs, ret, 0, blk, "cannot read inode table block");
	return ret;
}

int sfs_inode_read(struct sfs_fs *fs, struct sfs_inode_info *ip, bool nofail)
{
	struct sfs_buf *bh;
	const uint8_t *raw;
	char where[48];
	int ret;

	ret = itable_read(fs, ip->itable_blk, nofail, &bh);
	if (ret)
		return ret;
	raw = (const uint8_t *)bh->data + ip->itable_off;
	if (sfs_inode_slot_unused(raw)) {
		ret = -ENOENT;
		goto out;
	}
	if (sfs_inode_verify(raw, ip->ino, fs->sbi)) {
		ret = SFS_ERROR(fs, -EUCLEAN, ip->ino, ip->itable_blk, "%s", sfs_verify_reason());
		goto out;
	}
	sfs_inode_decode(&ip->d, raw);
	ip->logged_size = ip->d.size;
	if (!ip->d.mode) {
		ret = -ENOENT;
		goto out;
	}
	memcpy(ip->root, ip->d.root, sizeof(ip->root));
	snprintf(where, sizeof(where), "inode %llu root", (unsigned long long)ip->ino);
	if (!(ip->d.flags & SFS_INODE_FL_INLINE) &&
	    sfs_extent_node_check(ip->root, SFS_EXTENT_ROOT_ENTRIES, fs->sbi, where)) {
		ret = SFS_ERROR(fs, -EUCLEAN, ip->ino, ip->itable_blk, "%s", sfs_verify_reason());
		goto out;
	}
	SFS_STAT(fs, inode_reads, 1);
out:
	sfs_buf_release(bh);
	return ret;
}

int sfs_inode_access(struct sfs_trans *t, struct sfs_inode_info *ip, bool nofail)
{
	struct sfs_buf *bh;
	int ret;

	ret = itable_read(t->fs, ip->itable_blk, nofail, &bh);
	if (ret)
		return ret;
	/* The journal keeps its own reference while the block is in the
	 * transaction; sfs_inode_commit finds it in the cache. */
	ret = sfs_trans_access(t, bh);
	sfs_buf_release(bh);
	return ret;
}

int sfs_inode_commit(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_buf *bh = sfs_buf_find(fs->bc, ip->itable_blk);
	int ret;

	if (!bh)
		return SFS_ERROR(fs, -EIO, ip->ino, ip->itable_blk,
				 "inode table block left the cache inside a transaction");
	sfs_buf_lock(bh);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.version++;
	sfs_inode_encode((uint8_t *)bh->data + ip->itable_off, &ip->d, fs->sbi);
	mc_mutex_unlock(&ip->attr_lock);
	ret = sfs_trans_dirty(t, bh);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	ip->last_tid = sfs_trans_tid(t);
	if (ip->logged_size != ip->d.size) {
		ip->logged_size = ip->d.size;
		ip->data_tid = ip->last_tid;
	}
	SFS_STAT(fs, inode_writes, 1);
	return ret;
}

int sfs_inode_update(struct sfs_trans *t, struct sfs_inode_info *ip)
{
	int ret = sfs_inode_access(t, ip, sfs_trans_nofail(t));

	return ret ? ret : sfs_inode_commit(t, ip);
}

void sfs_inode_sync_root(struct sfs_inode_info *ip)
{
	mc_mutex_lock(&ip->attr_lock);
	memcpy(ip->d.root, ip->root, sizeof(ip->root));
	mc_mutex_unlock(&ip->attr_lock);
}

void sfs_inode_touch(struct sfs_inode_info *ip, unsigned which)
{
	struct sfs_timespec now;

	sfs_now(&now);
	mc_mutex_lock(&ip->attr_lock);
	if (which & SFS_T_ATIME)
		ip->d.atime = now;
	if (which & SFS_T_MTIME)
		ip->d.mtime = now;
	if (which & SFS_T_CTIME)
		ip->d.ctime = now;
	mc_mutex_unlock(&ip->attr_lock);
}

int sfs_inode_new(struct sfs_trans *t, uint64_t dir_ino, uint32_t mode, uint64_t rdev,
		  uint32_t uid, uint32_t gid, struct sfs_inode_info **out)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_sb_info *sbi = fs->sbi;
	struct sfs_inode_info *ip;
	struct sfs_ialloc a;
	struct sfs_buf *bh = NULL;
	struct sfs_inode old;
	uint32_t gen;
	uint8_t *raw;
	uint64_t ino;
	int ret;

	if (!sfs_mode_to_ftype((uint16_t)mode))
		return -EINVAL;
	ip = sfs_inode_alloc(fs, 0, sfs_trans_nofail(t));
	if (!ip)
		return -ENOMEM;
	ret = sfs_ialloc_prepare(t, dir_ino, S_ISDIR(mode), &a, &ino);
	if (ret)
		goto err_free;
	ip->ino = ino;
	ip->itable_blk = sfs_geo_ino_block(&sbi->geo, ino, &ip->itable_off);
	ret = itable_read(fs, ip->itable_blk, sfs_trans_nofail(t), &bh);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (ret) {
		sfs_ialloc_abort(t, &a);
		goto err_free;
	}
	raw = (uint8_t *)bh->data + ip->itable_off;
	if (!sfs_inode_slot_unused(raw) && !sfs_inode_verify(raw, ino, sbi)) {
		/* A reused slot: handles to the old file must go stale. */
		sfs_inode_decode(&old, raw);
		gen = old.generation + 1;
	} else {
		gen = atomic_fetch_add(&fs->next_generation, 1);
	}
	ret = sfs_ialloc_commit(t, &a);
	if (ret)
		goto err_free;
	/* In the cache, new, before the record is written: an iget of this
	 * number from now on waits for the creator instead of reading a
	 * record that is only half made and caching its own copy of it. */
	sfs_icache_insert_new(fs, ip);

	ip->d.ino = ino;
	ip->d.mode = (uint16_t)mode;
	ip->d.core_size = SFS_INODE_CORE_SIZE;
	ip->d.generation = gen;
	ip->d.uid = uid;
	ip->d.gid = gid;
	ip->d.nlink = S_ISDIR(mode) ? 2 : 1;
	if (S_ISCHR(mode) || S_ISBLK(mode)) {
		ip->d.rdev_major = major(rdev);
		ip->d.rdev_minor = minor(rdev);
	}
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
	ip->last_tid = ip->data_tid = sfs_trans_tid(t);
	ip->logged_size = ip->d.size;
	if (ret)
		sfs_inode_unlock_new(ip);   /* the journal failed: nothing will follow */
	*out = ip;
	return ret;
err_free:
	sfs_brelse(bh);
	sfs_es_tree_destroy(&ip->es);
	mc_rwlock_destroy(&ip->rwsem);
	mc_rwlock_destroy(&ip->data_sem);
	mc_mutex_destroy(&ip->attr_lock);
	mc_free(ip);
	return ret;
}

int sfs_inode_free(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	struct sfs_trans t;
	bool dir = sfs_inode_is_dir(ip);
	int ret, ret2;

	if (sfs_fs_writable(fs))
		return 0;   /* read-only or shut down: the next mount's orphan scan (issue 8) */
	/* An inline symlink's root holds its target, not an extent tree:
	 * there are no data blocks to free.  (An external xattr block is
	 * fs->evict's.) */
	if (!(ip->d.flags & SFS_INODE_FL_INLINE)) {
		ret = sfs_truncate_blocks(fs, ip, 0);
		if (ret)
			return ret;
	}
	ret = sfs_trans_start(fs, SFS_CREDITS_GROUP + 2 + (fs->evict ? SFS_EVICT_CREDITS : 0),
			      SFS_TRANS_NOFAIL, &t);
	if (ret)
		return ret;
	if (fs->evict)
		ret = fs->evict(&t, ip);
	if (!ret)
		ret = sfs_inode_access(&t, ip, true);
	if (!ret) {
		struct sfs_inode dead = { .ino = ip->ino, .generation = ip->d.generation,
					  .core_size = SFS_INODE_CORE_SIZE };

		/* The record first: once the bitmap says free, another thread
		 * may take the number and write its own record in this slot. */
		sfs_extent_root_init(dead.root);
		mc_mutex_lock(&ip->attr_lock);
		ip->d = dead;
		mc_mutex_unlock(&ip->attr_lock);
		ret = sfs_inode_commit(&t, ip);
	}
	if (!ret)
		ret = sfs_ifree(&t, ip->ino, dir, true);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}
