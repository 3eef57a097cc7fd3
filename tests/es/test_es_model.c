/*
 * Model-based test of the truncate family through the library: random
 * write-allocate, punch, collapse, insert, zero, truncate and fallocate on
 * one file, against a plain byte array (the file's contents and size).
 * After every step: the extent tree's invariants at every depth and the
 * checksums of its blocks (sfs_extent_verify), the status cache against
 * the tree (every cached range, holes included, says what the tree says),
 * and a window of the file's bytes against the model; the whole file
 * every 64 steps, fsck.scopefs at the end.  A fan-out cap of 3 entries per
 * node makes deep trees from few extents.
 *
 * Usage: test_es_model FSCK [OPS [SEED]]; SCOPEFS_SEED overrides the seed,
 * printed first so a failure can be replayed.
 */
#include <time.h>

#include "../fs/helpers.h"
#include "fs/es/es_map.h"
#include "fs/extent_tree.h"
#include "fs/inode.h"

const char *fsck_path;

#define BLOG 10u
#define BS (1u << BLOG)
#define MAXB 384u                 /* blocks the model covers */
#define MAXBYTES ((uint64_t)MAXB * BS)

static unsigned long long g_ops = 10000, g_seed;
static uint32_t rs;
static uint8_t model[MAXBYTES], got[MAXBYTES], wbuf[MAXBYTES];
static uint64_t msize;

static uint32_t rnd(uint32_t n)
{
	rs ^= rs << 13;
	rs ^= rs >> 17;
	rs ^= rs << 5;
	return n ? rs % n : 0;
}

static void mzero(uint64_t a, uint64_t b)
{
	if (b > MAXBYTES)
		b = MAXBYTES;
	if (a < b)
		memset(model + a, 0, b - a);
}

struct cached {
	struct sfs_es_extent v[4096];
	unsigned n;
};

static int collect(const struct sfs_es_extent *x, void *arg)
{
	struct cached *c = arg;

	if (c->n < 4096)
		c->v[c->n++] = *x;
	return 0;
}

/* Every cached range says what the tree says, block by block. */
static void check_cache(struct sfs_fs *fs, uint64_t ino, unsigned long long step)
{
	static struct cached c;
	struct sfs_inode_info *ip;

	assert_int_equal(sfs_iget(fs, ino, &ip), 0);
	mc_read_lock(&ip->data_sem);
	c.n = 0;
	sfs_es_walk(&ip->es, collect, &c);
	for (unsigned i = 0; i < c.n; i++) {
		const struct sfs_es_extent *x = &c.v[i];
		uint64_t b = x->lblk, end = (uint64_t)x->lblk + x->len;

		while (b < end) {
			struct sfs_extent e;
			int r = sfs_ext_lookup(ip, (uint32_t)b, 0, &e);
			uint64_t stop;

			assert_true(r >= 0);
			if (r == 0) {
				/* delayed (issue 10): reserved, no block yet */
				if (x->state != SFS_ES_HOLE && x->state != SFS_ES_DELAYED)
					fail_msg("step %llu: cache says %u+%u state %d, tree has a hole at %llu",
						 step, x->lblk, x->len, x->state, (unsigned long long)b);
				stop = (uint64_t)e.lblk + e.len;
			} else {
				enum sfs_es_state want = sfs_ext_unwritten(&e) ? SFS_ES_UNWRITTEN
									       : SFS_ES_WRITTEN;
				if (x->state != want || x->pblk + (b - x->lblk) != e.pblk + (b - e.lblk))
					fail_msg("step %llu: cache %u+%u -> %llu state %d, tree %u+%u -> %llu%s",
						 step, x->lblk, x->len, (unsigned long long)x->pblk,
						 x->state, e.lblk, e.len, (unsigned long long)e.pblk,
						 sfs_ext_unwritten(&e) ? " (u)" : "");
				stop = sfs_ext_end(&e);
			}
			b = stop < end ? stop : end;
		}
	}
	mc_rw_unlock(&ip->data_sem);
	sfs_iput(ip);
}

