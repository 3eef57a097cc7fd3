/*
 * The page index: per-inode maps of pages (hash tables keyed by logical
 * block) in a per-mount hash keyed by inode number -- a map outlives the
 * in-memory inode, which the inode cache may drop; freeing an inode drops
 * its pages (truncate to 0) -- the page states and their counters, and
 * the shrinker that frees clean pages.
 *
 * Every allocation happens before the cache lock is taken: the shrinker
 * takes that lock (try-lock), so nothing may enter reclaim under it.
 */
#include <errno.h>
#include <string.h>

#include "fs/pagecache/pc_internal.h"

struct sfs_pc_tunables pc_tun;

void sfs_pc_tune(const struct sfs_pc_tunables *t)
{
	pc_tun = *t;
}

static uint32_t hash_ino(uint64_t ino, uint32_t n)
{
	return (uint32_t)((ino * 0x9E3779B97F4A7C15ull) >> 32) & (n - 1);
}

static uint32_t hash_idx(uint32_t idx, uint32_t n)
{
	/* Neighbouring blocks in neighbouring buckets: cheap and even. */
	return idx & (n - 1);
}

struct pc_map *pc_map_find(struct sfs_pcache *pc, uint64_t ino)
{
	for (struct pc_map *m = pc->hash[hash_ino(ino, pc->nbuckets)]; m; m = m->hnext)
		if (m->ino == ino)
			return m;
	return NULL;
}

struct pc_page *pc_page_find(struct pc_map *m, uint32_t idx)
{
	for (struct pc_page *pg = m->hash[hash_idx(idx, m->nbuckets)]; pg; pg = pg->hnext)
		if (pg->idx == idx)
			return pg;
	return NULL;
}

void pc_map_insert(struct sfs_pcache *pc, struct pc_map *m)
{
	struct pc_map **b = &pc->hash[hash_ino(m->ino, pc->nbuckets)];

	m->hnext = *b;
	*b = m;
}

/* A map's table is sized once, for the cache's largest useful size: the
 * budget's worth of pages, capped. */
#define MAP_BUCKETS 256u

struct pc_map *pc_map_alloc(struct sfs_inode_info *ip)
{
	struct pc_map *m = mc_zalloc(sizeof(*m), MC_KERNEL);

	if (!m)
		return NULL;
	m->hash = mc_calloc(MAP_BUCKETS, sizeof(*m->hash), MC_KERNEL);
	if (!m->hash) {
		mc_free(m);
		return NULL;
	}
	m->nbuckets = MAP_BUCKETS;
	m->ino = ip->ino;
	pc_list_init(&m->dirty);
	pc_list_init(&m->dlink);
	mc_mutex_init(&m->wb_lock, "pc.map_wb");
	return m;
}

void pc_map_free(struct pc_map *m)
{
	mc_mutex_destroy(&m->wb_lock);
	mc_free(m->hash);
	mc_free(m);
}

int pc_map_get(struct sfs_pcache *pc, struct sfs_inode_info *ip, struct pc_map **out)
{
	struct pc_map *m, *fresh;

	mc_mutex_lock(&pc->lock);
	m = pc_map_find(pc, ip->ino);
	mc_mutex_unlock(&pc->lock);
	if (m) {
		*out = m;
		return 0;
	}
	fresh = pc_map_alloc(ip);
	if (!fresh)
		return -ENOMEM;
	mc_mutex_lock(&pc->lock);
	m = pc_map_find(pc, ip->ino);
	if (!m) {
		pc_map_insert(pc, fresh);
		m = fresh;
		fresh = NULL;
	}
	mc_mutex_unlock(&pc->lock);
	if (fresh)
		pc_map_free(fresh);
	*out = m;
	return 0;
}

void pc_map_maybe_free(struct sfs_pcache *pc, struct pc_map *m)
{
	struct pc_map **pp;

	if (m->nr_pages || m->users || m->md_resv || jnl_rsv_held(&m->jrsv) ||
	    m->ord_started != m->ord_done)
		return;
	for (pp = &pc->hash[hash_ino(m->ino, pc->nbuckets)]; *pp && *pp != m; pp = &(*pp)->hnext)
		;
	if (*pp)
		*pp = m->hnext;
	/* Freeing never enters reclaim: safe under the lock. */
	pc_map_free(m);
}

struct pc_page *pc_page_alloc(struct sfs_fs *fs, uint32_t idx, bool nofail)
{
	mc_flags_t fl = MC_KERNEL | (nofail ? MC_NOFAIL : 0);
	struct pc_page *pg = nofail ? mc_alloc_named("pc.page_write", sizeof(*pg), fl)
				    : mc_alloc_named("pc.page", sizeof(*pg), fl);

	if (!pg)
		return NULL;
	/* A multiple of 4096 from alloc/ is 4096-aligned: O_DIRECT-ready. */
	pg->data = nofail ? mc_alloc_named("pc.data_write", fs->bsize, fl)
			  : mc_alloc_named("pc.data", fs->bsize, fl);
	if (!pg->data) {
		mc_free(pg);
		return NULL;
	}
	pg->idx = idx;
	pg->state = PG_READING;
	pg->delayed = false;
	pg->map = NULL;
	pg->hnext = NULL;
	pc_list_init(&pg->link);
	return pg;
}

