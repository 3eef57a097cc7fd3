/*
 * Going through a directory in key order (readdir), and the library's
 * structure check over the buffer cache.
 *
 * Iteration resumes from a key, never from a block or an offset: a name
 * keeps its key for as long as it exists, so between two calls the blocks
 * may split and records move without a name that stayed being returned
 * twice or skipped (ext4's htree readdir, with the collision sequence in
 * the key instead of its continuation rules).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/namespace/dir_walk.h"

/* The live records of @blk with key >= @pos, in key order, to @fn. */
static int emit_block(struct sfs_inode_info *dir, const void *blk, uint64_t pos,
		      struct sfs_dir_sorted *v, unsigned max, sfs_dir_iter_fn fn, void *arg)
{
	uint32_t bs = dir->fs->bsize;
	unsigned n = sfs_dir_leaf_sorted(blk, bs, v, max);

	for (unsigned i = 0; i < n; i++) {
		struct sfs_dir_entry e;
		struct sfs_dirent de;
		uint32_t off = v[i].offset;
		int ret;

		if (v[i].key < pos)
			continue;
		sfs_dir_block_next(blk, bs, &off, &de);
		e = (struct sfs_dir_entry){ .ino = de.ino, .ftype = de.file_type, .key = de.key };
		ret = fn(arg, &e, de.name, de.name_len);
		if (ret)
			return ret;
	}
	return 0;
}

int sfs_dir_iterate(struct sfs_inode_info *dir, uint64_t pos, sfs_dir_iter_fn fn, void *arg)
{
	unsigned max = dir->fs->bsize / 24 + 1;
	struct sfs_dir_sorted *v;
	struct sfs_dir_path p;
	uint64_t key;
	int ret;

	v = mc_alloc_named("dir.iterate", max * sizeof(*v), MC_KERNEL);
	if (!v)
		return -ENOMEM;
	key = pos > SFS_DIRKEY_MIN ? pos : SFS_DIRKEY_MIN;
	ret = sfs_dir_descend(dir, key, &p);
	if (ret)
		goto out;
	if (!p.depth) {
		/* Linear: one block, "." and ".." in it. */
		ret = emit_block(dir, p.leaf->data, pos, v, max, fn, arg);
		goto out_path;
	}
	if (pos <= SFS_DIRKEY_DOTDOT) {
		struct sfs_dirindex_hdr h;
		struct sfs_dir_entry dot = { .ino = dir->ino, .ftype = SFS_FT_DIR,
					     .key = SFS_DIRKEY_DOT };
		struct sfs_dir_entry dotdot = { .ftype = SFS_FT_DIR, .key = SFS_DIRKEY_DOTDOT };

		sfs_dirindex_hdr_get(&h, p.lv[0].bh->data);
		dotdot.ino = h.parent;
		if (pos <= SFS_DIRKEY_DOT)
			ret = fn(arg, &dot, ".", 1);
		if (!ret)
			ret = fn(arg, &dotdot, "..", 2);
		if (ret)
			goto out_path;
	}
	for (;;) {
		uint64_t next = SFS_DIRKEY_END;

		ret = emit_block(dir, p.leaf->data, key, v, max, fn, arg);
		if (ret)
			break;
		/* The leaf's range ends where the deepest node on the path has
		 * a next entry; past the root's last entry there is nothing. */
		for (unsigned i = p.depth; i-- > 0;) {
			const void *node = p.lv[i].bh->data;

			if (p.lv[i].pos + 1 < sfs_dirindex_hdr_count(node)) {
				next = sfs_dirindex_key(node, p.lv[i].pos + 1);
				break;
			}
		}
		sfs_dir_path_release(&p);
		if (next == SFS_DIRKEY_END)
			goto out;
		key = next;
		ret = sfs_dir_descend(dir, key, &p);
		if (ret)
			goto out;
	}
out_path:
	sfs_dir_path_release(&p);
out:
	mc_free(v);
	return ret;
}

static int check_get(void *ctx, uint32_t lblk, const void **data, void **cookie)
{
	struct sfs_buf *bh;
	int ret = sfs_dir_bread(ctx, lblk, false, &bh);

	if (ret)
		return ret;
	*data = bh->data;
	*cookie = bh;
	return 0;
}

static void check_put(void *ctx, void *cookie)
{
	(void)ctx;
	sfs_buf_release(cookie);
}

int sfs_dir_check(struct sfs_inode_info *dir, uint64_t *names, char *why, size_t whylen)
{
	static const struct sfs_dir_walk_ops ops = { .get = check_get, .put = check_put };
	struct sfs_dir_walk w = { .sbi = dir->fs->sbi, .ino = dir->ino, .ops = &ops, .ctx = dir };
	int ret;

	mc_mutex_lock(&dir->attr_lock);
	w.nblocks = (uint32_t)(dir->d.size >> dir->fs->blog);
	mc_mutex_unlock(&dir->attr_lock);
	ret = sfs_dir_walk(&w);
	if (!ret && w.names != w.names_recorded) {
		snprintf(w.why, sizeof(w.why), "root counts %llu names, the blocks hold %llu",
			 (unsigned long long)w.names_recorded, (unsigned long long)w.names);
		ret = -EUCLEAN;
	}
	if (ret && why && whylen)
		snprintf(why, whylen, "directory %llu: %s", (unsigned long long)dir->ino, w.why);
	if (!ret && names)
		*names = w.names;
	return ret;
}
