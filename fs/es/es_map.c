/*
 * The status cache in front of an inode's extent tree (es_map.h).
 */
#include <errno.h>
#include <stdatomic.h>

#include "fs/es/es_map.h"

static atomic_bool bypass;
/* The operation in which a fill last failed on this thread: no more fills
 * in it (a second try of the same site would be an open-coded retry). */
static __thread uint64_t fill_failed_op;

void sfs_es_map_bypass(bool on)
{
	atomic_store(&bypass, on);
}

static void from_tree(struct sfs_es_extent *out, const struct sfs_extent *e, int mapped)
{
	out->lblk = e->lblk;
	out->len = e->len;
	out->pblk = mapped ? e->pblk : 0;
	out->state = !mapped ? SFS_ES_HOLE
			     : sfs_ext_unwritten(e) ? SFS_ES_UNWRITTEN : SFS_ES_WRITTEN;
}

int sfs_es_map_lookup(struct sfs_inode_info *ip, uint32_t lblk, unsigned eflags,
		      struct sfs_es_extent *out)
{
	struct sfs_extent e;
	int ret;

	if (!atomic_load(&bypass) && sfs_es_lookup(&ip->es, lblk, out) == 1)
		return 0;
	ret = sfs_ext_lookup(ip, lblk, eflags, &e);
	if (ret < 0)
		return ret;
	from_tree(out, &e, ret);
	if (!atomic_load(&bypass)) {
		uint64_t op = mc_op_current();

		/* A fill is only a hint: when it cannot get memory the range
		 * stays unknown, which is exact too. */
		if ((!op || op != fill_failed_op) &&
		    sfs_es_insert(&ip->es, out, SFS_ES_HINT) == -ENOMEM)
			fill_failed_op = op;
	}
	return 0;
}

int sfs_es_forget(struct sfs_inode_info *ip, uint64_t start, uint64_t end, unsigned eflags)
{
	unsigned f = (eflags & SFS_EXT_NOFAIL) ? SFS_ES_NOFAIL : 0;
	int ret = 0;

	if (end > SFS_EXT_LBLK_END)
		end = SFS_EXT_LBLK_END;
	/* The cache counts lengths in 32 bits: a range from block 0 to the
	 * end is forgotten in two calls.  Only the first can need a split
	 * (the second ends at the end of the file's address space). */
	while (start < end && !ret) {
		uint64_t n = end - start > UINT32_MAX ? UINT32_MAX : end - start;

		ret = sfs_es_remove(&ip->es, (uint32_t)start, (uint32_t)n, f);
		start += n;
	}
	return ret;
}
