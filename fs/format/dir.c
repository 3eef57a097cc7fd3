/* Directory entry and index blocks (see dir.h). */
#include <errno.h>
#include <string.h>
#include <xxhash.h>

#include "fs/format/checksum.h"
#include "fs/format/dir.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

/* Largest rec_len: the field is 16 bits and a multiple of 8. */
#define REC_MAX 0x8000u

uint64_t sfs_dir_hash56(uint64_t seed, const char *name, unsigned len)
{
	uint64_t h = XXH3_64bits_withSeed(name, len, seed) >> 8;

	/* 0 would make the key of a name collide with "." and "..". */
	return h ? h : 1;
}

bool sfs_dir_name_ok(const char *name, unsigned len)
{
	if (!len || len > SFS_NAME_MAX)
		return false;
	return !memchr(name, '/', len) && !memchr(name, 0, len);
}

void sfs_dir_rec_put(void *p, uint64_t ino, uint16_t rec_len, uint64_t key, const char *name,
		     unsigned name_len, unsigned ftype)
{
	struct sfs_disk_dirent *d = p;

	d->ino = sfs_cpu_to_le64(ino);
	d->rec_len = sfs_cpu_to_le16(rec_len);
	d->name_len = (uint8_t)name_len;
	d->file_type = (uint8_t)ftype;
	d->key = sfs_cpu_to_le64(key);
	memcpy((uint8_t *)p + SFS_DIRENT_HDR_SIZE, name, name_len);
	if (ino)
		memset((uint8_t *)p + SFS_DIRENT_HDR_SIZE + name_len, 0,
		       sfs_dirent_size(name_len) - SFS_DIRENT_HDR_SIZE - name_len);
}

/* Unused records covering [off, end), each at most REC_MAX long. */
static void fill_unused(uint8_t *blk, uint32_t off, uint32_t end)
{
	while (off < end) {
		uint32_t len = end - off > REC_MAX ? REC_MAX : end - off;

		sfs_dir_rec_put(blk + off, 0, (uint16_t)len, 0, "", 0, 0);
		off += len;
	}
}

void sfs_dir_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner)
{
	uint32_t bs = sbi->geo.block_size;

	memset(blk, 0, bs);
	sfs_hdr_init(blk, SFS_MAGIC_DIRLEAF, blkno, owner, sbi);
	fill_unused(blk, SFS_HDR_SIZE, bs);
}

int sfs_dir_block_next(const void *blk, size_t len, uint32_t *off, struct sfs_dirent *de)
{
	const uint8_t *p = blk;
	const struct sfs_disk_dirent *d;
	uint32_t o = *off ? *off : SFS_HDR_SIZE;

	if (o >= len)
		return 0;
	if (len - o < SFS_DIRENT_HDR_SIZE)
		return -EFSCORRUPTED;
	d = (const struct sfs_disk_dirent *)(p + o);
	de->ino = sfs_le64_to_cpu(d->ino);
	de->rec_len = sfs_le16_to_cpu(d->rec_len);
	de->name_len = d->name_len;
	de->file_type = d->file_type;
	de->key = sfs_le64_to_cpu(d->key);
	de->name = (const char *)(p + o + SFS_DIRENT_HDR_SIZE);
	de->offset = o;
	if (de->rec_len < SFS_DIRENT_HDR_SIZE || de->rec_len % SFS_DIRENT_ALIGN ||
	    de->rec_len > len - o || (de->ino && sfs_dirent_size(de->name_len) > de->rec_len))
		return -EFSCORRUPTED;
	*off = o + de->rec_len;
	return 1;
}

int sfs_dir_rec_add(void *blk, size_t len, uint64_t ino, uint64_t key, const char *name,
		    unsigned name_len, unsigned file_type)
{
	uint32_t need = sfs_dirent_size(name_len), off = 0;
	struct sfs_dirent de;
	int ret;

	if (!sfs_dir_name_ok(name, name_len) || !ino || file_type > SFS_FT_MAX)
		return -EINVAL;
	while ((ret = sfs_dir_block_next(blk, len, &off, &de)) > 0) {
		uint32_t used = de.ino ? sfs_dirent_size(de.name_len) : 0;
		uint8_t *p = (uint8_t *)blk + de.offset;

		if (de.rec_len - used < need)
			continue;
		if (used) {
			/* Split: the live record keeps its size, the new one takes the rest. */
			((struct sfs_disk_dirent *)p)->rec_len = sfs_cpu_to_le16((uint16_t)used);
			p += used;
		}
		sfs_dir_rec_put(p, ino, (uint16_t)(de.rec_len - used), key, name, name_len, file_type);
		return 0;
	}
	return ret < 0 ? ret : -ENOSPC;
}

