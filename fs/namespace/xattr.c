/*
 * The xattr calls: Linux's name rules (the VFS's xattr_resolve_name and
 * xattr_permission), its limits and errors, and the POSIX ACL format check
 * (posix_acl_from_xattr + posix_acl_valid), over the store of
 * xattr_store.c.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/namespace/xattr.h"

struct xname {
	unsigned index;
	const char *suffix;
	unsigned len;
};

static int parse_name(const char *name, struct xname *x)
{
	static const struct {
		const char *prefix;
		unsigned index;
		bool whole;
	} tab[] = {
		{ "user.", SFS_XATTR_INDEX_USER, false },
		{ "trusted.", SFS_XATTR_INDEX_TRUSTED, false },
		{ "security.", SFS_XATTR_INDEX_SECURITY, false },
		{ "system.posix_acl_access", SFS_XATTR_INDEX_ACL_ACCESS, true },
		{ "system.posix_acl_default", SFS_XATTR_INDEX_ACL_DEFAULT, true },
	};
	size_t n = strnlen(name, SFS_NAME_MAX + 1);

	/* The kernel copies at most 255 bytes of a name: "" or more is ERANGE. */
	if (!n || n > SFS_NAME_MAX)
		return -ERANGE;
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t pl = strlen(tab[i].prefix);

		if (strncmp(name, tab[i].prefix, pl))
			continue;
		if (tab[i].whole && name[pl])
			continue;   /* "system.posix_acl_accessX" is no ACL */
		if (!tab[i].whole && !name[pl])
			return -EINVAL;   /* a prefix with no name */
		x->index = tab[i].index;
		x->suffix = name + pl;
		x->len = (unsigned)(n - pl);
		return 0;
	}
	return -EOPNOTSUPP;
}

/* The kernel's POSIX ACL xattr: version 2, then (tag, perm, id) entries in
 * the order posix_acl_valid demands: the owner, named users by increasing
 * id, the owning group, named groups by increasing id, the mask (required
 * with named entries), others.  Returns the entry count or -EINVAL. */
static int acl_check(const void *value, size_t size)
{
	enum { USER_OBJ = 0x01, USER = 0x02, GROUP_OBJ = 0x04, GROUP = 0x08, MASK = 0x10,
	       OTHER = 0x20, DONE = 0 };
	const uint8_t *p = value;
	unsigned state = USER_OBJ, n;
	bool named = false, have_prev = false;
	uint32_t prev = 0;

	if (size < 4 || (size - 4) % 8 || sfs_get_le(p, 4) != 2)
		return -EINVAL;
	n = (unsigned)((size - 4) / 8);
	for (unsigned i = 0; i < n; i++) {
		unsigned tag = (unsigned)sfs_get_le(p + 4 + 8 * i, 2);
		unsigned perm = (unsigned)sfs_get_le(p + 6 + 8 * i, 2);
		uint32_t id = (uint32_t)sfs_get_le(p + 8 + 8 * i, 4);

		if (perm & ~7u)
			return -EINVAL;
		switch (tag) {
		case USER_OBJ:
			if (state != USER_OBJ)
				return -EINVAL;
			state = USER;
			break;
		case USER:
		case GROUP:
			if (state != tag || (have_prev && id <= prev))
				return -EINVAL;
			named = have_prev = true;
			prev = id;
			break;
		case GROUP_OBJ:
			if (state != USER)
				return -EINVAL;
			state = GROUP;
			have_prev = false;
			break;
		case MASK:
			if (state != GROUP)
				return -EINVAL;
			state = OTHER;
			break;
		case OTHER:
			if (state != OTHER && (state != GROUP || named))
				return -EINVAL;
			state = DONE;
			break;
		default:
			return -EINVAL;
		}
	}
	return n && state != DONE ? -EINVAL : (int)n;
}

static int get_inode(struct sfs_fs *fs, uint64_t ino, bool write, struct sfs_inode_info **ip)
{
	int ret = write ? sfs_fs_writable(fs) : sfs_fs_readable(fs);

	return ret ? ret : sfs_iget(fs, ino, ip);
}

