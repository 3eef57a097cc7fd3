/* Field tables (see fields.h). */
#include <string.h>

#include "fs/format/fields.h"
#include "fs/format/ondisk.h"

#define F(type, field, kind) \
	{ #field, offsetof(type, field), sizeof(((type *)0)->field), kind }
#define FH(type, field, kind) \
	{ "hdr." #field, offsetof(type, hdr.field), sizeof(((type *)0)->hdr.field), kind }

#define HDR_FIELDS(type)                                                       \
	FH(type, magic, SFS_FK_MAGIC), FH(type, version, SFS_FK_UINT),         \
	FH(type, csum, SFS_FK_HEX), FH(type, blkno, SFS_FK_UINT),              \
	FH(type, owner, SFS_FK_UINT), FH(type, uuid, SFS_FK_UUID),             \
	FH(type, lsn, SFS_FK_UINT)

struct hdr_wrap { struct sfs_disk_hdr hdr; };

const struct sfs_field sfs_hdr_fields[] = {
	HDR_FIELDS(struct hdr_wrap),
	{ NULL, 0, 0, 0 }
};

#define S(f, k) F(struct sfs_disk_super, f, k)
const struct sfs_field sfs_super_fields[] = {
	HDR_FIELDS(struct sfs_disk_super),
	S(rev_level, SFS_FK_UINT), S(block_log, SFS_FK_UINT), S(block_count, SFS_FK_UINT),
	S(free_blocks, SFS_FK_UINT), S(inode_count, SFS_FK_UINT), S(free_inodes, SFS_FK_UINT),
	S(reserved_blocks, SFS_FK_UINT), S(first_data_block, SFS_FK_UINT),
	S(journal_start, SFS_FK_UINT), S(journal_blocks, SFS_FK_UINT),
	S(backup_gdt_start, SFS_FK_UINT), S(backup_sb_block, SFS_FK_UINT),
	S(root_ino, SFS_FK_UINT), S(first_ino, SFS_FK_UINT), S(orphan_head, SFS_FK_UINT),
	S(csum_seed, SFS_FK_HEX), S(blocks_per_group, SFS_FK_UINT),
	S(inodes_per_group, SFS_FK_UINT), S(group_count, SFS_FK_UINT),
	S(gdt_blocks, SFS_FK_UINT), S(itable_blocks, SFS_FK_UINT), S(inode_size, SFS_FK_UINT),
	S(desc_size, SFS_FK_UINT), S(feature_compat, SFS_FK_HEX),
	S(feature_ro_compat, SFS_FK_HEX), S(feature_incompat, SFS_FK_HEX),
	S(state, SFS_FK_HEX), S(errors, SFS_FK_UINT), S(mount_count, SFS_FK_UINT),
	S(max_mount_count, SFS_FK_UINT), S(mkfs_time, SFS_FK_TIME), S(mount_time, SFS_FK_TIME),
	S(write_time, SFS_FK_TIME), S(check_time, SFS_FK_TIME), S(error_count, SFS_FK_UINT),
	S(first_error_errno, SFS_FK_UINT), S(first_error_time, SFS_FK_TIME),
	S(first_error_ino, SFS_FK_UINT), S(first_error_block, SFS_FK_UINT),
	S(first_error_func, SFS_FK_STR), S(last_error_errno, SFS_FK_UINT),
	S(last_error_time, SFS_FK_TIME), S(last_error_ino, SFS_FK_UINT),
	S(last_error_block, SFS_FK_UINT), S(last_error_func, SFS_FK_STR),
	S(label, SFS_FK_STR), S(last_mounted, SFS_FK_STR),
	{ NULL, 0, 0, 0 }
};

#define G(f, k) F(struct sfs_disk_gd, f, k)
const struct sfs_field sfs_gd_fields[] = {
	G(block_bitmap, SFS_FK_UINT), G(inode_bitmap, SFS_FK_UINT), G(inode_table, SFS_FK_UINT),
	G(free_blocks, SFS_FK_UINT), G(free_inodes, SFS_FK_UINT), G(used_dirs, SFS_FK_UINT),
	G(itable_unused, SFS_FK_UINT), G(largest_free, SFS_FK_UINT), G(free_runs, SFS_FK_UINT),
	G(flags, SFS_FK_HEX),
	{ NULL, 0, 0, 0 }
};

#define I(f, k) F(struct sfs_disk_inode, f, k)
const struct sfs_field sfs_inode_fields[] = {
	I(magic, SFS_FK_MAGIC), I(mode, SFS_FK_OCTAL), I(core_size, SFS_FK_UINT),
	I(csum, SFS_FK_HEX), I(ino, SFS_FK_UINT), I(generation, SFS_FK_UINT),
	I(flags, SFS_FK_HEX), I(uid, SFS_FK_UINT), I(gid, SFS_FK_UINT), I(nlink, SFS_FK_UINT),
	I(inline_xattr_len, SFS_FK_UINT), I(size, SFS_FK_UINT), I(blocks, SFS_FK_UINT),
	I(atime_sec, SFS_FK_TIME), I(mtime_sec, SFS_FK_TIME), I(ctime_sec, SFS_FK_TIME),
	I(btime_sec, SFS_FK_TIME), I(atime_nsec, SFS_FK_UINT), I(mtime_nsec, SFS_FK_UINT),
	I(ctime_nsec, SFS_FK_UINT), I(btime_nsec, SFS_FK_UINT), I(rdev_major, SFS_FK_UINT),
	I(rdev_minor, SFS_FK_UINT), I(xattr_block, SFS_FK_UINT), I(orphan_next, SFS_FK_UINT),
	I(version, SFS_FK_UINT),
	{ NULL, 0, 0, 0 }
};

#define J(f, k) F(struct sfs_disk_jsb, f, k)
const struct sfs_field sfs_jsb_fields[] = {
	HDR_FIELDS(struct sfs_disk_jsb),
	J(block_log, SFS_FK_UINT), J(jfeatures, SFS_FK_HEX), J(maxlen, SFS_FK_UINT),
	J(first, SFS_FK_UINT), J(sequence, SFS_FK_UINT), J(start, SFS_FK_UINT),
	J(errno_, SFS_FK_UINT),
	{ NULL, 0, 0, 0 }
};

#define X(f, k) F(struct sfs_disk_extent_hdr, f, k)
const struct sfs_field sfs_extent_hdr_fields[] = {
	X(magic, SFS_FK_HEX), X(entries, SFS_FK_UINT), X(max, SFS_FK_UINT),
	X(depth, SFS_FK_UINT), X(generation, SFS_FK_UINT),
	{ NULL, 0, 0, 0 }
};

const struct sfs_field *sfs_field_find(const struct sfs_field *tab, const char *name)
{
	for (; tab->name; tab++) {
		/* "magic" finds "hdr.magic" too: the prefix is noise for users. */
		if (!strcmp(tab->name, name) ||
		    (!strncmp(tab->name, "hdr.", 4) && !strcmp(tab->name + 4, name)))
			return tab;
	}
	return NULL;
}