int sfs_dir_block_add(void *blk, size_t len, uint64_t ino, const char *name, unsigned name_len,
		      unsigned file_type)
{
	const struct sfs_disk_hdr *h = blk;
	uint64_t used[2] = { 0, 0 }, hash, key = 0;
	struct sfs_dirent de;
	uint32_t off = 0;

	if (sfs_dir_is_dots(name, name_len))
		return sfs_dir_rec_add(blk, len, ino,
				       name_len == 1 ? SFS_DIRKEY_DOT : SFS_DIRKEY_DOTDOT, name,
				       name_len, file_type);
	if (!sfs_dir_name_ok(name, name_len))
		return -EINVAL;
	/* The seed is the filesystem's, derived from the UUID in the header. */
	hash = sfs_dir_hash56(sfs_csum_seed(h->uuid), name, name_len);
	while (sfs_dir_block_next(blk, len, &off, &de) > 0)
		if (de.ino && de.key >= SFS_DIRKEY_MIN && sfs_dirkey_hash(de.key) == hash)
			used[sfs_dirkey_seq(de.key) / 64] |= 1ull << (sfs_dirkey_seq(de.key) % 64);
	for (unsigned i = 0; i <= SFS_DIRKEY_SEQ_MAX && !key; i++)
		if (!(used[i / 64] & (1ull << (i % 64))))
			key = sfs_dirkey(hash, i);
	if (!key)
		return -ENOSPC;
	return sfs_dir_rec_add(blk, len, ino, key, name, name_len, file_type);
}

uint32_t sfs_dir_block_free(const void *blk, size_t len)
{
	struct sfs_dirent de;
	uint32_t off = 0, used = 0;

	while (sfs_dir_block_next(blk, len, &off, &de) > 0)
		if (de.ino)
			used += sfs_dirent_size(de.name_len);
	return (uint32_t)len - SFS_HDR_SIZE - used;
}

void sfs_dir_block_compact(void *blk, size_t len)
{
	uint8_t *p = blk;
	struct sfs_dirent de;
	uint32_t off = 0, w = SFS_HDR_SIZE, last = 0;

	/* Records only move towards the start: memmove in order is safe. */
	while (sfs_dir_block_next(blk, len, &off, &de) > 0) {
		uint32_t sz;

		if (!de.ino)
			continue;
		sz = sfs_dirent_size(de.name_len);
		if (de.offset != w)
			memmove(p + w, p + de.offset, sz);
		((struct sfs_disk_dirent *)(p + w))->rec_len = sfs_cpu_to_le16((uint16_t)sz);
		last = w;
		w += sz;
	}
	if (last && (uint32_t)len - last <= REC_MAX) {
		/* The last live record absorbs the tail, as ext4 leaves it. */
		((struct sfs_disk_dirent *)(p + last))->rec_len =
			sfs_cpu_to_le16((uint16_t)(len - last));
		memset(p + w, 0, len - w);
	} else {
		fill_unused(p, w, (uint32_t)len);
	}
}

int sfs_dir_block_verify(const void *blk, size_t len, uint64_t blkno,
			 const struct sfs_sb_info *sbi)
{
	struct sfs_dirent de;
	struct sfs_hdr h;
	uint32_t off = 0;
	int ret;

	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_DIRLEAF, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (!sfs_geo_ino_valid(&sbi->geo, h.owner))
		return sfs_verify_fail(-EFSCORRUPTED, "directory block %llu: owner %llu is not an inode",
				       (unsigned long long)blkno, (unsigned long long)h.owner);
	while ((ret = sfs_dir_block_next(blk, len, &off, &de)) > 0) {
		bool dots;

		if (!de.ino)
			continue;
		if (!sfs_geo_ino_valid(&sbi->geo, de.ino))
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory block %llu: entry at %u names inode %llu",
					       (unsigned long long)blkno, de.offset,
					       (unsigned long long)de.ino);
		if (!sfs_dir_name_ok(de.name, de.name_len) || de.file_type > SFS_FT_MAX)
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory block %llu: entry at %u has a bad name or type",
					       (unsigned long long)blkno, de.offset);
		dots = sfs_dir_is_dots(de.name, de.name_len);
		if (dots ? de.key != (de.name_len == 1 ? SFS_DIRKEY_DOT : SFS_DIRKEY_DOTDOT)
			 : (de.key >= SFS_DIRKEY_END ||
			    sfs_dirkey_hash(de.key) != sfs_dir_hash56(sbi->csum_seed, de.name,
								      de.name_len)))
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory block %llu: entry at %u has key %#llx, not its name's",
					       (unsigned long long)blkno, de.offset,
					       (unsigned long long)de.key);
	}
	if (ret < 0)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "directory block %llu: malformed record at offset %u",
				       (unsigned long long)blkno, off ? off : SFS_HDR_SIZE);
	return 0;
}

/* ---- index blocks ---------------------------------------------------- */

void sfs_dirindex_hdr_get(struct sfs_dirindex_hdr *h, const void *blk)
{
	const struct sfs_disk_dirindex *d = blk;

	h->parent = sfs_le64_to_cpu(d->parent);
	h->names = sfs_le64_to_cpu(d->names);
	h->level = sfs_le16_to_cpu(d->level);
	h->count = sfs_le16_to_cpu(d->count);
	h->limit = sfs_le16_to_cpu(d->limit);
	h->flags = sfs_le16_to_cpu(d->flags);
}