int sfs_setxattr(struct sfs_fs *fs, uint64_t ino, const char *name, const void *value,
		 size_t size, unsigned flags)
{
	struct sfs_xattr_set set = { 0 };
	struct sfs_inode_info *ip = NULL;
	struct sfs_xattr_rec r;
	struct sfs_trans t;
	struct xname x;
	bool remove = false;
	int ret, ret2, i;

	mc_op_begin();
	ret = parse_name(name, &x);
	if (!ret && (flags & ~(SFS_XATTR_CREATE | SFS_XATTR_REPLACE)))
		ret = -EINVAL;
	if (!ret && size > SFS_XATTR_SIZE_MAX)
		ret = -E2BIG;
	if (!ret && x.index >= SFS_XATTR_INDEX_ACL_ACCESS) {
		int n = acl_check(value, size);

		if (size == 0)
			n = 0;   /* no value: the ACL goes */
		if (n < 0)
			ret = n;
		remove = n == 0;
	}
	if (!ret)
		ret = get_inode(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	if (x.index == SFS_XATTR_INDEX_USER && !S_ISREG(ip->d.mode) && !S_ISDIR(ip->d.mode))
		ret = -EPERM;   /* user.* only on files and directories, as the VFS */
	else if (x.index == SFS_XATTR_INDEX_ACL_DEFAULT && !remove && !S_ISDIR(ip->d.mode))
		ret = -EACCES;
	else if (ip->d.flags & (SFS_INODE_FL_IMMUTABLE | SFS_INODE_FL_APPEND))
		ret = -EPERM;
	if (!ret)
		ret = sfs_xattr_load(ip, &set);
	if (ret)
		goto out;
	i = sfs_xattr_find(&set, x.index, x.suffix, x.len);
	if (remove) {
		if (i < 0)
			goto out;   /* removing an absent ACL is no error */
		sfs_xattr_set_del(&set, (unsigned)i);
	} else {
		if (i >= 0 && (flags & SFS_XATTR_CREATE)) {
			ret = -EEXIST;
			goto out;
		}
		if (i < 0 && (flags & SFS_XATTR_REPLACE)) {
			ret = -ENODATA;
			goto out;
		}
		r = (struct sfs_xattr_rec){ .index = x.index, .name = x.suffix, .name_len = x.len,
					    .value = value, .value_len = (unsigned)size };
		ret = sfs_xattr_set_put(&set, &r);
		if (ret)
			goto out;
	}
	ret = sfs_trans_start(fs, SFS_XATTR_STORE_CREDITS + 1, 0, &t);
	if (ret)
		goto out;
	ret = sfs_xattr_store(&t, ip, &set);
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
out:
	sfs_xattr_set_free(&set);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

ssize_t sfs_getxattr(struct sfs_fs *fs, uint64_t ino, const char *name, void *buf, size_t size)
{
	struct sfs_xattr_set set;
	struct sfs_inode_info *ip;
	struct xname x;
	ssize_t ret;
	int i;

	mc_op_begin();
	ret = parse_name(name, &x);
	if (!ret)
		ret = get_inode(fs, ino, false, &ip);
	if (ret)
		goto out_op;
	mc_read_lock(&ip->rwsem);
	ret = sfs_xattr_load(ip, &set);
	if (ret)
		goto out;
	i = sfs_xattr_find(&set, x.index, x.suffix, x.len);
	if (i < 0) {
		ret = i;
	} else {
		ret = set.v[i].value_len;
		if (size && (size_t)ret > size)
			ret = -ERANGE;
		else if (size)
			memcpy(buf, set.v[i].value, set.v[i].value_len);
	}
	sfs_xattr_set_free(&set);
out:
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

ssize_t sfs_listxattr(struct sfs_fs *fs, uint64_t ino, char *buf, size_t size)
{
	struct sfs_xattr_set set;
	struct sfs_inode_info *ip;
	size_t need = 0;
	ssize_t ret;

	mc_op_begin();
	ret = get_inode(fs, ino, false, &ip);
	if (ret)
		goto out_op;
	mc_read_lock(&ip->rwsem);
	ret = sfs_xattr_load(ip, &set);
	if (ret)
		goto out;
	for (unsigned i = 0; i < set.n; i++)
		need += strlen(sfs_xattr_prefix(set.v[i].index)) + set.v[i].name_len + 1;
	if (need > SFS_XATTR_SIZE_MAX)
		ret = -E2BIG;
	else if (size && need > size)
		ret = -ERANGE;
	else
		ret = (ssize_t)need;
	if (ret > 0 && size) {
		char *p = buf;

		for (unsigned i = 0; i < set.n; i++) {
			const char *pre = sfs_xattr_prefix(set.v[i].index);
			size_t pl = strlen(pre);

			memcpy(p, pre, pl);
			memcpy(p + pl, set.v[i].name, set.v[i].name_len);
			p[pl + set.v[i].name_len] = 0;
			p += pl + set.v[i].name_len + 1;
		}
	}
	sfs_xattr_set_free(&set);
out:
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}

int sfs_removexattr(struct sfs_fs *fs, uint64_t ino, const char *name)
{
	struct sfs_xattr_set set = { 0 };
	struct sfs_inode_info *ip;
	struct sfs_trans t;
	struct xname x;
	int ret, ret2, i;

	mc_op_begin();
	ret = parse_name(name, &x);
	if (!ret)
		ret = get_inode(fs, ino, true, &ip);
	if (ret)
		goto out_op;
	mc_write_lock(&ip->rwsem);
	if (x.index == SFS_XATTR_INDEX_USER && !S_ISREG(ip->d.mode) && !S_ISDIR(ip->d.mode))
		ret = -EPERM;
	else if (ip->d.flags & (SFS_INODE_FL_IMMUTABLE | SFS_INODE_FL_APPEND))
		ret = -EPERM;
	if (!ret)
		ret = sfs_xattr_load(ip, &set);
	if (ret)
		goto out;
	i = sfs_xattr_find(&set, x.index, x.suffix, x.len);
	if (i < 0) {
		ret = i;
		goto out;
	}
	sfs_xattr_set_del(&set, (unsigned)i);
	ret = sfs_trans_start(fs, SFS_XATTR_STORE_CREDITS + 1, 0, &t);
	if (ret)
		goto out;
	ret = sfs_xattr_store(&t, ip, &set);
	ret2 = sfs_trans_stop(&t);
	if (!ret)
		ret = ret2;
out:
	sfs_xattr_set_free(&set);
	mc_rw_unlock(&ip->rwsem);
	sfs_iput(ip);
out_op:
	mc_op_end();
	return ret;
}
