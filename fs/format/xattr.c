/* Reserved block types: external xattr and directory index blocks. */
#include <errno.h>
#include <string.h>

#include "fs/format/hdr.h"
#include "fs/format/mount.h"
#include "fs/format/ondisk.h"
#include "fs/format/verify.h"
#include "fs/format/xattr.h"

void sfs_xattr_block_init(void *blk, const struct sfs_sb_info *sbi, uint64_t blkno,
			  uint64_t owner)
{
	struct sfs_disk_xattr_block *d = blk;

	memset(blk, 0, sbi->geo.block_size);
	sfs_hdr_init(blk, SFS_MAGIC_XATTR, blkno, owner, sbi);
	d->refcount = sfs_cpu_to_le32(1);
}

static int owned_block_verify(const void *blk, size_t len, uint64_t blkno,
			      const struct sfs_sb_info *sbi, uint32_t magic, const char *what)
{
	struct sfs_hdr h;
	int ret;

	ret = sfs_hdr_verify(blk, len, magic, blkno, sbi);
	if (ret)
		return ret;
	sfs_hdr_decode(&h, blk);
	if (!sfs_geo_ino_valid(&sbi->geo, h.owner))
		return sfs_verify_fail(-EFSCORRUPTED, "%s %llu: owner %llu is not an inode", what,
				       (unsigned long long)blkno, (unsigned long long)h.owner);
	return 0;
}

int sfs_xattr_block_verify(const void *blk, size_t len, uint64_t blkno,
			   const struct sfs_sb_info *sbi)
{
	const struct sfs_disk_xattr_block *d = blk;
	int ret = owned_block_verify(blk, len, blkno, sbi, SFS_MAGIC_XATTR, "xattr block");

	if (ret)
		return ret;
	if (!sfs_le32_to_cpu(d->refcount))
		return sfs_verify_fail(-EFSCORRUPTED, "xattr block %llu: reference count 0",
				       (unsigned long long)blkno);
	return 0;
}

int sfs_dirindex_block_verify(const void *blk, size_t len, uint64_t blkno,
			      const struct sfs_sb_info *sbi)
{
	return owned_block_verify(blk, len, blkno, sbi, SFS_MAGIC_DIRINDEX,
				  "directory index block");
}
