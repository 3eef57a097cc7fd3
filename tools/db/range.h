/*
 * scopefs-db's truncate-family commands (range.c): truncate, fallocate
 * with its modes (KEEP_SIZE, PUNCH_HOLE, ZERO_RANGE, COLLAPSE_RANGE,
 * INSERT_RANGE) and SEEK_DATA / SEEK_HOLE, run through the library on the
 * image mounted read-write -- the only way to reach collapse and insert,
 * which FUSE does not carry.  DB_RANGE_COMMANDS are the rows of the
 * command table (main.c's db_commands[]) that list them.
 */
#ifndef SFS_DB_RANGE_H
#define SFS_DB_RANGE_H

struct db;

int db_cmd_range_truncate(struct db *db, int argc, char **argv);
int db_cmd_falloc(struct db *db, int argc, char **argv);
int db_cmd_punch(struct db *db, int argc, char **argv);
int db_cmd_zero_range(struct db *db, int argc, char **argv);
int db_cmd_collapse(struct db *db, int argc, char **argv);
int db_cmd_insert(struct db *db, int argc, char **argv);
int db_cmd_seek_data(struct db *db, int argc, char **argv);
int db_cmd_seek_hole(struct db *db, int argc, char **argv);

#define DB_RANGE_COMMANDS                                                                   \
	{ "truncate", "INO SIZE", "library: set a file's size (truncate cannot fail on ENOMEM)", \
	  true, db_cmd_range_truncate },                                                    \
	{ "falloc", "INO OFF LEN [keep-size]", "library: fallocate, unwritten blocks", true,  \
	  db_cmd_falloc },                                                                  \
	{ "punch", "INO OFF LEN", "library: punch a hole (size kept)", true, db_cmd_punch },  \
	{ "zero-range", "INO OFF LEN [keep-size]", "library: fallocate ZERO_RANGE", true,     \
	  db_cmd_zero_range },                                                              \
	{ "collapse", "INO OFF LEN", "library: COLLAPSE_RANGE (whole blocks, FUSE cannot)",   \
	  true, db_cmd_collapse },                                                          \
	{ "insert", "INO OFF LEN", "library: INSERT_RANGE (whole blocks, FUSE cannot)", true, \
	  db_cmd_insert },                                                                  \
	{ "seek-data", "INO OFF", "library: lseek SEEK_DATA from OFF", true,                  \
	  db_cmd_seek_data },                                                               \
	{ "seek-hole", "INO OFF", "library: lseek SEEK_HOLE from OFF", true,                  \
	  db_cmd_seek_hole },

#endif
