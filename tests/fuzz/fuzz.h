/*
 * scopefs-fuzz: corrupt a populated image one metadata block or inode at a
 * time and check the library and fsck.scopefs meet it with an errno or a
 * repair, never a crash, a sanitizer report or a hang (the project's rule
 * for bad input).
 *
 * Each case is numbered: its mutation comes from (seed, case) alone, so
 * `scopefs-fuzz MKFS FSCK --seed S --only N --keep` rebuilds one.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuzz_target {
	uint64_t off;              /* byte offset in the image */
	uint32_t len;              /* a block, or one inode record */
	uint64_t ino;              /* an inode record's number, else 0 */
	uint32_t magic;            /* a metadata block's magic, else 0 */
};

struct fuzz_image {
	unsigned char *data;       /* the pristine populated image */
	size_t size;
	uint32_t block_size;
	uint64_t csum_seed;
	uint32_t inode_size;
	struct fuzz_target *t;
	size_t nt;
};

/* Populate a fresh image through the library (every kind of metadata
 * block: directory index and leaves, extent index and leaves, external
 * xattr block, long symlink, inline symlink, special files, hard links).
 * 0 or -errno with a reason in @why. */
int fuzz_populate(const char *path, char *why, size_t whylen);

/* Read @path and list every metadata block and in-use inode record. */
int fuzz_scan(const char *path, struct fuzz_image *im, char *why, size_t whylen);
void fuzz_image_free(struct fuzz_image *im);

/* Corrupt a copy of the image in @buf for case (@seed, @n), describing
 * what was done in @what.  Most mutations re-seal the checksum, so the
 * corruption gets past the verifiers and reaches the code behind them. */
void fuzz_mutate(const struct fuzz_image *im, unsigned char *buf, uint64_t seed, uint64_t n,
		 char *what, size_t whatlen);

/* Mount the image, walk and read everything, make and remove names,
 * unmount.  Returns the number of library calls that answered with
 * something no errno explains (a positive return, an impossible size);
 * crashes and hangs are caught by the caller. */
int fuzz_exercise(const char *path, bool verbose);

#endif
