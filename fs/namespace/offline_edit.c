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
	uint8_t *up;                 /* the index node above the leaf: root or tmp */
	uint64_t up_pblk;
	unsigned up_pos;             /* its entry leading to the leaf */
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
		p->up = (uint8_t *)node;
		p->up_pblk = p->leaf_pblk ? p->leaf_pblk : p->root_pblk;
		p->up_pos = sfs_dirindex_find(node, h.count, key);
		child = sfs_dirindex_lblk(node, p->up_pos);
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

/*
 * Map @pblk as the directory's next block: the inode's in-record extent
 * root grows its last extent or takes a new one (a directory whose tree
 * has left the inode is not grown here: -ENOSPC), and the size and block
 * count follow.  The caller wrote the block first.
 */
static int map_block(struct sfs_raw_dir *d, uint64_t pblk)
{
	const struct sfs_sb_info *sbi = d->sbi;
	const struct sfs_geo *g = &sbi->geo;
	struct sfs_extent_header eh;
	struct sfs_extent last = { 0 }, ext = { .len = 1, .pblk = pblk };
	struct sfs_inode in;
	uint8_t *blk = sfs_io_alloc(g->block_size);
	uint32_t off;
	uint64_t iblk = sfs_geo_ino_block(g, d->ino, &off);
	int ret;

	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(d->bdev, blk, g->block_log, iblk, 1);
	if (ret)
		goto out;
	ret = sfs_inode_verify(blk + off, d->ino, sbi);
	if (ret)
		goto out;
	sfs_inode_decode(&in, blk + off);
	sfs_extent_header_decode(&eh, in.root);
	ext.lblk = (uint32_t)(in.size >> g->block_log);
	if (eh.entries)
		sfs_extent_get(&last, in.root, eh.entries - 1u);
	if ((in.flags & SFS_INODE_FL_INLINE) || eh.depth) {
		ret = -ENOSPC;
	} else if (eh.entries && !(last.flags & SFS_EXTENT_FL_UNWRITTEN) &&
		   last.lblk + last.len == ext.lblk && last.pblk + last.len == pblk &&
		   last.len < SFS_MAX_EXTENT_LEN) {
		last.len++;
		sfs_extent_put(in.root, eh.entries - 1u, &last);
	} else if (eh.entries < eh.max) {
		sfs_extent_put(in.root, eh.entries, &ext);
		eh.entries++;
		sfs_extent_header_encode(in.root, &eh);
	} else {
		ret = -ENOSPC;
	}
	if (ret)
		goto out;
	in.size += g->block_size;
	in.blocks++;
	sfs_inode_encode(blk + off, &in, sbi);
	ret = sfs_io_write_blocks(d->bdev, blk, g->block_log, iblk, 1);
	if (ret)
		goto out;
	/* The directory as the next step reads it. */
	d->in = in;
	sfs_raw_map_free(&d->map);
	ret = sfs_raw_extents(d->bdev, sbi, &d->in, &d->map);
out:
	mc_free(blk);
	return ret;
}

/* A new entry block, filled by @fill, written and mapped: its logical
 * number, or -errno with the block given back. */
static int new_block(struct sfs_raw_dir *d, const struct sfs_raw_alloc *a,
		     void (*fill)(void *blk, void *nb, size_t len), void *src, uint32_t *lblk)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint64_t goal = d->map.n ? d->map.v[d->map.n - 1].pblk + d->map.v[d->map.n - 1].len : 0;
	uint64_t pblk;
	uint8_t *nb;
	int ret;

	if (d->in.size >> g->block_log >= UINT32_MAX)
		return -EFBIG;
	nb = sfs_io_alloc(g->block_size);
	if (!nb)
		return -ENOMEM;
	ret = a->take(a->ctx, goal, &pblk);
	if (ret)
		goto out;
	*lblk = (uint32_t)(d->in.size >> g->block_log);
	sfs_dir_block_init(nb, d->sbi, pblk, d->ino);
	fill(src, nb, g->block_size);
	ret = write_dir_block(d, nb, pblk);
	if (!ret)
		ret = map_block(d, pblk);
	if (ret)
		a->give(a->ctx, pblk);
out:
	mc_free(nb);
	return ret;
}

/* A linear directory's names, "." and ".." left behind (conversion). */
static void fill_names(void *src, void *nb, size_t len)
{
	struct sfs_dirent de;
	uint32_t off = 0;

	while (sfs_dir_block_next(src, len, &off, &de) > 0)
		if (de.ino && de.key >= SFS_DIRKEY_MIN)
			sfs_dir_rec_add(nb, len, de.ino, de.key, de.name, de.name_len,
					de.file_type);
}

struct split_src {
	uint8_t *leaf;
	uint64_t key;
};

static void fill_split(void *src, void *nb, size_t len)
{
	struct split_src *s = src;

	sfs_dir_leaf_split_at(s->leaf, nb, len, s->key);
}

