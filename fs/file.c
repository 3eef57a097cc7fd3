/*
 * File data operations of the public API: read, write, fallocate, range
 * removal, fsync, extent maps, and the block-level operations the tools
 * and the crash harness use.
 *
 * Data goes through the page cache (fs/pagecache/pagecache.h): a write
 * copies into pages, reserving blocks for the holes it covers (delayed
 * allocation), then logs the new size and times in a small handle; the
 * blocks are allocated and the data written by writeback, in ordered mode
 * before the commit that maps them.  fsync writes the file's pages back,
 * then commits what it needs and flushes the device.
 *
 * Operations that change blocks under the cache first write back or drop
 * the cached pages of their range: allocating (fallocate, zero range) and
 * unmapping (punch, truncate, collapse) never meet a delayed page.
 *
 * A fallocate that meets ENOSPC while blocks freed by the running
 * transaction are still busy forces a commit and tries once more (ext4's
 * should_retry_alloc): those blocks are free as soon as it is durable.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/pagecache/pagecache.h"

bool sfs_file_retry_after_commit(struct sfs_fs *fs, int ret, int *tries)
{
	if (ret != -ENOSPC || (*tries)++ || !sfs_balloc_commit_would_help(fs))
		return false;
	SFS_STAT(fs, commit_retries, 1);
	return jnl_force_commit(fs->j) == 0;
}

uint64_t sfs_file_max_bytes(const struct sfs_fs *fs)
{
	return 1ull << (32 + fs->blog);
}

int sfs_file_get(struct sfs_fs *fs, uint64_t ino, bool write, struct sfs_inode_info **out)
{
	int ret = write ? sfs_fs_writable(fs) : sfs_fs_readable(fs);

	if (!ret)
		ret = sfs_iget(fs, ino, out);
	if (!ret && !S_ISREG((*out)->d.mode)) {
		ret = S_ISDIR((*out)->d.mode) ? -EISDIR : -EINVAL;
		sfs_iput(*out);
	}
	return ret;
}

/* relatime: atime moves when it is older than mtime or ctime, or a day old. */
static void read_touch(struct sfs_fs *fs, struct sfs_inode_info *ip)
{
	struct sfs_timespec now;
	struct sfs_trans t;
	bool stale;

	if (sfs_fs_writable(fs))
		return;
	sfs_now(&now);
	mc_mutex_lock(&ip->attr_lock);
	stale = !(ip->d.flags & SFS_INODE_FL_NOATIME) &&
		(ip->d.atime.sec < ip->d.mtime.sec || ip->d.atime.sec < ip->d.ctime.sec ||
		 ip->d.atime.sec + 86400 < now.sec);
	mc_mutex_unlock(&ip->attr_lock);
	if (!stale || sfs_trans_start(fs, 1, 0, &t))
		return;
	if (!sfs_inode_access(&t, ip, false)) {
		mc_mutex_lock(&ip->attr_lock);
		ip->d.atime = now;
		mc_mutex_unlock(&ip->attr_lock);
		sfs_inode_commit(&t, ip);
	}
	sfs_trans_stop(&t);
}

ssize_t sfs_read(struct sfs_fs *fs, uint64_t ino, void *buf, size_t len, uint64_t off)
{
	struct sfs_inode_info *ip;
	uint64_t size;
	size_t done = 0;
	ssize_t n;
	int ret;

	mc_op_begin();
	ret = sfs_file_get(fs, ino, false, &ip);
	if (ret)
		goto out_op;
	mc_read_lock(&ip->rwsem);
	mc_mutex_lock(&ip->attr_lock);
	size = ip->d.size;
	mc_mutex_unlock(&ip->attr_lock);
	if (off >= size)
		len = 0;
	else if (len > size - off)
		len = (size_t)(size - off);
	n = sfs_pc_read(fs, ip, buf, len, off);
	if (n > 0)
		done = (size_t)n;
	else
		ret = (int)n;
	mc_rw_unlock(&ip->rwsem);
	if (done)
		read_touch(fs, ip);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return done ? (ssize_t)done : ret;
}

/* After data went into the cache: the size, the times and the set-id
 * bits in one small handle (a size change sets the inode's data_tid). */
static int write_update(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t end,
			unsigned flags, bool privileged)
{
	struct sfs_timespec now;
	struct sfs_trans t;
	int ret, ret2;

	/* The data is in the cache already: this cannot fail on memory
	 * (generic_write_end's mark_inode_dirty). */
	ret = sfs_trans_start(fs, 1, SFS_TRANS_NOFAIL, &t);
	if (ret)
		return ret;
	ret = sfs_inode_access(&t, ip, true);
	if (!ret) {
		sfs_now(&now);
		mc_mutex_lock(&ip->attr_lock);
		if (end > ip->d.size)
			ip->d.size = end;
		ip->d.mtime = ip->d.ctime = now;
		if ((flags & SFS_WRITE_KILL_PRIV) && !privileged)
			ip->d.mode = sfs_mode_kill_priv(ip->d.mode);
		mc_mutex_unlock(&ip->attr_lock);
		ret = sfs_inode_commit(&t, ip);
	}
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}