static void check_bytes(struct sfs_fs *fs, uint64_t ino, uint64_t a, uint64_t b,
			unsigned long long step)
{
	struct sfs_attr at;

	assert_int_equal(sfs_getattr(fs, ino, &at), 0);
	if (at.size != msize)
		fail_msg("step %llu: size %llu, model %llu", step, (unsigned long long)at.size,
			 (unsigned long long)msize);
	if (b > msize)
		b = msize;
	if (a >= b)
		return;
	assert_int_equal(sfs_read(fs, ino, got, b - a, a), (ssize_t)(b - a));
	for (uint64_t i = a; i < b; i++)
		if (got[i - a] != model[i])
			fail_msg("step %llu: byte %llu is %u, model %u", step, (unsigned long long)i,
				 got[i - a], model[i]);
}

static void one_step(struct sfs_fs *fs, uint64_t ino, unsigned long long step, uint64_t *win)
{
	unsigned op = rnd(100);
	uint64_t off = rnd(MAXB) * (uint64_t)BS + (rnd(3) ? 0 : rnd(BS));
	uint64_t len = (1 + rnd(12)) * (uint64_t)BS + (rnd(3) ? 0 : rnd(BS)) - (rnd(4) ? 0 : 1);
	int ret;

	if (off + len > MAXBYTES)
		len = MAXBYTES - off;
	if (!len)
		len = 1, off = 0;
	*win = off;
	if (op < 30) {                         /* write-allocate */
		for (uint64_t i = 0; i < len; i++)
			wbuf[i] = (uint8_t)(step * 7 + i + 1);
		assert_int_equal(sfs_write(fs, ino, wbuf, len, off, 0, NULL), (ssize_t)len);
		memcpy(model + off, wbuf, len);
		if (off + len > msize)
			msize = off + len;
	} else if (op < 45) {                  /* punch */
		assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_KEEP_SIZE,
					       off, len, NULL), 0);
		mzero(off, off + len);
	} else if (op < 55) {                  /* zero range */
		bool keep = rnd(2);

		assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_ZERO_RANGE |
					       (keep ? SFS_FALLOC_KEEP_SIZE : 0), off, len, NULL), 0);
		mzero(off, off + len);
		if (!keep && off + len > msize)
			msize = off + len;
		if (keep)
			mzero(msize, MAXBYTES);
	} else if (op < 65) {                  /* collapse */
		off &= ~(uint64_t)(BS - 1);
		len = (len + BS - 1) & ~(uint64_t)(BS - 1);
		ret = sfs_fallocate(fs, ino, SFS_FALLOC_COLLAPSE_RANGE, off, len, NULL);
		if (off + len >= msize) {
			assert_int_equal(ret, -EINVAL);
		} else {
			assert_int_equal(ret, 0);
			memmove(model + off, model + off + len, msize - off - len);
			msize -= len;
			mzero(msize, MAXBYTES);
		}
	} else if (op < 75) {                  /* insert */
		off &= ~(uint64_t)(BS - 1);
		len = (len + BS - 1) & ~(uint64_t)(BS - 1);
		if (msize + len > MAXBYTES)
			return;
		ret = sfs_fallocate(fs, ino, SFS_FALLOC_INSERT_RANGE, off, len, NULL);
		if (off >= msize) {
			assert_int_equal(ret, -EINVAL);
		} else {
			assert_int_equal(ret, 0);
			memmove(model + off + len, model + off, msize - off);
			mzero(off, off + len);
			msize += len;
		}
	} else if (op < 88) {                  /* truncate */
		uint64_t ns = rnd(4) ? rnd((uint32_t)MAXBYTES) : rnd(MAXB) * (uint64_t)BS;

		assert_int_equal(sfs_setattr(fs, ino, &(struct sfs_setattr){ .valid = SFS_SET_SIZE,
					     .size = ns }, NULL, NULL), 0);
		if (ns < msize)
			mzero(ns, msize);
		msize = ns;
	} else {                               /* fallocate (keep size or not) */
		bool keep = rnd(2);

		assert_int_equal(sfs_fallocate(fs, ino, keep ? SFS_FALLOC_KEEP_SIZE : 0, off, len,
					       NULL), 0);
		if (!keep && off + len > msize)
			msize = off + len;
	}
}

