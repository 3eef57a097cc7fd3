/*
 * The directory index: walking from the root to the entry block that holds
 * (or would hold) a key, and the steps that grow the tree -- turning a
 * linear directory into an indexed one, splitting a full index node,
 * adding a level at the root.  Each step takes write access to every block
 * it changes and allocates its new block before it changes anything, and
 * leaves a complete, consistent tree behind: the caller walks down again.
 */
#include <errno.h>
#include <string.h>

#include "fs/namespace/dir.h"

unsigned sfs_dir_index_cap(uint32_t block_size)
{
	unsigned limit = sfs_dirindex_limit(block_size);

	return sfs_dir_debug_index_cap && sfs_dir_debug_index_cap < limit
		? sfs_dir_debug_index_cap : limit;
}

void sfs_dir_path_release(struct sfs_dir_path *p)
{
	for (unsigned i = 0; i < p->depth; i++)
		sfs_brelse(p->lv[i].bh);
	sfs_brelse(p->leaf);
	memset(p, 0, sizeof(*p));
}

int sfs_dir_descend(struct sfs_inode_info *dir, uint64_t key, struct sfs_dir_path *p)
{
	struct sfs_dirindex_hdr h;
	struct sfs_buf *bh;
	uint32_t lblk = 0;
	unsigned levels;
	int ret;

	memset(p, 0, sizeof(*p));
	ret = sfs_dir_bread(dir, 0, false, &bh);
	if (ret)
		return ret;
	if (sfs_hdr_magic(bh->data) == SFS_MAGIC_DIRLEAF) {
		p->leaf = bh;
		return 0;
	}
	sfs_dirindex_hdr_get(&h, bh->data);
	if (!(h.flags & SFS_DIRINDEX_ROOT)) {
		sfs_buf_release(bh);
		return sfs_dir_corrupt(dir, bh->blkno, "block 0 is an index node but not the root");
	}
	levels = h.level + 1u;
	p->depth = levels;
	for (unsigned i = 0; i < levels; i++) {
		bool want_index = i + 1 < levels;
		uint32_t child;

		p->lv[i].bh = bh;
		p->lv[i].lblk = lblk;
		sfs_dirindex_hdr_get(&h, bh->data);
		if (h.level != levels - 1u - i || (i > 0 && (h.flags & SFS_DIRINDEX_ROOT))) {
			ret = sfs_dir_corrupt(dir, bh->blkno, "index block %u at level %u, expected %u",
					      lblk, h.level, levels - 1 - i);
			goto err;
		}
		p->lv[i].pos = sfs_dirindex_find(bh->data, h.count, key);
		child = sfs_dirindex_lblk(bh->data, p->lv[i].pos);
		ret = sfs_dir_bread(dir, child, false, &bh);
		if (ret)
			goto err;
		if (sfs_hdr_magic(bh->data) != (want_index ? SFS_MAGIC_DIRINDEX : SFS_MAGIC_DIRLEAF)) {
			ret = sfs_dir_corrupt(dir, bh->blkno, "block %u is not the %s block its index expects",
					      child, want_index ? "index" : "entry");
			sfs_buf_release(bh);
			goto err;
		}
		lblk = child;
	}
	p->leaf = bh;
	p->leaf_lblk = lblk;
	return 0;
err:
	sfs_dir_path_release(p);
	return ret;
}

int sfs_dir_index_insert(struct sfs_trans *t, struct sfs_dir_path *p, unsigned i, uint64_t key,
			 uint32_t lblk)
{
	struct sfs_buf *bh = p->lv[i].bh;
	struct sfs_dirindex_hdr h;
	unsigned at = p->lv[i].pos + 1;

	sfs_dir_begin(bh);
	sfs_dirindex_hdr_get(&h, bh->data);
	memmove(sfs_dirindex_entry(bh->data, at + 1), sfs_dirindex_entry(bh->data, at),
		(size_t)(h.count - at) * sizeof(struct sfs_disk_dirindex_entry));
	sfs_dirindex_set(bh->data, at, key, lblk);
	h.count++;
	sfs_dirindex_hdr_put(bh->data, &h);
	return sfs_dir_end(t, bh);
}

/* The root is full: its entries move into a new node one level down. */
static int grow(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_path *p)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_buf *root = p->lv[0].bh, *nb;
	struct sfs_dirindex_hdr h;
	uint32_t lblk;
	int ret;

	if (p->depth >= SFS_DIR_MAX_LEVELS)
		return -ENOSPC;
	ret = sfs_trans_access(t, root);
	if (!ret)
		ret = sfs_dir_bnew(t, dir, &nb, &lblk);
	if (ret)
		return ret;
	sfs_dirindex_hdr_get(&h, root->data);
	sfs_dir_begin(nb);
	sfs_dirindex_init(nb->data, fs->sbi, nb->blkno, dir->ino, h.level, false, 0);
	memcpy(sfs_dirindex_entry(nb->data, 0), sfs_dirindex_entry(root->data, 0),
	       (size_t)h.count * sizeof(struct sfs_disk_dirindex_entry));
	{
		struct sfs_dirindex_hdr nh;

		sfs_dirindex_hdr_get(&nh, nb->data);
		nh.count = h.count;
		sfs_dirindex_hdr_put(nb->data, &nh);
	}
	ret = sfs_dir_end(t, nb);
	sfs_buf_release(nb);
	if (ret)
		return ret;
	sfs_dir_begin(root);
	h.level++;
	h.count = 1;
	sfs_dirindex_hdr_put(root->data, &h);
	sfs_dirindex_set(root->data, 0, 0, lblk);
	return sfs_dir_end(t, root);
}