ssize_t sfs_write(struct sfs_fs *fs, uint64_t ino, const void *buf, size_t len, uint64_t off,
		  unsigned flags, const struct sfs_cred *cr)
{
	struct sfs_inode_info *ip;
	bool privileged = !cr || cr->privileged;
	size_t done = 0;
	ssize_t n = 0;
	int ret;

	mc_op_begin();
	if (!len) {
		ret = 0;
		goto out_op;
	}
	if (off >= sfs_file_max_bytes(fs) || len > sfs_file_max_bytes(fs) - off) {
		ret = -EFBIG;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	if (ip->d.flags & SFS_INODE_FL_IMMUTABLE) {
		ret = -EPERM;
		goto out;
	}
	if ((ip->d.flags & SFS_INODE_FL_APPEND) && off != ip->d.size) {
		ret = -EPERM;
		goto out;
	}
	n = sfs_pc_write(fs, ip, buf, len, off, privileged);
	if (n <= 0) {
		ret = (int)n;
		goto out;
	}
	done = (size_t)n;
	ret = write_update(fs, ip, off + done, flags, privileged);
	if (!ret && (flags & SFS_WRITE_SYNC))
		ret = sfs_pc_fsync(fs, ip, false);
	if (ret)
		done = 0;
out:
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
	if (done)
		sfs_pc_balance(fs, (size_t)((done + fs->bsize - 1) >> fs->blog));
out_op:
	mc_op_end();
	return done ? (ssize_t)done : ret;
}

/* Map [lblk, end) with @flags (holes only), one transaction per extent. */
int sfs_file_alloc_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t lblk,
			uint64_t end, unsigned flags)
{
	int ret, tries = 0;

	/* Delayed pages of the range get their blocks first: an allocation
	 * here must not map a block under a page holding a reservation. */
	ret = sfs_pc_writeback_range(fs, ip, lblk, end);
	if (ret)
		return ret;
	while (lblk < end) {
		uint64_t want = end - lblk;
		struct sfs_mapping m;
		struct sfs_trans t;
		int ret2;

		ret = sfs_trans_start(fs, sfs_map_credits(ip), 0, &t);
		if (ret)
			break;
		ret = sfs_map_blocks(&t, ip, (uint32_t)lblk,
				     (uint32_t)(want > SFS_MAX_EXTENT_LEN ? SFS_MAX_EXTENT_LEN : want),
				     SFS_MAPF_CREATE | flags, &m);
		ret2 = sfs_trans_stop(&t);
		if (!ret)
			ret = ret2;
		if (ret) {
			if (sfs_file_retry_after_commit(fs, ret, &tries))
				continue;
			break;
		}
		lblk = (uint64_t)m.lblk + m.len;
	}
	return ret;
}

/* Set size / times after an allocation or removal. */
int sfs_file_update(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t new_size,
			unsigned touch)
{
	struct sfs_trans t;
	int ret, ret2;

	ret = sfs_trans_start(fs, 1, 0, &t);
	if (ret)
		return ret;
	ret = sfs_inode_access(&t, ip, false);
	if (!ret) {
		mc_mutex_lock(&ip->attr_lock);
		if (new_size > ip->d.size)
			ip->d.size = new_size;
		mc_mutex_unlock(&ip->attr_lock);
		sfs_inode_touch(ip, touch);
		ret = sfs_inode_commit(&t, ip);
	}
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}

/* Zero bytes [from, to) of the block holding them, if it is written. */
int sfs_file_zero_in_block(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t from, uint64_t to)
{
	uint32_t a = (uint32_t)(from & (fs->bsize - 1));
	struct sfs_mapping m;
	uint8_t *blk;
	int ret;

	if (sfs_pc_zero_in_block(fs, ip, from, to))
		return 0;   /* the cached copy is the newest: zeroed there */
	ret = sfs_map_blocks(NULL, ip, (uint32_t)(from >> fs->blog), 1, 0, &m);
	if (ret || m.state != SFS_MAPPED_WRITTEN)
		return ret;
	blk = mc_alloc_named("file.bounce", fs->bsize, MC_KERNEL);
	if (!blk)
		return -ENOMEM;
	ret = sfs_bdev_read(fs->bdev, blk, fs->bsize, m.pblk << fs->blog);
	if (!ret) {
		memset(blk + a, 0, (size_t)(to - from));
		ret = sfs_bdev_write(fs->bdev, blk, fs->bsize, m.pblk << fs->blog);
	}
	mc_free(blk);
	return ret;
}

int sfs_file_unmap_blocks(struct sfs_fs *fs, struct sfs_inode_info *ip, uint64_t first,
			uint64_t end)
{
	struct sfs_trans t;
	int ret, ret2;

	if (first >= end)
		return 0;
	sfs_pc_drop_range(fs, ip, first, end);
	sfs_pa_discard(fs, ip);
	ret = sfs_trans_start(fs, sfs_ext_credits(ip) + 8, 0, &t);
	if (ret)
		return ret;
	mc_write_lock(&ip->data_sem);
	ret = sfs_ext_remove(&t, ip, (uint32_t)first, end, SFS_EXT_USE_RESERVE, NULL);
	mc_rw_unlock(&ip->data_sem);
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}

