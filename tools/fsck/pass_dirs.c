/*
 * Pass 2c: directories, link counts, reachability.
 *
 * Every live directory is walked with the library's own rules
 * (fs/namespace/dir_walk.h) over raw reads; each name is checked against
 * the inode it names (live, not reserved, the same file type; a directory
 * named once) and counted.  Then: ".." of every directory the root reaches
 * names the directory that names it; link counts are 2 + subdirectories
 * for a directory and the number of names for anything else; an inode
 * with links but no name, or a directory the root does not reach, is
 * reconnected to /lost+found (lost_found.c) before any count is checked,
 * so the counts checked are those the reconnections leave; an inode
 * with neither links nor names must be recorded in the orphan file.  When
 * a directory cannot be walked its names are not all known, so link
 * counts are left alone rather than "fixed" from a partial count.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc/mc.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/pass_ns.h"

enum fix_kind { FIX_REMOVE, FIX_TYPE };

struct fix {
	enum fix_kind kind;
	uint32_t lblk;
	uint8_t ftype;
	unsigned len;
	char name[SFS_NAME_MAX + 1];
};

struct dir_ctx {
	struct ns *ns;
	uint64_t ino;
	struct ns_inode *dir;
	struct fix *fixes;
	unsigned nfix, cap;
	unsigned removed;
};

static int add_fix(struct dir_ctx *c, enum fix_kind kind, uint32_t lblk, const char *name,
		   unsigned len, unsigned ftype)
{
	struct fix *x;

	if (c->nfix == c->cap) {
		unsigned cap = c->cap ? c->cap * 2 : 8;
		struct fix *nv = mc_alloc(cap * sizeof(*nv), MC_KERNEL);

		if (!nv)
			return -ENOMEM;
		if (c->fixes)
			memcpy(nv, c->fixes, c->nfix * sizeof(*nv));
		mc_free(c->fixes);
		c->fixes = nv;
		c->cap = cap;
	}
	x = &c->fixes[c->nfix++];
	x->kind = kind;
	x->lblk = lblk;
	x->ftype = (uint8_t)ftype;
	x->len = len;
	memcpy(x->name, name, len);
	x->name[len] = 0;
	if (kind == FIX_REMOVE)
		c->removed++;
	return 0;
}

static int on_name(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		   uint32_t lblk)
{
	struct dir_ctx *c = ctx;
	struct fsck *f = c->ns->f;
	struct ns_inode *t = e->ino >= SFS_FIRST_INO ? ns_get(c->ns, e->ino) : NULL;
	unsigned want;

	if (!t) {
		if (fix_ns_problem(f, PN_DIRENT_FREE, "directory %llu: \"%.*s\" names %s inode %llu",
				   (unsigned long long)c->ino, (int)len, name,
				   e->ino < SFS_FIRST_INO ? "reserved" : "free",
				   (unsigned long long)e->ino))
			return add_fix(c, FIX_REMOVE, lblk, name, len, 0);
		return 0;
	}
	want = sfs_mode_to_ftype(t->mode);
	if (e->ftype != want &&
	    fix_ns_problem(f, PN_DIRENT_TYPE, "directory %llu: \"%.*s\" has type %u, inode %llu is of type %u",
			   (unsigned long long)c->ino, (int)len, name, e->ftype,
			   (unsigned long long)e->ino, want)) {
		int ret = add_fix(c, FIX_TYPE, lblk, name, len, want);

		if (ret)
			return ret;
	}
	if (S_ISDIR(t->mode)) {
		if (t->parent) {
			if (fix_ns_problem(f, PN_DIR_SECOND_NAME, "directory %llu: \"%.*s\" is a second name of directory %llu (first in %llu)",
					   (unsigned long long)c->ino, (int)len, name,
					   (unsigned long long)e->ino, (unsigned long long)t->parent))
				return add_fix(c, FIX_REMOVE, lblk, name, len, 0);
			return 0;
		}
		t->parent = c->ino;
		c->dir->subdirs++;
	}
	t->links++;
	return 0;
}

/* Apply one fix to the block holding the name (read raw, restamped). */
static int apply_fix(struct sfs_raw_dir *d, const struct fix *x)
{
	struct sfs_raw_dirent r;
	const struct sfs_geo *g = &d->sbi->geo;
	uint8_t *blk;
	int ret;

	ret = sfs_raw_dir_find(d, x->name, x->len, &r);
	if (ret)
		return ret;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(d->bdev, blk, g->block_log, r.pblk, 1);
	if (!ret) {
		if (x->kind == FIX_REMOVE)
			sfs_dir_leaf_remove(blk, g->block_size, r.offset);
		else
			((struct sfs_disk_dirent *)(blk + r.offset))->file_type = x->ftype;
		ret = sfs_dirblock_buf_ops.prepare_write(blk, g->block_size, r.pblk, (void *)d->sbi);
	}
	if (!ret)
		ret = sfs_io_write_blocks(d->bdev, blk, g->block_log, r.pblk, 1);
	mc_free(blk);
	return ret;
}

