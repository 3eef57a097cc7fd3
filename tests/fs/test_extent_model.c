/*
 * Model-based test of the extent tree: random inserts, range removals and
 * unwritten->written conversions on one inode, checked after every step
 * against a plain array (one entry per logical block: physical block and
 * state) and against every invariant of the tree at every depth
 * (sfs_ext_check: order, overlap, index keys, depths, owners, checksums of
 * the blocks as cached, block count); search right, search left and
 * lookup are compared with the walked extents at random and edge blocks
 * after every step.  A fan-out cap of 4 entries per node
 * makes depths 0 to 5 reachable with a few thousand extents; the run
 * alternates growing and shrinking phases and must pass through every
 * depth from 0 to 5.  Physical blocks come from the real allocator (so
 * fsck can check bitmaps against the tree at the end); the filesystem is
 * remounted and checked by fsck.scopefs every few thousand steps.
 *
 * Usage: test_fs_extent_model FSCK [OPS [SEED]]; SCOPEFS_SEED overrides the
 * seed.  The seed is printed first: a failure is replayed with it.
 */
#include <time.h>

#include "helpers.h"
#include "fs/balloc.h"
#include "fs/extent_tree.h"
#include "fs/file.h"
#include "fs/inode.h"
#include "fs/super.h"

const char *fsck_path;

#define LSPAN 24576u          /* logical blocks the model covers */
#define HIGH_EXTENTS 1300u
#define LOW_EXTENTS 8u

struct mblk {
	uint64_t pblk;            /* 0 = hole */
	bool unwritten;
};

struct model {
	struct mblk b[LSPAN];
	uint64_t extents_est;     /* from the last check */
};

static unsigned long long g_ops = 10000, g_seed;
static unsigned rnd_state;
static bool g_trace;   /* SCOPEFS_MODEL_TRACE: print every operation */

static uint32_t rnd(uint32_t n)
{
	/* xorshift: the same sequence on every libc */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return n ? rnd_state % n : 0;
}

struct walk_cmp {
	const struct model *m;
	uint64_t mapped;
	char why[200];
	struct sfs_extent *list;  /* the tree's extents in order, as walked */
	size_t n, cap;
};

static int cmp_extent(void *arg, const struct sfs_extent *e)
{
	struct walk_cmp *w = arg;

	if (sfs_ext_end(e) > LSPAN) {
		snprintf(w->why, sizeof(w->why), "extent %u+%u beyond the model", e->lblk, e->len);
		return -1;
	}
	for (uint32_t i = 0; i < e->len; i++) {
		const struct mblk *b = &w->m->b[e->lblk + i];

		if (b->pblk != e->pblk + i || b->unwritten != sfs_ext_unwritten(e)) {
			snprintf(w->why, sizeof(w->why),
				 "block %u: tree says %llu%s, model %llu%s", e->lblk + i,
				 (unsigned long long)(e->pblk + i), sfs_ext_unwritten(e) ? " (u)" : "",
				 (unsigned long long)b->pblk, b->unwritten ? " (u)" : "");
			return -1;
		}
	}
	w->mapped += e->len;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 256;
		w->list = realloc(w->list, w->cap * sizeof(*w->list));
		assert_non_null(w->list);
	}
	w->list[w->n++] = *e;
	return 0;
}

static bool same_extent(const struct sfs_extent *a, const struct sfs_extent *b)
{
	return a->lblk == b->lblk && a->len == b->len && a->pblk == b->pblk &&
	       sfs_ext_unwritten(a) == sfs_ext_unwritten(b);
}

static void search_fail(unsigned long long step, const char *fn, uint32_t lblk, int ret,
			const struct sfs_extent *got, int want, const struct sfs_extent *exp)
{
	fail_msg("seed %llu step %llu: %s(%u) = %d [%u+%u -> %llu%s], expected %d [%u+%u -> %llu%s]",
		 g_seed, step, fn, lblk, ret, got->lblk, got->len, (unsigned long long)got->pblk,
		 sfs_ext_unwritten(got) ? " u" : "", want, want ? exp->lblk : 0, want ? exp->len : 0,
		 want ? (unsigned long long)exp->pblk : 0ull,
		 want && sfs_ext_unwritten(exp) ? " u" : "");
}

/*
 * Search right, search left and lookup at @lblk against the walked list
 * (itself checked against the model): sfs_ext_next gives the first extent
 * ending after lblk, sfs_ext_prev the last starting at or before it,
 * sfs_ext_lookup the extent containing it or the hole up to the next one.
 */
