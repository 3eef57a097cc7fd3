/*
 * Inodes through the public API: creation and reuse, attributes and the
 * Linux mode rules, link counts, data written and read back, the inode
 * cache under its cap, and a clean fsck after each test.
 */
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "helpers.h"

const char *fsck_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	scratch_path(e->path, sizeof(e->path), "inode");
	make_image(e->path, 12, 16 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->fs)
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	assert_fsck_clean(e->path);
	unlink(e->path);
	free(e);
	return 0;
}

static void remount(struct env *e)
{
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	assert_fsck_clean(e->path);
	e->fs = mount_opts(e->path, NULL);
}

/* For tests of inodes without names (sfs_inode_create, link counts that
 * no directory matches): fsck would rightly call them unattached, so it
 * runs at the end, once they are gone. */
static void remount_unnamed(struct env *e)
{
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, NULL);
}

static void test_create_sets_owner_mode_times_and_links(void **state)
{
	struct env *e = *state;
	struct sfs_cred cr = { .uid = 1000, .gid = 100 };
	struct sfs_attr a, b;
	uint64_t c, d;

	assert_int_equal(sfs_inode_create(e->fs, 2, S_IFREG | 0640, 0, &cr, &a), 0);
	assert_true(a.ino >= 11);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 100);
	assert_int_equal(a.nlink, 1);
	assert_int_equal(a.size, 0);
	assert_int_equal(a.blocks, 0);
	assert_true(a.btime.tv_sec > 0);
	assert_int_equal(sfs_inode_create(e->fs, 2, S_IFDIR | 0755, 0, &cr, &b), 0);
	assert_int_equal(b.nlink, 2);
	d = b.ino;
	assert_int_equal(sfs_inode_create(e->fs, 2, S_IFCHR | 0600, makedev(4, 5), &cr, &b), 0);
	assert_int_equal(major(b.rdev), 4);
	assert_int_equal(minor(b.rdev), 5);
	c = b.ino;
	remount_unnamed(e);
	assert_int_equal(sfs_getattr(e->fs, a.ino, &b), 0);
	assert_int_equal(b.mode, S_IFREG | 0640);
	assert_int_equal(b.generation, a.generation);
	assert_int_equal(b.btime.tv_nsec, a.btime.tv_nsec);
	/* Nothing names them: the last link frees each. */
	assert_int_equal(sfs_inode_unlink(e->fs, a.ino), 0);
	assert_int_equal(sfs_inode_unlink(e->fs, d), 0);   /* a directory's both links */
	assert_int_equal(sfs_inode_unlink(e->fs, c), 0);
	assert_int_equal(sfs_getattr(e->fs, d, &b), -ENOENT);
}

static void test_inode_reuse_bumps_generation(void **state)
{
	struct env *e = *state;
	struct sfs_attr a, b;
	uint64_t ino = new_file(e->fs);

	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(unlink_file(e->fs, ino), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &b), -ENOENT);
	/* The lowest free inode is taken again: the same number. */
	assert_int_equal(new_file(e->fs), ino);
	assert_int_equal(sfs_getattr(e->fs, ino, &b), 0);
	assert_int_equal(b.generation, a.generation + 1);
	remount(e);
	assert_int_equal(sfs_getattr(e->fs, ino, &b), 0);
	assert_int_equal(b.generation, a.generation + 1);
}