/* Rewrite block 0's names count or "..". */
static int fix_block0(struct sfs_raw_dir *d, bool set_names, uint64_t names, bool set_parent,
		      uint64_t parent)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint64_t pblk = sfs_raw_map_lookup(&d->map, 0);
	uint8_t *blk;
	int ret;

	if (!pblk)
		return -ENOENT;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(d->bdev, blk, g->block_log, pblk, 1);
	if (!ret) {
		if (sfs_hdr_magic(blk) == SFS_MAGIC_DIRINDEX) {
			struct sfs_dirindex_hdr h;

			sfs_dirindex_hdr_get(&h, blk);
			if (set_names)
				h.names = names;
			if (set_parent)
				h.parent = parent;
			sfs_dirindex_hdr_put(blk, &h);
		} else if (set_parent) {
			struct sfs_disk_dirent *dd = (struct sfs_disk_dirent *)(blk + SFS_DIR_DOTDOT_OFF);

			dd->ino = sfs_cpu_to_le64(parent);
		}
		ret = sfs_dirblock_buf_ops.prepare_write(blk, g->block_size, pblk, (void *)d->sbi);
	}
	if (!ret)
		ret = sfs_io_write_blocks(d->bdev, blk, g->block_log, pblk, 1);
	mc_free(blk);
	return ret;
}

/* Whether a walk's violation is an entry block's own, so that salvaging
 * that block alone may cure it. */
static bool leaf_fault(const struct sfs_dir_walk *w, bool *linear)
{
	*linear = false;
	if (w->bad_expect == SFS_DIR_EXPECT_LEAF)
		return true;
	if (w->bad_expect != SFS_DIR_EXPECT_BLOCK0)
		return false;
	/* Block 0 is the linear block while it is the only one: a root
	 * index node always has children.  A damaged root index is not an
	 * entry block's to mend. */
	*linear = w->nblocks == 1;
	return *linear;
}

/*
 * Salvage @ino's damaged entry blocks one at a time, walking again after
 * each, before the walk that counts names (so no name is counted twice).
 * 0: the directory walks clean; 1: a fault was reported (D07) and not
 * mended; otherwise the error of the last walk, for the caller to report.
 * A salvaged block walks clean, so each block is salvaged once at most.
 */
static int salvage(struct fsck *f, struct sfs_raw_dir *d, uint64_t ino, struct sfs_dir_walk *w)
{
	uint32_t tries = 0;
	int ret;

	for (;;) {
		bool linear;

		ret = sfs_raw_dir_walk(d, NULL, NULL, w);
		if (ret != -EUCLEAN || !leaf_fault(w, &linear) || tries++ > w->nblocks)
			return ret;
		if (!fix_ns_problem(f, PN_DIR_SALVAGE, "directory %llu, block %u: %s",
				    (unsigned long long)ino, w->bad_lblk, w->why))
			return 1;
		ret = fsck_dir_salvage(d, w->bad_lblk, linear, w->bad_lo, w->bad_hi);
		if (ret) {
			fix_ns_failed(f, PN_DIR_SALVAGE, ret);
			return 1;
		}
	}
}

static void walk_dir(struct ns *ns, uint64_t ino, struct ns_inode *e)
{
	struct fsck *f = ns->f;
	struct dir_ctx c = { .ns = ns, .ino = ino, .dir = e };
	struct sfs_raw_dir d;
	struct sfs_dir_walk w;
	int ret;

	ret = sfs_raw_dir_open(f->bdev, &f->sbi, ino, &d);
	if (ret) {
		ns->dirs_damaged = true;
		return;   /* its record or tree: pass 2 reported it */
	}
	ret = salvage(f, &d, ino, &w);
	if (!ret)
		ret = sfs_raw_dir_walk(&d, on_name, &c, &w);
	if (ret && ret != 1)
		fix_ns_problem(f, PN_DIR_BAD, "directory %llu, block %u: %s", (unsigned long long)ino,
			       w.bad_lblk, ret == -EUCLEAN ? w.why : strerror(-ret));
	if (ret) {
		ns->dirs_damaged = true;
		goto out;
	}
	e->dir_ok = 1;
	e->dotdot = w.parent;
	for (unsigned i = 0; i < c.nfix; i++) {
		int r = apply_fix(&d, &c.fixes[i]);

		if (r)
			fix_ns_failed(f, c.fixes[i].kind == FIX_REMOVE ? PN_DIRENT_FREE : PN_DIRENT_TYPE, r);
	}
	if (w.depth && w.names_recorded != w.names - c.removed) {
		if (fix_ns_problem(f, PN_DIR_NAMES, "directory %llu: root counts %llu names, it holds %llu",
				   (unsigned long long)ino, (unsigned long long)w.names_recorded,
				   (unsigned long long)(w.names - c.removed))) {
			int r = fix_block0(&d, true, w.names - c.removed, false, 0);

			if (r)
				fix_ns_failed(f, PN_DIR_NAMES, r);
		}
	}
out:
	mc_free(c.fixes);
	sfs_raw_dir_close(&d);
}