static void check_search_at(struct sfs_inode_info *ip, const struct walk_cmp *w, uint32_t lblk,
			    unsigned long long step)
{
	const struct sfs_extent none = { 0 };
	const struct sfs_extent *nx = NULL, *pv = NULL;
	struct sfs_extent got;
	size_t lo = 0, hi = w->n;
	int ret;

	/* lo = first extent ending after lblk (ends increase with starts) */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (sfs_ext_end(&w->list[mid]) > lblk)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo < w->n)
		nx = &w->list[lo];
	if (nx && nx->lblk <= lblk)
		pv = nx;
	else if (lo > 0)
		pv = &w->list[lo - 1];

	memset(&got, 0, sizeof(got));
	ret = sfs_ext_next(ip, lblk, 0, &got);
	if (ret != (nx != NULL) || (nx && !same_extent(&got, nx)))
		search_fail(step, "sfs_ext_next", lblk, ret, &got, nx != NULL, nx ? nx : &none);
	memset(&got, 0, sizeof(got));
	ret = sfs_ext_prev(ip, lblk, 0, &got);
	if (ret != (pv != NULL) || (pv && !same_extent(&got, pv)))
		search_fail(step, "sfs_ext_prev", lblk, ret, &got, pv != NULL, pv ? pv : &none);

	memset(&got, 0, sizeof(got));
	ret = sfs_ext_lookup(ip, lblk, 0, &got);
	if (nx && nx->lblk <= lblk) {
		if (ret != 1 || !same_extent(&got, nx))
			search_fail(step, "sfs_ext_lookup", lblk, ret, &got, 1, nx);
	} else {
		uint64_t next = nx ? nx->lblk : SFS_EXT_LBLK_END;
		struct sfs_extent hole = {
			.lblk = lblk,
			.len = (uint16_t)(next - lblk > SFS_MAX_EXTENT_LEN ? SFS_MAX_EXTENT_LEN
									 : next - lblk),
		};

		if (ret != 0 || got.lblk != hole.lblk || got.len != hole.len)
			search_fail(step, "sfs_ext_lookup", lblk, ret, &got, 0, &hole);
	}
}

