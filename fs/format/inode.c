/* Inode record encode/decode and verifiers (see inode.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/format/checksum.h"
#include "fs/format/extent.h"
#include "fs/format/inode.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"

static void get_ts(struct sfs_timespec *t, sfs_le64 sec, sfs_le32 nsec)
{
	t->sec = (int64_t)sfs_le64_to_cpu(sec);
	t->nsec = sfs_le32_to_cpu(nsec);
}

void sfs_inode_decode(struct sfs_inode *ino, const void *raw)
{
	const struct sfs_disk_inode *d = raw;

	memset(ino, 0, sizeof(*ino));
	ino->ino = sfs_le64_to_cpu(d->ino);
	ino->mode = sfs_le16_to_cpu(d->mode);
	ino->core_size = sfs_le16_to_cpu(d->core_size);
	ino->generation = sfs_le32_to_cpu(d->generation);
	ino->flags = sfs_le32_to_cpu(d->flags);
	ino->uid = sfs_le32_to_cpu(d->uid);
	ino->gid = sfs_le32_to_cpu(d->gid);
	ino->nlink = sfs_le32_to_cpu(d->nlink);
	ino->inline_xattr_len = sfs_le32_to_cpu(d->inline_xattr_len);
	ino->size = sfs_le64_to_cpu(d->size);
	ino->blocks = sfs_le64_to_cpu(d->blocks);
	get_ts(&ino->atime, d->atime_sec, d->atime_nsec);
	get_ts(&ino->mtime, d->mtime_sec, d->mtime_nsec);
	get_ts(&ino->ctime, d->ctime_sec, d->ctime_nsec);
	get_ts(&ino->btime, d->btime_sec, d->btime_nsec);
	ino->rdev_major = sfs_le32_to_cpu(d->rdev_major);
	ino->rdev_minor = sfs_le32_to_cpu(d->rdev_minor);
	ino->xattr_block = sfs_le64_to_cpu(d->xattr_block);
	ino->orphan_next = sfs_le64_to_cpu(d->orphan_next);
	ino->version = sfs_le64_to_cpu(d->version);
	memcpy(ino->root, d->u.inline_data, sizeof(ino->root));
}

uint64_t sfs_inode_compute_csum(const void *raw, const struct sfs_sb_info *sbi)
{
	return sfs_csum(raw, sbi->geo.inode_size, offsetof(struct sfs_disk_inode, csum),
			sbi->csum_seed);
}

void sfs_inode_set_csum(void *raw, const struct sfs_sb_info *sbi)
{
	struct sfs_disk_inode *d = raw;

	d->csum = sfs_cpu_to_le64(sfs_inode_compute_csum(raw, sbi));
}

void sfs_inode_encode(void *raw, const struct sfs_inode *ino, const struct sfs_sb_info *sbi)
{
	struct sfs_disk_inode *d = raw;

	memset(d, 0, sizeof(*d));
	d->magic = sfs_cpu_to_le32(SFS_MAGIC_INODE);
	d->mode = sfs_cpu_to_le16(ino->mode);
	d->core_size = sfs_cpu_to_le16(SFS_INODE_CORE_SIZE);
	d->ino = sfs_cpu_to_le64(ino->ino);
	d->generation = sfs_cpu_to_le32(ino->generation);
	d->flags = sfs_cpu_to_le32(ino->flags);
	d->uid = sfs_cpu_to_le32(ino->uid);
	d->gid = sfs_cpu_to_le32(ino->gid);
	d->nlink = sfs_cpu_to_le32(ino->nlink);
	d->inline_xattr_len = sfs_cpu_to_le32(ino->inline_xattr_len);
	d->size = sfs_cpu_to_le64(ino->size);
	d->blocks = sfs_cpu_to_le64(ino->blocks);
	d->atime_sec = sfs_cpu_to_le64((uint64_t)ino->atime.sec);
	d->mtime_sec = sfs_cpu_to_le64((uint64_t)ino->mtime.sec);
	d->ctime_sec = sfs_cpu_to_le64((uint64_t)ino->ctime.sec);
	d->btime_sec = sfs_cpu_to_le64((uint64_t)ino->btime.sec);
	d->atime_nsec = sfs_cpu_to_le32(ino->atime.nsec);
	d->mtime_nsec = sfs_cpu_to_le32(ino->mtime.nsec);
	d->ctime_nsec = sfs_cpu_to_le32(ino->ctime.nsec);
	d->btime_nsec = sfs_cpu_to_le32(ino->btime.nsec);
	d->rdev_major = sfs_cpu_to_le32(ino->rdev_major);
	d->rdev_minor = sfs_cpu_to_le32(ino->rdev_minor);
	d->xattr_block = sfs_cpu_to_le64(ino->xattr_block);
	d->orphan_next = sfs_cpu_to_le64(ino->orphan_next);
	d->version = sfs_cpu_to_le64(ino->version);
	memcpy(d->u.inline_data, ino->root, sizeof(ino->root));
	sfs_inode_set_csum(raw, sbi);
}

bool sfs_inode_slot_unused(const void *raw)
{
	const struct sfs_disk_inode *d = raw;

	return d->magic == 0;
}

bool sfs_inode_raw_in_use(const void *raw)
{
	const struct sfs_disk_inode *d = raw;

	return sfs_le32_to_cpu(d->magic) == SFS_MAGIC_INODE && d->mode != 0;
}

unsigned sfs_mode_to_ftype(uint16_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:  return SFS_FT_REG;
	case S_IFDIR:  return SFS_FT_DIR;
	case S_IFCHR:  return SFS_FT_CHR;
	case S_IFBLK:  return SFS_FT_BLK;
	case S_IFIFO:  return SFS_FT_FIFO;
	case S_IFSOCK: return SFS_FT_SOCK;
	case S_IFLNK:  return SFS_FT_LNK;
	default:       return 0;
	}
}

int sfs_inode_verify(const void *raw, uint64_t ino, const struct sfs_sb_info *sbi)
{
	const struct sfs_disk_inode *d = raw;
	struct sfs_inode in;
	char where[48];

	if (sfs_le32_to_cpu(d->magic) != SFS_MAGIC_INODE)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: bad magic 0x%08x",
				       (unsigned long long)ino, sfs_le32_to_cpu(d->magic));
	if (sfs_le64_to_cpu(d->csum) != sfs_inode_compute_csum(raw, sbi))
		return sfs_verify_fail(-EFSBADCRC, "inode %llu: checksum mismatch",
				       (unsigned long long)ino);
	sfs_inode_decode(&in, raw);
	if (in.ino != ino)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "inode %llu: record claims to be inode %llu (misplaced)",
				       (unsigned long long)ino, (unsigned long long)in.ino);
	if (in.core_size != SFS_INODE_CORE_SIZE)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: core size %u, expected %u",
				       (unsigned long long)ino, in.core_size, SFS_INODE_CORE_SIZE);
	if (in.inline_xattr_len > sbi->geo.inode_size - SFS_INODE_CORE_SIZE)
		return sfs_verify_fail(-EFSCORRUPTED,
				       "inode %llu: %u bytes of inline xattrs in a %u-byte area",
				       (unsigned long long)ino, in.inline_xattr_len,
				       sbi->geo.inode_size - SFS_INODE_CORE_SIZE);
	if (in.mode == 0)
		return 0;   /* free record: only its identity matters */
	if (!sfs_mode_to_ftype(in.mode))
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: invalid file type in mode 0%o",
				       (unsigned long long)ino, in.mode);
	if (in.flags & ~SFS_INODE_FL_KNOWN)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: unknown flags 0x%08x",
				       (unsigned long long)ino, in.flags & ~SFS_INODE_FL_KNOWN);
	if (in.atime.nsec >= 1000000000u || in.mtime.nsec >= 1000000000u ||
	    in.ctime.nsec >= 1000000000u || in.btime.nsec >= 1000000000u)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: nanoseconds out of range",
				       (unsigned long long)ino);
	if (in.xattr_block && (in.xattr_block < sbi->geo.first_data_block ||
			       in.xattr_block >= sbi->geo.backup_gdt_start))
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: xattr block %llu out of range",
				       (unsigned long long)ino, (unsigned long long)in.xattr_block);
	if (in.orphan_next > sbi->geo.inode_count)
		return sfs_verify_fail(-EFSCORRUPTED, "inode %llu: orphan link %llu is not an inode",
				       (unsigned long long)ino, (unsigned long long)in.orphan_next);
	if (in.flags & SFS_INODE_FL_INLINE) {
		if (in.size > SFS_INODE_INLINE_MAX)
			return sfs_verify_fail(-EFSCORRUPTED,
					       "inode %llu: inline data of %llu bytes exceeds %u",
					       (unsigned long long)ino, (unsigned long long)in.size,
					       SFS_INODE_INLINE_MAX);
		return 0;
	}
	snprintf(where, sizeof(where), "inode %llu", (unsigned long long)ino);
	return sfs_extent_node_check(d->u.inline_data, SFS_EXTENT_ROOT_ENTRIES, sbi, where);
}

int sfs_itable_block_verify(const void *blk, size_t len, uint64_t blkno,
			    const struct sfs_sb_info *sbi)
{
	const struct sfs_geo *g = &sbi->geo;
	const uint8_t *p = blk;
	uint64_t first;
	int ret;

	if (len != g->block_size || !sfs_geo_itable_first_ino(g, blkno, &first))
		return sfs_verify_fail(-EFSCORRUPTED, "block %llu is not an inode table block",
				       (unsigned long long)blkno);
	for (uint32_t i = 0; i < g->inodes_per_block; i++) {
		const uint8_t *raw = p + (size_t)i * g->inode_size;

		if (sfs_le32_to_cpu(((const struct sfs_disk_inode *)raw)->magic) != SFS_MAGIC_INODE)
			continue;
		ret = sfs_inode_verify(raw, first + i, sbi);
		if (ret)
			return ret;
	}
	return 0;
}
