/*
 * Salvaging a damaged entry block (pass 2c), as e2fsck's pass 2 salvages
 * a directory block: the records that are each valid are kept, the rest
 * dropped, and the block is rewritten in place as a valid entry block.
 * The block stays in the directory at its logical place: an index names
 * it (or it is block 0), and every block of a directory must be reached,
 * so taking it out would break the layout rather than mend it.
 *
 * A record is kept when it stands on its own: a live inode number in
 * range, a name the format allows, a type in range, it fits in the block,
 * and its key is its name's (a 56-bit hash: a false match in garbage is
 * not a concern) and lies in the range the block's parent gives it.  The
 * record chain is followed while rec_len is sane, so names removed by
 * merging into the record before them are not brought back; where the
 * chain breaks the scan goes on at every 8-byte boundary.
 */
#include <errno.h>
#include <string.h>

#include "alloc/mc.h"
#include "fs/format/dir.h"
#include "fs/format/io.h"
#include "fs/format/verify.h"
#include "fs/namespace/offline.h"
#include "tools/fsck/pass_ns.h"

struct salvage {
	const struct sfs_sb_info *sbi;
	const uint8_t *old;
	uint8_t *blk;
	uint32_t bs;
	uint64_t lo, hi;
	bool linear;                 /* block 0 of a linear directory */
};

/* Whether the record at @off (read into *de) is valid on its own. */
static bool rec_ok(const struct salvage *s, uint32_t off, struct sfs_dirent *de)
{
	const struct sfs_disk_dirent *r = (const void *)(s->old + off);

	if (off + SFS_DIRENT_HDR_SIZE > s->bs)
		return false;
	de->ino = sfs_le64_to_cpu(r->ino);
	de->rec_len = sfs_le16_to_cpu(r->rec_len);
	de->name_len = r->name_len;
	de->file_type = r->file_type;
	de->key = sfs_le64_to_cpu(r->key);
	de->name = r->name;
	de->offset = off;
	if (!de->ino || !sfs_geo_ino_valid(&s->sbi->geo, de->ino) || !de->file_type ||
	    de->file_type > SFS_FT_MAX || off + sfs_dirent_size(de->name_len) > s->bs ||
	    !sfs_dir_name_ok(de->name, de->name_len) || sfs_dir_is_dots(de->name, de->name_len))
		return false;
	if (de->key < s->lo || de->key >= s->hi ||
	    sfs_dirkey_hash(de->key) != sfs_dir_hash56(s->sbi->csum_seed, de->name, de->name_len))
		return false;
	return true;
}

/* No key or name twice: the first copy wins. */
static bool already(const struct salvage *s, const struct sfs_dirent *de)
{
	struct sfs_dirent x;
	uint32_t off = 0;

	while (sfs_dir_block_next(s->blk, s->bs, &off, &x) > 0) {
		if (!x.ino)
			continue;
		if (x.key == de->key ||
		    (x.name_len == de->name_len && !memcmp(x.name, de->name, de->name_len)))
			return true;
	}
	return false;
}

static void take(struct salvage *s, const struct sfs_dirent *de)
{
	/* a record that does not fit (or is there already) is dropped */
	if (!already(s, de))
		sfs_dir_rec_add(s->blk, s->bs, de->ino, de->key, de->name, de->name_len, de->file_type);
}

static void scan(struct salvage *s, uint32_t off)
{
	bool chained = true;

	while (off + SFS_DIRENT_HDR_SIZE <= s->bs) {
		struct sfs_dirent de;
		bool ok = rec_ok(s, off, &de);
		uint32_t next = off + de.rec_len;

		if (ok)
			take(s, &de);
		/* Follow rec_len while it is sane (from a good record, or an
		 * unused one on the chain); else resync at the next boundary. */
		if ((ok || (chained && !de.ino)) && de.rec_len && !(de.rec_len % SFS_DIRENT_ALIGN) &&
		    next <= s->bs && (!de.ino || de.rec_len >= sfs_dirent_size(de.name_len))) {
			chained = true;
			off = next;
			continue;
		}
		chained = ok;
		off += ok ? sfs_dirent_size(de.name_len) : SFS_DIRENT_ALIGN;
	}
}

int fsck_dir_salvage(struct sfs_raw_dir *d, uint32_t lblk, bool linear, uint64_t lo, uint64_t hi)
{
	const struct sfs_geo *g = &d->sbi->geo;
	struct salvage s = { .sbi = d->sbi, .bs = g->block_size, .lo = lo, .hi = hi,
			     .linear = linear };
	uint64_t pblk = sfs_raw_map_lookup(&d->map, lblk);
	uint8_t *old;
	int ret;

	if (!pblk)
		return -ENOENT;
	old = sfs_io_alloc(g->block_size);
	s.blk = sfs_io_alloc(g->block_size);
	if (!old || !s.blk) {
		ret = -ENOMEM;
		goto out;
	}
	ret = sfs_io_read_blocks(d->bdev, old, g->block_log, pblk, 1);
	if (ret)
		goto out;
	s.old = old;
	sfs_dir_block_init(s.blk, d->sbi, pblk, d->ino);
	if (linear) {
		/* "." and ".." at their places; ".." kept when it names an
		 * inode at all: pass 2c points it at the parent later (D06). */
		const struct sfs_disk_dirent *dd = (const void *)(old + SFS_DIR_DOTDOT_OFF);
		uint64_t parent = sfs_le64_to_cpu(dd->ino);

		if (!sfs_geo_ino_valid(g, parent))
			parent = SFS_ROOT_INO;
		ret = sfs_dir_rec_add(s.blk, s.bs, d->ino, SFS_DIRKEY_DOT, ".", 1, SFS_FT_DIR);
		if (!ret)
			ret = sfs_dir_rec_add(s.blk, s.bs, parent, SFS_DIRKEY_DOTDOT, "..", 2, SFS_FT_DIR);
		if (ret)
			goto out;
	}
	scan(&s, SFS_HDR_SIZE);
	ret = sfs_dirblock_buf_ops.prepare_write(s.blk, s.bs, pblk, (void *)d->sbi);
	if (!ret)
		ret = sfs_io_write_blocks(d->bdev, s.blk, g->block_log, pblk, 1);
out:
	mc_free(old);
	mc_free(s.blk);
	return ret;
}
