/*
 * fsck-ns: fsck.scopefs with the namespace passes, for the tests, until
 * tools/fsck/main.c calls fsck_pass_namespace() itself.  meson.build
 * compiles main.c with its call to pass 3 routed here.
 */
#include "tools/fsck/fsck.h"
#include "tools/fsck/pass_ns.h"

int fsck_ns_then_bitmaps(struct fsck *f);

int fsck_ns_then_bitmaps(struct fsck *f)
{
	int ret = fsck_pass_namespace(f);

	if (ret < 0 || f->preen_abort || fsck_cancelled)
		return ret;
	return fsck_pass_bitmaps(f);
}
