/* The namespace of an unmounted image (see offline.h). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/format/hdr.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/namespace/offline.h"

int sfs_raw_inode(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		  struct sfs_inode *in, void *raw)
{
	const struct sfs_geo *g = &sbi->geo;
	uint8_t *blk;
	uint32_t off;
	uint64_t b;
	int ret;

	if (!sfs_geo_ino_valid(g, ino))
		return -ENOENT;
	b = sfs_geo_ino_block(g, ino, &off);
	blk = sfs_io_alloc(g->block_size);
	if (!blk)
		return -ENOMEM;
	ret = sfs_io_read_blocks(bdev, blk, g->block_log, b, 1);
	if (ret)
		goto out;
	if (sfs_inode_slot_unused(blk + off)) {
		ret = -ENOENT;
		goto out;
	}
	ret = sfs_inode_verify(blk + off, ino, sbi);
	if (ret)
		goto out;
	sfs_inode_decode(in, blk + off);
	if (raw)
		memcpy(raw, blk + off, g->inode_size);
	if (!in->mode)
		ret = -ENOENT;
out:
	mc_free(blk);
	return ret;
}

static int map_add(struct sfs_raw_map *m, const struct sfs_extent *e)
{
	if (m->n == m->cap) {
		unsigned cap = m->cap ? m->cap * 2 : 16;
		struct sfs_extent *nv = mc_alloc(cap * sizeof(*nv), MC_KERNEL);

		if (!nv)
			return -ENOMEM;
		if (m->v)
			memcpy(nv, m->v, m->n * sizeof(*nv));
		mc_free(m->v);
		m->v = nv;
		m->cap = cap;
	}
	m->v[m->n++] = *e;
	return 0;
}

struct ext_walk {
	struct sfs_bdev *bdev;
	const struct sfs_sb_info *sbi;
	uint64_t ino;
	uint64_t visits;
	struct sfs_raw_map *m;
};

static int walk_node(struct ext_walk *w, const void *node, int depth)
{
	const struct sfs_geo *g = &w->sbi->geo;
	struct sfs_extent_header h;
	int ret = 0;

	sfs_extent_header_decode(&h, node);
	if (h.magic != SFS_EXTENT_HDR_MAGIC || (depth >= 0 && h.depth != depth) ||
	    h.depth > SFS_EXTENT_MAX_DEPTH)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: extent node out of shape",
				       (unsigned long long)w->ino);
	if (++w->visits > g->block_count)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: extent tree loops",
				       (unsigned long long)w->ino);
	for (unsigned i = 0; i < h.entries && !ret; i++) {
		if (!h.depth) {
			struct sfs_extent e;

			sfs_extent_get(&e, node, i);
			ret = map_add(w->m, &e);
		} else {
			struct sfs_extent_idx x;
			uint8_t *child = sfs_io_alloc(g->block_size);

			if (!child)
				return -ENOMEM;
			sfs_extent_idx_get(&x, node, i);
			ret = x.child < g->block_count
				? sfs_io_read_blocks(w->bdev, child, g->block_log, x.child, 1) : -EIO;
			if (!ret)
				ret = sfs_extent_block_verify(child, g->block_size, x.child, w->sbi);
			if (!ret && sfs_get_le(child + offsetof(struct sfs_disk_hdr, owner), 8) != w->ino)
				ret = sfs_verify_fail(-EFSCORRUPTED, "extent block %llu belongs elsewhere",
						      (unsigned long long)x.child);
			if (!ret)
				ret = walk_node(w, child + SFS_HDR_SIZE, h.depth - 1);
			mc_free(child);
		}
	}
	return ret;
}

int sfs_raw_extents(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi,
		    const struct sfs_inode *in, struct sfs_raw_map *m)
{
	struct ext_walk w = { .bdev = bdev, .sbi = sbi, .ino = in->ino, .m = m };
	int ret;

	memset(m, 0, sizeof(*m));
	if (in->flags & SFS_INODE_FL_INLINE)
		return 0;
	ret = walk_node(&w, in->root, -1);
	if (ret)
		sfs_raw_map_free(m);
	return ret;
}

uint64_t sfs_raw_map_lookup(const struct sfs_raw_map *m, uint32_t lblk)
{
	unsigned lo = 0, hi = m->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct sfs_extent *e = &m->v[mid];

		if (lblk < e->lblk)
			hi = mid;
		else if ((uint64_t)lblk >= (uint64_t)e->lblk + e->len)
			lo = mid + 1;
		else
			return (e->flags & SFS_EXTENT_FL_UNWRITTEN) ? 0 : e->pblk + (lblk - e->lblk);
	}
	return 0;
}

void sfs_raw_map_free(struct sfs_raw_map *m)
{
	mc_free(m->v);
	memset(m, 0, sizeof(*m));
}

int sfs_raw_dir_open(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, uint64_t ino,
		     struct sfs_raw_dir *d)
{
	int ret;

	memset(d, 0, sizeof(*d));
	d->bdev = bdev;
	d->sbi = sbi;
	d->ino = ino;
	ret = sfs_raw_inode(bdev, sbi, ino, &d->in, NULL);
	if (!ret && !S_ISDIR(d->in.mode))
		ret = -ENOTDIR;
	if (!ret)
		ret = sfs_raw_extents(bdev, sbi, &d->in, &d->map);
	return ret;
}

void sfs_raw_dir_close(struct sfs_raw_dir *d)
{
	for (unsigned i = 0; i < SFS_DIR_MAX_LEVELS + 2; i++)
		mc_free(d->blk[i]);
	sfs_raw_map_free(&d->map);
	memset(d, 0, sizeof(*d));
}

static int read_dir_block(struct sfs_raw_dir *d, uint32_t lblk, uint8_t *buf, uint64_t *pblk)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint64_t p = sfs_raw_map_lookup(&d->map, lblk);
	int ret;

	if (!p || p >= g->block_count)
		return -ENOENT;
	ret = sfs_io_read_blocks(d->bdev, buf, g->block_log, p, 1);
	if (ret)
		return ret;
	if (pblk)
		*pblk = p;
	return 0;
}

int sfs_raw_dir_read(struct sfs_raw_dir *d, uint32_t lblk, void *buf, uint64_t *pblk)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint64_t p = 0;
	int ret;

	ret = read_dir_block(d, lblk, buf, &p);
	if (ret)
		return ret;
	ret = sfs_dirblock_buf_ops.verify_read(buf, g->block_size, p, (void *)d->sbi);
	if (!ret && sfs_get_le((uint8_t *)buf + offsetof(struct sfs_disk_hdr, owner), 8) != d->ino)
		ret = sfs_verify_fail(-EFSCORRUPTED, "block %llu belongs to inode %llu",
				      (unsigned long long)p,
				      (unsigned long long)sfs_get_le((uint8_t *)buf + 24, 8));
	if (ret)
		return ret == -EIO ? ret : -EUCLEAN;
	if (pblk)
		*pblk = p;
	return 0;
}

static int walk_get(void *ctx, uint32_t lblk, const void **data, void **cookie)
{
	struct sfs_raw_dir *d = ctx;
	const struct sfs_geo *g = &d->sbi->geo;
	uint8_t *buf;
	int ret;

	if (d->depth >= SFS_DIR_MAX_LEVELS + 2)
		return sfs_verify_fail(-EFSCORRUPTED, "directory deeper than the format allows");
	if (!d->blk[d->depth]) {
		d->blk[d->depth] = sfs_io_alloc(g->block_size);
		if (!d->blk[d->depth])
			return -ENOMEM;
	}
	buf = d->blk[d->depth];
	ret = sfs_raw_dir_read(d, lblk, buf, NULL);
	if (ret)
		return ret;
	*data = buf;
	*cookie = (void *)(uintptr_t)d->depth++;
	return 0;
}

static void walk_put(void *ctx, void *cookie)
{
	struct sfs_raw_dir *d = ctx;

	(void)cookie;
	d->depth--;
}

/* The walk's calls for blocks go to the directory, its calls for names
 * to the caller. */
