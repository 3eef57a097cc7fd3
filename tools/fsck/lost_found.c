/*
 * Reconnecting what the root does not reach to /lost+found (e2fsck's pass
 * 3 idea).  lost+found is an ordinary directory in the root: found by
 * name, made (mode 0700, owned by root) the first time something needs
 * it.  The image changes through the offline namespace code
 * (fs/namespace/offline.h); the inode and blocks lost+found takes are
 * fsck's own allocations (own_alloc.c), in the bitmaps and counts before
 * pass 3 checks them.
 *
 * Link counts move as e2fsck moves them: the directory gaining a
 * subdirectory gains a link, the one a reconnected directory's ".." named
 * before loses one -- each only when its count was right before, so a
 * count that was already wrong is still reported (L01) rather than
 * silently made "right" from a wrong start.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/io.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/pass_ns.h"

#define LF_NAME "lost+found"
#define LF_LEN  10u

static void set_nlink(struct sfs_inode *in, uint8_t *raw, void *arg)
{
	(void)raw;
	in->nlink = *(uint32_t *)arg;
}

/* Directory @e gains (@delta 1) or loses (-1) a subdirectory. */
static int move_subdirs(struct ns *ns, uint64_t ino, struct ns_inode *e, int delta)
{
	bool counted = e->nlink == 2 + e->subdirs;
	uint32_t nlink = (uint32_t)((int64_t)e->nlink + delta);
	int ret;

	e->subdirs = (uint32_t)((int64_t)e->subdirs + delta);
	if (!counted)
		return 0;
	ret = ns_edit_inode(ns, ino, set_nlink, &nlink);
	if (!ret)
		e->nlink = nlink;
	return ret;
}

/* The offline code's allocator (a directory that must grow): @goal when
 * free, so the directory's extent grows rather than the root filling. */
static int grow_take(void *ctx, uint64_t goal, uint64_t *pblk)
{
	*pblk = fsck_own_block(ctx, goal);
	return *pblk ? 0 : -ENOSPC;
}

static void grow_give(void *ctx, uint64_t pblk)
{
	fsck_give_block(ctx, pblk);
}

/* A free inode number, with the table entry it will need. */
static uint64_t take_inode(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint64_t ino = fsck_find_inode(f);
	uint32_t grp;

	if (!ino)
		return 0;
	grp = sfs_geo_ino_group(g, ino);
	if (ns->grp[grp])
		return ino;
	ns->grp[grp] = mc_calloc(g->inodes_per_group, sizeof(struct ns_inode), MC_KERNEL);
	return ns->grp[grp] ? ino : 0;
}

static int add_name(struct ns *ns, uint64_t dir, const char *name, unsigned len, uint64_t ino,
		    uint16_t mode)
{
	struct fsck *f = ns->f;
	struct sfs_raw_alloc grow = { .take = grow_take, .give = grow_give, .ctx = f };
	struct sfs_raw_dir d;
	int ret;

	ret = sfs_raw_dir_open(f->bdev, &f->sbi, dir, &d);
	if (!ret)
		ret = sfs_raw_dir_add(&d, name, len, ino, sfs_mode_to_ftype(mode), &grow);
	sfs_raw_dir_close(&d);
	return ret;
}

/* Make /lost+found: its inode and block, then its name in the root. */
static int make_lost_found(struct ns *ns, uint64_t *out)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	struct ns_inode *root = ns_get(ns, SFS_ROOT_INO);
	struct ns_inode *e;
	uint64_t ino, blk;
	bool made;
	int ret;

	if (!root)
		return -ENOENT;
	ino = take_inode(ns);
	if (!ino)
		return -ENOSPC;
	blk = fsck_own_block(f, 0);
	if (!blk)
		return -ENOSPC;
	ret = sfs_raw_mkdir(f->bdev, &f->sbi, ino, SFS_ROOT_INO, blk, 0700, 0, 0);
	made = !ret;
	if (made)
		ret = add_name(ns, SFS_ROOT_INO, LF_NAME, LF_LEN, ino, S_IFDIR);
	if (ret && made) {
		/* An inode record nothing names would be the next check's
		 * unattached directory: the slot goes back to unused.  Only a
		 * record this call wrote: -EEXIST means a live one is there. */
		uint32_t off;
		uint64_t iblk = sfs_geo_ino_block(g, ino, &off);
		uint8_t *buf = sfs_io_alloc(g->block_size);

		if (buf && !sfs_io_read_blocks(f->bdev, buf, g->block_log, iblk, 1)) {
			memset(buf + off, 0, g->inode_size);
			fsck_write_block(f, buf, iblk);
		}
		mc_free(buf);
	}
	if (ret) {
		fsck_give_block(f, blk);
		return ret;
	}
	fsck_own_inode(f, ino, true);
	e = &ns->grp[sfs_geo_ino_group(g, ino)][sfs_geo_ino_index(g, ino)];
	memset(e, 0, sizeof(*e));
	e->live = 1;
	e->mode = S_IFDIR | 0700;
	e->nlink = 2;
	e->links = 1;
	e->size = g->block_size;
	e->parent = e->dotdot = SFS_ROOT_INO;
	e->reach = 2;
	e->dir_ok = 1;
	*out = ino;
	return move_subdirs(ns, SFS_ROOT_INO, root, 1);
}

/* Find /lost+found, or make it when the user agrees; failures are
 * reported here, once. */