static void test_unlinked_inode_lives_while_held(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	char buf[100] = "held";
	struct sfs_attr a;

	assert_int_equal(sfs_write(e->fs, ino, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	assert_int_equal(sfs_inode_hold(e->fs, ino), 0);
	assert_int_equal(unlink_file(e->fs, ino), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.nlink, 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sfs_read(e->fs, ino, buf, sizeof(buf), 0), sizeof(buf));
	assert_string_equal(buf, "held");
	assert_int_equal(sfs_inode_release(e->fs, ino), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), -ENOENT);
}

static void test_setattr_times_size_and_ctime(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	struct sfs_setattr sa = { .valid = SFS_SET_ATIME | SFS_SET_MTIME,
				  .atime = { 1000, 123456789 }, .mtime = { 2000, 987654321 } };
	struct sfs_attr a;

	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	assert_int_equal(a.atime.tv_sec, 1000);
	assert_int_equal(a.atime.tv_nsec, 123456789);
	assert_int_equal(a.mtime.tv_sec, 2000);
	assert_int_equal(a.mtime.tv_nsec, 987654321);
	assert_true(a.ctime.tv_sec > 2000);
	sa = (struct sfs_setattr){ .valid = SFS_SET_SIZE, .size = 1 << 20 };
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	assert_int_equal(a.size, 1 << 20);
	assert_int_equal(a.blocks, 0);   /* a hole */
	remount(e);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.mtime.tv_nsec != 987654321, 1);   /* the size change moved it */
	assert_int_equal(a.atime.tv_nsec, 123456789);
	assert_int_equal(a.size, 1 << 20);
}

static void test_chown_clears_suid_and_group_exec_sgid(void **state)
{
	struct env *e = *state;
	struct sfs_cred user = { .uid = 1000, .gid = 100 };
	struct sfs_setattr sa = { .valid = SFS_SET_MODE, .mode = 06755 };
	struct sfs_attr a;
	uint64_t ino = new_file(e->fs);

	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	assert_int_equal(a.mode & 07777, 06755);
	sa = (struct sfs_setattr){ .valid = SFS_SET_UID | SFS_SET_GID, .uid = 7, .gid = 8 };
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, &user, &a), 0);
	assert_int_equal(a.mode & 07777, 0755);
	assert_int_equal(a.uid, 7);
	/* Without group-execute S_ISGID means mandatory locking: kept. */
	sa = (struct sfs_setattr){ .valid = SFS_SET_MODE, .mode = 06745 };
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	sa = (struct sfs_setattr){ .valid = SFS_SET_UID, .uid = 9 };
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, &user, &a), 0);
	assert_int_equal(a.mode & 07777, 02745);
}

static void test_chmod_outside_group_drops_sgid(void **state)
{
	struct env *e = *state;
	struct sfs_cred outsider = { .uid = 1000, .gid = 100 }, member = { .uid = 1000, .gid = 5 };
	struct sfs_setattr sa = { .valid = SFS_SET_GID, .gid = 5 };
	struct sfs_attr a;
	uint64_t ino = new_file(e->fs);

	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	sa = (struct sfs_setattr){ .valid = SFS_SET_MODE, .mode = 02775 };
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, &outsider, &a), 0);
	assert_int_equal(a.mode & 07777, 0775);
	assert_int_equal(sfs_setattr(e->fs, ino, &sa, &member, &a), 0);
	assert_int_equal(a.mode & 07777, 02775);
}

static void test_write_kills_privileges_unless_privileged(void **state)
{
	struct env *e = *state;
	struct sfs_cred user = { .uid = 1000, .gid = 100 }, root = { .privileged = true };
	struct sfs_setattr sa = { .valid = SFS_SET_MODE, .mode = 06775 };
	struct sfs_attr a;
	uint64_t ino = new_file(e->fs);

	assert_int_equal(sfs_setattr(e->fs, ino, &sa, NULL, &a), 0);
	assert_int_equal(sfs_write(e->fs, ino, "x", 1, 0, SFS_WRITE_KILL_PRIV, &root), 1);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.mode & 07777, 06775);
	assert_int_equal(sfs_write(e->fs, ino, "x", 1, 0, SFS_WRITE_KILL_PRIV, &user), 1);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.mode & 07777, 0775);
	/* setattr's kill bit (FUSE's ATTR_KILL_SUIDGID) does the same. */
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_MODE,
				     .mode = 04755 }, NULL, &a), 0);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_KILL_PRIV },
				     &user, &a), 0);
	assert_int_equal(a.mode & 07777, 0755);
}

