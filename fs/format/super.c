/* Superblock encode/decode and verifier (see super.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "fs/block/buf_ops.h"
#include "fs/format/checksum.h"
#include "fs/format/geometry.h"
#include "fs/format/super.h"

#define GET16(f) sb->f = sfs_le16_to_cpu(d->f)
#define GET32(f) sb->f = sfs_le32_to_cpu(d->f)
#define GET64(f) sb->f = sfs_le64_to_cpu(d->f)
#define PUT16(f) d->f = sfs_cpu_to_le16(sb->f)
#define PUT32(f) d->f = sfs_cpu_to_le32(sb->f)
#define PUT64(f) d->f = sfs_cpu_to_le64(sb->f)

/* Fixed-size NUL-padded disk string to a NUL-terminated one. */
static void get_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n);
	dst[n] = 0;
}

static void put_str(char *dst, const char *src, size_t n)
{
	size_t l = strnlen(src, n);

	memset(dst, 0, n);
	memcpy(dst, src, l);
}

void sfs_super_decode(struct sfs_super *sb, const void *raw)
{
	const struct sfs_disk_super *d = raw;

	memset(sb, 0, sizeof(*sb));
	sb->blkno = sfs_le64_to_cpu(d->hdr.blkno);
	sb->owner = sfs_le64_to_cpu(d->hdr.owner);
	memcpy(sb->uuid, d->hdr.uuid, 16);
	sb->lsn = sfs_le64_to_cpu(d->hdr.lsn);
	GET32(rev_level);
	GET32(block_log);
	GET64(block_count);
	GET64(free_blocks);
	GET64(inode_count);
	GET64(free_inodes);
	GET64(reserved_blocks);
	GET64(first_data_block);
	GET64(journal_start);
	GET64(journal_blocks);
	GET64(backup_gdt_start);
	GET64(backup_sb_block);
	GET64(root_ino);
	GET64(first_ino);
	GET64(orphan_head);
	GET64(csum_seed);
	GET32(blocks_per_group);
	GET32(inodes_per_group);
	GET32(group_count);
	GET32(gdt_blocks);
	GET32(itable_blocks);
	GET16(inode_size);
	GET16(desc_size);
	GET32(feature_compat);
	GET32(feature_ro_compat);
	GET32(feature_incompat);
	GET16(state);
	GET16(errors);
	GET32(mount_count);
	GET32(max_mount_count);
	GET64(mkfs_time);
	GET64(mount_time);
	GET64(write_time);
	GET64(check_time);
	GET32(error_count);
	GET32(first_error_errno);
	GET64(first_error_time);
	GET64(first_error_ino);
	GET64(first_error_block);
	get_str(sb->first_error_func, d->first_error_func, sizeof(d->first_error_func));
	GET32(last_error_errno);
	GET64(last_error_time);
	GET64(last_error_ino);
	GET64(last_error_block);
	get_str(sb->last_error_func, d->last_error_func, sizeof(d->last_error_func));
	get_str(sb->label, d->label, sizeof(d->label));
	get_str(sb->last_mounted, d->last_mounted, sizeof(d->last_mounted));
}

