/* Finding what to corrupt, and corrupting it (see fuzz.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/format/hdr.h"
#include "fs/format/inode.h"
#include "fs/format/mount.h"
#include "fs/format/verify.h"
#include "fuzz.h"

#define HDR_BYTES 64u   /* the self-describing header every metadata block starts with */

static struct sfs_sb_info *fuzz_sbi;   /* inode checksums need the filesystem's seed */

static int add_target(struct fuzz_image *im, uint64_t off, uint32_t len, uint64_t ino,
		      uint32_t magic)
{
	if (!(im->nt & (im->nt + 1))) {         /* grow at 0, 1, 3, 7, ... */
		void *n = realloc(im->t, (im->nt * 2 + 2) * sizeof(*im->t));
		if (!n)
			return -ENOMEM;
		im->t = n;
	}
	im->t[im->nt++] = (struct fuzz_target){ off, len, ino, magic };
	return 0;
}

static bool fuzzable_block(enum sfs_btype t)
{
	return t == SFS_BT_GDT || t == SFS_BT_BBITMAP || t == SFS_BT_IBITMAP ||
	       t == SFS_BT_EXTENT || t == SFS_BT_DIRLEAF || t == SFS_BT_DIRINDEX ||
	       t == SFS_BT_XATTR;
}

static int read_image(const char *path, struct fuzz_image *im)
{
	struct stat st;
	int fd = open(path, O_RDONLY);
	size_t done = 0;

	if (fd < 0 || fstat(fd, &st))
		return -errno;
	im->size = (size_t)st.st_size;
	im->data = malloc(im->size);
	while (im->data && done < im->size) {
		ssize_t n = pread(fd, im->data + done, im->size - done, (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	close(fd);
	return im->data && done == im->size ? 0 : -EIO;
}

int fuzz_scan(const char *path, struct fuzz_image *im, char *why, size_t whylen)
{
	const struct sfs_geo *g;
	int ret;

	memset(im, 0, sizeof(*im));
	ret = sfs_sb_open(path, SFS_MOUNT_RDONLY, &fuzz_sbi, why, whylen);
	if (ret)
		return ret;
	ret = read_image(path, im);
	if (ret) {
		snprintf(why, whylen, "cannot read %s", path);
		return ret;
	}
	g = &fuzz_sbi->geo;
	im->block_size = 1u << g->block_log;
	im->inode_size = g->inode_size;
	im->csum_seed = fuzz_sbi->csum_seed;
	for (uint64_t b = 1; b < g->block_count && !ret; b++) {
		const unsigned char *blk = im->data + (b << g->block_log);
		enum sfs_btype loc = sfs_btype_by_location(fuzz_sbi, b);

		if (loc == SFS_BT_ITABLE) {
			for (uint32_t s = 0; s < im->block_size && !ret; s += im->inode_size)
				if (sfs_inode_raw_in_use(blk + s)) {
					struct sfs_inode ino;
					sfs_inode_decode(&ino, blk + s);
					ret = add_target(im, (b << g->block_log) + s, im->inode_size,
							 ino.ino, 0);
				}
		} else if (fuzzable_block(sfs_btype_by_magic(blk))) {
			ret = add_target(im, b << g->block_log, im->block_size, 0,
					 sfs_hdr_magic(blk));
		}
	}
	if (ret)
		snprintf(why, whylen, "out of memory listing targets");
	return ret;
}

void fuzz_image_free(struct fuzz_image *im)
{
	free(im->data);
	free(im->t);
	if (fuzz_sbi)
		sfs_sb_free(fuzz_sbi);
	fuzz_sbi = NULL;
}

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A value a bounds check must survive. */
static uint64_t nasty(uint64_t *s, uint64_t old)
{
	static const uint64_t v[] = { 0, 1, 2, 0xff, 0xffff, 0x7fffffff, 0xffffffff,
				      0x8000000000000000ull, ~0ull };
	switch (rng(s) % 4) {
	case 0: return old + 1;
	case 1: return old - 1;
	case 2: return rng(s);
	default: return v[rng(s) % (sizeof(v) / sizeof(v[0]))];
	}
}

void fuzz_mutate(const struct fuzz_image *im, unsigned char *buf, uint64_t seed, uint64_t n,
		 char *what, size_t whatlen)
{
	uint64_t s = seed * 0x100000001b3ull ^ (n + 1) * 0x9e3779b97f4a7c15ull;
	const struct fuzz_target *t = &im->t[rng(&s) % im->nt];
	unsigned char *p = buf + t->off;
	/* A block's header is fair game too (its magic, own number, owner). */
	uint32_t lo = 0, hi = t->len;
	unsigned kind = rng(&s) % 8;
	bool reseal = kind != 0;           /* one in eight: the verifier's case */
	char desc[96];

	if (kind < 4) {
		unsigned flips = 1 + rng(&s) % 4;
		uint32_t at = lo + (uint32_t)(rng(&s) % (hi - lo));
		for (unsigned i = 0; i < flips; i++)
			p[(at + i * 3) % hi] ^= (unsigned char)(1u << (rng(&s) % 8));
		snprintf(desc, sizeof(desc), "%u bit flips at +%u", flips, at);
	} else if (kind < 7) {
		unsigned w = 1u << (1 + rng(&s) % 3);   /* 2, 4 or 8 bytes */
		uint32_t at = (lo + (uint32_t)(rng(&s) % (hi - lo))) & ~(w - 1);
		uint64_t old = 0, v;
		memcpy(&old, p + at, w);
		v = nasty(&s, old);
		memcpy(p + at, &v, w);
		snprintf(desc, sizeof(desc), "%u-byte field at +%u: %#llx -> %#llx", w, at,
			 (unsigned long long)old, (unsigned long long)(v & (w == 8 ? ~0ull :
				((1ull << (w * 8)) - 1))));
	} else {
		/* Another block's body under this one's header: cross-linked
		 * contents that every field-level check passes. */
		const struct fuzz_target *o = &im->t[rng(&s) % im->nt];
		if (o->len == t->len && o != t && t->magic) {
			memcpy(p + HDR_BYTES, im->data + o->off + HDR_BYTES, t->len - HDR_BYTES);
			snprintf(desc, sizeof(desc), "body of the record at %llu",
				 (unsigned long long)o->off);
		} else {
			memset(p + t->len / 2, 0, t->len / 2);
			snprintf(desc, sizeof(desc), "second half zeroed");
		}
	}
	if (reseal) {
		if (t->magic)
			sfs_hdr_set_csum(p, t->len, im->csum_seed);
		else
			sfs_inode_set_csum(p, fuzz_sbi);
	}
	if (t->magic)
		snprintf(what, whatlen, "block %llu (magic %#x): %s%s",
			 (unsigned long long)(t->off / im->block_size), t->magic, desc,
			 reseal ? ", checksum resealed" : "");
	else
		snprintf(what, whatlen, "inode %llu: %s%s", (unsigned long long)t->ino, desc,
			 reseal ? ", checksum resealed" : "");
}
