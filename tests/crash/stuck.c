/* The harness's own watchdog (see stuck.h). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "stuck.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char where[512] = "starting";
static time_t since;
static unsigned limit_s;

void crash_stuck_at(const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&lock);
	va_start(ap, fmt);
	vsnprintf(where, sizeof(where), fmt, ap);
	va_end(ap);
	since = time(NULL);
	pthread_mutex_unlock(&lock);
}

/* Every thread's stack, from gdb when the machine has it: a hang is only
 * worth reporting with what each thread was waiting for. */
static void dump_threads(void)
{
	char pid[24];
	pid_t child;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	child = fork();
	if (child == 0) {
		dup2(2, 1);
		execlp("gdb", "gdb", "-p", pid, "-batch", "-nx", "-ex", "thread apply all bt",
		       (char *)NULL);
		_exit(127);
	}
	if (child > 0)
		waitpid(child, NULL, 0);
}

static void *watch(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		pthread_mutex_lock(&lock);
		long idle = (long)(time(NULL) - since);
		if (idle >= (long)limit_s) {
			/* Written with the lock held: nothing may move it now. */
			fprintf(stderr, "scopefs-crash: STUCK: no progress for %ld s at %s\n",
				idle, where);
			fflush(NULL);
			dump_threads();
			abort();
		}
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

void crash_stuck_start(void)
{
	static int started;
	const char *env = getenv("SCOPEFS_CRASH_STUCK");
	pthread_t t;

	if (started++)
		return;
	limit_s = env ? (unsigned)strtoul(env, NULL, 10) : 300;
	if (!limit_s)
		return;
	since = time(NULL);
	if (pthread_create(&t, NULL, watch, NULL) == 0)
		pthread_detach(t);
}