int sfs_dir_index_make_room(struct sfs_trans *t, struct sfs_inode_info *dir,
			    struct sfs_dir_path *p, unsigned i)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_buf *node, *parent, *nb;
	struct sfs_dirindex_hdr h, ph, nh;
	unsigned cap = sfs_dir_index_cap(fs->bsize), m;
	uint64_t split;
	uint32_t lblk;
	int ret;

	if (i == 0)
		return grow(t, dir, p);
	parent = p->lv[i - 1].bh;
	sfs_dirindex_hdr_get(&ph, parent->data);
	if (ph.count >= cap)
		return sfs_dir_index_make_room(t, dir, p, i - 1);
	node = p->lv[i].bh;
	ret = sfs_trans_access(t, node);
	if (!ret)
		ret = sfs_trans_access(t, parent);
	if (!ret)
		ret = sfs_dir_bnew(t, dir, &nb, &lblk);
	if (ret)
		return ret;
	/* The upper half moves to the new node; its first key goes up to the
	 * parent, and in the new node reads 0, as every first entry does. */
	sfs_dirindex_hdr_get(&h, node->data);
	m = h.count / 2;
	split = sfs_dirindex_key(node->data, m);
	sfs_dir_begin(nb);
	sfs_dirindex_init(nb->data, fs->sbi, nb->blkno, dir->ino, h.level, false, 0);
	memcpy(sfs_dirindex_entry(nb->data, 0), sfs_dirindex_entry(node->data, m),
	       (size_t)(h.count - m) * sizeof(struct sfs_disk_dirindex_entry));
	sfs_dirindex_set(nb->data, 0, 0, sfs_dirindex_lblk(node->data, m));
	sfs_dirindex_hdr_get(&nh, nb->data);
	nh.count = (uint16_t)(h.count - m);
	sfs_dirindex_hdr_put(nb->data, &nh);
	ret = sfs_dir_end(t, nb);
	sfs_buf_release(nb);
	if (ret)
		return ret;
	sfs_dir_begin(node);
	memset(sfs_dirindex_entry(node->data, m), 0,
	       (size_t)(h.count - m) * sizeof(struct sfs_disk_dirindex_entry));
	h.count = (uint16_t)m;
	sfs_dirindex_hdr_put(node->data, &h);
	ret = sfs_dir_end(t, node);
	if (ret)
		return ret;
	return sfs_dir_index_insert(t, p, i - 1, split, lblk);
}

int sfs_dir_convert(struct sfs_trans *t, struct sfs_inode_info *dir, struct sfs_dir_path *p)
{
	struct sfs_fs *fs = dir->fs;
	struct sfs_buf *b0 = p->leaf, *nb;
	struct sfs_dirindex_hdr h;
	struct sfs_dirent de;
	uint64_t parent = 0, names = 0;
	uint32_t off = 0, lblk;
	int ret;

	ret = sfs_trans_access(t, b0);
	if (!ret)
		ret = sfs_dir_bnew(t, dir, &nb, &lblk);
	if (ret)
		return ret;
	sfs_dir_begin(nb);
	sfs_dir_block_init(nb->data, fs->sbi, nb->blkno, dir->ino);
	while (sfs_dir_block_next(b0->data, fs->bsize, &off, &de) > 0) {
		if (!de.ino)
			continue;
		if (de.key == SFS_DIRKEY_DOTDOT)
			parent = de.ino;
		if (de.key < SFS_DIRKEY_MIN)
			continue;
		ret = sfs_dir_rec_add(nb->data, fs->bsize, de.ino, de.key, de.name, de.name_len,
				      de.file_type);
		if (ret)
			break;   /* cannot happen: same block size */
		names++;
	}
	if (!ret && !parent)
		ret = sfs_dir_corrupt(dir, b0->blkno, "first block has no \"..\"");
	if (ret) {
		/* The new block stays an empty entry block nothing points at. */
		sfs_dir_end(t, nb);
		sfs_buf_release(nb);
		return ret;
	}
	ret = sfs_dir_end(t, nb);
	sfs_buf_release(nb);
	if (ret)
		return ret;
	sfs_dir_begin(b0);
	sfs_dirindex_init(b0->data, fs->sbi, b0->blkno, dir->ino, 0, true, parent);
	sfs_dirindex_hdr_get(&h, b0->data);
	h.names = names;
	h.count = 1;
	sfs_dirindex_hdr_put(b0->data, &h);
	sfs_dirindex_set(b0->data, 0, 0, lblk);
	return sfs_dir_end(t, b0);
}
