/*
 * Library initialisation: size classes and defaults on first use (an
 * allocation may come before mc_init), the environment
 * (SCOPEFS_ALLOC config string, SCOPEFS_FAULT spec), and the library's own
 * threads, started only by an explicit mc_init().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include "alloc/internal.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

static pthread_once_t global_once = PTHREAD_ONCE_INIT;


static void global_init(void)
{
	struct mc_config c;
	char err[256];
	const char *env;

	mc_classes_init();
	mc_throttle_init();
	mc_config_defaults(&c);
	env = getenv("SCOPEFS_ALLOC");
	if (env && (mc_config_parse(&c, env, err, sizeof(err)) ||
		    mc_apply_config(&c, err, sizeof(err)))) {
		fprintf(stderr, "scopefs-alloc: SCOPEFS_ALLOC: %s\n", err);
		exit(2);
	}
	if (!env)
		mc_apply_config(&c, err, sizeof(err));
	g.initialised = 1;
}

void mc_global_init_once(void)
{
	pthread_once(&global_once, global_init);
}

int mc_init(const struct mc_config *cfg, char *err, size_t errlen)
{
	struct mc_config c;
	const char *env;
	int ret;

	mc_global_init_once();
	if (cfg)
		c = *cfg;
	else
		mc_config_get(&c);
	/* The environment overrides the program's choice: it is how a test
	 * run or a user tightens the budget without rebuilding. */
	env = getenv("SCOPEFS_ALLOC");
	if (env && (ret = mc_config_parse(&c, env, err, errlen)))
		return ret;
	ret = mc_configure(&c, err, errlen);
	if (ret)
		return ret;
	env = getenv("SCOPEFS_FAULT");
	if (env && (ret = mc_fault_set(env, err, errlen)))
		return ret;
	mc_watchdog_start();
	g.threads_started = 1;
	if (g.cfg.background_reclaim > 0)
		mc_reclaim_start_thread();
	return 0;
}

void mc_shutdown(void)
{
	g.threads_started = 0;
	mc_reclaim_stop_thread();
	mc_watchdog_stop();
}

static int io_flusher(int say)
{
	static _Atomic int logged;

	if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) == 0) {
		g.io_flusher = 1;
		return 0;
	}
	g.io_flusher_errno = errno;
	if (g.io_flusher != 1)
		g.io_flusher = 0;
	if (say && !atomic_exchange(&logged, 1))
		fprintf(stderr, "scopefs: PR_SET_IO_FLUSHER refused (%s): the host kernel's reclaim "
			"may recurse into this filesystem; needs CAP_SYS_RESOURCE\n",
			strerror(g.io_flusher_errno));
	return -g.io_flusher_errno;
}

int mc_set_io_flusher(void)
{
	return io_flusher(1);
}

#ifndef PR_GET_IO_FLUSHER
#define PR_GET_IO_FLUSHER 58
#endif

int mc_io_flusher_get(void)
{
	int r = prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0);
	return r < 0 ? -errno : r;
}

struct thread_start {
	void *(*fn)(void *);
	void *arg;
	char name[16];
};

static void *thread_trampoline(void *p)
{
	struct thread_start ts = *(struct thread_start *)p;

	free(p);
	pthread_setname_np(pthread_self(), ts.name);
	/* The host kernel must not recurse into us from its reclaim.  A
	 * refusal is recorded; saying it is the program's business
	 * (mc_set_io_flusher), so offline tools stay quiet. */
	io_flusher(0);
	return ts.fn(ts.arg);
}

int mc_thread_create(pthread_t *th, const char *name, void *(*fn)(void *), void *arg)
{
	/* libc memory: the start record is the thread's, not the budget's. */
	struct thread_start *ts = malloc(sizeof(*ts));
	int ret;

	if (!ts)
		return -ENOMEM;
	ts->fn = fn;
	ts->arg = arg;
	snprintf(ts->name, sizeof(ts->name), "%s", name);
	ret = pthread_create(th, NULL, thread_trampoline, ts);
	if (ret) {
		free(ts);
		return -ret;
	}
	return 0;
}
