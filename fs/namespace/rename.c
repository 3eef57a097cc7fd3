/*
 * rename(2) and renameat2's RENAME_NOREPLACE and RENAME_EXCHANGE, as one
 * transaction: after a crash the names are as before or as after.
 *
 * Locks (namespace.h has the order).  A rename within one directory locks
 * that directory.  A rename across directories first takes the rename
 * lock, under which no directory changes parent; it then finds whether one
 * parent is an ancestor of the other (walking ".." up to the root; each
 * directory read under its own rwsem, taken and dropped, so that a
 * concurrent rmdir cannot free the block being read), locks the ancestor
 * first (unrelated parents: lower inode number first), and refuses to move
 * a directory into its own subtree.  The source and target inodes are
 * locked last, lower inode number first; the checks above guarantee
 * neither is one of the parents.
 */
#include <errno.h>
#include <sys/stat.h>

#include "fs/namespace/ns.h"

#define MAX_HOPS 65536u   /* deeper than this is a loop: corruption */

/* 1 if @anc is @start or one of its ancestors, 0 if not, -errno. */
static int is_ancestor(struct sfs_fs *fs, uint64_t anc, uint64_t start)
{
	uint64_t cur = start;

	for (unsigned hops = 0; hops < MAX_HOPS; hops++) {
		struct sfs_inode_info *ip;
		uint64_t parent;
		int ret;

		if (cur == anc)
			return 1;
		if (cur == SFS_ROOT_INO)
			return 0;
		ret = sfs_ns_dir_get(fs, cur, &ip);
		if (ret)
			return ret == -ENOENT ? 0 : ret;
		mc_read_lock(&ip->rwsem);
		ret = sfs_ns_dir_dead(ip) ? 1 : sfs_dir_parent(ip, &parent);
		mc_rw_unlock(&ip->rwsem);
		sfs_iput(ip);
		if (ret)
			return ret > 0 ? 0 : ret;   /* removed: not anyone's ancestor now */
		cur = parent;
	}
	return SFS_ERROR(fs, -EUCLEAN, start, 0, "directory parents loop");
}

static void lock_pair(struct sfs_inode_info *a, struct sfs_inode_info *b)
{
	if (!b || a == b) {
		mc_write_lock(&a->rwsem);
		return;
	}
	if (a->ino > b->ino) {
		struct sfs_inode_info *x = a;

		a = b;
		b = x;
	}
	mc_write_lock(&a->rwsem);
	mc_write_lock(&b->rwsem);
}

static void unlock_pair(struct sfs_inode_info *a, struct sfs_inode_info *b)
{
	if (b && b != a)
		mc_rw_unlock(&b->rwsem);
	mc_rw_unlock(&a->rwsem);
}

/* Link count changes of the parents when directories move between them. */
struct moves {
	int odir, ndir;
};

static int apply_links(struct sfs_inode_info *ip, int delta)
{
	int ret = 0;

	for (; delta > 0 && !ret; delta--)
		ret = sfs_ns_link_inc(ip);
	for (; delta < 0; delta++)
		sfs_ns_link_dec(ip);
	return ret;
}

struct rn {
	struct sfs_fs *fs;
	struct sfs_inode_info *odir, *ndir, *src, *tgt;
	const char *oname, *nname;
	unsigned olen, nlen, flags;
	bool cross, exchange;
};

