/*
 * Finishing what the orphan file records, at mount (sfs_orphan_replay), and
 * sweeping stale slots: each valid slot's inode is freed, or its truncate
 * finished; each stale slot is cleared and the xattr block it keeps freed.
 * Slots are collected first, then worked through one transaction (or
 * truncate) at a time, without the orphan lock.
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
	sfs_orphan_lock();
	ret = sfs_orphan_file(NULL, fs, &of);
	if (ret) {
		sfs_orphan_unlock();
		return ret == -ENOENT ? 0 : ret;
	}
	nblocks = sfs_orphan_nblocks(of);
	for (uint32_t b = 0; b < nblocks && !ret; b++) {
		struct sfs_buf *bh;

		ret = sfs_orphan_bread(of, b, false, &bh);
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
	sfs_orphan_unlock();
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
		sfs_orphan_lock();
		ret = sfs_orphan_file(NULL, fs, &of);
		if (!ret) {
			ret = sfs_orphan_clear_if_stale(&t, of, v[i].slot, v[i].ino, v[i].gen);
			sfs_iput(of);
		}
		sfs_orphan_unlock();
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
	SFS_STAT(fs, orphans_finished, finished);
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
