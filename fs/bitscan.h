/*
 * Word-at-a-time bitmap scans for the allocators.
 *
 * Bitmaps are the on-disk layout (bit i = byte i / 8, bit i % 8, least
 * significant first), read 64 bits at a time as little-endian words, so a
 * scan over a 32,256-block group looks at 504 words.  A "combined" scan
 * treats a block as taken when it is set in the disk bitmap or in the
 * group's in-memory held map (busy and window blocks; @held may be NULL).
 * Every bitmap scanned here is at least (nbits + 63) / 64 words long:
 * bitmap blocks are (block size - 64) bytes, a multiple of 8.
 */
#ifndef SFS_BITSCAN_H
#define SFS_BITSCAN_H

#include <endian.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sfs_bm_word(const uint8_t *map, uint32_t wi)
{
	uint64_t w;

	memcpy(&w, map + (size_t)wi * 8, 8);
	return le64toh(w);
}

static inline uint64_t sfs_cm_word(const uint8_t *map, const uint8_t *held, uint32_t wi)
{
	return sfs_bm_word(map, wi) | (held ? sfs_bm_word(held, wi) : 0);
}

/* First bit >= @from (and < @nbits) that is set (@want_set) or clear in
 * the combined map; @nbits if none. */
static inline uint32_t sfs_cm_next(const uint8_t *map, const uint8_t *held, uint32_t from,
				   uint32_t nbits, int want_set)
{
	while (from < nbits) {
		uint32_t wi = from / 64, bit = from % 64;
		uint64_t w = sfs_cm_word(map, held, wi);

		if (!want_set)
			w = ~w;
		w &= ~0ull << bit;
		if (w) {
			uint32_t i = wi * 64 + (uint32_t)__builtin_ctzll(w);

			return i < nbits ? i : nbits;
		}
		from = (wi + 1) * 64;
	}
	return nbits;
}

/* Last bit <= @from that is set in the disk map alone; -1 if none. */
static inline int64_t sfs_bm_prev_set(const uint8_t *map, int64_t from)
{
	while (from >= 0) {
		uint32_t wi = (uint32_t)(from / 64), bit = (uint32_t)(from % 64);
		uint64_t w = sfs_bm_word(map, wi);

		if (bit < 63)
			w &= (2ull << bit) - 1;
		if (w)
			return (int64_t)wi * 64 + 63 - __builtin_clzll(w);
		from = (int64_t)wi * 64 - 1;
	}
	return -1;
}

/* Last bit <= @from that is clear in the combined map; -1 if none. */
static inline int64_t sfs_cm_prev_free(const uint8_t *map, const uint8_t *held, int64_t from)
{
	while (from >= 0) {
		uint32_t wi = (uint32_t)(from / 64), bit = (uint32_t)(from % 64);
		uint64_t w = ~sfs_cm_word(map, held, wi);

		if (bit < 63)
			w &= (2ull << bit) - 1;
		if (w)
			return (int64_t)wi * 64 + 63 - __builtin_clzll(w);
		from = (int64_t)wi * 64 - 1;
	}
	return -1;
}

static inline void sfs_bits_set(uint8_t *map, uint32_t idx, uint32_t len)
{
	for (; len && (idx & 7); idx++, len--)
		map[idx >> 3] |= (uint8_t)(1u << (idx & 7));
	if (len >= 8) {
		memset(map + (idx >> 3), 0xff, len >> 3);
		idx += len & ~7u;
		len &= 7;
	}
	for (; len; idx++, len--)
		map[idx >> 3] |= (uint8_t)(1u << (idx & 7));
}

static inline void sfs_bits_clear(uint8_t *map, uint32_t idx, uint32_t len)
{
	for (; len && (idx & 7); idx++, len--)
		map[idx >> 3] &= (uint8_t)~(1u << (idx & 7));
	if (len >= 8) {
		memset(map + (idx >> 3), 0, len >> 3);
		idx += len & ~7u;
		len &= 7;
	}
	for (; len; idx++, len--)
		map[idx >> 3] &= (uint8_t)~(1u << (idx & 7));
}

/* Whether every bit of [idx, idx + len) is set (@set) or clear. */
static inline int sfs_bits_all(const uint8_t *map, uint32_t idx, uint32_t len, int set)
{
	uint32_t end = idx + len;

	if (set)
		return sfs_cm_next(map, NULL, idx, end, 0) == end;
	return sfs_cm_next(map, NULL, idx, end, 1) == end;
}

#endif