/* 2 if the root reaches directory @e, 3 if not (parent chain). */
static unsigned reach(struct ns *ns, uint64_t ino)
{
	uint64_t chain = ino;
	unsigned hops = 0, verdict;

	/* Follow parents until a known verdict, the root, or a loop. */
	for (;;) {
		struct ns_inode *x = ns_get(ns, chain);

		if (!x) {
			verdict = 3;
			break;
		}
		if (chain == SFS_ROOT_INO || x->reach == 2) {
			verdict = 2;
			break;
		}
		if (x->reach == 3 || x->reach == 1 || !x->parent || ++hops > (1u << 24)) {
			verdict = 3;
			break;
		}
		x->reach = 1;
		chain = x->parent;
	}
	/* Every directory on the walked stretch gets the verdict. */
	for (chain = ino; chain;) {
		struct ns_inode *x = ns_get(ns, chain);

		if (!x || x->reach != 1)
			break;
		x->reach = (uint8_t)verdict;
		chain = x->parent;
	}
	return verdict;
}

static const char *kind(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symbolic link";
	case S_IFCHR: return "character device";
	case S_IFBLK: return "block device";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "inode";
}

/* Reset every verdict but the root's: a reconnection changes them. */
static void forget_reach(struct ns *ns)
{
	const struct sfs_geo *g = &ns->f->sbi.geo;

	for (uint32_t grp = 0; grp < g->group_count; grp++)
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++)
			ns->grp[grp][i].reach = 0;
	ns_get(ns, SFS_ROOT_INO)->reach = 2;
}

/*
 * The directory to reconnect so that unreachable @ino is reached: up its
 * parents to one nothing names, or to the first met twice (a cycle: one
 * member is cut out of it).  reach() left the stretch marked 3; the walk
 * marks with 1 and restores 3.
 */
static uint64_t top_of(struct ns *ns, uint64_t ino)
{
	uint64_t top = ino, chain;
	unsigned hops = 0;

	for (;;) {
		struct ns_inode *x = ns_get(ns, top);
		struct ns_inode *p;

		x->reach = 1;
		if (!x->parent || ++hops > (1u << 24))
			break;
		p = ns_get(ns, x->parent);
		if (!p)
			break;
		if (p->reach == 1) {
			top = x->parent;
			break;
		}
		top = x->parent;
	}
	for (chain = ino; chain;) {
		struct ns_inode *x = ns_get(ns, chain);

		if (!x || x->reach != 1)
			break;
		x->reach = 3;
		chain = x->parent;
	}
	return top;
}

/* Every directory the root does not reach, through the top of its
 * detached tree; each top is asked about once. */
static void reconnect_dirs(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;

	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i], *t;
			uint64_t ino = (uint64_t)grp * g->inodes_per_group + i + 1, top;
			int r;

			if (!e->live || !S_ISDIR(e->mode) || ino < SFS_FIRST_INO ||
			    (!e->nlink && !e->links) || reach(ns, ino) == 2)
				continue;
			top = top_of(ns, ino);
			t = ns_get(ns, top);
			if (t->top_seen)
				continue;
			t->top_seen = 1;
			if (t->parent)
				r = fix_ns_problem(f, PN_UNATTACHED_DIR, "directory %llu (%llu bytes) is named only inside a cycle the root does not reach (by directory %llu)",
						   (unsigned long long)top, (unsigned long long)t->size,
						   (unsigned long long)t->parent);
			else
				r = fix_ns_problem(f, PN_UNATTACHED_DIR, "directory %llu (%llu bytes) has no name: the root does not reach it",
						   (unsigned long long)top, (unsigned long long)t->size);
			if (!r)
				continue;
			r = t->dir_ok ? ns_reconnect(ns, top, t) : -EUCLEAN;
			if (r) {
				fix_ns_failed(f, PN_UNATTACHED_DIR, r);
				continue;
			}
			/* Its members' verdicts change: top_of would now
			 * climb through lost+found to the root. */
			forget_reach(ns);
		}
	}
}

