/*
 * Checksums: XXH3-64 (libxxhash) over a byte range with the 8-byte checksum
 * field left out.
 *
 * For a structure of @len bytes whose checksum lives at bytes
 * [@off, @off + 8), the checksum is
 *
 *     XXH3_64bits_withSeed(p + off + 8, len - off - 8,
 *                          XXH3_64bits_withSeed(p, off, seed))
 *
 * i.e. the bytes before the field seed the hash of the bytes after it.  This
 * needs neither a copy nor zeroing the field in place, so a verifier can
 * work on a const buffer that other readers share.
 *
 * Seeds: the superblock uses seed 0 (so it can be checked knowing nothing);
 * every other block and every inode record uses the superblock's csum_seed,
 * which is XXH3_64bits(uuid, 16) at mkfs time.
 */
#ifndef SFS_FORMAT_CHECKSUM_H
#define SFS_FORMAT_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

uint64_t sfs_csum(const void *p, size_t len, size_t off, uint64_t seed);
/* The seed derived from a filesystem UUID. */
uint64_t sfs_csum_seed(const uint8_t uuid[16]);

#endif