void sfs_super_encode(void *raw, const struct sfs_super *sb)
{
	struct sfs_disk_super *d = raw;

	memset(d, 0, sizeof(*d));
	d->hdr.magic = sfs_cpu_to_le32(SFS_MAGIC_SB);
	d->hdr.version = sfs_cpu_to_le16(SFS_HDR_VERSION);
	d->hdr.blkno = sfs_cpu_to_le64(sb->blkno);
	d->hdr.owner = sfs_cpu_to_le64(sb->owner);
	memcpy(d->hdr.uuid, sb->uuid, 16);
	d->hdr.lsn = sfs_cpu_to_le64(sb->lsn);
	PUT32(rev_level);
	PUT32(block_log);
	PUT64(block_count);
	PUT64(free_blocks);
	PUT64(inode_count);
	PUT64(free_inodes);
	PUT64(reserved_blocks);
	PUT64(first_data_block);
	PUT64(journal_start);
	PUT64(journal_blocks);
	PUT64(backup_gdt_start);
	PUT64(backup_sb_block);
	PUT64(root_ino);
	PUT64(first_ino);
	PUT64(orphan_head);
	PUT64(csum_seed);
	PUT32(blocks_per_group);
	PUT32(inodes_per_group);
	PUT32(group_count);
	PUT32(gdt_blocks);
	PUT32(itable_blocks);
	PUT16(inode_size);
	PUT16(desc_size);
	PUT32(feature_compat);
	PUT32(feature_ro_compat);
	PUT32(feature_incompat);
	PUT16(state);
	PUT16(errors);
	PUT32(mount_count);
	PUT32(max_mount_count);
	PUT64(mkfs_time);
	PUT64(mount_time);
	PUT64(write_time);
	PUT64(check_time);
	PUT32(error_count);
	PUT32(first_error_errno);
	PUT64(first_error_time);
	PUT64(first_error_ino);
	PUT64(first_error_block);
	put_str(d->first_error_func, sb->first_error_func, sizeof(d->first_error_func));
	PUT32(last_error_errno);
	PUT64(last_error_time);
	PUT64(last_error_ino);
	PUT64(last_error_block);
	put_str(d->last_error_func, sb->last_error_func, sizeof(d->last_error_func));
	put_str(d->label, sb->label, sizeof(d->label));
	put_str(d->last_mounted, sb->last_mounted, sizeof(d->last_mounted));
	d->hdr.csum = sfs_cpu_to_le64(sfs_csum(d, SFS_SB_SIZE,
					       offsetof(struct sfs_disk_hdr, csum), 0));
}