/* Every inode but a directory with links and no name. */
static void reconnect_files(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;

	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i];
			uint64_t ino = (uint64_t)grp * g->inodes_per_group + i + 1;
			int r;

			if (!e->live || S_ISDIR(e->mode) || ino < SFS_FIRST_INO || e->links || !e->nlink)
				continue;
			if (!fix_ns_problem(f, PN_UNATTACHED, "inode %llu (%s, %llu bytes) has %u link%s but no name",
					    (unsigned long long)ino, kind(e->mode),
					    (unsigned long long)e->size, e->nlink, e->nlink == 1 ? "" : "s"))
				continue;
			r = ns_reconnect(ns, ino, e);
			if (r)
				fix_ns_failed(f, PN_UNATTACHED, r);
		}
	}
}

static void set_nlink(struct sfs_inode *in, uint8_t *raw, void *arg)
{
	(void)raw;
	in->nlink = *(uint32_t *)arg;
}

static void fix_count(struct ns *ns, uint64_t ino, struct ns_inode *e, uint32_t want)
{
	struct fsck *f = ns->f;

	if (e->nlink == want)
		return;
	if (fix_ns_problem(f, PN_LINK_COUNT, "inode %llu: link count %u, counted %u",
			   (unsigned long long)ino, e->nlink, want)) {
		int r = ns_edit_inode(ns, ino, set_nlink, &want);

		if (r)
			fix_ns_failed(f, PN_LINK_COUNT, r);
		else
			e->nlink = want;
	}
}

static void check_links(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;

	reconnect_dirs(ns);
	reconnect_files(ns);
	for (uint32_t grp = 0; grp < g->group_count; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i];
			uint64_t ino = (uint64_t)grp * g->inodes_per_group + i + 1;

			if (!e->live || (ino < SFS_FIRST_INO && ino != SFS_ROOT_INO))
				continue;
			if (S_ISDIR(e->mode)) {
				if (!e->nlink && !e->links) {
					if (!e->orphan_valid)
						fix_ns_problem(f, PN_NO_LINK_NOT_ORPHAN, "directory %llu: no link, no name, not on the orphan list",
							       (unsigned long long)ino);
					continue;
				}
				/* Reported with the top of its detached tree. */
				if (reach(ns, ino) != 2)
					continue;
				if (ino != SFS_ROOT_INO && e->dir_ok && e->dotdot != e->parent &&
				    fix_ns_problem(f, PN_DIR_DOTDOT, "directory %llu: \"..\" names %llu, its parent is %llu",
						   (unsigned long long)ino, (unsigned long long)e->dotdot,
						   (unsigned long long)e->parent)) {
					struct sfs_raw_dir d;
					int r = sfs_raw_dir_open(f->bdev, &f->sbi, ino, &d);

					if (!r) {
						r = fix_block0(&d, false, 0, true, e->parent);
						sfs_raw_dir_close(&d);
					}
					if (r)
						fix_ns_failed(f, PN_DIR_DOTDOT, r);
				}
				fix_count(ns, ino, e, 2 + e->subdirs);
				continue;
			}
			if (!e->links) {
				if (e->nlink)
					continue;   /* reported by reconnect_files */
				if (!e->orphan_valid)
					fix_ns_problem(f, PN_NO_LINK_NOT_ORPHAN, "inode %llu: no link, no name, not on the orphan list",
						       (unsigned long long)ino);
				continue;
			}
			fix_count(ns, ino, e, e->links);
		}
	}
}

int fsck_pass_dirs(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	struct ns_inode *root = ns_get(ns, SFS_ROOT_INO);

	for (uint32_t grp = 0; grp < g->group_count && !fsck_cancelled; grp++) {
		for (uint32_t i = 0; ns->grp[grp] && i < g->inodes_per_group; i++) {
			struct ns_inode *e = &ns->grp[grp][i];
			uint64_t ino = (uint64_t)grp * g->inodes_per_group + i + 1;

			/* A removed directory (no link) has no blocks to walk. */
			if (e->live && S_ISDIR(e->mode) && e->nlink)
				walk_dir(ns, ino, e);
		}
	}
	if (!root)
		return 0;   /* pass 2 re-created it or reported it */
	root->parent = SFS_ROOT_INO;
	root->reach = 2;
	if (root->dir_ok && root->dotdot != SFS_ROOT_INO &&
	    fix_ns_problem(f, PN_DIR_DOTDOT, "root directory: \"..\" names %llu",
			   (unsigned long long)root->dotdot)) {
		struct sfs_raw_dir d;
		int r = sfs_raw_dir_open(f->bdev, &f->sbi, SFS_ROOT_INO, &d);

		if (!r) {
			r = fix_block0(&d, false, 0, true, SFS_ROOT_INO);
			sfs_raw_dir_close(&d);
		}
		if (r)
			fix_ns_failed(f, PN_DIR_DOTDOT, r);
	}
	if (ns->dirs_damaged) {
		fix_ns_problem(f, PN_LINKS_UNCHECKED, "link counts and reachability not checked");
		return 0;
	}
	check_links(ns);
	return 0;
}