struct relay {
	struct sfs_raw_dir *d;
	int (*name)(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		    uint32_t lblk);
	void *ctx;
};

static int relay_get(void *ctx, uint32_t lblk, const void **data, void **cookie)
{
	return walk_get(((struct relay *)ctx)->d, lblk, data, cookie);
}

static void relay_put(void *ctx, void *cookie)
{
	walk_put(((struct relay *)ctx)->d, cookie);
}

static int relay_name(void *ctx, const struct sfs_dir_entry *e, const char *name, unsigned len,
		      uint32_t lblk)
{
	struct relay *r = ctx;

	return r->name(r->ctx, e, name, len, lblk);
}

int sfs_raw_dir_walk(struct sfs_raw_dir *d,
		     int (*name)(void *ctx, const struct sfs_dir_entry *e, const char *name,
				 unsigned len, uint32_t lblk),
		     void *ctx, struct sfs_dir_walk *w)
{
	struct relay r = { .d = d, .name = name, .ctx = ctx };
	struct sfs_dir_walk_ops ops = { .get = relay_get, .put = relay_put,
					.name = name ? relay_name : NULL };

	memset(w, 0, sizeof(*w));
	w->sbi = d->sbi;
	w->ino = d->ino;
	w->nblocks = (uint32_t)(d->in.size >> d->sbi->geo.block_log);
	w->ops = &ops;
	w->ctx = &r;
	d->depth = 0;
	return sfs_dir_walk(w);
}