static void test_sgid_directory_passes_its_group_on(void **state)
{
	struct env *e = *state;
	struct sfs_cred cr = { .uid = 1000, .gid = 100 };
	struct sfs_attr d, f, sub;

	assert_int_equal(sfs_mkdir(e->fs, 2, "sgid", 02775, 0, &cr, &d), 0);
	assert_int_equal(sfs_setattr(e->fs, d.ino, &(struct sfs_setattr){ .valid = SFS_SET_GID,
				     .gid = 55 }, NULL, &d), 0);
	assert_int_equal(sfs_setattr(e->fs, d.ino, &(struct sfs_setattr){ .valid = SFS_SET_MODE,
				     .mode = 02775 }, NULL, &d), 0);
	assert_int_equal(sfs_create(e->fs, d.ino, "f", 0644, 0, &cr, &f), 0);
	assert_int_equal(f.gid, 55);
	assert_int_equal(sfs_mkdir(e->fs, d.ino, "sub", 0755, 0, &cr, &sub), 0);
	assert_int_equal(sub.gid, 55);
	assert_true(sub.mode & S_ISGID);
}

static void test_link_counts(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	struct sfs_attr a;

	assert_int_equal(sfs_inode_link(e->fs, ino), 0);
	assert_int_equal(sfs_inode_link(e->fs, ino), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.nlink, 3);
	assert_int_equal(sfs_inode_unlink(e->fs, ino), 0);
	remount_unnamed(e);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.nlink, 2);
	assert_int_equal(sfs_inode_unlink(e->fs, ino), 0);
	/* The last link is the name's. */
	assert_int_equal(unlink_file(e->fs, ino), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), -ENOENT);
	assert_int_equal(sfs_inode_unlink(e->fs, ino), -ENOENT);
}

static void test_immutable_refuses_changes(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	struct sfs_attr a;

	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_FLAGS,
				     .flags = 0x10 }, NULL, &a), 0);
	assert_int_equal(a.flags, 0x10);
	assert_int_equal(sfs_write(e->fs, ino, "x", 1, 0, 0, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_MODE,
				     .mode = 0600 }, NULL, &a), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_FLAGS },
				     NULL, &a), 0);
	assert_int_equal(sfs_write(e->fs, ino, "x", 1, 0, 0, NULL), 1);
}

/* Append-only (Linux's may_setattr and vfs_truncate): no chmod, chown,
 * chgrp, explicit times or size change, even privileged; times set to now
 * and a write's privilege kill pass; clearing the flag lifts it all. */
static void test_append_only_refuses_owner_mode_times_and_size(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	const struct timespec past = { .tv_sec = 1000 };
	struct sfs_attr a, b;

	assert_int_equal(sfs_write(e->fs, ino, "data", 4, 0, 0, NULL), 4);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_MODE,
				     .mode = 06755 }, NULL, NULL), 0);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_FLAGS,
				     .flags = SFS_INODE_FL_APPEND }, NULL, &a), 0);
	assert_int_equal(a.flags, SFS_INODE_FL_APPEND);

	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_MODE,
				     .mode = 0600 }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_UID,
				     .uid = 1000 }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_GID,
				     .gid = 1000 }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_ATIME,
				     .atime = past }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_MTIME,
				     .mtime = past }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 0 }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 8192 }, NULL, NULL), -EPERM);
	assert_int_equal(sfs_getattr(e->fs, ino, &b), 0);
	assert_int_equal(b.mode & 07777, 06755);
	assert_int_equal(b.uid, a.uid);
	assert_int_equal(b.gid, a.gid);
	assert_int_equal(b.size, 4);
	assert_int_equal(b.mtime.tv_sec, a.mtime.tv_sec);

	/* touch (times to now) and a write's kill of suid/sgid are allowed */
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){
				     .valid = SFS_SET_ATIME_NOW | SFS_SET_MTIME_NOW }, NULL, NULL), 0);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){
				     .valid = SFS_SET_KILL_PRIV }, &(struct sfs_cred){ .uid = 1 },
				     &b), 0);
	assert_int_equal(b.mode & 07777, 0755);

	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_FLAGS },
				     NULL, NULL), 0);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){
				     .valid = SFS_SET_MODE | SFS_SET_UID | SFS_SET_SIZE, .mode = 0600,
				     .uid = 1000, .size = 0 }, NULL, &b), 0);
	assert_int_equal(b.mode & 07777, 0600);
	assert_int_equal(b.uid, 1000);
	assert_int_equal(b.size, 0);
}

