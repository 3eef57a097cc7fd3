/*
 * Field tables of the on-disk structures: name, offset, size, kind.
 *
 * The offline tool prints and edits structures through these tables (so a
 * test can corrupt exactly one field); docs/format.md lists the same
 * fields.  Offsets are relative to the start of the structure.
 */
#ifndef SFS_FORMAT_FIELDS_H
#define SFS_FORMAT_FIELDS_H

#include <stddef.h>
#include <stdint.h>

enum sfs_field_kind {
	SFS_FK_UINT,        /* little-endian unsigned, printed in decimal */
	SFS_FK_HEX,         /* little-endian unsigned, printed in hex */
	SFS_FK_MAGIC,       /* 4-byte magic, printed as text and hex */
	SFS_FK_OCTAL,       /* mode */
	SFS_FK_TIME,        /* seconds since the epoch */
	SFS_FK_STR,         /* NUL-padded text */
	SFS_FK_UUID,        /* 16 bytes */
	SFS_FK_BYTES,       /* opaque, printed in hex */
};

struct sfs_field {
	const char *name;
	uint16_t off;
	uint16_t size;
	enum sfs_field_kind kind;
};

extern const struct sfs_field sfs_hdr_fields[];
extern const struct sfs_field sfs_super_fields[];
extern const struct sfs_field sfs_gd_fields[];
extern const struct sfs_field sfs_inode_fields[];
extern const struct sfs_field sfs_jsb_fields[];
extern const struct sfs_field sfs_extent_hdr_fields[];

/* The entry named @name in a NULL-name-terminated table, or NULL. */
const struct sfs_field *sfs_field_find(const struct sfs_field *tab, const char *name);

#endif
