/*
 * Namespace operations from several threads at once over a few shared
 * directories -- create, mkdir, rmdir, link, unlink, rename with every
 * flag (directories across parents included), symlink, setxattr, lookup,
 * readdir -- names drawn from a small pool so that they collide.  Only
 * Linux's ordinary refusals may come back; with the lock checks set to
 * abort (the test environment) any lock-order or allocation-context
 * violation, and any stall, fails the run.  The tree check and fsck
 * follow.  Also: statfs returns to its starting figures exactly.
 */
#include <pthread.h>

#include "ns_helpers.h"

const char *fsck_path;

#define NTHREADS 4
#define NDIRS 4
#define NNAMES 12

struct env {
	char path[256];
	struct sfs_fs *fs;
	uint64_t dirs[NDIRS];
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	char name[16];

	scratch_path(e->path, sizeof(e->path), "nsstress");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	for (int i = 0; i < NDIRS; i++) {
		snprintf(name, sizeof(name), "d%d", i);
		e->dirs[i] = mk(e->fs, ROOT, name, S_IFDIR | 0755);
	}
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	char out[16384];
	int fsck_ret;

	if (e->fs) {
		check_tree(e->fs, 0);
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	}
	fsck_ret = run_fsck(e->path, out, sizeof(out));
	if (fsck_ret)
		fprintf(stderr, "fsck %s exited %d:\n%s\n", e->path, fsck_ret, out);
	unlink(e->path);
	free(e);
	assert_int_equal(fsck_ret, 0);
	return 0;
}

struct worker {
	struct env *e;
	unsigned seed, ops, bad, done;
	int bad_err;
};

static unsigned rnd(unsigned *s, unsigned n)
{
	*s = *s * 1103515245u + 12345u;
	return (*s >> 8) % n;
}

static bool ordinary(int ret)
{
	switch (ret) {
	case 0:
	case -EEXIST:
	case -ENOENT:
	case -ENOTEMPTY:
	case -EISDIR:
	case -ENOTDIR:
	case -EINVAL:
	case -EPERM:
	case -EAGAIN:
		return true;
	default:
		return false;
	}
}

static int count_names(void *ctx, const char *name, size_t len, uint64_t ino, unsigned dtype,
		       uint64_t next)
{
	(void)name;
	(void)len;
	(void)ino;
	(void)dtype;
	(void)next;
	(*(unsigned *)ctx)++;
	return 0;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct sfs_fs *fs = w->e->fs;
	struct sfs_cred cr = { 0 };

	for (unsigned i = 0; i < w->ops; i++) {
		uint64_t d1 = w->e->dirs[rnd(&w->seed, NDIRS)], d2 = w->e->dirs[rnd(&w->seed, NDIRS)];
		char n1[16], n2[16];
		struct sfs_attr a;
		unsigned cnt = 0;
		int ret = 0;

		snprintf(n1, sizeof(n1), "n%u", rnd(&w->seed, NNAMES));
		snprintf(n2, sizeof(n2), "n%u", rnd(&w->seed, NNAMES));
		/* Sometimes one level deeper: a subdirectory of the pool. */
		if (rnd(&w->seed, 4) == 0 && sfs_lookup(fs, d1, n1, 0, &a) == 0 && S_ISDIR(a.mode))
			d1 = a.ino;
		switch (rnd(&w->seed, 12)) {
		case 0:
			ret = sfs_create(fs, d1, n1, 0644, 0, &cr, &a);
			break;
		case 1:
			ret = sfs_mkdir(fs, d1, n1, 0755, 0, &cr, &a);
			break;
		case 2:
			ret = sfs_rmdir(fs, d1, n1);
			break;
		case 3:
			ret = sfs_unlink(fs, d1, n1);
			break;
		case 4:
			if (!sfs_lookup(fs, d1, n1, 0, &a))
				ret = sfs_link(fs, a.ino, d2, n2, 0, NULL);
			break;
		case 5:
		case 6:
			ret = sfs_rename(fs, d1, n1, d2, n2, rnd(&w->seed, 3));
			break;
		case 7:
			ret = sfs_symlink(fs, d1, n1, "somewhere", 0, &cr, &a);
			break;
		case 8:
			if (!sfs_lookup(fs, d1, n1, 0, &a) && (S_ISREG(a.mode) || S_ISDIR(a.mode)))
				ret = sfs_setxattr(fs, a.ino, "user.x", n2, strlen(n2), 0);
			break;
		case 9:
			ret = sfs_readdir(fs, d1, 0, count_names, &cnt);
			break;
		default:
			ret = sfs_lookup(fs, d1, n1, 0, &a);
			break;
		}
		/* A lookup may also race the removal of what it found. */
		w->done += !ret;
		if (!ordinary(ret)) {
			w->bad++;
			w->bad_err = ret;
		}
	}
	return NULL;
}

