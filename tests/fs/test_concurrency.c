/*
 * The library from several threads at once, as a multi-threaded FUSE
 * server calls it: writers, readers, range removers and truncaters on
 * shared and private files, creation and unlinking, while reclaim runs
 * the inode and buffer shrinkers from another thread.  alloc/'s lock and
 * scope checks abort on any violation (the suites run with
 * debug_abort=1); at the end every tree verifies and fsck is clean.
 */
#include <pthread.h>

#include "helpers.h"

const char *fsck_path;

#define NTHREADS 4
#define OPS 250

struct shared {
	struct sfs_fs *fs;
	uint64_t common[2];
	volatile int stop;
};

struct worker {
	struct shared *sh;
	unsigned seed;
	uint64_t own;
	unsigned id, own_seq;          /* own is named "w<id>-<own_seq>" in the root */
	/* cmocka asserts only on the main thread: the first failure here */
	const char *failed_op;
	long failed_ret;
};

#define CHECK(w, what, cond, ret) do {                                         \
	if (!(cond) && !(w)->failed_op) {                                      \
		(w)->failed_op = (what);                                       \
		(w)->failed_ret = (long)(ret);                                 \
	}                                                                      \
} while (0)

static void *work(void *arg)
{
	struct worker *w = arg;
	struct sfs_fs *fs = w->sh->fs;
	static __thread uint8_t buf[64 * 1024];

	for (int i = 0; i < OPS; i++) {
		unsigned r = (unsigned)rand_r(&w->seed);
		uint64_t ino = (r & 1) ? w->own : w->sh->common[(r >> 1) & 1];
		uint64_t off = (uint64_t)(rand_r(&w->seed) % 512) * 1024;
		size_t len = 1 + (size_t)rand_r(&w->seed) % sizeof(buf);
		ssize_t n;

		switch ((r >> 2) % 8) {
		case 0:
		case 1:
		case 2:
			memset(buf, (int)(r >> 8), len);
			n = sfs_write(fs, ino, buf, len, off, 0, NULL);
			CHECK(w, "write", n == (ssize_t)len || n == -ENOSPC, n);
			break;
		case 3:
			n = sfs_read(fs, ino, buf, len, off);
			CHECK(w, "read", n >= 0, n);
			break;
		case 4: {
			int ret = sfs_remove_range(fs, ino, off, len * 4);

			CHECK(w, "remove", ret == 0, ret);
			break;
		}
		case 5: {
			int ret = sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
					      .size = off }, NULL, NULL);

			CHECK(w, "truncate", ret == 0, ret);
			break;
		}
		case 6: {
			int ret = sfs_fallocate(fs, ino, SFS_FALLOC_KEEP_SIZE, off, len * 8, NULL);

			CHECK(w, "fallocate", ret == 0 || ret == -ENOSPC, ret);
			break;
		}
		case 7: {
			/* A short-lived file of one's own. */
			struct sfs_cred cr = { .uid = 1, .gid = 1 };
			struct sfs_attr a;
			char name[32];
			int ret;

			snprintf(name, sizeof(name), "w%u-%u", w->id, w->own_seq);
			ret = sfs_unlink(fs, 2, name);
			CHECK(w, "unlink", ret == 0, ret);
			snprintf(name, sizeof(name), "w%u-%u", w->id, ++w->own_seq);
			ret = sfs_create(fs, 2, name, 0644, 0, &cr, &a);
			CHECK(w, "create", ret == 0, ret);
			if (!ret)
				w->own = a.ino;
			break;
		}
		}
	}
	return NULL;
}

static void *reclaimer(void *arg)
{
	struct shared *sh = arg;

	while (!sh->stop) {
		mc_reclaim(1 << 20, MC_KERNEL);
		usleep(2000);
	}
	return NULL;
}

static void test_threads_with_reclaim_keep_the_filesystem_consistent(void **state)
{
	struct shared sh = { 0 };
	struct worker w[NTHREADS];
	pthread_t tid[NTHREADS], rt;
	char path[256], why[256];

	(void)state;
	scratch_path(path, sizeof(path), "threads");
	make_image(path, 12, 64 << 20, 2048);
	sh.fs = mount_opts(path, "fanout=5,icache=8,commit=200");
	sh.common[0] = new_file(sh.fs);
	sh.common[1] = new_file(sh.fs);
	pthread_create(&rt, NULL, reclaimer, &sh);
	for (int i = 0; i < NTHREADS; i++) {
		struct sfs_cred cr = { .uid = 1, .gid = 1 };
		struct sfs_attr a;
		char name[32];

		snprintf(name, sizeof(name), "w%d-0", i);
		assert_int_equal(sfs_create(sh.fs, 2, name, 0644, 0, &cr, &a), 0);
		w[i] = (struct worker){ .sh = &sh, .seed = 1000u + (unsigned)i, .own = a.ino,
					.id = (unsigned)i };
		pthread_create(&tid[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(tid[i], NULL);
	sh.stop = 1;
	for (int i = 0; i < NTHREADS; i++)
		if (w[i].failed_op)
			fail_msg("thread %d: %s returned %ld", i, w[i].failed_op, w[i].failed_ret);
	pthread_join(rt, NULL);
	if (getenv("SCOPEFS_TEST_STATS"))
		sfs_fs_print_stats(sh.fs, stdout, 0);
	for (int i = 0; i < 2; i++)
		if (sfs_extent_verify(sh.fs, sh.common[i], why, sizeof(why)))
			fail_msg("shared file %d: %s", i, why);
	for (int i = 0; i < NTHREADS; i++)
		if (sfs_extent_verify(sh.fs, w[i].own, why, sizeof(why)))
			fail_msg("file of thread %d: %s", i, why);
	assert_int_equal(sfs_fs_unmount(sh.fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_inode_shrinker_frees_unreferenced_inodes_only(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	uint64_t held, ino[200];
	struct sfs_attr a;

	(void)state;
	scratch_path(path, sizeof(path), "shrink");
	make_image(path, 12, 16 << 20, 0);
	fs = mount_opts(path, NULL);
	for (int i = 0; i < 200; i++)
		ino[i] = new_file(fs);
	held = ino[7];
	assert_int_equal(sfs_inode_hold(fs, held), 0);
	assert_int_equal(unlink_file(fs, held), 0);   /* open but unlinked */
	mc_drop_caches();
	/* The held, unlinked inode survived; the rest read back from disk. */
	assert_int_equal(sfs_getattr(fs, held, &a), 0);
	assert_int_equal(a.nlink, 0);
	for (int i = 0; i < 200; i++)
		if (ino[i] != held)
			assert_int_equal(sfs_getattr(fs, ino[i], &a), 0);
	assert_int_equal(sfs_inode_release(fs, held), 0);
	assert_int_equal(sfs_getattr(fs, held, &a), -ENOENT);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_with_reclaim_keep_the_filesystem_consistent),
		cmocka_unit_test(test_inode_shrinker_frees_unreferenced_inodes_only),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