int sfs_raw_dir_find(struct sfs_raw_dir *d, const char *name, unsigned len,
		     struct sfs_raw_dirent *out)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint32_t nblocks = (uint32_t)(d->in.size >> g->block_log);
	uint8_t *buf = sfs_io_alloc(g->block_size);
	int ret = -ENOENT;

	if (!buf)
		return -ENOMEM;
	/* Every entry block, parsed as far as it parses: this works on the
	 * damaged directories a tool is asked to look at. */
	for (uint32_t l = 0; l < nblocks && ret == -ENOENT; l++) {
		struct sfs_dirent de;
		uint64_t pblk;
		uint32_t off = 0;

		if (read_dir_block(d, l, buf, &pblk) || sfs_hdr_magic(buf) != SFS_MAGIC_DIRLEAF)
			continue;
		while (sfs_dir_block_next(buf, g->block_size, &off, &de) > 0) {
			if (!de.ino || de.name_len != len || memcmp(de.name, name, len))
				continue;
			out->e = (struct sfs_dir_entry){ .ino = de.ino, .ftype = de.file_type,
							 .key = de.key };
			out->lblk = l;
			out->pblk = pblk;
			out->offset = de.offset;
			ret = 0;
			break;
		}
	}
	mc_free(buf);
	return ret;
}

static int parent_of(struct sfs_raw_dir *d, uint64_t *parent)
{
	const struct sfs_geo *g = &d->sbi->geo;
	uint8_t *buf = sfs_io_alloc(g->block_size);
	struct sfs_raw_dirent r;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = read_dir_block(d, 0, buf, NULL);
	if (!ret && sfs_hdr_magic(buf) == SFS_MAGIC_DIRINDEX) {
		struct sfs_dirindex_hdr h;

		sfs_dirindex_hdr_get(&h, buf);
		*parent = h.parent;
	} else if (!ret) {
		ret = sfs_raw_dir_find(d, "..", 2, &r);
		if (!ret)
			*parent = r.e.ino;
	}
	mc_free(buf);
	return ret;
}

int sfs_raw_resolve(struct sfs_bdev *bdev, const struct sfs_sb_info *sbi, const char *path,
		    uint64_t *ino)
{
	uint64_t cur = SFS_ROOT_INO;
	const char *p = path;
	int ret = 0;

	if (*p != '/')
		return -EINVAL;
	while (*p && !ret) {
		struct sfs_raw_dir d;
		struct sfs_raw_dirent r;
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (!len)
			break;
		if (len > SFS_NAME_MAX)
			return -ENAMETOOLONG;
		ret = sfs_raw_dir_open(bdev, sbi, cur, &d);
		if (!ret) {
			if (len == 1 && p[0] == '.')
				;
			else if (len == 2 && p[0] == '.' && p[1] == '.')
				ret = parent_of(&d, &cur);
			else if (!(ret = sfs_raw_dir_find(&d, p, (unsigned)len, &r)))
				cur = r.e.ino;
			sfs_raw_dir_close(&d);
		}
		p += len;
	}
	if (!ret)
		*ino = cur;
	return ret;
}
