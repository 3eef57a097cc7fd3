/* Extended attribute records and external xattr blocks (see xattr.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"

static const char *const prefixes[SFS_XATTR_INDEX_MAX + 1] = {
	[SFS_XATTR_INDEX_USER] = "user.",
	[SFS_XATTR_INDEX_TRUSTED] = "trusted.",
	[SFS_XATTR_INDEX_SECURITY] = "security.",
	[SFS_XATTR_INDEX_ACL_ACCESS] = "system.posix_acl_access",
	[SFS_XATTR_INDEX_ACL_DEFAULT] = "system.posix_acl_default",
};

const char *sfs_xattr_prefix(unsigned index)
{
	return index && index <= SFS_XATTR_INDEX_MAX ? prefixes[index] : NULL;
}

bool sfs_xattr_name_ok(unsigned index, unsigned name_len)
{
	const char *p = sfs_xattr_prefix(index);
	bool acl = index == SFS_XATTR_INDEX_ACL_ACCESS || index == SFS_XATTR_INDEX_ACL_DEFAULT;

	if (!p)
		return false;
	if (acl != (name_len == 0))
		return false;
	return strlen(p) + name_len <= SFS_NAME_MAX;
}

int sfs_xattr_next(const void *area, size_t len, uint32_t *off, struct sfs_xattr_rec *r)
{
	const uint8_t *p = (const uint8_t *)area + *off;
	const struct sfs_disk_xattr_entry *d = (const void *)p;
	uint32_t sz;

	if (*off >= len)
		return 0;
	if (len - *off < SFS_XATTR_ENTRY_HDR)
		return -EFSCORRUPTED;
	r->index = d->name_index;
	r->name_len = d->name_len;
	r->value_len = sfs_le16_to_cpu(d->value_len);
	r->name = (const char *)p + SFS_XATTR_ENTRY_HDR;
	r->value = p + SFS_XATTR_ENTRY_HDR + r->name_len;
	r->offset = *off;
	sz = sfs_xattr_rec_size(r->name_len, r->value_len);
	if (sz > len - *off || !sfs_xattr_name_ok(r->index, r->name_len) ||
	    memchr(r->name, 0, r->name_len))
		return -EFSCORRUPTED;
	*off += sz;
	return 1;
}

uint32_t sfs_xattr_put(void *p, const struct sfs_xattr_rec *r)
{
	struct sfs_disk_xattr_entry *d = p;
	uint32_t sz = sfs_xattr_rec_size(r->name_len, r->value_len);
	uint8_t *b = p;

	d->name_index = (uint8_t)r->index;
	d->name_len = (uint8_t)r->name_len;
	d->value_len = sfs_cpu_to_le16((uint16_t)r->value_len);
	memcpy(b + SFS_XATTR_ENTRY_HDR, r->name, r->name_len);
	if (r->value_len)
		memcpy(b + SFS_XATTR_ENTRY_HDR + r->name_len, r->value, r->value_len);
	memset(b + SFS_XATTR_ENTRY_HDR + r->name_len + r->value_len, 0,
	       sz - SFS_XATTR_ENTRY_HDR - r->name_len - r->value_len);
	return sz;
}

int sfs_xattr_area_check(const void *area, size_t len, long count, uint32_t *used,
			 const char *what)
{
	struct sfs_xattr_rec r;
	uint32_t off = 0;
	long n = 0;
	int ret = 0;

	while ((count < 0 || n < count) && (ret = sfs_xattr_next(area, len, &off, &r)) > 0)
		n++;
	if (ret < 0 || (count >= 0 && n < count))
		return sfs_verify_fail(-EFSCORRUPTED, "%s: malformed record at offset %u", what, off);
	if (used)
		*used = off;
	return 0;
}

bool sfs_xattr_same(const struct sfs_xattr_rec *a, const struct sfs_xattr_rec *b)
{
	return a->index == b->index && a->name_len == b->name_len &&
	       !memcmp(a->name, b->name, a->name_len);
}

void sfs_xattr_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			  uint64_t owner)
{
	struct sfs_disk_xattr_block *d = blk;

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_XATTR, blkno, owner, sbi);
	d->refcount = sfs_cpu_to_le32(1);
}

void sfs_xattr_block_set_entries(void *blk, unsigned n)
{
	((struct sfs_disk_xattr_block *)blk)->entries = sfs_cpu_to_le32(n);
}

int sfs_xattr_block_verify(const void *blk, size_t len, uint64_t blkno,
			   const struct sfs_sb_info *sbi)
{
	const struct sfs_disk_xattr_block *d = blk;
	char what[48];
	struct sfs_hdr h;
	int ret;

	ret = sfs_hdr_verify(blk, len, SFS_MAGIC_XATTR, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (!sfs_geo_ino_valid(&sbi->geo, h.owner))
		return sfs_verify_fail(-EFSCORRUPTED, "xattr block %llu: owner %llu is not an inode",
				       (unsigned long long)blkno, (unsigned long long)h.owner);
	if (sfs_le32_to_cpu(d->refcount) != 1)
		return sfs_verify_fail(-EFSCORRUPTED, "xattr block %llu: reference count %u, not 1",
				       (unsigned long long)blkno, sfs_le32_to_cpu(d->refcount));
	snprintf(what, sizeof(what), "xattr block %llu", (unsigned long long)blkno);
	return sfs_xattr_area_check((const uint8_t *)blk + SFS_XATTR_BLOCK_BODY,
				    len - SFS_XATTR_BLOCK_BODY, sfs_le32_to_cpu(d->entries), NULL, what);
}
