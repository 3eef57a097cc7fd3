/*
 * Power cuts through the library: a fixed mixed workload (create, write,
 * fallocate, remove range, truncate, unlink, with commits between) runs on
 * a device that silently drops every write after its Nth flush (the block
 * layer's cut_flush emulation), for every N the workload reaches.  After
 * each cut the image is mounted again -- the journal replays -- and must
 * be consistent (fsck clean), with every file created before the last
 * acknowledged commit still there and the data of its committed writes
 * readable (a later write to the same block may have replaced it: data is
 * written in place).  This is the library's own check that each of its
 * steps is journaled as one piece (bitmaps, descriptors, superblock
 * counts, inode and tree); the crash harness (tests/crash) explores crash
 * points far more finely.  Apart: an fsync of an inode the inode cache
 * evicted still commits its change.
 */
#include "helpers.h"
#include "fs/super.h"

const char *fsck_path;

#define NFILES 4
#define NOPS 60

struct file_state {
	uint64_t ino;
	uint8_t byte;                /* block 0's fill at the last commit, 0 = none */
	uint8_t allowed[256];        /* fills block 0 may show (written since) */
	bool unlinked_since;         /* unlinked after the last commit */
};

struct durable {
	struct file_state f[NFILES];
};

static unsigned rs;

static uint32_t rnd(uint32_t n)
{
	rs = rs * 1103515245u + 12345u;
	return (rs >> 8) % n;
}

/* Run the workload; @d records what the last commit that really reached
 * the device (its flushes all before the cut) made durable. */
static void workload(struct sfs_fs *fs, struct durable *d, uint64_t cut)
{
	static uint8_t buf[96 * 1024];
	struct file_state cur[NFILES];

	rs = 42;
	memset(cur, 0, sizeof(cur));
	memset(d, 0, sizeof(*d));
	for (int i = 0; i < NFILES; i++)
		cur[i].ino = new_file(fs);
	for (int op = 0; op < NOPS; op++) {
		int f = (int)rnd(NFILES);
		uint64_t off = (uint64_t)rnd(64) * 4096 + rnd(2) * rnd(4096);

		switch (rnd(6)) {
		case 0:
		case 1: {
			size_t len = 1 + rnd(sizeof(buf));
			uint8_t b = (uint8_t)(1 + rnd(250));

			memset(buf, b, len);
			if (off < 4096) {
				/* block 0 may now show this fill, whole or in part */
				for (int i = 0; i < NFILES; i++)
					if (d->f[i].ino == cur[f].ino)
						d->f[i].allowed[b] = 1;
				if (off == 0 && len >= 4096)
					cur[f].byte = b;
				else
					cur[f].byte = 0;
			}
			if (sfs_write(fs, cur[f].ino, buf, len, off, 0, NULL) != (ssize_t)len)
				return;
			break;
		}
		case 2:
			if (sfs_fallocate(fs, cur[f].ino, rnd(2) ? SFS_FALLOC_KEEP_SIZE : 0, off,
					  1 + rnd(200000), NULL))
				return;
			break;
		case 3:
			if (sfs_remove_range(fs, cur[f].ino, off + 4096, 1 + rnd(100000)))
				return;
			break;
		case 4:
			if (sfs_setattr(fs, cur[f].ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
					.size = 4096 + off + rnd(30000) }, NULL, NULL))
				return;
			break;
		case 5:
			if (rnd(3) == 0) {
				for (int i = 0; i < NFILES; i++)
					if (d->f[i].ino == cur[f].ino)
						d->f[i].unlinked_since = true;
				if (unlink_file(fs, cur[f].ino))
					return;
				memset(&cur[f], 0, sizeof(cur[f]));
				cur[f].ino = new_file(fs);
			}
			break;
		}
		if (op % 6 == 5) {
			struct sfs_bdev_stats bs;

			if (sfs_fs_commit(fs))
				return;
			/* Past the cut the device acknowledges what it drops. */
			sfs_bdev_stats(fs->bdev, &bs);
			if (bs.flushes > cut || bs.dropped_writes)
				continue;
			for (int i = 0; i < NFILES; i++) {
				d->f[i] = cur[i];
				memset(d->f[i].allowed, 0, sizeof(d->f[i].allowed));
				d->f[i].unlinked_since = false;
			}
		}
	}
}