static int lost_found(struct ns *ns, uint64_t *out)
{
	struct fsck *f = ns->f;
	struct sfs_raw_dirent r;
	struct sfs_raw_dir d;
	struct ns_inode *e;
	int ret;

	if (ns->lost_found) {
		*out = ns->lost_found;
		return 0;
	}
	if (ns->lost_found_err)
		return ns->lost_found_err;
	ret = sfs_raw_dir_open(f->bdev, &f->sbi, SFS_ROOT_INO, &d);
	if (!ret)
		ret = sfs_raw_dir_find(&d, LF_NAME, LF_LEN, &r);
	sfs_raw_dir_close(&d);
	if (ret == -ENOENT) {
		if (!fix_ns_problem(f, PN_LOST_FOUND_MISSING, "/" LF_NAME " not found")) {
			ns->lost_found_err = -ENOENT;
			return -ENOENT;
		}
		ret = make_lost_found(ns, out);
		if (ret) {
			fix_ns_failed(f, PN_LOST_FOUND_MISSING, ret);
			ns->lost_found_err = ret;
			return ret;
		}
		ns->lost_found = *out;
		return 0;
	}
	if (ret) {
		ns->lost_found_err = ret;
		return ret;
	}
	e = ns_get(ns, r.e.ino);
	if (!e || !S_ISDIR(e->mode)) {
		fix_ns_problem(f, PN_LOST_FOUND_BAD, "/" LF_NAME " (inode %llu) is not a directory",
			       (unsigned long long)r.e.ino);
		ret = -ENOTDIR;
	} else if (e->parent != SFS_ROOT_INO || !e->dir_ok) {
		/* A second name of a directory the root names elsewhere, or
		 * one that could not be walked: adding to it would make a
		 * second problem of the first. */
		fix_ns_problem(f, PN_LOST_FOUND_BAD, "/" LF_NAME " (inode %llu) is %s",
			       (unsigned long long)r.e.ino,
			       e->dir_ok ? "a second name of another directory" : "damaged");
		ret = -EUCLEAN;
	}
	if (ret) {
		ns->lost_found_err = ret;
		return ret;
	}
	ns->lost_found = r.e.ino;
	*out = r.e.ino;
	return 0;
}

struct find_name {
	uint64_t ino;
	unsigned len;
	char name[SFS_NAME_MAX + 1];
};

static int match_ino(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		     uint32_t lblk)
{
	struct find_name *fn = ctx;

	(void)lblk;
	if (e->ino != fn->ino)
		return 0;
	memcpy(fn->name, name, len);
	fn->len = len;
	return 1;
}

/* Remove the name directory @dir gives @ino (a cycle being cut). */
static int unname(struct ns *ns, uint64_t dir, uint64_t ino)
{
	struct fsck *f = ns->f;
	struct find_name fn = { .ino = ino };
	struct sfs_dir_walk w;
	struct sfs_raw_dir d;
	int ret;

	ret = sfs_raw_dir_open(f->bdev, &f->sbi, dir, &d);
	if (!ret) {
		ret = sfs_raw_dir_walk(&d, match_ino, &fn, &w);
		if (ret == 1)
			ret = sfs_raw_dir_remove(&d, fn.name, fn.len);
		else if (!ret)
			ret = -ENOENT;
	}
	sfs_raw_dir_close(&d);
	return ret;
}

/* Directory @ino now lives in lost+found: its old namer (a cycle) lets
 * go of it, its ".." follows, and the counts with them. */
static int move_dir(struct ns *ns, uint64_t ino, struct ns_inode *e, uint64_t lf)
{
	struct fsck *f = ns->f;
	struct ns_inode *lfe = ns_get(ns, lf);
	uint64_t was = e->dotdot;
	struct ns_inode *old;
	struct sfs_raw_dir d;
	int ret;

	if (e->parent) {
		old = ns_get(ns, e->parent);
		ret = unname(ns, e->parent, ino);
		if (ret)
			return ret;
		e->links--;
		if (old)
			old->subdirs--;
	}
	e->parent = lf;
	ret = sfs_raw_dir_open(f->bdev, &f->sbi, ino, &d);
	if (!ret)
		ret = sfs_raw_dir_set_parent(&d, lf);
	sfs_raw_dir_close(&d);
	if (ret)
		return ret;
	e->dotdot = lf;
	/* The directory ".." named before still counts this one as a
	 * subdirectory when its count exceeds its subdirectories' by one. */
	old = was != lf ? ns_get(ns, was) : NULL;
	if (old && S_ISDIR(old->mode) && old->nlink == 2 + old->subdirs + 1) {
		uint32_t nlink = old->nlink - 1;

		ret = ns_edit_inode(ns, was, set_nlink, &nlink);
		if (ret)
			return ret;
		old->nlink = nlink;
	}
	return move_subdirs(ns, lf, lfe, 1);
}

int ns_reconnect(struct ns *ns, uint64_t ino, struct ns_inode *e)
{
	char name[32];
	uint64_t lf;
	int len, ret;

	ret = lost_found(ns, &lf);
	if (ret)
		return ret;
	if (ino == lf)
		return -EINVAL;
	len = snprintf(name, sizeof(name), "#%llu", (unsigned long long)ino);
	ret = add_name(ns, lf, name, (unsigned)len, ino, e->mode);
	if (ret)
		return ret;
	e->links++;
	if (S_ISDIR(e->mode))
		ret = move_dir(ns, ino, e, lf);
	return ret;
}