/* Everything is locked and checked: one transaction. */
static int do_rename(struct rn *r)
{
	bool sdir = sfs_inode_is_dir(r->src), tdir = r->tgt && sfs_inode_is_dir(r->tgt);
	bool replace = r->tgt && !r->exchange;
	struct sfs_dir_slot so = { 0 }, sn = { 0 };
	struct sfs_buf *spar = NULL, *tpar = NULL;
	struct sfs_dir_entry e;
	struct moves mv = { 0, 0 };
	struct sfs_trans t;
	int ret, ret2;

	if (r->cross && sdir) {
		mv.odir--;
		mv.ndir++;
	}
	if (r->cross && r->exchange && tdir) {
		mv.odir++;
		mv.ndir--;
	}
	if (replace && tdir)
		mv.ndir--;   /* the replaced directory's ".." goes */
	if (mv.ndir > 0 && r->ndir->d.nlink >= SFS_LINK_MAX)
		return -EMLINK;
	if (mv.odir > 0 && r->odir->d.nlink >= SFS_LINK_MAX)
		return -EMLINK;
	if (!r->tgt) {
		ret = sfs_dir_make_room(r->fs, r->ndir, r->nname, r->nlen);
		if (ret)
			return ret;
	}
	ret = sfs_trans_start(r->fs, 2 * SFS_DIR_CHANGE_CREDITS + 4 + 2 + SFS_ORPHAN_ADD_CREDITS, 0,
			      &t);
	if (ret)
		return ret;

	/* Acquire.  The new name first: were its preparation to split a block
	 * after all, the old name's record would be found where it moved. */
	if (r->tgt)
		ret = sfs_dir_prepare_change(&t, r->ndir, r->nname, r->nlen, &sn, &e);
	else
		ret = sfs_dir_prepare_add(&t, r->ndir, r->nname, r->nlen, &sn);
	if (!ret)
		ret = sfs_dir_prepare_change(&t, r->odir, r->oname, r->olen, &so, &e);
	if (!ret && e.ino != r->src->ino)
		ret = sfs_dir_corrupt(r->odir, 0, "a name changed under the directory lock");
	if (!ret)
		ret = sfs_inode_access(&t, r->odir, false);
	if (!ret)
		ret = sfs_inode_access(&t, r->ndir, false);
	if (!ret)
		ret = sfs_inode_access(&t, r->src, false);
	if (!ret && r->tgt)
		ret = sfs_inode_access(&t, r->tgt, false);
	if (!ret && r->cross && sdir)
		ret = sfs_dir_prepare_parent(&t, r->src, &spar);
	if (!ret && r->cross && r->exchange && tdir)
		ret = sfs_dir_prepare_parent(&t, r->tgt, &tpar);
	/* Last of what can fail: the replaced inode's link and orphan record. */
	if (!ret && replace)
		ret = sfs_ns_drop_link(&t, r->tgt);
	if (ret) {
		sfs_dir_abort_add(&so);
		sfs_dir_abort_add(&sn);
		sfs_brelse(spar);
		sfs_brelse(tpar);
		goto stop;
	}

	/* Change.  Offsets first, then the insertion (which may compact). */
	if (r->exchange) {
		ret = sfs_dir_commit_replace(&t, r->odir, &so, r->tgt->ino,
					     sfs_mode_to_ftype(r->tgt->d.mode));
		ret2 = sfs_dir_commit_replace(&t, r->ndir, &sn, r->src->ino,
					      sfs_mode_to_ftype(r->src->d.mode));
	} else if (replace) {
		ret = sfs_dir_commit_replace(&t, r->ndir, &sn, r->src->ino,
					     sfs_mode_to_ftype(r->src->d.mode));
		ret2 = sfs_dir_commit_remove(&t, r->odir, &so);
	} else {
		ret = sfs_dir_commit_remove(&t, r->odir, &so);
		ret2 = sfs_dir_commit_add(&t, r->ndir, &sn, r->src->ino,
					  sfs_mode_to_ftype(r->src->d.mode));
	}
	if (!ret)
		ret = ret2;
	if (spar) {
		ret2 = sfs_dir_commit_parent(&t, spar, r->ndir->ino);
		if (!ret)
			ret = ret2;
	}
	if (tpar) {
		ret2 = sfs_dir_commit_parent(&t, tpar, r->odir->ino);
		if (!ret)
			ret = ret2;
	}
	apply_links(r->odir, mv.odir);
	apply_links(r->ndir, mv.ndir);
	sfs_inode_touch(r->odir, SFS_T_MTIME | SFS_T_CTIME);
	sfs_inode_touch(r->ndir, SFS_T_MTIME | SFS_T_CTIME);
	sfs_inode_touch(r->src, SFS_T_CTIME);
	if (r->exchange)
		sfs_inode_touch(r->tgt, SFS_T_CTIME);
	ret2 = sfs_inode_commit(&t, r->odir);
	if (!ret)
		ret = ret2;
	if (r->cross) {
		ret2 = sfs_inode_commit(&t, r->ndir);
		if (!ret)
			ret = ret2;
	}
	ret2 = sfs_inode_commit(&t, r->src);
	if (!ret)
		ret = ret2;
	if (r->exchange) {
		ret2 = sfs_inode_commit(&t, r->tgt);
		if (!ret)
			ret = ret2;
	}
stop:
	ret2 = sfs_trans_stop(&t);
	return ret ? ret : ret2;
}

