/*
 * Little-endian on-disk integers.
 *
 * Every multi-byte integer on disk is little-endian.  The on-disk structs in
 * ondisk.h type those fields as sfs_le16/32/64 so that a reader sees which
 * values need conversion; the only way from disk to host order is through
 * these helpers (a no-op on x86, a byte swap on big-endian hosts).
 */
#ifndef SFS_FORMAT_LE_H
#define SFS_FORMAT_LE_H

#include <endian.h>
#include <stdint.h>

typedef uint16_t sfs_le16;
typedef uint32_t sfs_le32;
typedef uint64_t sfs_le64;

static inline uint16_t sfs_le16_to_cpu(sfs_le16 v) { return le16toh(v); }
static inline uint32_t sfs_le32_to_cpu(sfs_le32 v) { return le32toh(v); }
static inline uint64_t sfs_le64_to_cpu(sfs_le64 v) { return le64toh(v); }
static inline sfs_le16 sfs_cpu_to_le16(uint16_t v) { return htole16(v); }
static inline sfs_le32 sfs_cpu_to_le32(uint32_t v) { return htole32(v); }
static inline sfs_le64 sfs_cpu_to_le64(uint64_t v) { return htole64(v); }

/* Unaligned access by byte offset (the offline tool's generic field editor). */
static inline uint64_t sfs_get_le(const void *p, unsigned size)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (unsigned i = size; i-- > 0;)
		v = (v << 8) | b[i];
	return v;
}

static inline void sfs_put_le(void *p, unsigned size, uint64_t v)
{
	uint8_t *b = p;

	for (unsigned i = 0; i < size; i++, v >>= 8)
		b[i] = (uint8_t)v;
}

#endif