int sfs_fsync(struct sfs_fs *fs, uint64_t ino, bool datasync)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (!ret) {
		ret = sfs_pc_fsync(fs, ip, datasync);
		sfs_iput(ip);
	}
	mc_op_end();
	return ret;
}

struct map_walk {
	uint64_t end;
	struct sfs_map *out;
	unsigned max, n;
};

static int collect(void *arg, const struct sfs_extent *e)
{
	struct map_walk *w = arg;

	if (e->lblk >= w->end || w->n >= w->max)
		return 1;
	w->out[w->n++] = (struct sfs_map){
		.lblk = e->lblk, .pblk = e->pblk, .len = e->len,
		.flags = sfs_ext_unwritten(e) ? SFS_MAP_UNWRITTEN : 0,
	};
	return 0;
}

int sfs_extent_map(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count,
		   struct sfs_map *out, unsigned max, unsigned *n)
{
	struct map_walk w = { .out = out, .max = max };
	struct sfs_inode_info *ip;
	int ret;

	*n = 0;
	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret && lblk >= SFS_EXT_LBLK_END)
		goto out_op;
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (ret)
		goto out_op;
	w.end = count > SFS_EXT_LBLK_END - lblk ? SFS_EXT_LBLK_END : lblk + count;
	/* FIEMAP_FLAG_SYNC: delayed pages get their blocks first. */
	ret = sfs_pc_writeback_range(fs, ip, lblk, w.end);
	if (ret) {
		sfs_iput(ip);
		goto out_op;
	}
	mc_read_lock(&ip->data_sem);
	ret = sfs_ext_walk(ip, (uint32_t)lblk, 0, collect, &w);
	mc_rw_unlock(&ip->data_sem);
	sfs_iput(ip);
	*n = w.n;
	if (ret > 0)
		ret = 0;
out_op:
	mc_op_end();
	return ret;
}

int sfs_alloc_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count,
		    bool unwritten)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	if (lblk >= SFS_EXT_LBLK_END || count > SFS_EXT_LBLK_END - lblk) {
		ret = -EFBIG;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	ret = sfs_file_alloc_blocks(fs, ip, lblk, lblk + count,
			   SFS_MAPF_PRIVILEGED | (unwritten ? SFS_MAPF_UNWRITTEN : 0));
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_unmap_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count)
{
	struct sfs_inode_info *ip;
	int ret;

	mc_op_begin();
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	if (lblk < SFS_EXT_LBLK_END)
		ret = sfs_file_unmap_blocks(fs, ip, lblk,
				   count > SFS_EXT_LBLK_END - lblk ? SFS_EXT_LBLK_END : lblk + count);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_convert_range(struct sfs_fs *fs, uint64_t ino, uint64_t lblk, uint64_t count)
{
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	int ret, ret2;

	mc_op_begin();
	if (lblk >= SFS_EXT_LBLK_END || count > SFS_EXT_LBLK_END - lblk) {
		ret = -EINVAL;
		goto out_op;
	}
	ret = sfs_file_get(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	ret = sfs_trans_start(fs, sfs_ext_credits(ip), 0, &t);
	if (!ret) {
		mc_write_lock(&ip->data_sem);
		while (!ret && count) {
			uint32_t n = count > SFS_MAX_EXTENT_LEN ? SFS_MAX_EXTENT_LEN : (uint32_t)count;

			ret = sfs_ext_mark_written(&t, ip, (uint32_t)lblk, n, 0);
			lblk += n;
			count -= n;
		}
		mc_rw_unlock(&ip->data_sem);
		ret2 = sfs_trans_stop(&t);
		if (!ret)
			ret = ret2;
	}
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

static int check_tree(struct sfs_fs *fs, uint64_t ino, struct sfs_ext_stats *st, char *why,
		      size_t len)
{
	struct sfs_inode_info *ip;
	int ret;

	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_iget(fs, ino, &ip);
	if (ret)
		return ret;
	mc_read_lock(&ip->data_sem);
	ret = sfs_ext_check(ip, st, why, len);
	mc_rw_unlock(&ip->data_sem);
	sfs_iput(ip);
	return ret;
}

int sfs_extent_depth(struct sfs_fs *fs, uint64_t ino, unsigned *depth, uint64_t *nodes)
{
	struct sfs_ext_stats st;
	int ret;

	mc_op_begin();
	ret = check_tree(fs, ino, &st, NULL, 0);
	if (!ret) {
		*depth = st.depth;
		if (nodes)
			*nodes = st.nodes;
	}
	mc_op_end();
	return ret;
}

int sfs_extent_verify(struct sfs_fs *fs, uint64_t ino, char *why, size_t whylen)
{
	int ret;

	mc_op_begin();
	ret = check_tree(fs, ino, NULL, why, whylen);
	mc_op_end();
	return ret;
}
