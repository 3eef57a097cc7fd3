/*
 * Shared by the page cache tests: the fs tests' helpers (images, mount,
 * fsck) plus block counters straight from the allocator, so reservations
 * can be checked to the block.
 */
#ifndef TESTS_PC_HELPERS_H
#define TESTS_PC_HELPERS_H

#include "../fs/helpers.h"
#include "fs/balloc.h"
#include "fs/pagecache/pagecache.h"
#include "fs/super.h"

const char *fsck_path;

static inline struct sfs_block_counts counts_of(struct sfs_fs *fs)
{
	struct sfs_block_counts c;

	sfs_balloc_counts(fs, &c);
	return c;
}

static inline uint64_t seed_from_env(void)
{
	const char *s = getenv("SCOPEFS_SEED");

	return s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
}

static inline uint64_t xrand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
