/*
 * The block allocator: filling the filesystem to ENOSPC and draining it
 * returns every count to its start; blocks freed by an uncommitted
 * transaction are never handed out before it commits; sequential
 * allocations for one file form one extent (also beside another writer,
 * thanks to the preallocation windows); the filesystem reserve lets
 * removals that must split an extent work on a full filesystem; groups
 * are initialised lazily; fsck is clean after every test.
 */
#include "helpers.h"
#include "fs/balloc.h"
#include "fs/format/group.h"
#include "fs/super.h"
#include "fs/trans.h"

const char *fsck_path;

static const struct sfs_cred user = { .uid = 1000, .gid = 1000 };
static const struct sfs_cred root = { .privileged = true };

struct counts {
	uint64_t free_blocks, free_inodes;
};

static void get_counts(struct sfs_fs *fs, struct counts *c)
{
	struct sfs_statfs st;

	assert_int_equal(sfs_fs_commit(fs), 0);   /* busy blocks come back */
	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	c->free_blocks = st.bfree;
	c->free_inodes = st.ffree;
}

static unsigned extents_of(struct sfs_fs *fs, uint64_t ino)
{
	struct sfs_map m[64];
	unsigned n;

	assert_int_equal(sfs_extent_map(fs, ino, 0, 1ull << 32, m, 64, &n), 0);
	return n;
}

/* Write 64 KiB pieces until the allocator says no; returns bytes written. */
static uint64_t fill(struct sfs_fs *fs, uint64_t ino, uint64_t off, const struct sfs_cred *cr)
{
	static uint8_t buf[65536];
	uint64_t done = 0;

	memset(buf, 0x5a, sizeof(buf));
	for (;;) {
		ssize_t n = sfs_write(fs, ino, buf, sizeof(buf), off + done, 0, cr);

		if (n < 0) {
			assert_int_equal(n, -ENOSPC);
			return done;
		}
		done += (uint64_t)n;
		if ((size_t)n < sizeof(buf)) {
			/* short: the next one must say ENOSPC */
			assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), off + done, 0, cr), -ENOSPC);
			return done;
		}
	}
}

static void test_enospc_fill_and_drain_returns_counts_to_start(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	struct counts start, full, end;
	uint64_t inos[4], written = 0, priv;
	struct sfs_statfs st;

	(void)state;
	scratch_path(path, sizeof(path), "enospc");
	make_image(path, 12, 12 << 20, 1024);   /* several small groups */
	fs = mount_opts(path, "fanout=4");
	/* The orphan file, made by the first unlink of a file in use, keeps
	 * its block: made before the counts are taken. */
	inos[0] = new_file(fs);
	assert_int_equal(sfs_inode_hold(fs, inos[0]), 0);
	assert_int_equal(unlink_file(fs, inos[0]), 0);
	assert_int_equal(sfs_inode_release(fs, inos[0]), 0);
	get_counts(fs, &start);
	for (int i = 0; i < 4; i++)
		inos[i] = new_file(fs);
	/* Interleaved writers, unprivileged: stops at the reserves. */
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 4; i++)
			written += fill(fs, inos[i], (uint64_t)round << 24, &user);
	assert_true(written > 0);
	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	assert_int_equal(st.bavail, 0);
	assert_true(st.bfree > 0);          /* the root reserve is still there */
	priv = fill(fs, inos[0], 1ull << 28, &root);
	assert_true(priv > 0);
	get_counts(fs, &full);
	assert_true(full.free_blocks < start.free_blocks);

	/* On the full filesystem: punch the middle of an extent (a split,
	 * from the filesystem reserve), truncate, unlink. */
	assert_int_equal(sfs_remove_range(fs, inos[1], 8192, 4096), 0);
	assert_int_equal(sfs_remove_range(fs, inos[2], 3 * 4096, 2 * 4096), 0);
	assert_int_equal(sfs_setattr(fs, inos[3], &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 5000 }, &user, NULL), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(unlink_file(fs, inos[i]), 0);
	get_counts(fs, &end);
	assert_int_equal(end.free_blocks, start.free_blocks);
	assert_int_equal(end.free_inodes, start.free_inodes);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	/* And after a remount, from the disk. */
	fs = mount_opts(path, NULL);
	assert_int_equal(sfs_fs_statfs(fs, &st), 0);
	assert_int_equal(st.bfree, start.free_blocks);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	unlink(path);
}

struct extent_set {
	uint64_t start[64];
	uint32_t len[64];
	unsigned n;
};

static bool overlaps(const struct extent_set *s, uint64_t p, uint32_t len)
{
	for (unsigned i = 0; i < s->n; i++)
		if (p < s->start[i] + s->len[i] && s->start[i] < p + len)
			return true;
	return false;
}

