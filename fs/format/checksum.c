/* XXH3-64 checksums with the checksum field excluded (see checksum.h). */
#include <xxhash.h>

#include "fs/format/checksum.h"

uint64_t sfs_csum(const void *p, size_t len, size_t off, uint64_t seed)
{
	const uint8_t *b = p;
	uint64_t head = XXH3_64bits_withSeed(b, off, seed);

	return XXH3_64bits_withSeed(b + off + 8, len - off - 8, head);
}

uint64_t sfs_csum_seed(const uint8_t uuid[16])
{
	return XXH3_64bits_withSeed(uuid, 16, 0);
}