static void check_durable(struct sfs_fs *fs, const struct durable *d, unsigned cut)
{
	uint8_t blk[4096];

	for (int i = 0; i < NFILES; i++) {
		const struct file_state *s = &d->f[i];
		struct sfs_attr a;

		if (!s->ino || s->unlinked_since)
			continue;
		if (sfs_getattr(fs, s->ino, &a))
			fail_msg("cut %u: inode %llu created before the last commit is gone", cut,
				 (unsigned long long)s->ino);
		if (!s->byte || a.size < 4096)
			continue;
		assert_int_equal(sfs_read(fs, s->ino, blk, 4096, 0), 4096);
		for (int k = 0; k < 4096; k++)
			if (blk[k] != s->byte && !s->allowed[blk[k]])
				fail_msg("cut %u: inode %llu byte %d is %u, committed %u", cut,
					 (unsigned long long)s->ino, k, blk[k], s->byte);
	}
}

static void test_every_flush_boundary_recovers_clean(void **state)
{
	char path[256], opts[300];
	struct sfs_bdev_stats bs;
	struct durable d;
	struct sfs_fs *fs;
	uint64_t flushes;

	(void)state;
	scratch_path(path, sizeof(path), "powercut");
	/* How many flushes the whole workload issues. */
	make_image(path, 12, 16 << 20, 0);
	fs = mount_opts(path, NULL);
	workload(fs, &d, UINT64_MAX);
	sfs_bdev_stats(fs->bdev, &bs);
	flushes = bs.flushes;
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	assert_true(flushes > 10);

	for (unsigned cut = 1; cut <= flushes; cut++) {
		char out[16384];
		int ret;

		make_image(path, 12, 16 << 20, 0);
		snprintf(opts, sizeof(opts), "bdev=cut_flush=%u", cut);
		fs = mount_opts(path, opts);
		workload(fs, &d, cut);
		sfs_fs_unmount(fs);   /* after the cut nothing reaches the device */
		fs = mount_opts(path, NULL);
		check_durable(fs, &d, cut);
		assert_int_equal(sfs_fs_unmount(fs), 0);
		ret = run_fsck(path, out, sizeof(out));
		if (ret)
			fail_msg("power cut after flush %u: fsck exited %d:\n%s", cut, ret, out);
	}
	printf("power cut after each of %llu flushes: every image recovered clean\n",
	       (unsigned long long)flushes);
	unlink(path);
}

/* Finer: the cut after the Nth write, so transactions are torn inside
 * (their commit block lost) and data writes land in part. */
static void test_cuts_between_writes_recover_clean(void **state)
{
	char path[256], opts[300];
	struct sfs_bdev_stats bs;
	struct durable d;
	struct sfs_fs *fs;
	uint64_t writes, step;
	unsigned points = 0;

	(void)state;
	scratch_path(path, sizeof(path), "powercutw");
	make_image(path, 12, 16 << 20, 0);
	fs = mount_opts(path, NULL);
	workload(fs, &d, UINT64_MAX);
	sfs_bdev_stats(fs->bdev, &bs);
	writes = bs.writes;
	assert_int_equal(sfs_fs_unmount(fs), 0);
	step = writes / 80 ? writes / 80 : 1;
	for (uint64_t cut = 1; cut <= writes; cut += step, points++) {
		char out[16384];
		int ret;

		make_image(path, 12, 16 << 20, 0);
		snprintf(opts, sizeof(opts), "bdev=cut_after=%llu", (unsigned long long)cut);
		fs = mount_opts(path, opts);
		workload(fs, &d, UINT64_MAX);
		sfs_fs_unmount(fs);
		fs = mount_opts(path, NULL);
		check_durable(fs, &d, (unsigned)cut);
		assert_int_equal(sfs_fs_unmount(fs), 0);
		ret = run_fsck(path, out, sizeof(out));
		if (ret)
			fail_msg("power cut after write %llu: fsck exited %d:\n%s", (unsigned long long)cut,
				 ret, out);
	}
	printf("power cut after %u of %llu writes: every image recovered clean\n", points,
	       (unsigned long long)writes);
	unlink(path);
}

