/* The image every case starts from (see fuzz.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "fuzz.h"

#define ROOT 2u

static struct sfs_cred cred;

#define TRY(call, what) do { int r_ = (int)(call); if (r_ < 0) { \
	snprintf(why, whylen, "%s: %s", what, strerror(-r_)); ret = r_; goto out; } } while (0)

static int make_files(struct sfs_fs *fs, uint64_t dir, unsigned n, char *why, size_t whylen)
{
	struct sfs_attr a;
	char name[64], data[100];
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		/* Long names fill leaf blocks quickly, so the index grows. */
		snprintf(name, sizeof(name), "file-with-a-longish-name-%05u", i);
		TRY(sfs_create(fs, dir, name, 0644, 0, &cred, &a), "create");
		if (i % 7 == 0) {
			memset(data, 'a' + i % 26, sizeof(data));
			TRY(sfs_write(fs, a.ino, data, sizeof(data), 0, 0, &cred), "write small");
		}
	}
out:
	return ret;
}

/* Every other block written: one extent per block, past the inline root. */
static int make_fragmented(struct sfs_fs *fs, uint64_t ino, uint32_t bs, unsigned n,
			   char *why, size_t whylen)
{
	unsigned char blk[65536];
	int ret = 0;

	for (unsigned i = 0; i < n; i++) {
		memset(blk, (int)(i * 13 + 1), bs);
		TRY(sfs_write(fs, ino, blk, bs, (uint64_t)i * 2 * bs, 0, &cred), "write fragment");
	}
out:
	return ret;
}

int fuzz_populate(const char *path, char *why, size_t whylen)
{
	struct sfs_mount_opts o;
	struct sfs_fs *fs = NULL;
	struct sfs_attr d1, d2, d3, f, big, st;
	char big_xattr[3000], target[300];
	int ret;

	cred.uid = (uint32_t)getuid();
	cred.gid = (uint32_t)getgid();
	sfs_mount_opts_default(&o);
	ret = sfs_fs_mount(path, &o, &fs, why, whylen);
	if (ret)
		return ret;
	TRY(sfs_mkdir(fs, ROOT, "d1", 0755, 0, &cred, &d1), "mkdir d1");
	TRY(sfs_mkdir(fs, d1.ino, "sub", 0755, 0, &cred, &d2), "mkdir sub");
	TRY(sfs_mkdir(fs, d2.ino, "deeper", 0700, 0, &cred, &d3), "mkdir deeper");
	TRY(make_files(fs, d1.ino, 600, why, whylen), "files");
	TRY(make_files(fs, d3.ino, 5, why, whylen), "files");
	TRY(sfs_create(fs, ROOT, "big", 0644, 0, &cred, &big), "create big");
	TRY(sfs_fs_statfs(fs, &(struct sfs_statfs){0}), "statfs");
	TRY(sfs_getattr(fs, big.ino, &st), "getattr");
	TRY(make_fragmented(fs, big.ino, st.blksize, 300, why, whylen), "fragments");
	memset(big_xattr, 'x', sizeof(big_xattr));
	TRY(sfs_setxattr(fs, big.ino, "user.big", big_xattr, sizeof(big_xattr), 0), "xattr big");
	TRY(sfs_setxattr(fs, big.ino, "trusted.t", "v", 1, 0), "xattr trusted");
	TRY(sfs_create(fs, ROOT, "small", 0600, 0, &cred, &f), "create small");
	TRY(sfs_write(fs, f.ino, "hello", 5, 0, 0, &cred), "write small");
	TRY(sfs_setxattr(fs, f.ino, "user.a", "1234", 4, 0), "xattr inline");
	TRY(sfs_link(fs, f.ino, d2.ino, "hardlink", 0, &st), "link");
	TRY(sfs_symlink(fs, ROOT, "short", "d1/sub", 0, &cred, &st), "symlink");
	memset(target, 'l', sizeof(target) - 1);
	target[sizeof(target) - 1] = 0;
	TRY(sfs_symlink(fs, d1.ino, "long", target, 0, &cred, &st), "long symlink");
	TRY(sfs_mknod(fs, ROOT, "fifo", S_IFIFO | 0644, 0, 0, &cred, &st), "mkfifo");
	TRY(sfs_mknod(fs, ROOT, "chr", S_IFCHR | 0600, makedev(1, 3), 0, &cred, &st), "mknod");
	/* Some names gone, so leaves hold holes and free space. */
	for (unsigned i = 0; i < 600; i += 5) {
		char name[64];
		snprintf(name, sizeof(name), "file-with-a-longish-name-%05u", i);
		TRY(sfs_unlink(fs, d1.ino, name), "unlink");
	}
out:
	if (fs) {
		int r = sfs_fs_unmount(fs);
		if (!ret && r) {
			snprintf(why, whylen, "unmount: %s", strerror(-r));
			ret = r;
		}
	}
	return ret;
}