static int sb_err(int err, char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int sb_err(int err, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int sfs_super_verify(const void *raw, uint64_t blkno, char *msg, size_t msglen)
{
	const struct sfs_disk_super *d = raw;
	struct sfs_super sb;
	struct sfs_geo g;
	char why[160];
	uint64_t csum;
	int ret;

	if (sfs_le32_to_cpu(d->hdr.magic) != SFS_MAGIC_SB)
		return sb_err(-EINVAL, msg, msglen,
			      "no scopefs superblock at block %llu (magic 0x%08x, expected 0x%08x)",
			      (unsigned long long)blkno, sfs_le32_to_cpu(d->hdr.magic),
			      SFS_MAGIC_SB);
	csum = sfs_csum(d, SFS_SB_SIZE, offsetof(struct sfs_disk_hdr, csum), 0);
	if (csum != sfs_le64_to_cpu(d->hdr.csum))
		return sb_err(-EFSBADCRC, msg, msglen,
			      "superblock at block %llu: checksum mismatch (stored 0x%016llx, computed 0x%016llx)",
			      (unsigned long long)blkno,
			      (unsigned long long)sfs_le64_to_cpu(d->hdr.csum),
			      (unsigned long long)csum);
	sfs_super_decode(&sb, raw);
	if (sfs_le16_to_cpu(d->hdr.version) != SFS_HDR_VERSION)
		return sb_err(-EOPNOTSUPP, msg, msglen,
			      "superblock at block %llu: header version %u not supported",
			      (unsigned long long)blkno, sfs_le16_to_cpu(d->hdr.version));
	if (sb.rev_level != SFS_FORMAT_REV)
		return sb_err(-EOPNOTSUPP, msg, msglen,
			      "superblock at block %llu: format revision %u not supported (this is revision %u)",
			      (unsigned long long)blkno, sb.rev_level, SFS_FORMAT_REV);
	if (sb.blkno != blkno)
		return sb_err(-EFSCORRUPTED, msg, msglen,
			      "superblock at block %llu claims to be block %llu (misplaced)",
			      (unsigned long long)blkno, (unsigned long long)sb.blkno);
	if (sb.owner != (blkno ? SFS_SB_OWNER_BACKUP : SFS_SB_OWNER_PRIMARY))
		return sb_err(-EFSCORRUPTED, msg, msglen,
			      "superblock at block %llu: owner %llu is wrong for a %s copy",
			      (unsigned long long)blkno, (unsigned long long)sb.owner,
			      blkno ? "backup" : "primary");
	if (sb.csum_seed != sfs_csum_seed(sb.uuid))
		return sb_err(-EFSCORRUPTED, msg, msglen,
			      "superblock at block %llu: checksum seed does not match the UUID",
			      (unsigned long long)blkno);
	ret = sfs_geo_from_super(&g, &sb, why, sizeof(why));
	if (ret)
		return sb_err(ret, msg, msglen, "superblock at block %llu: bad geometry: %s",
			      (unsigned long long)blkno, why);
	if (blkno && blkno != g.backup_sb_block)
		return sb_err(-EFSCORRUPTED, msg, msglen,
			      "superblock copy at block %llu, but the backup belongs at %llu",
			      (unsigned long long)blkno, (unsigned long long)g.backup_sb_block);
	if (sb.errors < SFS_ERRORS_CONTINUE || sb.errors > SFS_ERRORS_SHUTDOWN)
		return sb_err(-EFSCORRUPTED, msg, msglen,
			      "superblock at block %llu: error policy %u unknown",
			      (unsigned long long)blkno, sb.errors);
	return 0;
}

enum sfs_feature_verdict sfs_super_check_features(const struct sfs_super *sb, char *msg,
						 size_t msglen)
{
	uint32_t inc = sb->feature_incompat & ~SFS_FEATURE_INCOMPAT_SUPP;
	uint32_t ro = sb->feature_ro_compat & ~SFS_FEATURE_RO_COMPAT_SUPP;

	if (inc) {
		sb_err(0, msg, msglen,
		       "filesystem has unsupported incompatible features 0x%08x; it needs a newer scopefs",
		       inc);
		return SFS_FEATURES_REFUSE;
	}
	if (ro) {
		sb_err(0, msg, msglen,
		       "filesystem has unsupported read-only-compatible features 0x%08x; it can only be read",
		       ro);
		return SFS_FEATURES_RO;
	}
	return SFS_FEATURES_OK;
}

static const struct {
	int set;        /* 0 compat, 1 ro_compat, 2 incompat */
	uint32_t bit;
	const char *name;
} feature_names[] = {
	{ 0, SFS_FEATURE_COMPAT_HAS_JOURNAL, "has_journal" },
	{ 1, SFS_FEATURE_RO_COMPAT_UNINIT_BG, "uninit_bg" },
	{ 2, SFS_FEATURE_INCOMPAT_RECOVER, "needs_recovery" },
};

const char *sfs_super_features_str(const struct sfs_super *sb, char *buf, size_t len)
{
	uint32_t sets[3] = { sb->feature_compat, sb->feature_ro_compat, sb->feature_incompat };
	static const char *const set_names[3] = { "compat", "ro_compat", "incompat" };
	size_t used = 0;

	if (!len)
		return buf;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
		if (!(sets[feature_names[i].set] & feature_names[i].bit))
			continue;
		sets[feature_names[i].set] &= ~feature_names[i].bit;
		used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
					 used ? " " : "", feature_names[i].name);
	}
	for (int s = 0; s < 3; s++)
		for (int b = 0; b < 32; b++)
			if (sets[s] & (1u << b))
				used += (size_t)snprintf(buf + used, used < len ? len - used : 0,
							 "%s%s_0x%x", used ? " " : "",
							 set_names[s], 1u << b);
	if (!used)
		snprintf(buf, len, "(none)");
	return buf;
}

void sfs_super_relocate(struct sfs_super *sb, uint64_t blkno)
{
	sb->blkno = blkno;
	sb->owner = blkno ? SFS_SB_OWNER_BACKUP : SFS_SB_OWNER_PRIMARY;
}
