/*
 * Truncate's orphan record cannot fail on ENOMEM (seed 000).  A truncate
 * that spans several transactions first records the inode in the orphan
 * file, under truncate's NOFAIL handle: sfs_orphan_add reads the orphan
 * file's inode (3) and its blocks, and those reads take the NOFAIL flag
 * down with them, as the seed patch does for tree-block reads.
 *
 * The test: a file of many single-block extents under fanout=4 (a deep
 * tree, a truncate of many steps), its orphan file already made, caches
 * dropped so inode 3 and every block are read again.  The truncate runs
 * once clean to learn which allocation sites it calls; then, from the same
 * image, once with each of those sites failing every call, and once with
 * every site failing.  Each run completes: size 0, no blocks, fsck clean
 * (no orphan record left behind).  NOFAIL calls are made to loop instead.
 *
 * Usage: test_es_orphan_nofail FSCK
 */
#include "../fs/helpers.h"

const char *fsck_path;

enum { EXTENTS = 3000 };

static void fault(const char *spec)
{
	char err[256];

	if (mc_fault_set(spec, err, sizeof(err)))
		fail_msg("fault spec %s: %s", spec, err);
}

static void set_size(struct sfs_fs *fs, uint64_t ino, uint64_t size)
{
	assert_int_equal(sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = size }, NULL, NULL), 0);
}

/* The base image: the big file, and the orphan file made by a small
 * truncate (its creation is the namespace's, on a failable path). */
static uint64_t prepare(const char *path)
{
	struct sfs_fs *fs;
	uint64_t ino, small;

	make_image(path, 10, 32 << 20, 0);
	fs = mount_opts(path, "fanout=4");
	ino = new_file(fs);
	for (uint64_t i = 0; i < EXTENTS; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i * 2, 1, i & 1), 0);
	set_size(fs, ino, 2 * EXTENTS * 1024);
	small = new_file(fs);
	set_size(fs, small, 8192);
	set_size(fs, small, 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	return ino;
}

static void copy_file(const char *from, const char *to)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "cp --sparse=always '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Calls of every site so far (all threads). */
static uint64_t *site_calls(void)
{
	size_t n = mc_site_count();
	uint64_t *c = calloc(n, sizeof(*c));
	struct mc_site_counts sc;

	assert_non_null(c);
	for (struct mc_site *s = mc_sites_begin(); s < mc_sites_end(); s++) {
		mc_site_counts(s, &sc);
		c[mc_site_index(s)] = sc.calls;
	}
	return c;
}

/*
 * Truncate @ino of a fresh copy of @base to zero with @spec injected
 * (NULL: none); the file is held first so that looking it up is not what
 * fails.  Returns the truncate's result; on success checks the file.
 */
static int truncate_under(const char *base, const char *work, uint64_t ino, const char *spec,
			  uint64_t **calls_before)
{
	struct sfs_attr at;
	struct sfs_fs *fs;
	int ret;

	copy_file(base, work);
	fs = mount_opts(work, "fanout=4");
	assert_int_equal(sfs_inode_hold(fs, ino), 0);
	/* Inode 3 and every block must be read again by the truncate. */
	mc_drop_caches();
	if (calls_before)
		*calls_before = site_calls();
	if (spec)
		fault(spec);
	ret = sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE, .size = 0 },
			  NULL, NULL);
	fault("");
	if (!ret) {
		assert_int_equal(sfs_getattr(fs, ino, &at), 0);
		assert_int_equal(at.size, 0);
		assert_int_equal(at.blocks, 0);
	}
	assert_int_equal(sfs_inode_release(fs, ino), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	return ret;
}

static void test_truncate_orphan_record_survives_every_failing_site(void **state)
{
	char base[256], work[300], spec[200];
	uint64_t *before, *after, ino;
	struct mc_stats a, b;
	unsigned tried = 0;
	bool read_orphan_inode = false;
	(void)state;

	scratch_path(base, sizeof(base), "esorphan");
	snprintf(work, sizeof(work), "%s.work", base);
	ino = prepare(base);

	/* Clean: which sites does this truncate call? */
	assert_int_equal(truncate_under(base, work, ino, NULL, &before), 0);
	after = site_calls();
	assert_fsck_clean(work);

	for (struct mc_site *s = mc_sites_begin(); s < mc_sites_end(); s++) {
		size_t i = mc_site_index(s);
		int ret;

		if (after[i] == before[i])
			continue;
		/* Several sites may share a name: inject by name once. */
		if (mc_site_find(s->name) != s)
			continue;
		read_orphan_inode |= !strcmp(s->name, "inode.cache");
		snprintf(spec, sizeof(spec), "%s:always", s->name);
		mc_stats_snapshot(&a);
		ret = truncate_under(base, work, ino, spec, NULL);
		mc_stats_snapshot(&b);
		if (ret)
			fail_msg("truncate with %s failing: %d", spec, ret);
		assert_fsck_clean(work);
		printf("  %-28s %8llu calls in the clean run; failing: completes, "
		       "NOFAIL loops %llu\n", s->name, (unsigned long long)(after[i] - before[i]),
		       (unsigned long long)(b.nofail_loops + b.nofail_injected_loops -
					    a.nofail_loops - a.nofail_injected_loops));
		tried++;
	}
	/* The orphan file's inode was read in (the case that failed). */
	assert_true(read_orphan_inode);
	assert_true(tried >= 5);

	mc_stats_snapshot(&a);
	assert_int_equal(truncate_under(base, work, ino, "*:always", NULL), 0);
	mc_stats_snapshot(&b);
	assert_fsck_clean(work);
	assert_true(b.nofail_loops + b.nofail_injected_loops >
		    a.nofail_loops + a.nofail_injected_loops);
	printf("truncate of %u extents: each of %u sites failing, then all: completes, fsck clean\n",
	       EXTENTS, tried);
	free(before);
	free(after);
	unlink(work);
	unlink(base);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncate_orphan_record_survives_every_failing_site),
	};

	if (test_main_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
