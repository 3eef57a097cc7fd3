/*
 * The page cache (issue 10): data written and read back through the
 * library at every size and alignment against an in-memory model;
 * delayed-allocation reservations exactly returned by truncate, punch,
 * zero, collapse and unlink of dirty ranges; ENOSPC at write time;
 * fsync / fdatasync; journal credits reserved at dirty time and used by
 * writeback, with a full log; a sequential file in few extents.
 */
#include <time.h>

#include "pc_helpers.h"

#define FILE_MAX (1u << 20)

struct env {
	char path[256];
	struct sfs_fs *fs;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	/* no periodic writeback: the tests say when pages are written */
	struct sfs_pc_tunables t = { .interval_ms = 3600 * 1000 };

	sfs_pc_tune(&t);
	scratch_path(e->path, sizeof(e->path), "pc");
	make_image(e->path, 12, 64 << 20, 0);
	e->fs = mount_opts(e->path, NULL);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	assert_fsck_clean(e->path);
	unlink(e->path);
	free(e);
	return 0;
}

static void remount(struct env *e)
{
	assert_int_equal(sfs_fs_unmount(e->fs), 0);
	e->fs = mount_opts(e->path, NULL);
}

static void check_file(struct sfs_fs *fs, uint64_t ino, const uint8_t *model, uint64_t size)
{
	static uint8_t got[FILE_MAX + 4096];
	struct sfs_attr a;

	assert_int_equal(sfs_getattr(fs, ino, &a), 0);
	assert_int_equal(a.size, size);
	assert_int_equal(sfs_read(fs, ino, got, sizeof(got), 0), (ssize_t)size);
	assert_memory_equal(got, model, size);
}

/* Every size from 1 byte to a few blocks at every alignment within a
 * block (in steps), then random writes, reads and truncates against the
 * model, with a sync and a remount in the middle. */
static void test_every_size_and_alignment_matches_the_model(void **state)
{
	struct env *e = *state;
	static uint8_t model[FILE_MAX], buf[3 * 4096 + 512], rd[FILE_MAX];
	uint64_t seed = seed_from_env(), s, size = 0, ino = new_file(e->fs);

	printf("page cache model: seed %llu (replay: SCOPEFS_SEED=%llu)\n",
	       (unsigned long long)seed, (unsigned long long)seed);
	s = seed | 1;
	memset(model, 0, sizeof(model));
	for (uint32_t len = 1; len <= sizeof(buf); len += len < 64 ? 1 : 509) {
		for (uint32_t align = 0; align < 4096; align += 4096 / 8 - 3) {
			uint64_t off = (uint64_t)(xrand(&s) % 64) * 4096 + align;

			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)xrand(&s);
			assert_int_equal(sfs_write(e->fs, ino, buf, len, off, 0, NULL), (ssize_t)len);
			memcpy(model + off, buf, len);
			if (off + len > size)
				size = off + len;
			/* read back the written range at once (from the cache) */
			assert_int_equal(sfs_read(e->fs, ino, rd, len, off), (ssize_t)len);
			assert_memory_equal(rd, buf, len);
		}
	}
	check_file(e->fs, ino, model, size);
	assert_int_equal(sfs_fs_sync(e->fs), 0);
	check_file(e->fs, ino, model, size);
	for (int step = 0; step < 400; step++) {
		uint64_t op = xrand(&s) % 10, off = xrand(&s) % (FILE_MAX - sizeof(buf));
		uint32_t len = 1 + (uint32_t)(xrand(&s) % sizeof(buf));

		if (op < 6) {
			for (uint32_t i = 0; i < len; i++)
				buf[i] = (uint8_t)xrand(&s);
			assert_int_equal(sfs_write(e->fs, ino, buf, len, off, 0, NULL), (ssize_t)len);
			memcpy(model + off, buf, len);
			if (off + len > size)
				size = off + len;
		} else if (op < 8) {
			ssize_t want = off >= size ? 0 : (ssize_t)(size - off < len ? size - off : len);

			assert_int_equal(sfs_read(e->fs, ino, rd, len, off), want);
			assert_memory_equal(rd, model + off, (size_t)want);
		} else if (op < 9) {
			uint64_t ns = xrand(&s) % (size + 1);

			assert_int_equal(sfs_setattr(e->fs, ino, &(struct sfs_setattr){
					 .valid = SFS_SET_SIZE, .size = ns }, NULL, NULL), 0);
			if (ns < size)
				memset(model + ns, 0, size - ns);
			size = ns;
		} else if (step % 3 == 0) {
			assert_int_equal(sfs_fsync(e->fs, ino, step & 1), 0);
		}
		if (step == 200) {
			remount(e);
			check_file(e->fs, ino, model, size);
		}
	}
	check_file(e->fs, ino, model, size);
	remount(e);
	check_file(e->fs, ino, model, size);
}