void pc_page_free(struct pc_page *pg)
{
	mc_free(pg->data);
	mc_free(pg);
}

void pc_page_insert(struct sfs_pcache *pc, struct pc_map *m, struct pc_page *pg)
{
	struct pc_page **b = &m->hash[hash_idx(pg->idx, m->nbuckets)];

	pg->map = m;
	pg->hnext = *b;
	*b = pg;
	m->nr_pages++;
	pc->nr_pages++;
}

void pc_page_remove(struct sfs_pcache *pc, struct pc_page *pg)
{
	struct pc_map *m = pg->map;
	struct pc_page **pp = &m->hash[hash_idx(pg->idx, m->nbuckets)];

	while (*pp != pg)
		pp = &(*pp)->hnext;
	*pp = pg->hnext;
	if (pg->state == PG_CLEAN)
		pc->nr_clean--;
	pc_list_del(&pg->link);
	m->nr_pages--;
	pc->nr_pages--;
	pc_page_free(pg);
}

void pc_set_dirty(struct sfs_pcache *pc, struct pc_page *pg)
{
	struct pc_map *m = pg->map;

	if (pg->state == PG_CLEAN) {
		pc->nr_clean--;
		pc_list_del(&pg->link);
	}
	pg->state = PG_DIRTY;
	pc_list_add_tail(&m->dirty, &pg->link);
	if (!m->nr_dirty++)
		pc_list_add_tail(&pc->dirty_maps, &m->dlink);
	pc->nr_dirty++;
}

void pc_set_clean(struct sfs_pcache *pc, struct pc_page *pg)
{
	if (pg->state == PG_WRITEBACK) {
		pg->map->nr_wb--;
		pc->nr_wb--;
	}
	pg->state = PG_CLEAN;
	pc_list_add(&pc->lru, &pg->link);
	pc->nr_clean++;
}

int pc_inode_get(struct sfs_pcache *pc, struct pc_map *m, struct sfs_inode_info **out)
{
	/* -ENOENT: it is being freed, and freeing drops its pages. */
	return sfs_iget(pc->fs, m->ino, out);
}

/* ---- shrinker: clean pages, coldest first ---- */

static size_t pc_count(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_pcache *pc = s->priv;
	size_t clean = (size_t)__atomic_load_n(&pc->nr_clean, __ATOMIC_RELAXED);

	(void)sc;
	/* Reclaim asks and nothing clean is left while data waits to be
	 * written: only writeback can give memory back now. */
	if (!clean && (__atomic_load_n(&pc->nr_dirty, __ATOMIC_RELAXED) ||
		       __atomic_load_n(&pc->nr_wb, __ATOMIC_RELAXED)))
		PC_STAT(pc, shrink_no_clean, 1);
	return clean;
}

static size_t pc_scan(struct mc_shrinker *s, struct mc_shrink_control *sc)
{
	struct sfs_pcache *pc = s->priv;
	size_t freed = 0;

	if (!mc_mutex_trylock(&pc->lock))
		return MC_SHRINK_STOP;
	while (freed < sc->nr_to_scan && !pc_list_empty(&pc->lru)) {
		struct pc_page *pg = pc_entry(pc->lru.prev, struct pc_page, link);
		struct pc_map *m = pg->map;

		pc_page_remove(pc, pg);
		pc_map_maybe_free(pc, m);
		freed++;
	}
	mc_mutex_unlock(&pc->lock);
	PC_STAT(pc, shrunk, freed);
	return freed;
}

int pc_index_init(struct sfs_pcache *pc)
{
	pc->nbuckets = 1024;
	pc->hash = mc_calloc(pc->nbuckets, sizeof(*pc->hash), MC_KERNEL);
	if (!pc->hash)
		return -ENOMEM;
	mc_mutex_init(&pc->lock, "pc.lock");
	mc_cond_init(&pc->cond);
	mc_cond_init(&pc->balance);
	pc_list_init(&pc->lru);
	pc_list_init(&pc->dirty_maps);
	pc->shrinker = (struct mc_shrinker){
		.name = "pc.clean", .needs = 0, .count = pc_count, .scan = pc_scan, .priv = pc,
	};
	return mc_shrinker_register(&pc->shrinker);
}

/* Every page is clean (sync_all ran) or the mount failed: free all. */
void pc_index_destroy(struct sfs_pcache *pc)
{
	mc_shrinker_unregister(&pc->shrinker);
	for (uint32_t b = 0; b < pc->nbuckets; b++) {
		while (pc->hash[b]) {
			struct pc_map *m = pc->hash[b];

			pc->hash[b] = m->hnext;
			for (uint32_t i = 0; i < m->nbuckets; i++) {
				while (m->hash[i]) {
					struct pc_page *pg = m->hash[i];

					m->hash[i] = pg->hnext;
					pc_page_free(pg);
				}
			}
			pc_map_free(m);
		}
	}
	mc_free(pc->hash);
	pthread_cond_destroy(&pc->cond);
	pthread_cond_destroy(&pc->balance);
	mc_mutex_destroy(&pc->lock);
}