void sfs_dirindex_hdr_put(void *blk, const struct sfs_dirindex_hdr *h)
{
	struct sfs_disk_dirindex *d = blk;

	d->parent = sfs_cpu_to_le64(h->parent);
	d->names = sfs_cpu_to_le64(h->names);
	d->level = sfs_cpu_to_le16(h->level);
	d->count = sfs_cpu_to_le16(h->count);
	d->limit = sfs_cpu_to_le16(h->limit);
	d->flags = sfs_cpu_to_le16(h->flags);
	d->pad = 0;
}

void sfs_dirindex_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner,
		       unsigned level, bool root, uint64_t parent)
{
	struct sfs_dirindex_hdr h = {
		.parent = root ? parent : 0,
		.level = (uint16_t)level,
		.limit = (uint16_t)sfs_dirindex_limit(sbi->geo.block_size),
		.flags = root ? SFS_DIRINDEX_ROOT : 0,
	};

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_DIRINDEX, blkno, owner, sbi);
	sfs_dirindex_hdr_put(blk, &h);
}

uint64_t sfs_dirindex_key(const void *blk, unsigned i)
{
	return sfs_le64_to_cpu(sfs_dirindex_entry((void *)blk, i)->key);
}

uint32_t sfs_dirindex_lblk(const void *blk, unsigned i)
{
	return sfs_le32_to_cpu(sfs_dirindex_entry((void *)blk, i)->lblk);
}

void sfs_dirindex_set(void *blk, unsigned i, uint64_t key, uint32_t lblk)
{
	struct sfs_disk_dirindex_entry *e = sfs_dirindex_entry(blk, i);

	e->key = sfs_cpu_to_le64(key);
	e->lblk = sfs_cpu_to_le32(lblk);
	e->pad = 0;
}

unsigned sfs_dirindex_find(const void *blk, unsigned count, uint64_t key)
{
	unsigned lo = 1, hi = count;

	/* Entry 0 covers everything below entry 1: find the last key <= key. */
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (sfs_dirindex_key(blk, mid) <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

int sfs_dirindex_block_verify(const void *blk, size_t len, uint64_t blkno,
			      const struct sfs_sb_info *sbi)
{
	struct sfs_dirindex_hdr x;
	struct sfs_hdr h;
	uint64_t prev = 0;
	int ret;

	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_DIRINDEX, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (!sfs_geo_ino_valid(&sbi->geo, h.owner))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "directory index block %llu: owner %llu is not an inode",
				       (unsigned long long)blkno, (unsigned long long)h.owner);
	sfs_dirindex_hdr_get(&x, blk);
	if (x.limit != sfs_dirindex_limit((uint32_t)len) || !x.count || x.count > x.limit ||
	    x.level >= SFS_DIR_MAX_LEVELS || (x.flags & ~SFS_DIRINDEX_ROOT))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "directory index block %llu: level %u, %u of %u entries, flags %#x",
				       (unsigned long long)blkno, x.level, x.count, x.limit, x.flags);
	if ((x.flags & SFS_DIRINDEX_ROOT) ? !sfs_geo_ino_valid(&sbi->geo, x.parent)
					  : (x.parent || x.names))
		return sfs_verify_fail(-EFSCORRUPTED,
				       "directory index block %llu: parent %llu does not fit the node",
				       (unsigned long long)blkno, (unsigned long long)x.parent);
	for (unsigned i = 0; i < x.count; i++) {
		uint64_t key = sfs_dirindex_key(blk, i);

		if (i == 0 ? key != 0
			   : key <= prev || key >= SFS_DIRKEY_END || sfs_dirkey_seq(key))
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory index block %llu: entry %u has key %#llx after %#llx",
					       (unsigned long long)blkno, i, (unsigned long long)key,
					       (unsigned long long)prev);
		if (!sfs_dirindex_lblk(blk, i))
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory index block %llu: entry %u points at block 0",
					       (unsigned long long)blkno, i);
		prev = key;
	}
	return 0;
}

/* ---- buffer ops for both kinds ------------------------------------- */

static int dirblock_verify(const void *blk, size_t len, uint64_t blkno, void *ctx)
{
	if (sfs_hdr_magic(blk) == SFS_MAGIC_DIRINDEX)
		return sfs_dirindex_block_verify(blk, len, blkno, ctx);
	return sfs_dir_block_verify(blk, len, blkno, ctx);
}

static int dirblock_prepare_write(void *blk, size_t len, uint64_t blkno, void *ctx)
{
	sfs_hdr_stamp(blk, len, blkno, ctx);
	return dirblock_verify(blk, len, blkno, ctx);
}

const struct sfs_buf_ops sfs_dirblock_buf_ops = {
	.name = "dirblock",
	.verify_read = dirblock_verify,
	.prepare_write = dirblock_prepare_write,
};
