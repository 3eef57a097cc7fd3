/*
 * Records inside one entry block: finding a name, choosing a key's
 * sequence number, inserting (compacting when the free space is there but
 * scattered), removing (merged into the record before, as ext4 does),
 * splitting at a hash boundary, and listing in key order.  Pure functions
 * of the block's bytes; the caller holds whatever makes the block its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/namespace/dir.h"

unsigned sfs_dir_debug_index_cap, sfs_dir_debug_leaf_cap;

/* rec_len is 16 bits and a multiple of 8. */
#define REC_LEN_MAX 0xfff8u

static bool is_name(const struct sfs_dirent *de)
{
	return de->ino && de->key >= SFS_DIRKEY_MIN;
}

int sfs_dir_leaf_find(const void *blk, size_t len, uint64_t hash, const char *name,
		      unsigned nlen, struct sfs_dirent *de)
{
	const uint8_t *p = blk;
	uint32_t off = SFS_HDR_SIZE;

	/* A leaf of a large directory is rarely in the CPU's caches: ask for
	 * all of it at once rather than a line per record. */
	for (uint32_t o = 0; o < len; o += 64)
		__builtin_prefetch(p + o);
	/* The hot loop of every lookup: the block was verified when read, so
	 * only what keeps the walk inside it is checked per record, and the
	 * name is compared only where the hash matches. */
	while (off + SFS_DIRENT_HDR_SIZE <= len) {
		const struct sfs_disk_dirent *d = (const struct sfs_disk_dirent *)(p + off);
		uint16_t rec_len = sfs_le16_to_cpu(d->rec_len);

		if (rec_len < SFS_DIRENT_HDR_SIZE || rec_len > len - off)
			return -EFSCORRUPTED;
		if (d->ino && sfs_dirkey_hash(sfs_le64_to_cpu(d->key)) == hash &&
		    d->name_len == nlen && !memcmp(d->name, name, nlen)) {
			uint32_t at = off;

			return sfs_dir_block_next(blk, len, &at, de) > 0 ? 1 : -EFSCORRUPTED;
		}
		off += rec_len;
	}
	return 0;
}

int sfs_dir_leaf_seq(const void *blk, size_t len, uint64_t hash)
{
	uint64_t used[2] = { 0, 0 };
	struct sfs_dirent de;
	uint32_t off = 0;

	while (sfs_dir_block_next(blk, len, &off, &de) > 0) {
		if (!is_name(&de) || sfs_dirkey_hash(de.key) != hash)
			continue;
		used[sfs_dirkey_seq(de.key) / 64] |= 1ull << (sfs_dirkey_seq(de.key) % 64);
	}
	for (unsigned i = 0; i <= SFS_DIRKEY_SEQ_MAX; i++)
		if (!(used[i / 64] & (1ull << (i % 64))))
			return (int)i;
	return -ENOSPC;
}

unsigned sfs_dir_leaf_count(const void *blk, size_t len)
{
	struct sfs_dirent de;
	uint32_t off = 0;
	unsigned n = 0;

	while (sfs_dir_block_next(blk, len, &off, &de) > 0)
		n += is_name(&de);
	return n;
}

bool sfs_dir_leaf_has_room(const void *blk, size_t len, unsigned nlen)
{
	if (sfs_dir_debug_leaf_cap && sfs_dir_leaf_count(blk, len) >= sfs_dir_debug_leaf_cap)
		return false;
	return sfs_dir_block_free(blk, len) >= sfs_dirent_size(nlen);
}

int sfs_dir_leaf_insert(void *blk, size_t len, uint64_t ino, uint64_t key, const char *name,
			unsigned nlen, unsigned ftype)
{
	int ret = sfs_dir_rec_add(blk, len, ino, key, name, nlen, ftype);

	if (ret != -ENOSPC)
		return ret;
	/* The room is there but in pieces: pack the records and try again. */
	sfs_dir_block_compact(blk, len);
	return sfs_dir_rec_add(blk, len, ino, key, name, nlen, ftype);
}

void sfs_dir_leaf_remove(void *blk, size_t len, uint32_t offset)
{
	uint8_t *p = blk;
	struct sfs_disk_dirent *d = (struct sfs_disk_dirent *)(p + offset);
	struct sfs_dirent de;
	uint32_t off = 0, prev = 0;

	while (sfs_dir_block_next(blk, len, &off, &de) > 0 && de.offset < offset)
		prev = de.offset;
	if (prev) {
		struct sfs_disk_dirent *pd = (struct sfs_disk_dirent *)(p + prev);
		uint32_t merged = sfs_le16_to_cpu(pd->rec_len) + sfs_le16_to_cpu(d->rec_len);

		if (merged <= REC_LEN_MAX) {
			pd->rec_len = sfs_cpu_to_le16((uint16_t)merged);
			return;
		}
	}
	d->ino = 0;
	d->key = 0;
	d->name_len = 0;
	d->file_type = 0;
}

static int cmp_sorted(const void *a, const void *b)
{
	const struct sfs_dir_sorted *x = a, *y = b;

	return x->key < y->key ? -1 : x->key > y->key;
}

unsigned sfs_dir_leaf_sorted(const void *blk, size_t len, struct sfs_dir_sorted *out,
			     unsigned max)
{
	struct sfs_dirent de;
	uint32_t off = 0;
	unsigned n = 0;

	while (n < max && sfs_dir_block_next(blk, len, &off, &de) > 0)
		if (de.ino)
			out[n++] = (struct sfs_dir_sorted){ .key = de.key, .offset = de.offset };
	qsort(out, n, sizeof(*out), cmp_sorted);
	return n;
}

int sfs_dir_leaf_split_key(const void *blk, size_t len, uint64_t *split_key)
{
	unsigned max = (unsigned)(len / (SFS_DIRENT_ALIGN * 3) + 1), n, m, cut = 0;
	struct sfs_dir_sorted *v;
	int ret = 0;

	v = mc_alloc_named("dir.split", max * sizeof(*v), MC_KERNEL);
	if (!v)
		return -ENOMEM;
	n = sfs_dir_leaf_sorted(blk, len, v, max);
	/* Cut near the middle, at a hash boundary: all records of one hash
	 * stay in one block, which is what lets lookups find them. */
	for (m = n / 2; m < n && !cut; m++)
		if (m && sfs_dirkey_hash(v[m].key) != sfs_dirkey_hash(v[m - 1].key))
			cut = m;
	for (m = n / 2; m > 0 && !cut; m--)
		if (m < n && sfs_dirkey_hash(v[m].key) != sfs_dirkey_hash(v[m - 1].key))
			cut = m;
	if (!cut || v[0].key < SFS_DIRKEY_MIN)
		ret = -ENOSPC;
	else
		*split_key = sfs_dirkey_hash(v[cut].key) << SFS_DIRKEY_SEQ_BITS;
	mc_free(v);
	return ret;
}

void sfs_dir_leaf_split_at(void *src, void *dst, size_t len, uint64_t split_key)
{
	struct sfs_dirent de;
	uint32_t off = 0;
	uint8_t *p = src;

	while (sfs_dir_block_next(src, len, &off, &de) > 0) {
		if (!de.ino || de.key < split_key)
			continue;
		/* Always fits: the records came from a block of this size. */
		sfs_dir_rec_add(dst, len, de.ino, de.key, de.name, de.name_len, de.file_type);
		((struct sfs_disk_dirent *)(p + de.offset))->ino = 0;
	}
	sfs_dir_block_compact(src, len);
}
