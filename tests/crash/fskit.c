/* Image making and mounting for the filesystem workloads (fskit.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs/block/bdev.h"
#include "fs/format/geometry.h"
#include "fs/namespace/namespace.h"
#include "fs/format/mount.h"
#include "mkfs/mkfs.h"
#include "fskit.h"

int fskit_mkfs(const char *path, bool keep, char *err, size_t errlen)
{
	struct mkfs_opts o;
	struct mkfs_result res;
	struct sfs_sb_info sbi;
	struct sfs_geo geo;
	struct sfs_bdev *bdev;
	int ret;

	memset(&o, 0, sizeof(o));
	o.image = path;
	o.geo.size = FSKIT_IMAGE_BYTES;
	o.geo.journal_bytes = -1;
	o.quiet = true;
	o.keep = keep;
	if (!keep)
		unlink(path);
	ret = sfs_geo_compute(&o.geo, &geo, err, errlen);
	if (!ret)
		ret = sfs_bdev_open(path, keep ? 0 : SFS_BDEV_CREATE, NULL, &bdev);
	if (ret) {
		snprintf(err, errlen, "mkfs: %d", ret);
		return ret;
	}
	ret = mkfs_prepare(&o, &geo, &sbi);
	if (!ret && !keep)
		ret = sfs_bdev_set_size(bdev, geo.block_count << geo.block_log);
	if (!ret)
		ret = mkfs_write(&o, &sbi, bdev, &res);
	sfs_bdev_close(bdev);
	sfs_sb_info_destroy(&sbi);
	if (ret)
		snprintf(err, errlen, "mkfs: %d", ret);
	return ret;
}

int fskit_mount(const char *path, const char *bdev, uint32_t commit_ms, bool writeback,
		struct sfs_fs **fs, char *err, size_t errlen)
{
	struct sfs_mount_opts o;
	char msg[256];
	int ret;

	sfs_mount_opts_default(&o);
	/*
	 * Set directly: this field takes the block layer's own syntax.  The
	 * pread engine: the images live on tmpfs, where io_uring punts every
	 * buffered request to an io-wq worker, and a CI run once hung
	 * mounting a crash image with the one read submitted (fdinfo: SQ head
	 * = tail = 1), no completion and no io-wq worker thread at all.  The
	 * harness tests the filesystem's crash consistency, not the engine;
	 * tests/block covers io_uring.
	 */
	snprintf(o.bdev, sizeof(o.bdev), "%s%sengine=pread", bdev, *bdev ? "," : "");
	if (commit_ms)
		o.commit_ms = commit_ms;
	o.data = writeback ? SFS_DATA_WRITEBACK : SFS_DATA_ORDERED;
	ret = sfs_fs_mount(path, &o, fs, msg, sizeof(msg));
	if (ret)
		snprintf(err, errlen, "mount: %s (%d)", msg, ret);
	return ret;
}

/*
 * A check that cannot run must fail, loudly: a harness that skips fsck
 * when the tool is missing would report clean images it never looked at.
 */
int fskit_fsck(const char *path, const char *who, char *err, size_t errlen)
{
	char exe[PATH_MAX], tool[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *argv[] = { tool, "-fn", (char *)path, NULL };
	posix_spawn_file_actions_t fa;
	char *slash;
	pid_t pid;
	int status, ret;

	if (n <= 0) {
		snprintf(err, errlen, "%s: cannot run fsck: readlink /proc/self/exe: %s", who,
			 strerror(errno));
		return -1;
	}
	exe[n] = 0;
	slash = strrchr(exe, '/');
	if (!slash) {
		snprintf(err, errlen, "%s: cannot run fsck: no directory in %s", who, exe);
		return -1;
	}
	*slash = 0;
	snprintf(tool, sizeof(tool), "%s/../../tools/fsck.scopefs", exe);
	if (access(tool, X_OK)) {
		snprintf(err, errlen, "%s: cannot run fsck: %s: %s (build the tools/ target)",
			 who, tool, strerror(errno));
		return -1;
	}
	/* posix_spawn, not fork: it does not copy the page tables, which
	 * under ASan (terabytes of shadow mapping) made each fsck cost more
	 * than the check it follows. */
	ret = posix_spawn_file_actions_init(&fa);
	if (!ret)
		ret = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (!ret)
		ret = posix_spawn(&pid, tool, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		snprintf(err, errlen, "%s: cannot run fsck: posix_spawn %s: %s", who, tool,
			 strerror(ret));
		return -1;
	}
	if (waitpid(pid, &status, 0) < 0) {
		snprintf(err, errlen, "%s: cannot run fsck: waitpid: %s", who, strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		snprintf(err, errlen, "fsck -fn exits %d: run %s -fn on the kept image",
			 WIFEXITED(status) ? WEXITSTATUS(status) : -1, tool);
		return -1;
	}
	return 0;
}

static bool plan_full = true, plan_none;
static uint64_t plan_rng = 0x9e3779b97f4a7c15ull, due_points, due_fscked;

void fskit_fsck_plan(bool full, bool none, unsigned seed)
{
	plan_full = full;
	plan_none = none;
	plan_rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 17 | 1);
}

bool fskit_fsck_due(unsigned quick_every)
{
	uint64_t x = plan_rng;
	bool due;

	due_points++;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	plan_rng = x;
	due = !plan_none && (plan_full || quick_every <= 1 || x % quick_every == 0);
	due_fscked += due;
	return due;
}

void fskit_fsck_counts(uint64_t *points, uint64_t *fscked)
{
	*points = due_points;
	*fscked = due_fscked;
}

unsigned fskit_seqs(unsigned choices, unsigned len)
{
	unsigned n = 1;

	while (len--)
		n *= choices;
	return n;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct fskit_name *)a)->path, ((const struct fskit_name *)b)->path);
}

void fskit_render(struct fskit_name *v, int n, char *out, size_t len)
{
	size_t k = 0;

	qsort(v, (size_t)n, sizeof(*v), cmp_names);
	out[0] = 0;
	for (int i = 0; i < n && k < len; i++) {
		int first = i;

		for (int j = 0; j < n; j++)
			if (v[j].id == v[i].id) {
				first = j;
				break;
			}
		k += (size_t)snprintf(out + k, len - k, "%s %s =%s; ", v[i].path, v[i].desc,
				      v[first].path);
	}
}

uint64_t fskit_resolve(struct sfs_fs *fs, const char *path)
{
	char buf[64], *save = NULL;
	uint64_t cur = 2;   /* the root directory */
	struct sfs_attr a;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (sfs_lookup(fs, cur, c, 0, &a))
			return 0;
		cur = a.ino;
	}
	return cur;
}