/* Reserved = dirty pages over holes + the tree blocks of inodes with
 * such pages; the allocator's count must follow exactly. */
static void assert_reserved(struct sfs_fs *fs, uint64_t want)
{
	struct sfs_pc_stats ps;

	sfs_pc_stats(fs, &ps);
	assert_int_equal(ps.delayed, want);
	assert_int_equal(counts_of(fs).dirty, ps.delayed + ps.reserved_md);
}

static void test_reservations_return_exactly(void **state)
{
	struct env *e = *state;
	static uint8_t buf[64 * 4096];
	struct sfs_block_counts c0, c;
	uint64_t a, b, d, f;
	struct sfs_attr at;

	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	a = new_file(e->fs);
	b = new_file(e->fs);
	d = new_file(e->fs);
	f = new_file(e->fs);
	/* The first truncate gives the orphan file its block: before c0. */
	assert_int_equal(sfs_write(e->fs, a, buf, 1, 0, 0, NULL), 1);
	assert_int_equal(sfs_setattr(e->fs, a, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 0 }, NULL, NULL), 0);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	c0 = counts_of(e->fs);
	assert_int_equal(c0.dirty, 0);
	/* 64 dirty blocks each, nothing allocated yet */
	for (uint64_t ino = a; ino <= f; ino++)
		assert_int_equal(sfs_write(e->fs, ino, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	assert_reserved(e->fs, 4 * 64);
	c = counts_of(e->fs);
	assert_int_equal(c.free, c0.free);          /* nothing allocated on disk */
	assert_int_equal(sfs_getattr(e->fs, a, &at), 0);
	assert_int_equal(at.blocks, 64 * 8);        /* st_blocks shows them */
	/* truncate half of a */
	assert_int_equal(sfs_setattr(e->fs, a, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 32 * 4096 + 100 }, NULL, NULL), 0);
	assert_reserved(e->fs, 3 * 64 + 33);
	/* punch 10 whole blocks (and two partial ends) out of b */
	assert_int_equal(sfs_remove_range(e->fs, b, 5 * 4096 + 7, 10 * 4096), 0);
	assert_reserved(e->fs, 2 * 64 + 33 + 55);
	/* zero range allocates (unwritten): blocks 20..29 of d leave the
	 * reservation count, written back first */
	assert_int_equal(sfs_fallocate(e->fs, d, SFS_FALLOC_ZERO_RANGE | SFS_FALLOC_KEEP_SIZE,
				       20 * 4096, 10 * 4096, NULL), 0);
	assert_reserved(e->fs, 64 + 33 + 55 + 54);
	/* collapse 8 blocks of f: the range is dropped, the rest written */
	assert_int_equal(sfs_fallocate(e->fs, f, SFS_FALLOC_COLLAPSE_RANGE, 8 * 4096, 8 * 4096,
				       NULL), 0);
	assert_reserved(e->fs, 33 + 55 + 54 + 8);
	assert_int_equal(sfs_read(e->fs, f, buf, 4096, 8 * 4096), 4096);
	assert_int_equal(buf[0], 0x77);
	assert_int_equal(sfs_getattr(e->fs, f, &at), 0);
	assert_int_equal(at.size, 56 * 4096);
	/* unlink of files with dirty ranges */
	assert_int_equal(unlink_file(e->fs, a), 0);
	assert_reserved(e->fs, 55 + 54 + 8);
	assert_int_equal(unlink_file(e->fs, b), 0);
	assert_int_equal(unlink_file(e->fs, d), 0);
	assert_int_equal(unlink_file(e->fs, f), 0);
	assert_reserved(e->fs, 0);
	assert_int_equal(sfs_fs_commit(e->fs), 0);
	c = counts_of(e->fs);
	assert_int_equal(c.dirty, 0);
	assert_int_equal(c.free, c0.free);
}

