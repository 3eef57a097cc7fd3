/*
 * db-ns: scopefs-db with the namespace commands, for the tests, until
 * tools/db/main.c lists DB_NS_COMMANDS itself.  meson.build compiles
 * main.c with its main() renamed db_base_main; the namespace commands are
 * run here, everything else there.
 */
#include <stdio.h>
#include <string.h>

#include "alloc/mc.h"
#include "tools/db/db.h"
#include "tools/db/ns.h"

int db_base_main(int argc, char **argv);

static const struct db_cmd ns_commands[] = { DB_NS_COMMANDS { NULL, NULL, NULL, false, NULL } };

int main(int argc, char **argv)
{
	struct db db = { .lock_fd = -1 };
	const struct db_cmd *c = NULL;
	int i = 1, ret;

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "-w"))
			db.writable = true;
		else if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "-o"))
			i++;
		else
			break;
	}
	if (i + 1 < argc)
		for (c = ns_commands; c->name && strcmp(c->name, argv[i + 1]); c++)
			;
	if (!c || !c->name)
		return db_base_main(argc, argv);
	if (mc_init(NULL, NULL, 0))
		return 1;
	db.image = argv[i];
	db.writable = db.writable || c->writes;
	if (db_open(&db))
		return 1;
	ret = c->fn(&db, argc - i - 1, argv + i + 1);
	db_close(&db);
	mc_shutdown();
	return ret ? 1 : 0;
}
