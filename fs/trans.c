/* Journal handles as fs/ uses them (see trans.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/super.h"
#include "fs/format/verify.h"
#include "fs/trans.h"

static int trans_start(struct sfs_fs *fs, unsigned credits, struct jnl_rsv *rsv, unsigned flags,
		       struct sfs_trans *t)
{
	unsigned jflags = (flags & SFS_TRANS_NOFAIL) ? JNL_NOFAIL : 0;
	int ret;

	memset(t, 0, sizeof(*t));
	t->fs = fs;
	t->flags = flags;
	ret = sfs_fs_writable(fs);
	if (ret)
		return ret;
	t->nested = jnl_current() != NULL;
	ret = rsv ? jnl_start_reserved(rsv, jflags, &t->h) : jnl_start(fs->j, credits, jflags, &t->h);
	if (ret)
		t->h = NULL;
	return ret;
}

int sfs_trans_start(struct sfs_fs *fs, unsigned credits, unsigned flags, struct sfs_trans *t)
{
	return trans_start(fs, credits, NULL, flags, t);
}

int sfs_trans_start_reserved(struct sfs_fs *fs, struct jnl_rsv *rsv, unsigned flags,
			     struct sfs_trans *t)
{
	int ret = trans_start(fs, 0, rsv, flags, t);

	jnl_unreserve(rsv);   /* consumed, or not used because read-only */
	return ret;
}

int sfs_trans_stop(struct sfs_trans *t)
{
	int ret;

	if (!t->h)
		return 0;
	ret = jnl_stop(t->h);
	t->h = NULL;
	if (ret == -EIO)
		SFS_ERROR(t->fs, -EIO, 0, 0, "journal aborted under a running handle");
	return ret;
}

int sfs_trans_ensure(struct sfs_trans *t, unsigned credits, mc_rwlock_t *drop)
{
	unsigned have = jnl_handle_credits(t->h);
	bool commit = !t->nested && t->frees >= SFS_TRANS_FREES_MAX;
	jnl_tid_t tid = sfs_trans_tid(t);
	int ret;

	if (have >= credits && !commit)
		return 0;
	if (!commit) {
		ret = jnl_extend(t->h, credits - have);
		if (ret != -EAGAIN)
			return ret;
		if (t->nested)
			return -ENOSPC;
	}
	/* Everything done so far is a consistent state of its own: let it
	 * commit with this handle and go on in a fresh one.  Past the frees
	 * bound (trans.h), wait for that commit: it gives the busy records'
	 * memory back before the next step allocates more. */
	if (drop)
		mc_rw_unlock(drop);
	ret = jnl_stop(t->h);
	t->h = NULL;
	if (!ret && commit) {
		ret = jnl_commit_tid(t->fs->j, tid);
		t->frees = 0;
	}
	if (!ret) {
		SFS_STAT(t->fs, restarts, 1);
		t->restarts++;
		ret = jnl_start(t->fs->j, credits, (t->flags & SFS_TRANS_NOFAIL) ? JNL_NOFAIL : 0,
				&t->h);
		if (ret)
			t->h = NULL;
	}
	if (drop)
		mc_write_lock(drop);
	return ret ? ret : 1;
}

int sfs_buf_new(struct sfs_fs *fs, uint64_t blk, const struct sfs_buf_ops *ops, bool nofail,
		struct sfs_buf **out)
{
	int ret = sfs_buf_get(fs->bc, blk, ops, SFS_BUF_NEW | sfs_buf_flags(nofail), out);

	if (!ret && (*out)->ops != ops) {
		sfs_buf_lock(*out);
		(*out)->ops = ops;
		sfs_buf_unlock(*out);
	}
	return ret;
}

int sfs_trans_access(struct sfs_trans *t, struct sfs_buf *bh)
{
	int ret = jnl_get_write_access(t->h, bh);

	if (ret == -EIO)
		SFS_ERROR(t->fs, ret, 0, bh->blkno, "journal aborted");
	return ret;
}

int sfs_trans_dirty(struct sfs_trans *t, struct sfs_buf *bh)
{
	struct sfs_fs *fs = t->fs;
	int ret;

	if (bh->ops && bh->ops->prepare_write) {
		ret = bh->ops->prepare_write(bh->data, bh->size, bh->blkno, fs->sbi);
		if (ret)
			return SFS_ERROR(fs, -EUCLEAN, 0, bh->blkno,
					 "%s block fails its verifier before logging: %s",
					 bh->ops->name, sfs_verify_reason());
	}
	ret = jnl_dirty_metadata(t->h, bh);
	if (ret == -ENOSPC)
		/* A credit estimate is wrong: a bug, and the change is lost. */
		return SFS_ERROR(fs, -EIO, 0, bh->blkno, "journal handle out of credits");
	if (ret)
		return SFS_ERROR(fs, ret, 0, bh->blkno, "cannot log block: %d", ret);
	return 0;
}

int sfs_trans_forget(struct sfs_trans *t, struct sfs_buf *bh)
{
	return jnl_forget(t->h, bh);
}

int sfs_trans_on_commit(struct sfs_trans *t, struct jnl_callback *cb)
{
	return jnl_on_commit(t->h, cb);
}

jnl_tid_t sfs_trans_tid(const struct sfs_trans *t)
{
	return jnl_handle_tid(t->h);
}

int sfs_trans_sb_prepare(struct sfs_trans *t)
{
	return sfs_trans_access(t, t->fs->sb_bh);
}

int sfs_trans_sb_commit(struct sfs_trans *t)
{
	struct sfs_fs *fs = t->fs;
	struct sfs_sb_info *sbi = fs->sbi;
	uint64_t free_blocks, free_inodes;
	int ret;

	mc_spin_lock(&fs->cnt_lock);
	free_blocks = fs->counts.free;
	free_inodes = fs->inodes_free;
	mc_spin_unlock(&fs->cnt_lock);

	sfs_buf_lock(fs->sb_bh);
	mc_mutex_lock(&sbi->sb_lock);
	sbi->sb.free_blocks = free_blocks;
	sbi->sb.free_inodes = free_inodes;
	sfs_super_encode(fs->sb_bh->data, &sbi->sb);
	mc_mutex_unlock(&sbi->sb_lock);
	ret = sfs_trans_dirty(t, fs->sb_bh);
	sfs_buf_unlock(fs->sb_bh);
	return ret;
}
