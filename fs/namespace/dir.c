/*
 * Directory operations on names: lookup, the two-phase insertion, removal,
 * replacement, the first block of a new directory and its "..".
 */
#include <errno.h>
#include <string.h>

#include "fs/file.h"
#include "fs/namespace/dir.h"

/* Steps one insertion may take making room (each a split or a new level). */
#define MAX_ROOM_STEPS 16

static uint64_t name_hash(struct sfs_inode_info *dir, const char *name, unsigned len)
{
	return sfs_dir_hash56(sfs_dir_seed(dir), name, len);
}

int sfs_dir_lookup(struct sfs_inode_info *dir, const char *name, unsigned len,
		   struct sfs_dir_entry *e)
{
	uint64_t h = name_hash(dir, name, len);
	struct sfs_dir_path p;
	struct sfs_dirent de;
	int ret;

	ret = sfs_dir_descend(dir, sfs_dirkey(h, 0), &p);
	if (ret)
		return ret;
	ret = sfs_dir_leaf_find(p.leaf->data, dir->fs->bsize, h, name, len, &de);
	if (ret > 0) {
		e->ino = de.ino;
		e->ftype = de.file_type;
		e->key = de.key;
		ret = 0;
	} else if (ret == 0) {
		ret = -ENOENT;
	} else {
		ret = sfs_dir_corrupt(dir, p.leaf->blkno, "malformed entry block %u", p.leaf_lblk);
	}
	sfs_dir_path_release(&p);
	return ret;
}

int sfs_dir_parent(struct sfs_inode_info *dir, uint64_t *parent)
{
	struct sfs_buf *bh;
	struct sfs_dirent de;
	int ret;

	ret = sfs_dir_bread(dir, 0, false, &bh);
	if (ret)
		return ret;
	/* Under the buffer lock: the block may be turning into the root index. */
	sfs_buf_lock(bh);
	if (sfs_hdr_magic(bh->data) == SFS_MAGIC_DIRINDEX) {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, bh->data);
		*parent = h.parent;
	} else {
		uint32_t off = SFS_DIR_DOTDOT_OFF;

		if (sfs_dir_block_next(bh->data, dir->fs->bsize, &off, &de) <= 0 ||
		    de.key != SFS_DIRKEY_DOTDOT || !de.ino)
			ret = sfs_dir_corrupt(dir, bh->blkno, "no \"..\" in its first block");
		else
			*parent = de.ino;
	}
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	return ret;
}

int sfs_dir_empty(struct sfs_inode_info *dir)
{
	struct sfs_buf *bh;
	int ret;

	ret = sfs_dir_bread(dir, 0, false, &bh);
	if (ret)
		return ret;
	if (sfs_hdr_magic(bh->data) == SFS_MAGIC_DIRINDEX) {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, bh->data);
		ret = h.names == 0;
	} else {
		ret = sfs_dir_leaf_count(bh->data, dir->fs->bsize) == 0;
	}
	sfs_buf_release(bh);
	return ret;
}

/* Split the full entry block at the end of @p into a new block. */
static int split_leaf(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_path *p)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_buf *leaf = p->leaf, *nb;
	uint64_t split;
	uint32_t lblk;
	int ret;

	ret = sfs_dir_leaf_split_key(leaf->data, fs->bsize, &split);
	if (!ret)
		ret = sfs_trans_access(t, leaf);
	if (!ret)
		ret = sfs_trans_access(t, p->lv[p->depth - 1].bh);
	if (!ret)
		ret = sfs_dir_bnew(t, dir, &nb, &lblk);
	if (ret)
		return ret;
	sfs_dir_begin(nb);
	sfs_dir_block_init(nb->data, fs->sbi, nb->blkno, dir->ino);
	sfs_dir_begin(leaf);
	sfs_dir_leaf_split_at(leaf->data, nb->data, fs->bsize, split);
	ret = sfs_dir_end(t, leaf);
	if (!ret)
		ret = sfs_dir_end(t, nb);
	else
		sfs_buf_unlock(nb);
	sfs_buf_release(nb);
	if (ret)
		return ret;
	return sfs_dir_index_insert(t, p, p->depth - 1, split, lblk);
}

/* One step towards room in the entry block at the end of @p. */
static int room_step(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_path *p)
{
	if (!p->depth)
		return sfs_dir_convert(t, dir, p);
	if (sfs_dirindex_hdr_count(p->lv[p->depth - 1].bh->data) >=
	    sfs_dir_index_cap(dir->fs->bsize))
		return sfs_dir_index_make_room(t, dir, p, p->depth - 1);
	return split_leaf(t, dir, p);
}

unsigned sfs_dir_room_credits(struct sfs_inode_info *dir)
{
	/* One new block (mapped: tree, group, inode; written), the block split
	 * or the node below the root, and its parent. */
	return sfs_map_credits(dir) + 4;
}