static void test_blocks_freed_are_not_reused_before_commit(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	struct extent_set freed = { .n = 0 }, taken = { .n = 0 };
	struct sfs_block_counts c;
	struct sfs_map m[64];
	struct sfs_trans t;
	unsigned n;
	bool reused = false;
	uint64_t ino;

	(void)state;
	scratch_path(path, sizeof(path), "busy");
	make_image(path, 12, 8 << 20, 0);
	/* No commit unless asked: the freeing transaction stays open. */
	fs = mount_opts(path, "commit=3600000,noprealloc");
	ino = new_file(fs);
	assert_int_equal(sfs_alloc_range(fs, ino, 0, 300, false), 0);
	assert_int_equal(sfs_fs_commit(fs), 0);
	assert_int_equal(sfs_extent_map(fs, ino, 0, 1000, m, 64, &n), 0);
	for (unsigned i = 0; i < n; i++) {
		freed.start[freed.n] = m[i].pblk;
		freed.len[freed.n++] = m[i].len;
	}
	assert_int_equal(sfs_unmap_range(fs, ino, 0, 300), 0);
	sfs_balloc_counts(fs, &c);
	assert_int_equal(c.busy, 300);

	/* Take everything the allocator will give: none of the freed blocks. */
	assert_int_equal(sfs_trans_start(fs, 3 * fs->sbi->geo.group_count + 8, 0, &t), 0);
	for (;;) {
		struct sfs_alloc_req req = { .len = 4096, .flags = SFS_ALLOC_PRIVILEGED |
					     SFS_ALLOC_USE_RESERVE };
		uint64_t p;
		uint32_t got;
		int ret = sfs_balloc(&t, &req, &p, &got);

		if (ret == -ENOSPC)
			break;
		assert_int_equal(ret, 0);
		assert_false(overlaps(&freed, p, got));
		assert_true(taken.n < 64);
		taken.start[taken.n] = p;
		taken.len[taken.n++] = got;
	}
	assert_int_equal(sfs_trans_stop(&t), 0);
	sfs_balloc_counts(fs, &c);
	assert_int_equal(c.free, c.busy);     /* all that is left is busy */

	/* Once the freeing transaction commits they are free again. */
	assert_int_equal(sfs_fs_commit(fs), 0);
	sfs_balloc_counts(fs, &c);
	assert_int_equal(c.busy, 0);
	assert_int_equal(sfs_trans_start(fs, 3 * fs->sbi->geo.group_count + 8, 0, &t), 0);
	for (;;) {
		struct sfs_alloc_req req = { .len = 4096, .flags = SFS_ALLOC_PRIVILEGED |
					     SFS_ALLOC_USE_RESERVE };
		uint64_t p;
		uint32_t got;
		int ret = sfs_balloc(&t, &req, &p, &got);

		if (ret == -ENOSPC)
			break;
		assert_int_equal(ret, 0);
		reused |= overlaps(&freed, p, got);
		assert_true(taken.n < 64);
		taken.start[taken.n] = p;
		taken.len[taken.n++] = got;
	}
	assert_true(reused);
	/* Give everything back, so fsck sees a consistent image. */
	for (unsigned i = 0; i < taken.n; i++)
		assert_int_equal(sfs_bfree(&t, taken.start[i], taken.len[i], false), 0);
	assert_int_equal(sfs_trans_stop(&t), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_enospc_with_busy_blocks_commits_and_retries(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	uint64_t a, b, c, got;

	(void)state;
	scratch_path(path, sizeof(path), "retry");
	make_image(path, 12, 8 << 20, 0);
	fs = mount_opts(path, "commit=3600000");
	a = new_file(fs);
	b = new_file(fs);
	c = new_file(fs);
	got = fill(fs, a, 0, &root);
	assert_true(got > 0);
	assert_int_equal(sfs_fs_commit(fs), 0);
	/* The tree blocks the fill kept reserved for its writeout and did
	 * not need are free again: take them, so that the run freed below
	 * is all there is. */
	for (uint64_t l = 0; sfs_alloc_range(fs, c, l, 1, true) == 0; l++)
		assert_true(l < 64);
	assert_int_equal(sfs_fs_commit(fs), 0);
	/* Freed but not committed: only a commit makes them usable. */
	assert_int_equal(sfs_unmap_range(fs, a, 0, 100), 0);
	assert_int_equal(sfs_alloc_range(fs, b, 0, 50, true), 0);
	assert_int_equal(extents_of(fs, b), 1);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

static void test_sequential_allocations_form_one_extent(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	uint8_t buf[4096];
	uint64_t ino;

	(void)state;
	scratch_path(path, sizeof(path), "contig");
	make_image(path, 12, 32 << 20, 0);
	fs = mount_opts(path, NULL);
	ino = new_file(fs);
	memset(buf, 1, sizeof(buf));
	for (int i = 0; i < 2000; i++)
		assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), (uint64_t)i * 4096, 0, NULL),
				 sizeof(buf));
	assert_int_equal(extents_of(fs, ino), 1);
	/* Block by block through the block-level call too. */
	ino = new_file(fs);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i, 1, true), 0);
	assert_int_equal(extents_of(fs, ino), 1);
	assert_int_equal(sfs_convert_range(fs, ino, 0, 1000), 0);
	assert_int_equal(extents_of(fs, ino), 1);
	/* Alternating states cannot merge, but the blocks are still one run;
	 * converted, each leaf's extents merge again (not across leaves,
	 * as in ext4). */
	ino = new_file(fs);
	for (uint64_t i = 0; i < 1000; i++)
		assert_int_equal(sfs_alloc_range(fs, ino, i, 1, i & 1), 0);
	assert_int_equal(extents_of(fs, ino), 64);   /* the map's limit: many */
	assert_int_equal(sfs_convert_range(fs, ino, 0, 1000), 0);
	{
		struct sfs_map m[64];
		unsigned n;

		assert_int_equal(sfs_extent_map(fs, ino, 0, 1000, m, 64, &n), 0);
		assert_true(n < 10);
		for (unsigned i = 1; i < n; i++)
			assert_int_equal(m[i].pblk, m[i - 1].pblk + m[i - 1].len);
	}
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

