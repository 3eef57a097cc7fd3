/*
 * Pieces the filesystem-level workloads (ns, trunc, data, mix) share: making
 * the 16 MiB image they start from with the library's mkfs code, mounting
 * it with a block-layer option string, running fsck on a recovered image,
 * counting their operation sequences, and rendering trees as text.
 */
#ifndef CRASH_FSKIT_H
#define CRASH_FSKIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "fs/fs.h"

#define FSKIT_IMAGE_BYTES (16u << 20)

/* mkfs @path (FSKIT_IMAGE_BYTES, default journal).  With @keep the file
 * must exist at its full size and what mkfs does not write stays (-K). */
int fskit_mkfs(const char *path, bool keep, char *err, size_t errlen);
/* Mount with block-layer options @bdev (their own syntax), a commit
 * interval (0 = default) and data=writeback when @writeback. */
int fskit_mount(const char *path, const char *bdev, uint32_t commit_ms, bool writeback,
		struct sfs_fs **fs, char *err, size_t errlen);

/* fsck.scopefs -fn on @path, the tools' build next to this program's: 0
 * clean; -1 with the exit status and the command to rerun it in @err, or,
 * naming @who, why fsck could not run (no tool, no fork): never a pass. */
int fskit_fsck(const char *path, const char *who, char *err, size_t errlen);
/*
 * Which crash points get fsck: every one in `full`; in `quick` a seeded
 * sample of one in @quick_every (fsck is a process per point, the larger
 * part of the CI set's time), none for an -unsafe twin (it is there to
 * show the oracle failing).  fskit_fsck_plan() is called before each
 * workload with the set and the seed; the counts say how many passing
 * points there were and how many of them got fsck, for the summary line.
 */
void fskit_fsck_plan(bool full, bool none, unsigned seed);
bool fskit_fsck_due(unsigned quick_every);
void fskit_fsck_counts(uint64_t *points, uint64_t *fscked);
/* A name in a walked tree or a model, for comparing the two as text. */
struct fskit_name {
	char path[64];
	char desc[64];
	uint64_t id;               /* object or inode */
};
/* "path desc =first-name-of-the-object; " sorted by path (@v is sorted
 * in place): hard links read the same on both sides whatever the
 * numbering. */
void fskit_render(struct fskit_name *v, int n, char *out, size_t len);
/* The inode a path relative to the root names, 0 if none. */
uint64_t fskit_resolve(struct sfs_fs *fs, const char *path);

/* Sequences of @len operations with @choices each: choices^len. */
unsigned fskit_seqs(unsigned choices, unsigned len);

#endif