int sfs_dir_make_room(struct sfs_fs *fs, struct sfs_inode_info *dir, const char *name,
		      unsigned len)
{
	uint64_t h = name_hash(dir, name, len);

	for (unsigned step = 0;; step++) {
		struct sfs_dir_path p;
		struct sfs_dirent de;
		struct sfs_trans t;
		int ret, ret2;

		ret = sfs_dir_descend(dir, sfs_dirkey(h, 0), &p);
		if (ret)
			return ret;
		if (sfs_dir_leaf_find(p.leaf->data, fs->bsize, h, name, len, &de) != 0 ||
		    sfs_dir_leaf_seq(p.leaf->data, fs->bsize, h) < 0 ||
		    sfs_dir_leaf_has_room(p.leaf->data, fs->bsize, len)) {
			/* Room, or an answer the operation itself will give. */
			sfs_dir_path_release(&p);
			return 0;
		}
		if (step >= MAX_ROOM_STEPS) {
			sfs_dir_path_release(&p);
			return -ENOSPC;
		}
		ret = sfs_trans_start(fs, sfs_dir_room_credits(dir), 0, &t);
		if (!ret) {
			ret = room_step(&t, dir, &p);
			ret2 = sfs_trans_stop(&t);
			if (!ret)
				ret = ret2;
		}
		sfs_dir_path_release(&p);
		if (ret)
			return ret;
	}
}

int sfs_dir_prepare_add(struct sfs_trans *t, struct sfs_inode_info *dir, const char *name,
			unsigned len, struct sfs_dir_slot *s)
{
	struct sfs_fs *fs = dir->fs;
	uint64_t h = name_hash(dir, name, len);
	struct sfs_dir_path p;
	struct sfs_dirent de;
	int ret, seq;

	memset(s, 0, sizeof(*s));
	for (unsigned step = 0;; step++) {
		ret = sfs_dir_descend(dir, sfs_dirkey(h, 0), &p);
		if (ret)
			return ret;
		ret = sfs_dir_leaf_find(p.leaf->data, fs->bsize, h, name, len, &de);
		if (ret) {
			ret = ret > 0 ? -EEXIST
				      : sfs_dir_corrupt(dir, p.leaf->blkno, "malformed entry block");
			goto out;
		}
		seq = sfs_dir_leaf_seq(p.leaf->data, fs->bsize, h);
		if (seq < 0) {
			/* 128 names of one 56-bit hash: the directory cannot take more. */
			ret = seq;
			goto out;
		}
		if (sfs_dir_leaf_has_room(p.leaf->data, fs->bsize, len)) {
			ret = sfs_trans_access(t, p.leaf);
			if (!ret && p.depth)
				ret = sfs_trans_access(t, p.lv[0].bh);
			if (ret)
				goto out;
			s->leaf = p.leaf;
			p.leaf = NULL;
			if (p.depth) {
				s->root = p.lv[0].bh;
				p.lv[0].bh = NULL;
			}
			s->key = sfs_dirkey(h, (unsigned)seq);
			s->name = name;
			s->len = len;
			ret = 0;
			goto out;
		}
		/* No room (sfs_dir_make_room was not called, or the block is
		 * fragmented beyond its count): split here if credits allow. */
		if (step >= MAX_ROOM_STEPS || jnl_handle_credits(t->h) < sfs_dir_room_credits(dir)) {
			ret = -ENOSPC;
			goto out;
		}
		ret = room_step(t, dir, &p);
		sfs_dir_path_release(&p);
		if (ret)
			return ret;
	}
out:
	sfs_dir_path_release(&p);
	return ret;
}

int sfs_dir_commit_add(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s,
		       uint64_t ino, unsigned ftype)
{
	int ret;

	sfs_dir_begin(s->leaf);
	ret = sfs_dir_leaf_insert(s->leaf->data, dir->fs->bsize, ino, s->key, s->name, s->len,
				  ftype);
	if (ret) {
		sfs_buf_unlock(s->leaf);
		ret = sfs_dir_corrupt(dir, s->leaf->blkno, "prepared room vanished (%d)", ret);
	} else {
		ret = sfs_dir_end(t, s->leaf);
	}
	if (!ret && s->root) {
		struct sfs_dirindex_hdr h;

		sfs_dir_begin(s->root);
		sfs_dirindex_hdr_get(&h, s->root->data);
		h.names++;
		sfs_dirindex_hdr_put(s->root->data, &h);
		ret = sfs_dir_end(t, s->root);
	}
	sfs_dir_abort_add(s);
	return ret;
}

void sfs_dir_abort_add(struct sfs_dir_slot *s)
{
	sfs_brelse(s->leaf);
	sfs_brelse(s->root);
	s->leaf = s->root = NULL;
}

