/*
 * Changing the namespace of an unmounted image (see offline.h): the
 * library's own record rules (dir_leaf.c) applied to blocks read raw, so a
 * name fsck adds is exactly where the mounted filesystem would look for it.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "alloc/mc.h"
#include "fs/format/hdr.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/namespace/dir.h"
#include "fs/namespace/offline.h"

/* The entry block a key belongs in, and the root when the directory is
 * indexed (its names count changes with every name). */
struct raw_path {
	uint8_t *root, *leaf, *tmp;
	uint64_t root_pblk, leaf_pblk;
	bool indexed;
};

static void path_free(struct raw_path *p)
{
	mc_free(p->root);
	mc_free(p->leaf);
	mc_free(p->tmp);
}

static int find_leaf(struct sfs_raw_dir *d, uint64_t key, struct raw_path *p)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct sfs_dirindex_hdr h;
	const uint8_t *node;
	unsigned levels;
	int ret;

	memset(p, 0, sizeof(*p));
	p->root = sfs_io_alloc(g->block_size);
	p->leaf = sfs_io_alloc(g->block_size);
	p->tmp = sfs_io_alloc(g->block_size);
	if (!p->root || !p->leaf || !p->tmp)
		return -ENOMEM;
	ret = sfs_raw_dir_read(d, 0, p->root, &p->root_pblk);
	if (ret)
		return ret;
	if (sfs_hdr_magic(p->root) == SFS_MAGIC_DIRLEAF) {
		memcpy(p->leaf, p->root, g->block_size);
		p->leaf_pblk = p->root_pblk;
		return 0;
	}
	sfs_dirindex_hdr_get(&h, p->root);
	if (!(h.flags & SFS_DIRINDEX_ROOT) || h.level + 1u > SFS_DIR_MAX_LEVELS)
		return -EUCLEAN;
	p->indexed = true;
	levels = h.level + 1u;
	node = p->root;
	for (unsigned i = 0; i < levels; i++) {
		bool want_index = i + 1 < levels;
		uint32_t child;

		sfs_dirindex_hdr_get(&h, node);
		if (!h.count || h.level != levels - 1u - i)
			return -EUCLEAN;
		child = sfs_dirindex_lblk(node, sfs_dirindex_find(node, h.count, key));
		ret = sfs_raw_dir_read(d, child, p->leaf, &p->leaf_pblk);
		if (ret)
			return ret == -ENOENT ? -EUCLEAN : ret;
		if (sfs_hdr_magic(p->leaf) != (want_index ? SFS_MAGIC_DIRINDEX : SFS_MAGIC_DIRLEAF))
			return -EUCLEAN;
		if (want_index) {
			memcpy(p->tmp, p->leaf, g->block_size);
			node = p->tmp;
		}
	}
	return 0;
}

static int write_dir_block(struct sfs_raw_dir *d, void *blk, uint64_t pblk)
{
	const struct sfs_geo *g = &d->sbi->geo;
	int ret;

	ret = sfs_dirblock_buf_ops.prepare_write(blk, g->block_size, pblk, (void *)d->sbi);
	if (!ret)
		ret = sfs_io_write_blocks(d->bdev, blk, g->block_log, pblk, 1);
	return ret;
}

/* The root's names count moves by @delta (indexed directories only). */
static int count_names(struct sfs_raw_dir *d, struct raw_path *p, int delta)
{
	struct sfs_dirindex_hdr h;

	if (!p->indexed)
		return 0;
	sfs_dirindex_hdr_get(&h, p->root);
	h.names = (uint64_t)((int64_t)h.names + delta);
	sfs_dirindex_hdr_put(p->root, &h);
	return write_dir_block(d, p->root, p->root_pblk);
}

int sfs_raw_dir_add(struct sfs_raw_dir *d, const char *name, unsigned len, uint64_t ino,
		    unsigned ftype)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct raw_path p;
	struct sfs_dirent de;
	uint64_t h;
	int ret, seq;

	if (!sfs_dir_name_ok(name, len) || sfs_dir_is_dots(name, len))
		return -EINVAL;
	h = sfs_dir_hash56(d->sbi->csum_seed, name, len);
	/* Every name of one hash lives in one entry block: the one sequence
	 * 0 of the hash leads to. */
	ret = find_leaf(d, sfs_dirkey(h, 0), &p);
	if (ret)
		goto out;
	ret = sfs_dir_leaf_find(p.leaf, g->block_size, h, name, len, &de);
	if (ret) {
		ret = ret > 0 ? -EEXIST : -EUCLEAN;
		goto out;
	}
	seq = sfs_dir_leaf_seq(p.leaf, g->block_size, h);
	if (seq < 0) {
		ret = seq;
		goto out;
	}
	if (!sfs_dir_leaf_has_room(p.leaf, g->block_size, len)) {
		ret = -ENOSPC;
		goto out;
	}
	ret = sfs_dir_leaf_insert(p.leaf, g->block_size, ino, sfs_dirkey(h, (unsigned)seq), name,
				  len, ftype);
	if (!ret)
		ret = write_dir_block(d, p.leaf, p.leaf_pblk);
	if (!ret)
		ret = count_names(d, &p, 1);