static void test_threads_over_shared_directories(void **state)
{
	struct env *e = *state;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];

	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){ .e = e, .seed = 17u * (unsigned)i + 1, .ops = 3000 };
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		if (w[i].bad)
			fprintf(stderr, "thread %d: %u unexpected errors, last %d\n", i, w[i].bad,
				w[i].bad_err);
		assert_int_equal(w[i].bad, 0);
		assert_true(w[i].done > w[i].ops / 4);   /* mostly real work */
	}
	check_tree(e->fs, 0);
}

/*
 * Front ends may hand in a number whose inode has gone and been made again
 * (the kernel's NFS export does): one thread makes and removes directories
 * and symlinks, which take the numbers just freed, while the others look
 * into whatever has the newest number.  A reader must wait for a new inode
 * to be complete -- never read a directory whose first block is not
 * written yet, nor a symlink without its target.
 */
struct churn {
	struct env *e;
	uint64_t newest;    /* atomic */
	bool stop;          /* atomic */
	unsigned made, seen, bad;
	int bad_err;
};

static void *churn_maker(void *arg)
{
	struct churn *c = arg;
	struct sfs_cred cr = { 0 };
	struct sfs_attr a;

	for (unsigned i = 0; i < 3000; i++) {
		char name[16];
		int ret;

		snprintf(name, sizeof(name), "c%u", i % 3);
		ret = i & 1 ? sfs_symlink(c->e->fs, c->e->dirs[0], name, "a-target", 0, &cr, &a)
			    : sfs_mkdir(c->e->fs, c->e->dirs[0], name, 0755, 0, &cr, &a);
		if (!ret) {
			__atomic_store_n(&c->newest, a.ino, __ATOMIC_RELEASE);
			c->made++;
			ret = i & 1 ? sfs_unlink(c->e->fs, c->e->dirs[0], name)
				    : sfs_rmdir(c->e->fs, c->e->dirs[0], name);
		}
		if (ret) {
			c->bad++;
			c->bad_err = ret;
		}
	}
	__atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
	return NULL;
}

static void *churn_reader(void *arg)
{
	struct churn *c = arg;
	struct sfs_fs *fs = c->e->fs;
	char buf[64];
	unsigned cnt;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		uint64_t ino = __atomic_load_n(&c->newest, __ATOMIC_ACQUIRE);
		struct sfs_attr a;
		ssize_t n;
		int ret;

		if (!ino)
			continue;
		ret = sfs_lookup(fs, ino, "x", 0, &a);
		if (!ordinary(ret) && ret != -ENOTDIR)
			goto bad;
		ret = sfs_readdir(fs, ino, 0, count_names, &cnt);
		if (!ordinary(ret) && ret != -ENOTDIR)
			goto bad;
		n = sfs_readlink(fs, ino, buf, sizeof(buf));
		if (n == 8 && !memcmp(buf, "a-target", 8))
			__atomic_fetch_add(&c->seen, 1, __ATOMIC_RELAXED);
		else if (n >= 0 || !ordinary((int)n))
			goto bad;
		continue;
bad:
		__atomic_fetch_add(&c->bad, 1, __ATOMIC_RELAXED);
		c->bad_err = ret;
	}
	return NULL;
}

static void test_stale_numbers_wait_for_new_inodes(void **state)
{
	struct churn c = { .e = *state };
	pthread_t th[NTHREADS];

	assert_int_equal(pthread_create(&th[0], NULL, churn_maker, &c), 0);
	for (int i = 1; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, churn_reader, &c), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	if (c.bad)
		fprintf(stderr, "%u unexpected results, last %d\n", c.bad, c.bad_err);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.made, 3000);
	check_tree(c.e->fs, 0);
}

static void test_statfs_comes_back_exactly(void **state)
{
	struct env *e = *state;
	struct sfs_statfs s0, s1;
	char name[32];
	uint64_t d;

	/* The orphan file is made by the first removal: make it now. */
	mk(e->fs, ROOT, "first", S_IFREG | 0644);
	assert_int_equal(sfs_unlink(e->fs, ROOT, "first"), 0);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	assert_int_equal(sfs_fs_statfs(e->fs, &s0), 0);
	d = mk(e->fs, ROOT, "big", S_IFDIR | 0755);
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "some-longer-name-%d", i);
		mk(e->fs, d, name, S_IFREG | 0644);
	}
	{
		char val[200];

		memset(val, 'v', sizeof(val));
		assert_int_equal(sfs_setxattr(e->fs, d, "user.x", val, sizeof(val), 0), 0);
	}
	for (int i = 0; i < 2000; i++) {
		snprintf(name, sizeof(name), "some-longer-name-%d", i);
		assert_int_equal(sfs_unlink(e->fs, d, name), 0);
	}
	assert_int_equal(sfs_rmdir(e->fs, ROOT, "big"), 0);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	assert_int_equal(sfs_fs_statfs(e->fs, &s1), 0);
	assert_int_equal(s1.ffree, s0.ffree);
	assert_int_equal(s1.bfree, s0.bfree);
	assert_int_equal(s1.bavail, s0.bavail);
	assert_int_equal(s1.files, s0.files);
	assert_int_equal(s1.namemax, 255);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_threads_over_shared_directories),
		T(test_stale_numbers_wait_for_new_inodes),
		T(test_statfs_comes_back_exactly),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