static void test_enospc_at_write_time(void **state)
{
	struct env *e = *state;
	static uint8_t buf[1 << 20];
	struct sfs_cred user = { .uid = 1000, .gid = 1000 };
	uint64_t ino = new_file(e->fs), off = 0;
	struct sfs_pc_stats ps;
	ssize_t n;

	memset(buf, 0x42, sizeof(buf));
	for (;;) {
		n = sfs_write(e->fs, ino, buf, sizeof(buf), off, 0, &user);
		if (n < 0)
			break;
		off += (uint64_t)n;
	}
	assert_int_equal(n, -ENOSPC);
	assert_true(off > (32u << 20));
	/* nothing written back yet may fail: every reservation is honoured */
	assert_int_equal(sfs_fsync(e->fs, ino, false), 0);
	sfs_pc_stats(e->fs, &ps);
	assert_int_equal(ps.wb_errors, 0);
	assert_int_equal(ps.delayed, 0);
	assert_int_equal(sfs_read(e->fs, ino, buf, 4096, off - 4096), 4096);
	assert_int_equal(buf[4095], 0x42);
	assert_int_equal(unlink_file(e->fs, ino), 0);
}

/*
 * Near a full filesystem the tree blocks a delayed inode's writeout may
 * need still come reserved: from the filesystem reserve when the free
 * space is gone, and a write that cannot have them fails with ENOSPC
 * rather than leaving writeback to find out.  Every inode with delayed
 * pages holds its tree blocks at every step, and everything written back
 * afterwards succeeds.
 */
static void test_tree_blocks_reserved_near_full(void **state)
{
	struct env *e = *state;
	static uint8_t buf[1 << 20];
	static uint64_t inos[1024];
	struct sfs_cred user = { .uid = 1000, .gid = 1000 };
	/* many tree blocks per inode: the space short of them but not of
	 * data is wide, not a block or two at the very end */
	struct sfs_pc_tunables t = { .interval_ms = 3600 * 1000, .md_reserve = 64 };
	uint64_t fill = new_file(e->fs), off = 0, k = t.md_reserve;
	struct sfs_block_counts c;
	struct sfs_pc_stats ps;
	unsigned n = 0;
	ssize_t r;

	sfs_pc_tune(&t);
	memset(buf, 0x33, sizeof(buf));
	/* the inodes first: creating them needs space too */
	for (unsigned i = 0; i < 1024; i++)
		inos[i] = new_file(e->fs);
	while ((r = sfs_write(e->fs, fill, buf, sizeof(buf), off, 0, &user)) > 0)
		off += (uint64_t)r;
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(sfs_fsync(e->fs, fill, false), 0);
	/* root's reserve left for data: one new file a page each until even
	 * the tree blocks cannot be had */
	for (;;) {
		assert_true(n < 1024);
		r = sfs_write(e->fs, inos[n], buf, 4096, 0, 0, NULL);
		sfs_pc_stats(e->fs, &ps);
		if (r < 0)
			break;
		n++;
		/* one page each: every inode with a delayed page holds its
		 * tree blocks (the thread may be writing one back: its tree
		 * blocks are in use then) */
		if (!ps.writeback)
			assert_int_equal(ps.reserved_md, ps.delayed * k);
	}
	assert_int_equal(r, -ENOSPC);
	assert_true(n > 8);
	/* the last ones' tree blocks came out of the filesystem reserve */
	c = counts_of(e->fs);
	assert_true(c.free - c.busy - c.dirty < c.fs_resv);
	for (unsigned i = 0; i < n; i++)
		assert_int_equal(sfs_fsync(e->fs, inos[i], false), 0);
	sfs_pc_stats(e->fs, &ps);
	assert_int_equal(ps.wb_errors, 0);
	assert_int_equal(ps.delayed, 0);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(unlink_file(e->fs, inos[i]), 0);
	assert_int_equal(unlink_file(e->fs, fill), 0);
	t.md_reserve = 0;
	sfs_pc_tune(&t);
}