/* The inode @name names in @dir now, under a short read lock. */
static int peek(struct sfs_inode_info *dir, const char *name, unsigned len, uint64_t *ino,
		bool *is_dir)
{
	struct sfs_dir_entry e;
	int ret;

	mc_read_lock(&dir->rwsem);
	ret = sfs_ns_dir_dead(dir) ? -ENOENT : sfs_dir_lookup(dir, name, len, &e);
	mc_rw_unlock(&dir->rwsem);
	if (!ret) {
		*ino = e.ino;
		*is_dir = e.ftype == SFS_FT_DIR;
	}
	return ret;
}

/*
 * Cross-directory checks made before any directory is locked (their
 * answers hold while the rename lock is held, as long as the names still
 * name the same inodes, which the caller checks again under the locks):
 * which parent to lock first, and that no directory moves below itself.
 */
static int cross_checks(struct rn *r, struct sfs_inode_info **first, struct sfs_inode_info **second,
			uint64_t *src_ino, uint64_t *tgt_ino)
{
	bool sdir = false, tdir = false;
	int ret;

	*first = r->odir;
	*second = r->ndir;
	ret = is_ancestor(r->fs, r->odir->ino, r->ndir->ino);
	if (ret == 0) {
		ret = is_ancestor(r->fs, r->ndir->ino, r->odir->ino);
		if (ret == 1 || (ret == 0 && r->ndir->ino < r->odir->ino)) {
			*first = r->ndir;
			*second = r->odir;
		}
	}
	if (ret < 0)
		return ret;
	ret = peek(r->odir, r->oname, r->olen, src_ino, &sdir);
	if (ret)
		return ret;
	ret = peek(r->ndir, r->nname, r->nlen, tgt_ino, &tdir);
	if (ret == -ENOENT) {
		*tgt_ino = 0;
		ret = 0;
	}
	if (ret)
		return ret;
	if (sdir) {
		ret = is_ancestor(r->fs, *src_ino, r->ndir->ino);
		if (ret)
			return ret > 0 ? -EINVAL : ret;
	}
	if (*tgt_ino && tdir) {
		/* A target above the source holds it: not empty (the VFS's trap). */
		ret = is_ancestor(r->fs, *tgt_ino, r->odir->ino);
		if (ret)
			return ret > 0 ? (r->exchange ? -EINVAL : -ENOTEMPTY) : ret;
	}
	return 0;
}

