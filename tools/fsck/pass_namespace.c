/*
 * The namespace passes' shared table and their order (see pass_ns.h).
 */
#include <errno.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/bitmap.h"
#include "fs/format/io.h"
#include "tools/fsck/pass_ns.h"

#define ITABLE_CHUNK (1u << 20)

struct ns_inode *ns_get(struct ns *ns, uint64_t ino)
{
	const struct sfs_geo *g = &ns->f->sbi.geo;
	uint32_t grp;
	struct ns_inode *e;

	if (!sfs_geo_ino_valid(g, ino))
		return NULL;
	grp = sfs_geo_ino_group(g, ino);
	if (!ns->grp[grp])
		return NULL;
	e = &ns->grp[grp][sfs_geo_ino_index(g, ino)];
	return e->live ? e : NULL;
}

int ns_edit_inode(struct ns *ns, uint64_t ino,
		  void (*edit)(struct sfs_inode *in, uint8_t *raw, void *arg), void *arg)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	struct sfs_inode in;
	uint32_t off;
	uint64_t blk = sfs_geo_ino_block(g, ino, &off);
	uint8_t *buf = sfs_io_alloc(g->block_size);
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = sfs_io_read_blocks(f->bdev, buf, g->block_log, blk, 1);
	if (!ret) {
		sfs_inode_decode(&in, buf + off);
		edit(&in, buf + off, arg);
		sfs_inode_encode(buf + off, &in, &f->sbi);
		ret = fsck_write_block(f, buf, blk);
	}
	mc_free(buf);
	return ret;
}

static void record(struct ns_inode *e, const struct sfs_inode *in)
{
	memset(e, 0, sizeof(*e));
	e->live = 1;
	e->mode = in->mode;
	e->nlink = in->nlink;
	e->size = in->size;
	e->flags = in->flags;
	e->generation = in->generation;
	e->inline_xattr_len = in->inline_xattr_len;
	e->xattr_block = in->xattr_block;
	e->orphan_next = in->orphan_next;
}

/* Every inode pass 2 left live, read from the tables in large chunks. */
static int load(struct ns *ns)
{
	struct fsck *f = ns->f;
	struct sfs_sb_info *sbi = &f->sbi;
	const struct sfs_geo *g = &sbi->geo;
	uint32_t chunk = ITABLE_CHUNK >> g->block_log;
	uint8_t *buf;
	int ret = 0;

	if (!chunk)
		chunk = 1;
	ns->grp = mc_calloc(g->group_count, sizeof(*ns->grp), MC_KERNEL);
	buf = sfs_io_alloc((size_t)chunk << g->block_log);
	if (!ns->grp || !buf) {
		ret = fsck_fatal(f, "out of memory for the namespace passes");
		goto out;
	}
	for (uint32_t grp = 0; grp < g->group_count && !ret; grp++) {
		uint32_t nblocks;

		if (!f->used_inodes || !f->used_inodes[grp])
			continue;
		ns->grp[grp] = mc_calloc(g->inodes_per_group, sizeof(struct ns_inode), MC_KERNEL);
		if (!ns->grp[grp]) {
			ret = fsck_fatal(f, "out of memory for the namespace passes");
			break;
		}
		nblocks = (f->hwm[grp] + g->inodes_per_block - 1) / g->inodes_per_block;
		for (uint32_t b = 0; b < nblocks && !ret; b += chunk) {
			uint32_t n = nblocks - b < chunk ? nblocks - b : chunk;

			ret = sfs_io_read_blocks(f->bdev, buf, g->block_log,
						 sfs_geo_inode_table(g, grp) + b, n);
			if (ret) {
				ret = fsck_fatal(f, "cannot read the inode table of group %u", grp);
				break;
			}
			for (uint32_t k = 0; k < n * g->inodes_per_block; k++) {
				uint32_t idx = b * g->inodes_per_block + k;
				uint64_t ino = (uint64_t)grp * g->inodes_per_group + idx + 1;
				const uint8_t *raw = buf + (size_t)k * g->inode_size;
				struct sfs_inode in;

				if (idx >= f->hwm[grp] || !sfs_bit_test(f->used_inodes[grp], idx))
					continue;
				if (sfs_inode_slot_unused(raw) || sfs_inode_verify(raw, ino, sbi))
					continue;   /* pass 2's business */
				sfs_inode_decode(&in, raw);
				if (in.mode)
					record(&ns->grp[grp][idx], &in);
			}
		}
	}
out:
	mc_free(buf);
	return ret;
}

/* The I06 repair pass 2 agreed to, now that the orphan slots' blocks are
 * claimed too; the root then joins what the directory pass walks. */
static int make_root(struct ns *ns)
{
	struct fsck *f = ns->f;
	const struct sfs_geo *g = &f->sbi.geo;
	uint32_t grp = sfs_geo_ino_group(g, SFS_ROOT_INO);
	uint32_t off;
	uint8_t *buf;
	struct sfs_inode in;
	int ret;

	ret = fsck_recreate_root(f);
	if (ret) {
		fix_failed(f, PR_ROOT_BAD, ret);
		return 0;
	}
	if (!ns->grp[grp])
		ns->grp[grp] = mc_calloc(g->inodes_per_group, sizeof(struct ns_inode), MC_KERNEL);
	buf = sfs_io_alloc(g->block_size);
	if (!ns->grp[grp] || !buf) {
		mc_free(buf);
		return fsck_fatal(f, "out of memory for the namespace passes");
	}
	ret = sfs_io_read_blocks(f->bdev, buf, g->block_log, sfs_geo_ino_block(g, SFS_ROOT_INO, &off), 1);
	if (!ret) {
		sfs_inode_decode(&in, buf + off);
		record(&ns->grp[grp][sfs_geo_ino_index(g, SFS_ROOT_INO)], &in);
	} else {
		ret = fsck_fatal(f, "cannot read the new root inode");
	}
	mc_free(buf);
	return ret;
}

int fsck_pass_namespace(struct fsck *f)
{
	const struct sfs_geo *g = &f->sbi.geo;
	struct ns ns = { .f = f };
	int ret;

	if (f->mode != FSCK_PREEN)
		printf("Pass 2b: the orphan file, directories, link counts, xattrs\n");
	ret = load(&ns);
	if (!ret)
		ret = fsck_pass_orphans(&ns);
	if (!ret && f->root_pending)
		ret = make_root(&ns);
	if (!ret && !f->preen_abort && !fsck_cancelled)
		ret = fsck_pass_dirs(&ns);
	if (!ret && !f->preen_abort && !fsck_cancelled)
		ret = fsck_pass_xattr(&ns);
	for (uint32_t i = 0; ns.grp && i < g->group_count; i++)
		mc_free(ns.grp[i]);
	mc_free(ns.grp);
	return ret;
}
