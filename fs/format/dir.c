/* Directory entry blocks (see dir.h). */
#include <errno.h>
#include <string.h>

#include "fs/format/dir.h"
#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

static void put_rec(uint8_t *p, uint64_t ino, uint16_t rec_len, const char *name,
		    unsigned name_len, unsigned ftype)
{
	struct sfs_disk_dirent *d = (struct sfs_disk_dirent *)p;

	d->ino = sfs_cpu_to_le64(ino);
	d->rec_len = sfs_cpu_to_le16(rec_len);
	d->name_len = (uint8_t)name_len;
	d->file_type = (uint8_t)ftype;
	memcpy(d->name, name, name_len);
	memset(p + SFS_DIRENT_HDR_SIZE + name_len, 0,
	       sfs_dirent_size(name_len) - SFS_DIRENT_HDR_SIZE - name_len);
}

void sfs_dir_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno, uint64_t owner)
{
	uint32_t bs = sbi->geo.block_size;

	memset(blk, 0, bs);
	sfs_hdr_init(blk, SFS_MAGIC_DIRLEAF, blkno, owner, sbi);
	/* rec_len is 16 bits: a 64 KiB block is covered by chained empty records. */
	for (uint32_t off = SFS_HDR_SIZE; off < bs;) {
		uint32_t len = bs - off > 0x8000 ? 0x8000 : bs - off;

		put_rec((uint8_t *)blk + off, 0, (uint16_t)len, "", 0, 0);
		off += len;
	}
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
	de->name = d->name;
	de->offset = o;
	if (de->rec_len < SFS_DIRENT_HDR_SIZE || de->rec_len % SFS_DIRENT_ALIGN ||
	    de->rec_len > len - o || (de->ino && sfs_dirent_size(de->name_len) > de->rec_len))
		return -EFSCORRUPTED;
	*off = o + de->rec_len;
	return 1;
}

static bool name_ok(const char *name, unsigned len)
{
	if (!len || len > SFS_NAME_MAX)
		return false;
	for (unsigned i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == 0)
			return false;
	return true;
}

int sfs_dir_block_add(void *blk, size_t len, uint64_t ino, const char *name, unsigned name_len,
		      unsigned file_type)
{
	uint32_t need = sfs_dirent_size(name_len), off = 0;
	struct sfs_dirent de;
	int ret;

	if (!name_ok(name, name_len) || !ino || file_type > SFS_FT_MAX)
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
		put_rec(p, ino, (uint16_t)(de.rec_len - used), name, name_len, file_type);
		return 0;
	}
	return ret < 0 ? ret : -ENOSPC;
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
		if (!de.ino)
			continue;
		if (!sfs_geo_ino_valid(&sbi->geo, de.ino))
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory block %llu: entry at %u names inode %llu",
					       (unsigned long long)blkno, de.offset,
					       (unsigned long long)de.ino);
		if (!name_ok(de.name, de.name_len) || de.file_type > SFS_FT_MAX)
			return sfs_verify_fail(-EFSCORRUPTED,
					       "directory block %llu: entry at %u has a bad name or type",
					       (unsigned long long)blkno, de.offset);
	}
	if (ret < 0)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "directory block %llu: malformed record at offset %u",
				       (unsigned long long)blkno, off ? off : SFS_HDR_SIZE);
	return 0;
}