static void test_fsync_and_fdatasync_commit_what_they_need(void **state)
{
	struct env *e = *state;
	struct jnl_stats j0, j1;
	uint8_t buf[8192];
	uint64_t ino = new_file(e->fs);

	memset(buf, 1, sizeof(buf));
	assert_int_equal(sfs_write(e->fs, ino, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	jnl_get_stats(e->fs->j, &j0);
	assert_int_equal(sfs_fsync(e->fs, ino, true), 0);   /* size + allocation: a commit */
	jnl_get_stats(e->fs->j, &j1);
	assert_int_equal(j1.fsync_commit, j0.fsync_commit + 1);
	/* An overwrite changes only the times: fdatasync flushes, no commit. */
	assert_int_equal(sfs_write(e->fs, ino, buf, 4096, 0, 0, NULL), 4096);
	jnl_get_stats(e->fs->j, &j0);
	assert_int_equal(sfs_fsync(e->fs, ino, true), 0);
	jnl_get_stats(e->fs->j, &j1);
	assert_int_equal(j1.fsync_commit, j0.fsync_commit);
	assert_int_equal(j1.fsync_fast, j0.fsync_fast + 1);
	/* fsync wants the times too: a commit. */
	assert_int_equal(sfs_write(e->fs, ino, buf, 4096, 0, 0, NULL), 4096);
	jnl_get_stats(e->fs->j, &j0);
	assert_int_equal(sfs_fsync(e->fs, ino, false), 0);
	jnl_get_stats(e->fs->j, &j1);
	assert_int_equal(j1.fsync_commit, j0.fsync_commit + 1);
	/* Changes of size or mapping made without the page cache (a
	 * fallocate that grows the file, a punch) are what fdatasync is for,
	 * though the file has cached pages: each needs a commit. */
	assert_int_equal(sfs_fallocate(e->fs, ino, 0, 8192, 4096, NULL), 0);
	jnl_get_stats(e->fs->j, &j0);
	assert_int_equal(sfs_fsync(e->fs, ino, true), 0);
	jnl_get_stats(e->fs->j, &j1);
	assert_int_equal(j1.fsync_commit, j0.fsync_commit + 1);
	assert_int_equal(sfs_fallocate(e->fs, ino, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE, 4096,
				       4096, NULL), 0);
	jnl_get_stats(e->fs->j, &j0);
	assert_int_equal(sfs_fsync(e->fs, ino, true), 0);
	jnl_get_stats(e->fs->j, &j1);
	assert_int_equal(j1.fsync_commit, j0.fsync_commit + 1);
	/* durable across a power cut */
	sfs_bdev_power_cut(sfs_fs_bdev(e->fs));
	sfs_fs_unmount(e->fs);
	e->fs = mount_opts(e->path, NULL);
	memset(buf, 0x77, sizeof(buf));
	assert_int_equal(sfs_read(e->fs, ino, buf, sizeof(buf), 0), sizeof(buf));
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[4095], 1);
	assert_int_equal(buf[4096], 0);        /* punched */
	assert_int_equal(buf[8191], 0);
	{
		struct sfs_attr a;

		assert_int_equal(sfs_getattr(e->fs, ino, &a), 0);
		assert_int_equal(a.size, 12288);   /* grown by fallocate */
	}
}

/* A file written in order at 4 KiB gets long extents (allocated at
 * writeback); the default size is small enough for ASan, the benchmark
 * and SCOPEFS_PC_SEQ_MIB=1024 run the 1 GiB case. */
static void test_sequential_write_few_extents(void **state)
{
	const char *env = getenv("SCOPEFS_PC_SEQ_MIB");
	uint64_t mib = env ? strtoull(env, NULL, 0) : 128, ino;
	static uint8_t buf[4096];
	struct sfs_map m[64];
	char path[256];
	struct sfs_fs *fs;
	unsigned n, limit;

	(void)state;
	scratch_path(path, sizeof(path), "pcseq");
	make_image(path, 12, (mib + mib / 4 + 64) << 20, 0);
	fs = mount_opts(path, NULL);
	ino = new_file(fs);
	for (uint64_t off = 0; off < (mib << 20); off += sizeof(buf)) {
		buf[0] = (uint8_t)(off >> 12);
		assert_int_equal(sfs_write(fs, ino, buf, sizeof(buf), off, 0, NULL), sizeof(buf));
	}
	assert_int_equal(sfs_extent_map(fs, ino, 0, 1ull << 32, m, 64, &n), 0);
	/* one extent per group at most (32768 blocks each), + 2 */
	limit = (unsigned)((mib << 20) / (32768ull * 4096)) + 2;
	printf("%llu MiB at 4 KiB: %u extents (limit %u)\n", (unsigned long long)mib, n, limit);
	assert_true(n <= limit);
	assert_true(n <= 10);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

/* Inodes holding journal credits, seen by the page cache and the journal. */
static void assert_credits(struct sfs_fs *fs, uint64_t want)
{
	struct sfs_pc_stats ps;
	struct jnl_stats js;

	sfs_pc_stats(fs, &ps);
	jnl_get_stats(fs->j, &js);
	assert_int_equal(ps.jrsv, want);
	assert_int_equal(js.rsv_held, want);
}

/*
 * Journal credits are reserved when a page that will need a handle at
 * writeback is dirtied (over a hole: to map it; over an unwritten block:
 * to convert it), one reservation per inode; an overwrite of written
 * blocks needs none.  Writeback starts its handles from them, and
 * truncate, punch and unlink of the dirty ranges give them back.
 */
static void test_journal_credits_reserved_at_dirty_time(void **state)
{
	struct env *e = *state;
	static uint8_t buf[16 * 4096];
	struct sfs_pc_stats p0, p1;
	uint64_t a, b, d, f, w, u;

	memset(buf, 0x5a, sizeof(buf));
	a = new_file(e->fs);
	b = new_file(e->fs);
	d = new_file(e->fs);
	f = new_file(e->fs);
	w = new_file(e->fs);
	u = new_file(e->fs);
	/* w: written and clean; u: unwritten (fallocated) */
	assert_int_equal(sfs_write(e->fs, w, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	assert_int_equal(sfs_fallocate(e->fs, u, 0, 0, sizeof(buf), NULL), 0);
	assert_int_equal(sfs_fsync(e->fs, w, false), 0);
	assert_int_equal(sfs_fsync(e->fs, u, false), 0);
	assert_credits(e->fs, 0);

	for (uint64_t ino = a; ino <= f; ino++) {
		assert_int_equal(sfs_write(e->fs, ino, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
		/* a second write to the same inode shares its reservation */
		assert_int_equal(sfs_write(e->fs, ino, buf, 4096, 1 << 20, 0, NULL), 4096);
	}
	assert_credits(e->fs, 4);
	assert_int_equal(sfs_write(e->fs, w, buf, sizeof(buf), 0, 0, NULL), sizeof(buf));
	assert_credits(e->fs, 4);                   /* overwrite: nothing to map */
	assert_int_equal(sfs_write(e->fs, u, buf, 4096, 4096, 0, NULL), 4096);
	assert_credits(e->fs, 5);                   /* unwritten: a conversion */

	/* given back with the dirty ranges */
	assert_int_equal(sfs_setattr(e->fs, a, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
				     .size = 0 }, NULL, NULL), 0);
	assert_credits(e->fs, 4);
	assert_int_equal(sfs_remove_range(e->fs, b, 0, (1 << 20) + 4096), 0);
	assert_credits(e->fs, 3);
	assert_int_equal(unlink_file(e->fs, d), 0);
	assert_credits(e->fs, 2);

	/* writeback starts from them, and they go once nothing is dirty */
	sfs_pc_stats(e->fs, &p0);
	assert_int_equal(sfs_fsync(e->fs, f, false), 0);
	assert_credits(e->fs, 1);
	assert_int_equal(sfs_fsync(e->fs, u, false), 0);
	assert_credits(e->fs, 0);
	sfs_pc_stats(e->fs, &p1);
	assert_int_equal(p1.wb_rsv_starts - p0.wb_rsv_starts, 2);
	assert_int_equal(p1.wb_plain_starts, p0.wb_plain_starts);
	/* w's overwrite is written back with no handle at all */
	assert_int_equal(sfs_fsync(e->fs, w, false), 0);
	sfs_pc_stats(e->fs, &p0);
	assert_int_equal(p0.wb_rsv_starts + p0.wb_plain_starts,
			 p1.wb_rsv_starts + p1.wb_plain_starts);
	remount(e);
	assert_int_equal(sfs_read(e->fs, f, buf, 4096, 1 << 20), 4096);
	assert_int_equal(buf[4095], 0x5a);
	assert_int_equal(sfs_read(e->fs, u, buf, 4096, 4096), 4096);
	assert_int_equal(buf[0], 0x5a);
}

struct churn {
	pthread_t th;
	struct sfs_fs *fs;
	uint64_t ino[64];
	_Atomic int stop;
	uint64_t ops;
	int ret;
};

/* Metadata changes in a loop: they fill the log and wait for checkpoints. */
static void *churn_fn(void *arg)
{
	struct churn *c = arg;

	while (!c->stop && !c->ret) {
		struct sfs_setattr sa = { .valid = SFS_SET_MODE, .mode = 0600 | (c->ops & 077) };

		c->ret = sfs_setattr(c->fs, c->ino[c->ops % 64], &sa, NULL, NULL);
		/* a commit each time: many small transactions fill the log */
		if (!c->ret)
			c->ret = sfs_fs_commit(c->fs);
		c->ops++;
	}
	return NULL;
}

/*
 * A small log (1,024 blocks: reservations capped at 256 of them) kept full
 * by metadata churn, and forty writers' files with delayed data: writers
 * past the cap wait while writeback gives reservations back, every
 * writeback handle of a delayed file starts from its reservation, and the
 * data is there after a remount.
 */
static void test_journal_credits_with_a_full_log(void **state)
{
	struct img_params ip = { .block_log = 12, .size = 256 << 20, .journal_bytes = 4 << 20,
				 .reserved_pct_x100 = 500 };
	static uint8_t buf[8 * 4096];
	struct sfs_pc_tunables t = { .interval_ms = 3600 * 1000 };
	struct sfs_pc_stats p0, p1;
	struct jnl_stats j0, j1 = { 0 };
	struct churn c = { 0 };
	uint64_t files[40];
	char path[256];
	struct sfs_fs *fs;

	(void)state;
	sfs_pc_tune(&t);
	scratch_path(path, sizeof(path), "pcjrsv");
	make_image_p(path, &ip);
	fs = mount_opts(path, NULL);
	c.fs = fs;
	for (unsigned i = 0; i < 64; i++)
		c.ino[i] = new_file(fs);
	for (unsigned i = 0; i < 40; i++)
		files[i] = new_file(fs);
	assert_int_equal(sfs_fs_commit(fs), 0);
	sfs_pc_stats(fs, &p0);
	jnl_get_stats(fs->j, &j0);
	j1 = j0;
	assert_int_equal(pthread_create(&c.th, NULL, churn_fn, &c), 0);
	/* the log fills up: handles start waiting for checkpoints */
	for (uint64_t t0 = mc_monotonic_ns(); j1.checkpoint_waits == j0.checkpoint_waits;) {
		assert_true(mc_monotonic_ns() - t0 < 60000000000ull);
		usleep(2000);
		jnl_get_stats(fs->j, &j1);
	}
	for (unsigned round = 0; round < 3; round++) {
		for (unsigned i = 0; i < 40; i++) {
			memset(buf, (int)(i + round), sizeof(buf));
			assert_int_equal(sfs_write(fs, files[i], buf, sizeof(buf),
						   (uint64_t)round * sizeof(buf), 0, NULL),
					 sizeof(buf));
		}
		for (unsigned i = 0; i < 40; i += 2)
			assert_int_equal(sfs_fsync(fs, files[i], true), 0);
	}
	c.stop = 1;
	assert_int_equal(pthread_join(c.th, NULL), 0);
	assert_int_equal(c.ret, 0);
	sfs_pc_stats(fs, &p1);
	jnl_get_stats(fs->j, &j1);
	sfs_pc_print_stats(fs, stderr, 0);
	jnl_print_stats(fs->j, stderr, 0);
	assert_true(j1.wraps > j0.wraps);
	assert_true(j1.rsv_blocks <= j1.rsv_cap);
	assert_true(p1.jrsv_waits > p0.jrsv_waits);              /* the cap was reached */
	assert_true(p1.wb_rsv_starts - p0.wb_rsv_starts >= 40);
	assert_int_equal(p1.wb_plain_starts, p0.wb_plain_starts);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	fs = mount_opts(path, NULL);
	for (unsigned i = 0; i < 40; i++) {
		for (unsigned round = 0; round < 3; round++) {
			assert_int_equal(sfs_read(fs, files[i], buf, sizeof(buf),
						  (uint64_t)round * sizeof(buf)), sizeof(buf));
			assert_int_equal(buf[0], (uint8_t)(i + round));
			assert_int_equal(buf[sizeof(buf) - 1], (uint8_t)(i + round));
		}
	}
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_every_size_and_alignment_matches_the_model,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reservations_return_exactly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc_at_write_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tree_blocks_reserved_near_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_and_fdatasync_commit_what_they_need,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_journal_credits_reserved_at_dirty_time, setup,
						teardown),
		cmocka_unit_test(test_journal_credits_with_a_full_log),
		cmocka_unit_test(test_sequential_write_few_extents),
	};
	const struct CMUnitTest seq_only[] = {
		cmocka_unit_test(test_sequential_write_few_extents),
	};

	if (test_main_init(argc, argv))
		return 1;
	/* "seq": the sequential test alone (the stress suite's 1 GiB run) */
	if (argc > 2 && !strcmp(argv[2], "seq"))
		return cmocka_run_group_tests(seq_only, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