/*
 * fsync of an inode the inode cache evicted while its change was still in
 * the running transaction: the inode read back must not forget that
 * transaction (it would take the fast path -- a device flush -- and the
 * change would die with the power).  Every change here is a metadata one
 * (size, extents), so only a commit makes it durable.
 */
static void test_fsync_after_eviction_commits_the_change(void **state)
{
	static uint8_t buf[3 * 4096];
	char path[256];
	struct sfs_fs *fs;
	struct sfs_attr a;
	uint64_t ino, others[6], misses;

	(void)state;
	scratch_path(path, sizeof(path), "fsyncevict");
	make_image(path, 12, 16 << 20, 0);
	/* A two-inode cache and no timed commit in the test's lifetime. */
	fs = mount_opts(path, "icache=2,commit=600000");
	ino = new_file(fs);
	for (int i = 0; i < 6; i++)
		others[i] = new_file(fs);
	assert_int_equal(sfs_fs_commit(fs), 0);

	memset(buf, 0x6b, sizeof(buf));
	assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), 0, 0, NULL), (ssize_t)sizeof(buf));
	for (int i = 0; i < 6; i++)
		assert_int_equal(sfs_getattr(fs, others[i], &a), 0);
	/* It was evicted: the fsync below reads it back. */
	misses = fs->stats.icache_misses;
	assert_int_equal(sfs_fsync(fs, ino, false), 0);
	assert_int_equal(fs->stats.icache_misses, misses + 1);

	sfs_bdev_power_cut(fs->bdev);
	sfs_fs_unmount(fs);   /* nothing from here on reaches the image */
	fs = mount_opts(path, NULL);
	assert_int_equal(sfs_getattr(fs, ino, &a), 0);
	assert_int_equal(a.size, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sfs_read(fs, ino, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	for (size_t i = 0; i < sizeof(buf); i++)
		if (buf[i] != 0x6b)
			fail_msg("byte %zu is %u after the fsync and the power cut", i, buf[i]);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

/*
 * fsck -y on an image whose journal still holds committed transactions
 * that changed the superblock, the descriptors, the inode bitmap and a
 * directory: it replays them, then must check the replayed image -- not
 * the superblock and descriptors it read before (which once made the
 * namespace passes report names of "free" inodes and wrote a stale
 * superblock back).  Only the replay is a problem; -n is clean after.
 */
static void test_fsck_checks_what_it_replayed(void **state)
{
	char path[256], out[16384];
	char *yes[] = { (char *)fsck_path, "-fy", path, NULL };
	struct sfs_fs *fs;
	int ret;

	(void)state;
	scratch_path(path, sizeof(path), "fsckreplay");
	make_image(path, 12, 16 << 20, 0);
	fs = mount_opts(path, "commit=600000");
	for (int i = 0; i < 40; i++)
		new_file(fs);
	assert_int_equal(sfs_fs_commit(fs), 0);   /* in the log, not yet home */
	sfs_bdev_power_cut(fs->bdev);
	sfs_fs_unmount(fs);
	ret = run_tool(out, sizeof(out), yes);
	if (ret != 1 || !strstr(out, "J0") || strstr(out, "[D") || strstr(out, "[I") ||
	    strstr(out, "[B") || strstr(out, "[G"))
		fail_msg("fsck -fy exited %d (1 expected: the replay and nothing else):\n%s", ret,
			 out);
	assert_fsck_clean(path);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsync_after_eviction_commits_the_change),
		cmocka_unit_test(test_fsck_checks_what_it_replayed),
		cmocka_unit_test(test_every_flush_boundary_recovers_clean),
		cmocka_unit_test(test_cuts_between_writes_recover_clean),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