static void test_truncate_family_agrees_with_the_model(void **state)
{
	char path[256], why[256];
	struct sfs_fs *fs;
	uint64_t ino, win;
	(void)state;

	scratch_path(path, sizeof(path), "esmodel");
	make_image(path, BLOG, 16 << 20, 0);
	fs = mount_opts(path, "fanout=3");
	ino = new_file(fs);
	memset(model, 0, sizeof(model));
	msize = 0;
	for (unsigned long long step = 1; step <= g_ops; step++) {
		one_step(fs, ino, step, &win);
		if (sfs_extent_verify(fs, ino, why, sizeof(why)))
			fail_msg("step %llu: tree: %s", step, why);
		check_cache(fs, ino, step);
		check_bytes(fs, ino, win > 2 * BS ? win - 2 * BS : 0, win + 16 * BS, step);
		if (step % 64 == 0)
			check_bytes(fs, ino, 0, MAXBYTES, step);
		if (step % 5000 == 0) {   /* fresh cache, replayed journal */
			assert_int_equal(sfs_fs_unmount(fs), 0);
			fs = mount_opts(path, "fanout=3");
		}
	}
	check_bytes(fs, ino, 0, MAXBYTES, g_ops);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

/* SEEK_DATA / SEEK_HOLE over a known layout, twice (the second time from
 * the cache). */
static void test_seek_data_and_hole_follow_the_extents(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	uint64_t ino, r;
	(void)state;

	scratch_path(path, sizeof(path), "esseek");
	make_image(path, BLOG, 8 << 20, 0);
	fs = mount_opts(path, NULL);
	ino = new_file(fs);
	memset(wbuf, 0xab, 4 * BS);
	assert_int_equal(sfs_write(fs, ino, wbuf, 2 * BS, 10 * BS, 0, NULL), 2 * BS);
	assert_int_equal(sfs_fallocate(fs, ino, 0, 20 * BS, 4 * BS, NULL), 0);   /* unwritten */
	assert_int_equal(sfs_write(fs, ino, wbuf, BS, 30 * BS, 0, NULL), BS);
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(sfs_lseek_data_hole(fs, ino, 0, SFS_SEEK_DATA, &r), 0);
		assert_int_equal(r, 10 * BS);
		assert_int_equal(sfs_lseek_data_hole(fs, ino, 10 * BS + 5, SFS_SEEK_HOLE, &r), 0);
		assert_int_equal(r, 12 * BS);
		assert_int_equal(sfs_lseek_data_hole(fs, ino, 12 * BS, SFS_SEEK_DATA, &r), 0);
		assert_int_equal(r, 30 * BS);
		assert_int_equal(sfs_lseek_data_hole(fs, ino, 30 * BS, SFS_SEEK_HOLE, &r), 0);
		assert_int_equal(r, 31 * BS);
		assert_int_equal(sfs_lseek_data_hole(fs, ino, 31 * BS, SFS_SEEK_DATA, &r), -ENXIO);
	}
	/* The family's argument checks. */
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_PUNCH_HOLE, 0, BS, NULL), -EOPNOTSUPP);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_COLLAPSE_RANGE, 1, BS, NULL), -EINVAL);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_COLLAPSE_RANGE, 0, 31 * BS, NULL),
			 -EINVAL);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_INSERT_RANGE, 31 * BS, BS, NULL),
			 -EINVAL);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_INSERT_RANGE, 0, (1ull << 42) - BS,
				       NULL), -EFBIG);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_INSERT_RANGE | SFS_FALLOC_KEEP_SIZE, 0,
				       BS, NULL), -EINVAL);
	assert_int_equal(sfs_fallocate(fs, ino, SFS_FALLOC_PUNCH_HOLE | SFS_FALLOC_ZERO_RANGE |
				       SFS_FALLOC_KEEP_SIZE, 0, BS, NULL), -EOPNOTSUPP);
	assert_int_equal(sfs_lseek_data_hole(fs, ino, 1 << 20, SFS_SEEK_HOLE, &r), -ENXIO);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seek_data_and_hole_follow_the_extents),
		cmocka_unit_test(test_truncate_family_agrees_with_the_model),
	};
	const char *env = getenv("SCOPEFS_SEED");

	if (test_main_init(argc, argv))
		return 1;
	if (argc > 2)
		g_ops = strtoull(argv[2], NULL, 0);
	g_seed = env ? strtoull(env, NULL, 0)
		     : argc > 3 ? strtoull(argv[3], NULL, 0) : (unsigned long long)time(NULL);
	rs = (uint32_t)g_seed | 1;
	printf("es model: seed %llu, %llu operations (replay: SCOPEFS_SEED=%llu)\n", g_seed, g_ops,
	       g_seed);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