/* Random probes, the edges of a random extent, and the ends of the space. */
static void check_search(struct sfs_inode_info *ip, const struct walk_cmp *w,
			 unsigned long long step)
{
	static const uint32_t fixed[] = { 0, 1, LSPAN - 1, LSPAN, UINT32_MAX };

	for (unsigned i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		check_search_at(ip, w, fixed[i], step);
	for (unsigned i = 0; i < 8; i++)
		check_search_at(ip, w, rnd(LSPAN + 64), step);
	if (w->n) {
		const struct sfs_extent *e = &w->list[rnd((uint32_t)w->n)];

		if (e->lblk)
			check_search_at(ip, w, e->lblk - 1, step);
		check_search_at(ip, w, e->lblk, step);
		check_search_at(ip, w, (uint32_t)sfs_ext_end(e) - 1, step);
		check_search_at(ip, w, (uint32_t)sfs_ext_end(e), step);
	}
}

/* Tree invariants and agreement with the model; returns the depth. */
static unsigned check_all(struct sfs_inode_info *ip, struct model *m, unsigned long long step)
{
	struct walk_cmp w = { .m = m };
	struct sfs_ext_stats st;
	uint64_t model_mapped = 0;
	char why[256];
	int ret;

	ret = sfs_ext_check(ip, &st, why, sizeof(why));
	if (ret)
		fail_msg("seed %llu step %llu: invariant broken: %s", g_seed, step, why);
	ret = sfs_ext_walk(ip, 0, 0, cmp_extent, &w);
	if (ret)
		fail_msg("seed %llu step %llu: tree and model disagree: %s", g_seed, step, w.why);
	check_search(ip, &w, step);
	free(w.list);
	for (uint32_t i = 0; i < LSPAN; i++)
		model_mapped += m->b[i].pblk != 0;
	if (model_mapped != w.mapped || st.blocks != w.mapped)
		fail_msg("seed %llu step %llu: model maps %llu blocks, tree %llu (stats %llu)", g_seed,
			 step, (unsigned long long)model_mapped, (unsigned long long)w.mapped,
			 (unsigned long long)st.blocks);
	m->extents_est = st.extents;
	return st.depth;
}

static uint64_t random_goal(struct sfs_fs *fs)
{
	const struct sfs_geo *g = &fs->sbi->geo;
	uint32_t grp = rnd(g->group_count);

	return sfs_geo_group_start(g, grp) + sfs_geo_group_overhead(g) +
	       rnd(sfs_geo_group_blocks(g, grp) - sfs_geo_group_overhead(g));
}

static void op_insert(struct sfs_fs *fs, struct sfs_inode_info *ip, struct model *m,
		      unsigned long long step)
{
	uint32_t a = rnd(LSPAN), end, n;
	struct sfs_alloc_req req = { .lblk = 0 };
	struct sfs_extent e;
	struct sfs_trans t;
	uint64_t pblk;
	uint32_t got;
	bool unwritten = rnd(3) == 0;
	int ret;

	while (a < LSPAN && m->b[a].pblk)
		a++;
	if (a >= LSPAN)
		return;
	end = a;
	while (end < LSPAN && !m->b[end].pblk && end - a < 16)
		end++;
	n = 1 + rnd(end - a);
	req.len = n;
	/* Now and then continue the left neighbour physically: a merge. */
	if (a > 0 && m->b[a - 1].pblk && rnd(4) == 0) {
		req.goal = m->b[a - 1].pblk + 1;
		unwritten = m->b[a - 1].unwritten;
	} else {
		req.goal = random_goal(fs);
	}
	assert_int_equal(sfs_trans_start(fs, sfs_map_credits(ip) + 4, 0, &t), 0);
	assert_int_equal(sfs_inode_access(&t, ip, false), 0);
	ret = sfs_balloc(&t, &req, &pblk, &got);
	if (ret)
		fail_msg("seed %llu step %llu: allocation of %u blocks: %d", g_seed, step, n, ret);
	e = (struct sfs_extent){ .lblk = a, .len = (uint16_t)got, .pblk = pblk,
				 .flags = unwritten ? SFS_EXTENT_FL_UNWRITTEN : 0 };
	if (g_trace)
		printf("%llu: insert %u+%u -> %llu%s\n", step, a, got, (unsigned long long)pblk,
		       unwritten ? " (u)" : "");
	ret = sfs_ext_insert(&t, ip, &e, 0);
	if (ret)
		fail_msg("seed %llu step %llu: insert %u+%u: %d", g_seed, step, a, got, ret);
	mc_mutex_lock(&ip->attr_lock);
	ip->d.blocks += got;
	mc_mutex_unlock(&ip->attr_lock);
	assert_int_equal(sfs_inode_commit(&t, ip), 0);
	assert_int_equal(sfs_trans_stop(&t), 0);
	for (uint32_t i = 0; i < got; i++)
		m->b[a + i] = (struct mblk){ .pblk = pblk + i, .unwritten = unwritten };
}

static void op_remove(struct sfs_fs *fs, struct sfs_inode_info *ip, struct model *m,
		      unsigned long long step, bool big)
{
	uint32_t a = rnd(LSPAN), len = 1 + rnd(big ? 1500 : 40);
	uint64_t end = (uint64_t)a + len > LSPAN + 100 ? LSPAN + 100 : (uint64_t)a + len;
	unsigned flags = SFS_EXT_USE_RESERVE | (rnd(2) ? SFS_EXT_NOFAIL : 0);
	struct sfs_trans t;
	uint64_t freed, want = 0;
	int ret;

	if (g_trace)
		printf("%llu: remove %u..%llu\n", step, a, (unsigned long long)end);
	assert_int_equal(sfs_trans_start(fs, sfs_ext_credits(ip) + 8,
					 (flags & SFS_EXT_NOFAIL) ? SFS_TRANS_NOFAIL : 0, &t), 0);
	ret = sfs_ext_remove(&t, ip, a, end, flags, &freed);
	if (ret)
		fail_msg("seed %llu step %llu: remove %u..%llu: %d", g_seed, step, a,
			 (unsigned long long)end, ret);
	assert_int_equal(sfs_trans_stop(&t), 0);
	for (uint64_t i = a; i < end && i < LSPAN; i++) {
		want += m->b[i].pblk != 0;
		m->b[i].pblk = 0;
		m->b[i].unwritten = false;
	}
	if (freed != want)
		fail_msg("seed %llu step %llu: remove freed %llu blocks, the model had %llu", g_seed,
			 step, (unsigned long long)freed, (unsigned long long)want);
	(void)fs;
}

static void op_convert(struct sfs_fs *fs, struct sfs_inode_info *ip, struct model *m,
		       unsigned long long step)
{
	uint32_t a = rnd(LSPAN), len = 1 + rnd(30);
	struct sfs_trans t;
	int ret;

	if (a + len > LSPAN)
		len = LSPAN - a;
	if (g_trace)
		printf("%llu: convert %u+%u\n", step, a, len);
	assert_int_equal(sfs_trans_start(fs, sfs_ext_credits(ip), 0, &t), 0);
	ret = sfs_ext_mark_written(&t, ip, a, len, 0);
	if (ret)
		fail_msg("seed %llu step %llu: convert %u+%u: %d", g_seed, step, a, len, ret);
	assert_int_equal(sfs_trans_stop(&t), 0);
	for (uint32_t i = a; i < a + len; i++)
		m->b[i].unwritten = false;
}

static void test_random_operations_agree_with_the_model(void **state)
{
	char path[256];
	struct sfs_fs *fs;
	struct sfs_inode_info *ip;
	struct model *m = calloc(1, sizeof(*m));
	bool depth_seen[SFS_EXT_MAX_DEPTH + 1] = { false }, growing = true;
	unsigned long long inserts = 0, removes = 0, converts = 0, phases = 0;
	unsigned max_depth = 0;
	uint64_t ino;

	(void)state;
	rnd_state = (unsigned)(g_seed * 2654435761u) | 1;
	scratch_path(path, sizeof(path), "model");
	make_image(path, 10, 48 << 20, 0);
	fs = mount_opts(path, "fanout=4,noprealloc");
	ino = new_file(fs);
	assert_int_equal(sfs_iget(fs, ino, &ip), 0);
	for (unsigned long long step = 0; step < g_ops; step++) {
		uint32_t r = rnd(100);
		unsigned depth;

		mc_write_lock(&ip->data_sem);
		if (growing ? r < 70 : r < 12) {
			op_insert(fs, ip, m, step);
			inserts++;
		} else if (growing ? r < 85 : r < 88) {
			op_remove(fs, ip, m, step, !growing);
			removes++;
		} else {
			op_convert(fs, ip, m, step);
			converts++;
		}
		depth = check_all(ip, m, step);
		mc_rw_unlock(&ip->data_sem);
		/* Now and then every shrinker runs (the tree's index cache, the
		 * buffers it pinned): the next lookups rebuild from disk. */
		if (step % 97 == 96)
			mc_drop_caches();
		depth_seen[depth] = true;
		if (depth > max_depth)
			max_depth = depth;
		if (growing && m->extents_est >= HIGH_EXTENTS) {
			growing = false;
			phases++;
		} else if (!growing && m->extents_est <= LOW_EXTENTS) {
			growing = true;
			phases++;
		}
		if (step % 2500 == 2499) {
			/* Everything must survive a remount, and fsck agrees. */
			sfs_iput(ip);
			assert_int_equal(sfs_fs_unmount(fs), 0);
			assert_fsck_clean(path);
			fs = mount_opts(path, "fanout=4,noprealloc");
			assert_int_equal(sfs_iget(fs, ino, &ip), 0);
			mc_read_lock(&ip->data_sem);
			check_all(ip, m, step);
			mc_rw_unlock(&ip->data_sem);
		}
	}
	printf("seed %llu: %llu steps (%llu inserts, %llu removals, %llu conversions), "
	       "%llu phase changes, depths seen:", g_seed, g_ops, inserts, removes, converts,
	       phases);
	for (unsigned d = 0; d <= SFS_EXT_MAX_DEPTH; d++)
		if (depth_seen[d])
			printf(" %u", d);
	printf("\n");
	sfs_iput(ip);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(path);
	unlink(path);
	free(m);
	for (unsigned d = 0; d <= 5 && g_ops >= 10000; d++)
		if (!depth_seen[d])
			fail_msg("seed %llu: depth %u never reached (max %u)", g_seed, d, max_depth);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_operations_agree_with_the_model),
	};
	const char *env = getenv("SCOPEFS_SEED");
	int ret;

	if (test_main_init(argc, argv))
		return 1;
	if (argc > 2)
		g_ops = strtoull(argv[2], NULL, 0);
	g_seed = argc > 3 ? strtoull(argv[3], NULL, 0) : (unsigned long long)time(NULL);
	if (env)
		g_seed = strtoull(env, NULL, 0);
	g_trace = getenv("SCOPEFS_MODEL_TRACE") != NULL;
	printf("extent model: seed %llu, %llu operations (replay: SCOPEFS_SEED=%llu)\n", g_seed,
	       g_ops, g_seed);
	fflush(stdout);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	mc_shutdown();
	return ret;
}
