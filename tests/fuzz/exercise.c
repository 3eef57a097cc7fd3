/* What a user does to a mounted image (see fuzz.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/namespace/namespace.h"
#include "fuzz.h"

#define ROOT 2u
#define MAX_DIRS 64
#define MAX_NAMES 4096
#define READ_CAP (256u << 10)

struct name {
	char s[256];
	uint64_t ino;
	unsigned dtype;
};

struct listing {
	struct name *v;
	size_t n;
	int odd;              /* answers no errno explains */
};

static int collect(void *ctx, const char *name, size_t len, uint64_t ino, unsigned dtype,
		   uint64_t next)
{
	struct listing *l = ctx;

	(void)next;
	if (len == 0 || len > 255) {
		l->odd++;
		return 1;
	}
	if (l->n == MAX_NAMES)
		return 1;
	memcpy(l->v[l->n].s, name, len);
	l->v[l->n].s[len] = 0;
	l->v[l->n].ino = ino;
	l->v[l->n].dtype = dtype;
	l->n++;
	return 0;
}

static int odd_size(ssize_t got, size_t asked)
{
	return got > (ssize_t)asked;
}

/* Everything one name leads to: its attributes, data, target, xattrs. */
static int visit(struct sfs_fs *fs, uint64_t dir, const struct name *nm, char *buf)
{
	struct sfs_attr a;
	char names[4096];
	ssize_t n;
	int odd = 0;

	if (sfs_lookup(fs, dir, nm->s, 0, &a))
		return 0;
	if (S_ISREG(a.mode)) {
		for (uint64_t off = 0; off < READ_CAP; off += 65536) {
			n = sfs_read(fs, a.ino, buf, 65536, off);
			odd += odd_size(n, 65536);
			if (n <= 0)
				break;
		}
	} else if (S_ISLNK(a.mode)) {
		n = sfs_readlink(fs, a.ino, buf, 4096);
		odd += odd_size(n, 4096);
	}
	n = sfs_listxattr(fs, a.ino, names, sizeof(names));
	odd += odd_size(n, sizeof(names));
	for (ssize_t i = 0; n > 0 && i < n; i += (ssize_t)strnlen(names + i, (size_t)(n - i)) + 1) {
		ssize_t v = sfs_getxattr(fs, a.ino, names + i, buf, 65536);
		odd += odd_size(v, 65536);
	}
	return odd;
}

/* Changes that make the library allocate, free and rewrite metadata
 * around whatever is corrupt in @dir. */
static void churn(struct sfs_fs *fs, uint64_t dir, const struct listing *l, char *buf,
		  const struct sfs_cred *cr)
{
	struct sfs_attr a;

	if (!sfs_create(fs, dir, "fuzz-new", 0644, 0, cr, &a)) {
		memset(buf, 'z', 10000);
		sfs_write(fs, a.ino, buf, 10000, 4096, 0, cr);
		sfs_setxattr(fs, a.ino, "user.fuzz", buf, 500, 0);
		sfs_unlink(fs, dir, "fuzz-new");
	}
	if (!sfs_mkdir(fs, dir, "fuzz-dir", 0755, 0, cr, &a))
		sfs_rmdir(fs, dir, "fuzz-dir");
	for (size_t i = 2; i < l->n; i += 3) {
		if (l->v[i].dtype == DT_DIR)
			continue;
		if (i % 2)
			sfs_unlink(fs, dir, l->v[i].s);
		else if (!sfs_rename(fs, dir, l->v[i].s, dir, "fuzz-renamed", 0))
			sfs_rename(fs, dir, "fuzz-renamed", dir, l->v[i].s, 0);
	}
}

int fuzz_exercise(const char *path, bool verbose)
{
	struct sfs_mount_opts o;
	struct sfs_fs *fs;
	struct sfs_cred cr = { .uid = (uint32_t)getuid(), .gid = (uint32_t)getgid() };
	struct listing l = { 0 };
	uint64_t dirs[MAX_DIRS];
	size_t ndirs = 1;
	char msg[256], *buf;
	int ret, odd = 0;

	sfs_mount_opts_default(&o);
	ret = sfs_fs_mount(path, &o, &fs, msg, sizeof(msg));
	if (ret) {
		if (verbose)
			printf("  mount refused: %s (%d)\n", msg, ret);
		return ret > 0;
	}
	buf = malloc(65536);
	l.v = malloc(MAX_NAMES * sizeof(*l.v));
	dirs[0] = ROOT;
	for (size_t d = 0; d < ndirs && buf && l.v; d++) {
		l.n = 0;
		ret = sfs_readdir(fs, dirs[d], 0, collect, &l);
		odd += ret > 0;
		for (size_t i = 0; i < l.n; i++) {
			odd += visit(fs, dirs[d], &l.v[i], buf);
			if (l.v[i].dtype == DT_DIR && i >= 2 && ndirs < MAX_DIRS)
				dirs[ndirs++] = l.v[i].ino;
		}
		churn(fs, dirs[d], &l, buf, &cr);
	}
	odd += l.odd;
	ret = sfs_fs_unmount(fs);
	if (verbose)
		printf("  walked %zu directories, unmount: %d\n", ndirs, ret);
	free(buf);
	free(l.v);
	return odd + (ret > 0);
}