/* Two files written in turns: windows keep each in a few long runs. */
static unsigned interleaved_extents(const char *opts)
{
	char path[256];
	struct sfs_fs *fs;
	uint8_t buf[4096] = { 0 };
	uint64_t a, b;
	unsigned n;

	scratch_path(path, sizeof(path), "interleave");
	make_image(path, 12, 32 << 20, 0);
	fs = mount_opts(path, opts);
	a = new_file(fs);
	b = new_file(fs);
	/* Open files, as the front end holds them. */
	assert_int_equal(sfs_inode_hold(fs, a), 0);
	assert_int_equal(sfs_inode_hold(fs, b), 0);
	/* O_SYNC writes: each allocates at once (the page cache would
	 * otherwise allocate each file's blocks in runs at writeback). */
	for (int i = 0; i < 1500; i++) {
		assert_int_equal(sfs_write(fs, a, buf, sizeof(buf), (uint64_t)i * 4096,
					   SFS_WRITE_SYNC, NULL), 4096);
		assert_int_equal(sfs_write(fs, b, buf, sizeof(buf), (uint64_t)i * 4096,
					   SFS_WRITE_SYNC, NULL), 4096);
	}
	n = extents_of(fs, a);
	assert_int_equal(sfs_inode_release(fs, a), 0);
	assert_int_equal(sfs_inode_release(fs, b), 0);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
	return n;
}

static void test_preallocation_windows_keep_interleaved_files_contiguous(void **state)
{
	unsigned with = interleaved_extents(NULL), without = interleaved_extents("noprealloc");

	(void)state;
	printf("interleaved 1500-block files: %u extents with windows, %u without\n", with, without);
	assert_true(with <= 8);
	assert_true(without > with);
}

static void test_groups_are_initialised_on_first_use(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	uint64_t ino;
	uint32_t g;

	(void)state;
	scratch_path(path, sizeof(path), "lazy");
	make_image(path, 12, 16 << 20, 512);
	fs = mount_opts(path, NULL);
	g = fs->sbi->geo.group_count;
	assert_true(g > 4);
	for (uint32_t i = 1; i < g; i++)
		assert_true(fs->sbi->gd[i].flags & SFS_BG_BLOCK_UNINIT);
	ino = new_file(fs);
	/* More than group 0 holds: the allocator moves on and initialises. */
	assert_int_equal(sfs_alloc_range(fs, ino, 0, 1500, true), 0);
	assert_false(fs->sbi->gd[1].flags & SFS_BG_BLOCK_UNINIT);
	assert_true(fs->sbi->gd[g - 1].flags & SFS_BG_BLOCK_UNINIT);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	fs = mount_opts(path, NULL);
	assert_false(fs->sbi->gd[1].flags & SFS_BG_BLOCK_UNINIT);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enospc_fill_and_drain_returns_counts_to_start),
		cmocka_unit_test(test_blocks_freed_are_not_reused_before_commit),
		cmocka_unit_test(test_enospc_with_busy_blocks_commits_and_retries),
		cmocka_unit_test(test_sequential_allocations_form_one_extent),
		cmocka_unit_test(test_preallocation_windows_keep_interleaved_files_contiguous),
		cmocka_unit_test(test_groups_are_initialised_on_first_use),
	};
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