/* Data at every alignment: what was written reads back, holes read zero. */
static void test_write_read_every_alignment(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	size_t max = 5 * 4096 + 100;
	uint8_t *model = calloc(1, 64 * 4096), *buf = malloc(64 * 4096), *src = malloc(max);
	uint64_t size = 0;
	unsigned seed = 7;

	for (int i = 0; i < 60; i++) {
		uint64_t off = (uint64_t)rand_r(&seed) % (40 * 4096);
		size_t len = 1 + (size_t)rand_r(&seed) % max;

		for (size_t k = 0; k < len; k++)
			src[k] = (uint8_t)rand_r(&seed);
		assert_int_equal(sfs_write(e->fs, ino, src, len, off, 0, NULL), (ssize_t)len);
		memcpy(model + off, src, len);
		if (off + len > size)
			size = off + len;
		if (i % 20 == 19)
			remount(e);
		assert_int_equal(sfs_read(e->fs, ino, buf, 64 * 4096, 0), (ssize_t)size);
		assert_memory_equal(buf, model, size);
	}
	free(model);
	free(buf);
	free(src);
}

static void test_truncate_zeroes_the_tail_and_frees_blocks(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	uint8_t buf[3 * 4096], zero[4096] = { 0 };
	struct sfs_attr a;

	memset(buf, 0xab, sizeof(buf));
	assert_int_equal(sfs_write(e->fs, ino, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 100 }, NULL, &a), 0);
	assert_int_equal(a.blocks, 8);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 8192 }, NULL, &a), 0);
	assert_int_equal(sfs_read(e->fs, ino, buf, sizeof(buf), 0), 8192);
	assert_memory_equal(buf + 100, zero, 4096 - 100);
	assert_memory_equal(buf + 4096, zero, 4096);
	assert_int_equal(buf[99], 0xab);
}

static void test_inode_cache_cap_keeps_working(void **state)
{
	struct env *e = *state;
	uint64_t inos[300];
	struct sfs_attr a;

	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, "icache=16");
	for (int i = 0; i < 300; i++)
		inos[i] = new_file(e->fs);
	for (int i = 0; i < 300; i++) {
		assert_int_equal(sfs_write(e->fs, inos[i], &i, sizeof(i), 0, 0, NULL), sizeof(i));
		assert_int_equal(sfs_getattr(e->fs, inos[i], &a), 0);
		assert_int_equal(a.size, sizeof(i));
	}
	for (int i = 0; i < 300; i++) {
		int v = -1;

		assert_int_equal(sfs_read(e->fs, inos[i], &v, sizeof(v), 0), sizeof(v));
		assert_int_equal(v, i);
	}
}

