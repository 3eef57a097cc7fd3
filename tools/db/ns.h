/*
 * scopefs-db's namespace commands (ns.c).  DB_NS_COMMANDS are the rows of
 * the command table (main.c's db_commands[]) that list them.
 */
#ifndef SFS_DB_NS_H
#define SFS_DB_NS_H

struct db;

int db_cmd_ls(struct db *db, int argc, char **argv);
int db_cmd_path(struct db *db, int argc, char **argv);
int db_cmd_set_dirent(struct db *db, int argc, char **argv);
int db_cmd_dirindex(struct db *db, int argc, char **argv);
int db_cmd_set_dirindex(struct db *db, int argc, char **argv);
int db_cmd_orphans(struct db *db, int argc, char **argv);
int db_cmd_set_orphan(struct db *db, int argc, char **argv);
int db_cmd_xattrs(struct db *db, int argc, char **argv);

#define DB_NS_COMMANDS                                                                    \
	{ "ls", "DIR", "list a directory (an absolute path or an inode number)", false,   \
	  db_cmd_ls },                                                                    \
	{ "path", "/PATH", "the inode a path names", false, db_cmd_path },                \
	{ "dirindex", "DIR [LBLK]", "show a directory index block (default: the root)",   \
	  false, db_cmd_dirindex },                                                       \
	{ "orphans", "", "list the orphan file's slots", false, db_cmd_orphans },         \
	{ "xattrs", "INO", "list an inode's extended attributes", false, db_cmd_xattrs }, \
	{ "set-dirent", "DIR NAME FIELD VALUE [nocsum]",                                  \
	  "set a directory entry field (ino type key rec_len name_len)", true,            \
	  db_cmd_set_dirent },                                                            \
	{ "set-dirindex", "DIR LBLK FIELD VALUE [ENTRY] [nocsum]",                        \
	  "set an index field (parent names level count, key lblk of ENTRY)", true,       \
	  db_cmd_set_dirindex },                                                          \
	{ "set-orphan", "SLOT FIELD VALUE [nocsum]",                                      \
	  "set an orphan slot field (ino generation xattr_block)", true, db_cmd_set_orphan },

#endif
