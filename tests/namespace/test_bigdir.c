/*
 * One directory of 100,000 names (SCOPEFS_NS_BIGDIR=N for another count;
 * the sanitizer builds use 20,000 unless told): insert, look up every name,
 * remove a share, and a full readdir in small pieces while names are added
 * and removed between (and, in a second run, by another thread during) the
 * pieces: every name present for the whole listing is returned exactly
 * once, no name is returned twice, and nothing is returned that never
 * existed.
 */
#include <pthread.h>
#include <sched.h>

#include "ns_helpers.h"

const char *fsck_path;

struct env {
	char path[256];
	struct sfs_fs *fs;
	unsigned n;
};

static unsigned count(void)
{
	const char *s = getenv("SCOPEFS_NS_BIGDIR");

	if (s)
		return (unsigned)strtoul(s, NULL, 0);
#if defined(__SANITIZE_ADDRESS__)
	return 20000;
#else
	return 100000;
#endif
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct img_params p = { .size = 1024ull << 20, .journal_bytes = -1,
				.reserved_pct_x100 = 500, .inode_count = 200000 };

	e->n = count();
	scratch_path(e->path, sizeof(e->path), "nsbig");
	make_image_p(e->path, &p);
	/* Evict inodes freely: 10^5 of them need not stay cached. */
	e->fs = mount_opts(e->path, "icache=4096");
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	if (e->fs) {
		char why[512];

		assert_int_equal(sfs_dir_verify(e->fs, ROOT, why, sizeof(why)), 0);
		assert_int_equal(sfs_fs_unmount(e->fs), 0);
	}
	assert_fsck_clean(e->path);
	unlink(e->path);
	free(e);
	return 0;
}

static void name_of(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "entry-%08u", i);
}

static unsigned index_of(const char *name)
{
	unsigned i;

	if (sscanf(name, "entry-%08u", &i) != 1)
		return UINT32_MAX;
	return i;
}

static void populate(struct env *e, unsigned from, unsigned to)
{
	char name[32];
	struct sfs_attr a;

	for (unsigned i = from; i < to; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(sfs_mknod(e->fs, ROOT, name, S_IFREG | 0644, 0, 0, NULL, &a), 0);
	}
}

struct listing {
	uint8_t *seen;               /* per index: times returned */
	unsigned max;
	unsigned batch, left;
	uint64_t next;
	unsigned dups, unknown;
};

static int take(void *ctx, const char *name, size_t len, uint64_t ino, unsigned dtype,
		uint64_t next)
{
	struct listing *l = ctx;
	char buf[256];
	unsigned i;

	(void)ino;
	(void)dtype;
	if (!l->left)
		return 1;
	l->left--;
	l->next = next;
	memcpy(buf, name, len);
	buf[len] = 0;
	if (!strcmp(buf, ".") || !strcmp(buf, ".."))
		return 0;
	i = index_of(buf);
	if (i >= l->max) {
		l->unknown++;
		return 0;
	}
	if (l->seen[i]++)
		l->dups++;
	return 0;
}

static void test_lookup_insert_delete_at_scale(void **state)
{
	struct env *e = *state;
	char name[32];
	struct sfs_attr a;

	populate(e, 0, e->n);
	for (unsigned i = 0; i < e->n; i++) {
		name_of(name, sizeof(name), i);
		assert_int_equal(sfs_lookup(e->fs, ROOT, name, 0, &a), 0);
	}
	name_of(name, sizeof(name), e->n);
	assert_int_equal(sfs_lookup(e->fs, ROOT, name, 0, &a), -ENOENT);
	for (unsigned i = 0; i < e->n; i += 3) {
		name_of(name, sizeof(name), i);
		assert_int_equal(sfs_unlink(e->fs, ROOT, name), 0);
	}
	for (unsigned i = 0; i < e->n; i += 7) {
		name_of(name, sizeof(name), i);
		assert_int_equal(sfs_lookup(e->fs, ROOT, name, 0, &a), i % 3 ? 0 : -ENOENT);
	}
}

static void test_readdir_while_names_come_and_go(void **state)
{
	struct env *e = *state;
	unsigned total = e->n + e->n / 2, added = e->n, rs = 1;
	struct listing l = { .max = total, .batch = 97 };
	uint8_t *removed = calloc(total, 1);
	char name[32];

	l.seen = calloc(total, 1);
	populate(e, 0, e->n);
	for (;;) {
		l.left = l.batch;
		assert_int_equal(sfs_readdir(e->fs, ROOT, l.next, take, &l), 0);
		if (l.left)
			break;   /* the end */
		/* Between two pieces: a few names go, a few new ones come. */
		for (int k = 0; k < 5; k++) {
			unsigned i;

			rs = rs * 1103515245u + 12345u;
			i = (rs >> 8) % e->n;
			if (!removed[i]) {
				name_of(name, sizeof(name), i);
				assert_int_equal(sfs_unlink(e->fs, ROOT, name), 0);
				removed[i] = 1;
			}
		}
		if (added < total) {
			populate(e, added, added + 3 < total ? added + 3 : total);
			added = added + 3 < total ? added + 3 : total;
		}
	}
	assert_int_equal(l.dups, 0);
	assert_int_equal(l.unknown, 0);
	for (unsigned i = 0; i < e->n; i++)
		if (!removed[i])
			assert_int_equal(l.seen[i], 1);
	free(removed);
	free(l.seen);
}

struct churn {
	struct sfs_fs *fs;
	unsigned from, to;
	int stop;           /* atomic */
	unsigned done;      /* atomic */
};

/* Until the other thread has made at least one change since @seen: the
 * listing is taken in pieces with changes between them however the two
 * threads are scheduled. */
static unsigned churn_wait(struct churn *c, unsigned seen)
{
	unsigned now;

	while ((now = __atomic_load_n(&c->done, __ATOMIC_ACQUIRE)) == seen)
		sched_yield();
	return now;
}

static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	char name[32];
	struct sfs_attr a;

	/* Add names past the listed range and remove them again. */
	for (unsigned i = c->from; !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE); i++) {
		if (i >= c->to)
			i = c->from;
		name_of(name, sizeof(name), i);
		if (sfs_mknod(c->fs, ROOT, name, S_IFREG | 0644, 0, 0, NULL, &a) == -EEXIST)
			assert_int_equal(sfs_unlink(c->fs, ROOT, name), 0);
		__atomic_fetch_add(&c->done, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

static void test_readdir_while_another_thread_changes_the_directory(void **state)
{
	struct env *e = *state;
	unsigned n = e->n / 4, extra = 2000;
	struct listing l = { .max = n + extra, .batch = 50 };
	struct churn c = { .fs = e->fs, .from = n, .to = n + extra };
	unsigned seen = 0, pieces = 0;
	pthread_t th;

	l.seen = calloc(n + extra, 1);
	populate(e, 0, n);
	assert_int_equal(pthread_create(&th, NULL, churn_thread, &c), 0);
	for (;;) {
		seen = churn_wait(&c, seen);
		l.left = l.batch;
		assert_int_equal(sfs_readdir(e->fs, ROOT, l.next, take, &l), 0);
		pieces++;
		if (l.left)
			break;
	}
	__atomic_store_n(&c.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	assert_int_equal(l.dups, 0);
	assert_int_equal(l.unknown, 0);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(l.seen[i], 1);
	assert_true(c.done >= pieces);
	free(l.seen);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_lookup_insert_delete_at_scale),
		T(test_readdir_while_names_come_and_go),
		T(test_readdir_while_another_thread_changes_the_directory),
#undef T
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	fprintf(stderr, "bigdir: %u names\n", count());
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