int sfs_rename(struct sfs_fs *fs, uint64_t olddir, const char *oldname, uint64_t newdir,
	       const char *newname, unsigned flags)
{
	struct rn r = { .fs = fs, .oname = oldname, .nname = newname, .flags = flags };
	struct sfs_inode_info *first = NULL, *second = NULL;
	struct sfs_dir_entry eo, en;
	uint64_t src_ino = 0, tgt_ino = 0;
	bool renamelock = false;
	int ret;

	mc_op_begin();
	r.exchange = flags & SFS_RENAME_EXCHANGE;
	if ((flags & ~(SFS_RENAME_NOREPLACE | SFS_RENAME_EXCHANGE)) ||
	    ((flags & SFS_RENAME_NOREPLACE) && r.exchange)) {
		ret = -EINVAL;   /* RENAME_WHITEOUT is not supported */
		goto out_op;
	}
	ret = sfs_fs_writable(fs);
	if (!ret)
		ret = sfs_ns_name(oldname, &r.olen);
	if (!ret)
		ret = sfs_ns_name(newname, &r.nlen);
	if (!ret && (sfs_dir_is_dots(oldname, r.olen) || sfs_dir_is_dots(newname, r.nlen)))
		ret = -EBUSY;
	if (!ret)
		ret = sfs_ns_dir_get(fs, olddir, &r.odir);
	if (ret)
		goto out_op;
	ret = sfs_ns_dir_get(fs, newdir, &r.ndir);
	if (ret)
		goto out_odir;
	r.cross = r.odir != r.ndir;
	if (r.cross) {
		sfs_ns_rename_lock();
		renamelock = true;
	}
	for (unsigned tries = 0;; tries++) {
		if (r.cross) {
			ret = cross_checks(&r, &first, &second, &src_ino, &tgt_ino);
			if (ret)
				goto out;
		} else {
			first = r.odir;
		}
		mc_write_lock(&first->rwsem);
		if (second)
			mc_write_lock(&second->rwsem);
		if (sfs_ns_dir_dead(r.odir) || sfs_ns_dir_dead(r.ndir)) {
			ret = -ENOENT;
			goto out_locked;
		}
		ret = sfs_dir_lookup(r.odir, oldname, r.olen, &eo);
		if (ret)
			goto out_locked;
		ret = sfs_dir_lookup(r.ndir, newname, r.nlen, &en);
		if (ret == -ENOENT) {
			en.ino = 0;
			ret = 0;
		}
		if (ret)
			goto out_locked;
		/* The checks were made for these inodes: still them? */
		if (!r.cross || (eo.ino == src_ino && en.ino == tgt_ino) || tries >= 8)
			break;
		if (second)
			mc_rw_unlock(&second->rwsem);
		mc_rw_unlock(&first->rwsem);
	}
	if (r.cross && (eo.ino != src_ino || en.ino != tgt_ino)) {
		ret = -EAGAIN;   /* names kept changing under us: let the caller retry */
		goto out_locked;
	}
	ret = sfs_iget(fs, eo.ino, &r.src);
	if (!ret && en.ino)
		ret = sfs_iget(fs, en.ino, &r.tgt);
	if (!ret && !r.tgt && r.exchange)
		ret = -ENOENT;
	if (ret)
		goto out_locked;
	if (r.tgt && (flags & SFS_RENAME_NOREPLACE)) {
		ret = -EEXIST;
		goto out_locked;
	}
	if (r.tgt == r.src)
		goto out_locked;   /* two names of one inode: nothing to do (POSIX) */
	if (r.tgt && !r.exchange) {
		if (sfs_inode_is_dir(r.src) && !sfs_inode_is_dir(r.tgt))
			ret = -ENOTDIR;
		else if (!sfs_inode_is_dir(r.src) && sfs_inode_is_dir(r.tgt))
			ret = -EISDIR;
		if (ret)
			goto out_locked;
	}
	/* Neither child may be one of the locked parents: a directory into
	 * itself, or onto a directory that holds the source (not empty). */
	if (r.src == r.ndir) {
		ret = -EINVAL;
		goto out_locked;
	}
	if (r.tgt == r.odir) {
		ret = r.exchange ? -EINVAL : -ENOTEMPTY;
		goto out_locked;
	}
	lock_pair(r.src, r.tgt);
	if (r.tgt && !r.exchange && sfs_inode_is_dir(r.tgt)) {
		ret = sfs_dir_empty(r.tgt);
		ret = ret < 0 ? ret : ret ? 0 : -ENOTEMPTY;
	}
	if (!ret)
		ret = do_rename(&r);
	unlock_pair(r.src, r.tgt);
out_locked:
	if (second)
		mc_rw_unlock(&second->rwsem);
	mc_rw_unlock(&first->rwsem);
out:
	if (renamelock)
		sfs_ns_rename_unlock();
	if (r.tgt && !ret && !r.exchange)
		sfs_ns_finish_unlinked(fs, r.tgt);   /* frees it if that was its last link */
	else if (r.tgt)
		sfs_iput(r.tgt);
	if (r.src)
		sfs_iput(r.src);
	sfs_iput(r.ndir);
out_odir:
	sfs_iput(r.odir);
out_op:
	mc_op_end();
	return ret;
}