out:
	path_free(&p);
	return ret;
}

int sfs_raw_dir_remove(struct sfs_raw_dir *d, const char *name, unsigned len)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct raw_path p;
	struct sfs_dirent de;
	uint64_t h;
	int ret;

	if (!sfs_dir_name_ok(name, len) || sfs_dir_is_dots(name, len))
		return -EINVAL;
	h = sfs_dir_hash56(d->sbi->csum_seed, name, len);
	ret = find_leaf(d, sfs_dirkey(h, 0), &p);
	if (ret)
		goto out;
	ret = sfs_dir_leaf_find(p.leaf, g->block_size, h, name, len, &de);
	if (ret <= 0) {
		ret = ret ? -EUCLEAN : -ENOENT;
		goto out;
	}
	sfs_dir_leaf_remove(p.leaf, g->block_size, de.offset);
	ret = write_dir_block(d, p.leaf, p.leaf_pblk);
	if (!ret)
		ret = count_names(d, &p, -1);
out:
	path_free(&p);
	return ret;
}

int sfs_raw_dir_set_parent(struct sfs_raw_dir *d, uint64_t parent)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint8_t *blk = sfs_io_alloc(g->block_size);
	uint64_t pblk;
	int ret;

	if (!blk)
		return -ENOMEM;
	ret = sfs_raw_dir_read(d, 0, blk, &pblk);
	if (ret)
		goto out;
	if (sfs_hdr_magic(blk) == SFS_MAGIC_DIRINDEX) {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, blk);
		h.parent = parent;
		sfs_dirindex_hdr_put(blk, &h);
	} else {
		struct sfs_disk_dirent *dd = (struct sfs_disk_dirent *)(blk + SFS_DIR_DOTDOT_OFF);

		dd->ino = sfs_cpu_to_le64(parent);
	}
	ret = write_dir_block(d, blk, pblk);
out:
	mc_free(blk);
	return ret;
}

/* The new directory's record, written over whatever dead record the slot
 * holds (its generation is carried on, as the library does on reuse). */
static int write_dir_inode(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
			   uint64_t pblk, uint16_t mode, uint32_t uid, uint32_t gid)
{
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_extent ext = { .len = 1, .pblk = pblk };
	struct sfs_extent_header eh;
	struct sfs_inode in;
	uint8_t *blk = sfs_io_alloc(g->block_size);
	uint32_t off;
	uint64_t iblk = sfs_geo_ino_block(g, ino, &off);
	int ret;

	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(bdev, blk, g->block_log, iblk, 1);
	if (ret)
		goto out;
	memset(&in, 0, sizeof(in));
	if (!sfs_inode_slot_unused(blk + off) && !sfs_inode_verify(blk + off, ino, sbi)) {
		struct sfs_inode old;

		sfs_inode_decode(&old, blk + off);
		if (old.mode) {
			ret = -EEXIST;
			goto out;
		}
		in.generation = old.generation + 1;
	}
	in.ino = ino;
	in.mode = S_IFDIR | (mode & 07777);
	in.core_size = SFS_INODE_CORE_SIZE;
	in.uid = uid;
	in.gid = gid;
	in.nlink = 2;
	in.size = g->block_size;
	in.blocks = 1;
	in.atime.sec = (int64_t)time(NULL);
	in.mtime = in.ctime = in.btime = in.atime;
	sfs_extent_root_init(in.root);
	sfs_extent_header_decode(&eh, in.root);
	eh.entries = 1;
	sfs_extent_header_encode(in.root, &eh);
	sfs_extent_put(in.root, 0, &ext);
	memset(blk + off, 0, g->inode_size);
	sfs_inode_encode(blk + off, &in, sbi);
	ret = sfs_io_write_blocks(bdev, blk, g->block_log, iblk, 1);
out:
	mc_free(blk);
	return ret;
}

int sfs_raw_mkdir(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		  uint64_t parent, uint64_t pblk, uint16_t mode, uint32_t uid, uint32_t gid)
{
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk;
	int ret;

	if (!sfs_geo_ino_valid(g, ino) || ino < SFS_FIRST_INO || !pblk || pblk >= g->block_count)
		return -EINVAL;
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	/* The block first: a record pointing at a block not yet written
	 * would be a damaged directory if the write of the block failed. */
	sfs_dir_block_init(blk, sbi, pblk, ino);
	ret = sfs_dir_block_add(blk, g->block_size, ino, ".", 1, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dir_block_add(blk, g->block_size, parent, "..", 2, SFS_FT_DIR);
	if (!ret)
		ret = sfs_dirleaf_buf_ops.prepare_write(blk, g->block_size, pblk, (void *)sbi);
	if (!ret)
		ret = sfs_io_write_blocks(bdev, blk, g->block_log, pblk, 1);
	mc_free(blk);
	if (!ret)
		ret = write_dir_inode(bdev, sbi, ino, pblk, mode, uid, gid);
	return ret;
}