/* A full linear directory becomes indexed, as the library's
 * sfs_dir_convert does it: the names move to a new entry block, block 0
 * becomes the root naming the parent. */
static int convert(struct sfs_raw_dir *d, struct raw_path *p, const struct sfs_raw_alloc *a)
{
	struct sfs_dirindex_hdr h;
	struct sfs_dirent de;
	uint64_t parent = 0, names = 0;
	uint32_t off = 0, lblk;
	int ret;

	while (sfs_dir_block_next(p->leaf, d->sbi->geo.block_size, &off, &de) > 0) {
		if (de.ino && de.key == SFS_DIRKEY_DOTDOT)
			parent = de.ino;
		else if (de.ino && de.key >= SFS_DIRKEY_MIN)
			names++;
	}
	if (!parent)
		return -EUCLEAN;
	ret = new_block(d, a, fill_names, p->leaf, &lblk);
	if (ret)
		return ret;
	sfs_dirindex_init(p->root, d->sbi, p->root_pblk, d->ino, 0, true, parent);
	sfs_dirindex_hdr_get(&h, p->root);
	h.names = names;
	h.count = 1;
	sfs_dirindex_hdr_put(p->root, &h);
	sfs_dirindex_set(p->root, 0, 0, lblk);
	return write_dir_block(d, p->root, p->root_pblk);
}

/* A full entry block splits at a hash boundary into a new block, whose
 * first key goes into the index node above it (when that has room: a
 * full node is not split here, -ENOSPC). */
static int split(struct sfs_raw_dir *d, struct raw_path *p, const struct sfs_raw_alloc *a)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct split_src s = { .leaf = p->leaf };
	struct sfs_dirindex_hdr h;
	uint32_t lblk;
	int ret;

	sfs_dirindex_hdr_get(&h, p->up);
	if (h.count >= sfs_dir_index_cap(g->block_size) || h.count >= h.limit)
		return -ENOSPC;
	ret = sfs_dir_leaf_split_key(p->leaf, g->block_size, &s.key);
	if (ret)
		return ret;
	ret = new_block(d, a, fill_split, &s, &lblk);
	if (ret)
		return ret;
	ret = write_dir_block(d, p->leaf, p->leaf_pblk);
	if (ret)
		return ret;
	for (unsigned i = h.count; i > p->up_pos + 1; i--)
		sfs_dirindex_set(p->up, i, sfs_dirindex_key(p->up, i - 1), sfs_dirindex_lblk(p->up, i - 1));
	sfs_dirindex_set(p->up, p->up_pos + 1, s.key, lblk);
	h.count++;
	sfs_dirindex_hdr_put(p->up, &h);
	return write_dir_block(d, p->up, p->up_pblk);
}

/* Steps one insertion may take growing the directory. */
#define MAX_GROW_STEPS 8

int sfs_raw_dir_add(struct sfs_raw_dir *d, const char *name, unsigned len, uint64_t ino,
		    unsigned ftype, const struct sfs_raw_alloc *grow)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct raw_path p;
	struct sfs_dirent de;
	uint64_t h;
	int ret, seq;

	if (!sfs_dir_name_ok(name, len) || sfs_dir_is_dots(name, len))
		return -EINVAL;
	h = sfs_dir_hash56(d->sbi->csum_seed, name, len);
	for (unsigned step = 0;; step++) {
		/* Every name of one hash lives in one entry block: the one
		 * sequence 0 of the hash leads to. */
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
		if (sfs_dir_leaf_has_room(p.leaf, g->block_size, len))
			break;
		if (!grow || step >= MAX_GROW_STEPS) {
			ret = -ENOSPC;
			goto out;
		}
		ret = p.indexed ? split(d, &p, grow) : convert(d, &p, grow);
		path_free(&p);
		if (ret)
			return ret;
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
	sfs_raw_dir_record(&in, g, pblk);
	memset(blk + off, 0, g->inode_size);
	sfs_inode_encode(blk + off, &in, sbi);
	ret = sfs_io_write_blocks(bdev, blk, g->block_log, iblk, 1);
out:
	mc_free(blk);
	return ret;
}

void sfs_raw_dir_record(struct sfs_inode *in, const struct sfs_geo *g, uint64_t pblk)
{
	struct sfs_extent ext = { .len = 1, .pblk = pblk };
	struct sfs_extent_header eh;

	in->nlink = 2;
	in->size = g->block_size;
	in->blocks = 1;
	in->atime.sec = (int64_t)time(NULL);
	in->mtime = in->ctime = in->btime = in->atime;
	sfs_extent_root_init(in->root);
	sfs_extent_header_decode(&eh, in->root);
	eh.entries = 1;
	sfs_extent_header_encode(in->root, &eh);
	sfs_extent_put(in->root, 0, &ext);
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