int sfs_dir_prepare_change(struct sfs_trans *t, struct sfs_inode_info *dir, const char *name,
			   unsigned len, struct sfs_dir_slot *s, struct sfs_dir_entry *e)
{
	uint64_t h = name_hash(dir, name, len);
	struct sfs_dir_path p;
	struct sfs_dirent de;
	int ret;

	memset(s, 0, sizeof(*s));
	ret = sfs_dir_descend(dir, sfs_dirkey(h, 0), &p);
	if (ret)
		return ret;
	ret = sfs_dir_leaf_find(p.leaf->data, dir->fs->bsize, h, name, len, &de);
	if (ret <= 0) {
		ret = ret ? sfs_dir_corrupt(dir, p.leaf->blkno, "malformed entry block") : -ENOENT;
		goto out;
	}
	ret = sfs_trans_access(t, p.leaf);
	if (!ret && p.depth)
		ret = sfs_trans_access(t, p.lv[0].bh);
	if (ret)
		goto out;
	if (e)
		*e = (struct sfs_dir_entry){ .ino = de.ino, .ftype = de.file_type, .key = de.key };
	s->leaf = p.leaf;
	p.leaf = NULL;
	if (p.depth) {
		s->root = p.lv[0].bh;
		p.lv[0].bh = NULL;
	}
	s->key = de.key;
	s->offset = de.offset;
	s->name = name;
	s->len = len;
out:
	sfs_dir_path_release(&p);
	return ret;
}

int sfs_dir_commit_remove(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s)
{
	int ret;

	sfs_dir_begin(s->leaf);
	sfs_dir_leaf_remove(s->leaf->data, dir->fs->bsize, s->offset);
	ret = sfs_dir_end(t, s->leaf);
	if (!ret && s->root) {
		struct sfs_dirindex_hdr h;

		sfs_dir_begin(s->root);
		sfs_dirindex_hdr_get(&h, s->root->data);
		if (h.names)
			h.names--;
		sfs_dirindex_hdr_put(s->root->data, &h);
		ret = sfs_dir_end(t, s->root);
	}
	sfs_dir_abort_add(s);
	return ret;
}

int sfs_dir_commit_replace(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_slot *s,
			   uint64_t ino, unsigned ftype)
{
	struct sfs_disk_dirent *d;
	int ret;

	(void)dir;
	sfs_dir_begin(s->leaf);
	d = (struct sfs_disk_dirent *)((uint8_t *)s->leaf->data + s->offset);
	d->ino = sfs_cpu_to_le64(ino);
	d->file_type = (uint8_t)ftype;
	ret = sfs_dir_end(t, s->leaf);
	sfs_dir_abort_add(s);
	return ret;
}

int sfs_dir_init(struct sfs_trans *t, struct sfs_inode_info *dir, uint64_t parent)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_buf *bh;
	uint32_t lblk;
	int ret;

	ret = sfs_dir_bnew(t, dir, &bh, &lblk);
	if (ret)
		return ret;
	if (lblk) {
		sfs_buf_release(bh);
		return sfs_dir_corrupt(dir, 0, "a new directory already has blocks");
	}
	sfs_dir_begin(bh);
	sfs_dir_block_init(bh->data, fs->sbi, bh->blkno, dir->ino);
	ret = sfs_dir_block_add(bh->data, fs->bsize, dir->ino, ".", 1, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dir_block_add(bh->data, fs->bsize, parent, "..", 2, SFS_FT_DIR);
	if (!ret) {
		ret = sfs_dir_end(t, bh);
	} else {
		sfs_buf_unlock(bh);
		ret = -EIO;
	}
	sfs_buf_release(bh);
	return ret;
}

int sfs_dir_prepare_parent(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_buf **out)
{
	struct sfs_buf *bh = NULL;
	int ret;

	ret = sfs_dir_bread(dir, 0, false, &bh);
	if (!ret)
		ret = sfs_trans_access(t, bh);
	if (!ret && sfs_hdr_magic(bh->data) == SFS_MAGIC_DIRLEAF) {
		const struct sfs_disk_dirent *d =
			(const void *)((const uint8_t *)bh->data + SFS_DIR_DOTDOT_OFF);

		if (sfs_le64_to_cpu(d->key) != SFS_DIRKEY_DOTDOT)
			ret = sfs_dir_corrupt(dir, bh->blkno, "no \"..\" in its first block");
	}
	if (ret) {
		sfs_brelse(bh);
		return ret;
	}
	*out = bh;
	return 0;
}

int sfs_dir_commit_parent(struct sfs_trans *t, struct sfs_buf *bh, uint64_t parent)
{
	int ret;

	sfs_dir_begin(bh);
	if (sfs_hdr_magic(bh->data) == SFS_MAGIC_DIRINDEX) {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, bh->data);
		h.parent = parent;
		sfs_dirindex_hdr_put(bh->data, &h);
	} else {
		struct sfs_disk_dirent *d =
			(struct sfs_disk_dirent *)((uint8_t *)bh->data + SFS_DIR_DOTDOT_OFF);

		d->ino = sfs_cpu_to_le64(parent);
	}
	ret = sfs_dir_end(t, bh);
	sfs_buf_release(bh);
	return ret;
}
