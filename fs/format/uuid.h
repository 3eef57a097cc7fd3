/* Filesystem UUIDs: random version-4 UUIDs, and their text form. */
#ifndef SFS_FORMAT_UUID_H
#define SFS_FORMAT_UUID_H

#include <stddef.h>
#include <stdint.h>

#define SFS_UUID_STR_LEN 37   /* 36 characters and the NUL */

/* 0 or -errno from getrandom. */
int sfs_uuid_generate(uint8_t uuid[16]);
/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; 0 or -EINVAL. */
int sfs_uuid_parse(const char *s, uint8_t uuid[16]);
char *sfs_uuid_unparse(const uint8_t uuid[16], char out[SFS_UUID_STR_LEN]);

#endif