static void test_fallocate_reads_zero_then_written_data(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	uint8_t buf[4 * 4096], zero[4 * 4096] = { 0 };
	struct sfs_map m[8];
	unsigned n;
	struct sfs_attr a;

	assert_int_equal(sfs_fallocate(e->fs, ino, 0, 0, sizeof(buf), NULL), 0);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.size, sizeof(buf));
	assert_int_equal(a.blocks, 32);
	assert_int_equal(sfs_read(e->fs, ino, buf, sizeof(buf), 0), sizeof(buf));
	assert_memory_equal(buf, zero, sizeof(buf));
	assert_int_equal(sfs_write(e->fs, ino, "hello", 5, 4096 + 10, 0, NULL), 5);
	assert_int_equal(sfs_read(e->fs, ino, buf, sizeof(buf), 0), sizeof(buf));
	assert_memory_equal(buf + 4096 + 10, "hello", 5);
	assert_memory_equal(buf, zero, 4096 + 10);
	assert_memory_equal(buf + 4096 + 15, zero, sizeof(buf) - 4096 - 15);
	assert_int_equal(sfs_extent_map(e->fs, ino, 0, 100, m, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(m[0].flags, SFS_MAP_UNWRITTEN);
	assert_int_equal(m[1].flags, 0);
	assert_int_equal(m[1].lblk, 1);
	assert_int_equal(m[1].len, 1);
	assert_int_equal(m[2].flags, SFS_MAP_UNWRITTEN);
}

static void test_read_only_mount_reads_and_refuses_changes(void **state)
{
	struct env *e = *state;
	uint64_t ino = new_file(e->fs);
	char buf[8] = { 0 };
	struct sfs_attr a;

	assert_int_equal(sfs_write(e->fs, ino, "ro-data", 7, 0, 0, NULL), 7);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, "ro");
	assert_int_equal(sfs_read(e->fs, ino, buf, 7, 0), 7);
	assert_string_equal(buf, "ro-data");
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(sfs_write(e->fs, ino, "x", 1, 0, 0, NULL), -EROFS);
	assert_int_equal(sfs_inode_create(e->fs, 2, S_IFREG | 0644, 0, NULL, &a), -EROFS);
	assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE },
				     NULL, &a), -EROFS);
	assert_int_equal(sfs_inode_unlink(e->fs, ino), -EROFS);
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, NULL);
	assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
	assert_int_equal(a.nlink, 1);
}

static void test_inodes_run_out_with_enospc_and_come_back(void **state)
{
	struct env *e = *state;
	struct sfs_statfs st;
	uint64_t start, *inos;
	unsigned n = 0;
	struct sfs_attr a;
	int ret;

	assert_int_equal(sfs_fs_statfs(e->fs, &st), 0);
	start = st.ffree;
	inos = calloc(start + 1, sizeof(*inos));
	while ((ret = sfs_inode_create(e->fs, 2, S_IFREG | 0600, 0, NULL, &a)) == 0)
		inos[n++] = a.ino;
	assert_int_equal(ret, -ENOSPC);
	assert_int_equal(n, start);
	assert_int_equal(sfs_fs_statfs(e->fs, &st), 0);
	assert_int_equal(st.ffree, 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(sfs_inode_unlink(e->fs, inos[i]), 0);
	assert_int_equal(sfs_fs_statfs(e->fs, &st), 0);
	assert_int_equal(st.ffree, start);
	free(inos);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_create_sets_owner_mode_times_and_links),
		T(test_inode_reuse_bumps_generation),
		T(test_unlinked_inode_lives_while_held),
		T(test_setattr_times_size_and_ctime),
		T(test_chown_clears_suid_and_group_exec_sgid),
		T(test_chmod_outside_group_drops_sgid),
		T(test_write_kills_privileges_unless_privileged),
		T(test_sgid_directory_passes_its_group_on),
		T(test_link_counts),
		T(test_immutable_refuses_changes),
		T(test_append_only_refuses_owner_mode_times_and_size),
		T(test_write_read_every_alignment),
		T(test_truncate_zeroes_the_tail_and_frees_blocks),
		T(test_inode_cache_cap_keeps_working),
		T(test_fallocate_reads_zero_then_written_data),
		T(test_read_only_mount_reads_and_refuses_changes),
		T(test_inodes_run_out_with_enospc_and_come_back),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
