/*
 * scopefs-fuzz MKFS FSCK [CASES] [--seed S] [--only N] [--keep] [--strict] [-v] [--dir D]
 *
 * Every case runs in a child with an alarm (SCOPEFS_FUZZ_TIMEOUT seconds,
 * default 60): mount, walk, churn, unmount; then fsck.scopefs -fy and
 * -fn on what is left.  A failure is a crash or sanitizer report, a hang,
 * an answer no errno explains, or fsck crashing or hanging.  An image fsck
 * -y leaves unclean is counted and shown; with --strict it fails the case
 * (fsck cannot yet rebuild a damaged directory: with no lost+found in
 * format revision 1 it has nowhere to put the names it would salvage).
 * Exit status 1 if any case failed.
 *
 * The populated image is not byte-identical from run to run (block reuse
 * waits on commits), so --only N repeats the mutation, and --keep keeps
 * the exact image that failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fuzz.h"

static unsigned limit_s = 60;

struct opts {
	const char *mkfs, *fsck, *dir;
	uint64_t cases, seed;
	long long only;
	bool keep, verbose, strict;
};

/* Run @argv with the alarm set (it survives exec), output to @out. */
static int run(char *const argv[], const char *out)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		alarm(limit_s);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return status;
}

static const char *verdict(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, WTERMSIG(status) == SIGALRM ? "hung (over %u s)" :
			 "killed by signal %d", WTERMSIG(status) == SIGALRM ? limit_s :
			 (unsigned)WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	return buf;
}

static void show(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");
	int n = 0;

	while (f && fgets(line, sizeof(line), f) && n++ < 40)
		printf("    %s", line);
	if (f)
		fclose(f);
}

/* fsck's problem lines only (code in brackets). */
static void show_problems(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, ": ["))
			printf("    %s", line);
	if (f)
		fclose(f);
}

static int write_image(const char *path, const unsigned char *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t done = 0;

	while (fd >= 0 && done < size) {
		ssize_t n = pwrite(fd, buf + done, size - done, (off_t)done);
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	if (fd >= 0)
		close(fd);
	return done == size ? 0 : -EIO;
}

/* One case: 0 if it passed. */
static uint64_t unrepaired;

static int one_case(const struct opts *o, const struct fuzz_image *im, unsigned char *buf,
		    uint64_t n, const char *work, const char *out)
{
	char what[256], v[64];
	char *fy[] = { (char *)o->fsck, "-fy", (char *)work, NULL };
	char *fn[] = { (char *)o->fsck, "-fn", (char *)work, NULL };
	const char *bad = NULL;
	int status;
	pid_t pid;

	memcpy(buf, im->data, im->size);
	fuzz_mutate(im, buf, o->seed, n, what, sizeof(what));
	if (write_image(work, buf, im->size))
		return -EIO;
	if (o->verbose)
		printf("case %llu: %s\n", (unsigned long long)n, what);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		/* The library's error lines go with the case, shown if it fails. */
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		alarm(limit_s);
		_exit(fuzz_exercise(work, o->verbose) ? 3 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -errno;
	if (status != 0)
		bad = WIFEXITED(status) && WEXITSTATUS(status) == 3 ?
		      "the library answered with something no errno explains" :
		      verdict(status, v, sizeof(v));
	if (!bad) {
		status = run(fy, out);
		/* 0 clean, 1 fixed, 2 fixed (reboot), 4 left uncorrected */
		if (!WIFEXITED(status) || WEXITSTATUS(status) > 4)
			bad = "fsck -y failed";
		else if ((status = run(fn, out)) != 0 && WIFEXITED(status) &&
			 WEXITSTATUS(status) == 4) {
			unrepaired++;
			bad = "fsck -y left the image unclean";
			if (!o->strict) {
				printf("unrepaired case %llu: %s\n", (unsigned long long)n, what);
				show_problems(out);
				return 0;
			}
		} else if (status != 0) {
			bad = "fsck -fn failed";
		}
		if (bad && !WIFEXITED(status))
			bad = WTERMSIG(status) == SIGALRM ? "fsck hung" : "fsck crashed";
	}
	if (!bad)
		return 0;
	printf("FAIL case %llu: %s: %s\n  reproduce: scopefs-fuzz MKFS FSCK --seed %llu "
	       "--only %llu --keep%s\n", (unsigned long long)n, what, bad,
	       (unsigned long long)o->seed, (unsigned long long)n, o->strict ? " --strict" : "");
	show(out);
	if (o->keep) {
		char kept[600];
		snprintf(kept, sizeof(kept), "%s.case%llu", work, (unsigned long long)n);
		if (!rename(work, kept))
			printf("  image kept: %s\n", kept);
	}
	return 1;
}

static int parse(int argc, char **argv, struct opts *o)
{
	const char *dir = getenv("SCOPEFS_TEST_DIR");
	int pos = 0;

	*o = (struct opts){ .cases = 100, .seed = 1, .only = -1,
			    .dir = dir ? dir : "/var/tmp" };
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			o->seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			o->only = strtoll(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			o->dir = argv[++i];
		else if (!strcmp(argv[i], "--keep"))
			o->keep = true;
		else if (!strcmp(argv[i], "--strict"))
			o->strict = true;
		else if (!strcmp(argv[i], "-v"))
			o->verbose = true;
		else if (argv[i][0] != '-' && pos == 0 && ++pos)
			o->mkfs = argv[i];
		else if (argv[i][0] != '-' && pos == 1 && ++pos)
			o->fsck = argv[i];
		else if (argv[i][0] != '-' && pos == 2 && ++pos)
			o->cases = strtoull(argv[i], NULL, 0);
		else
			return -1;
	}
	return o->mkfs && o->fsck ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct fuzz_image im = { 0 };
	char base[512], work[512], out[600], why[256], v[64];
	char *mkfs[] = { NULL, "-q", base, "64M", NULL };
	unsigned char *buf = NULL;
	uint64_t failed = 0, from = 0, to;
	int status, ret = 2;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: scopefs-fuzz MKFS FSCK [CASES] [--seed S] [--only N] "
			"[--keep] [--strict] [-v] [--dir D]\n");
		return 2;
	}
	if (getenv("SCOPEFS_FUZZ_TIMEOUT"))
		limit_s = (unsigned)atoi(getenv("SCOPEFS_FUZZ_TIMEOUT"));
	snprintf(base, sizeof(base), "%s/scopefs-fuzz-%d.base", o.dir, getpid());
	snprintf(work, sizeof(work), "%s/scopefs-fuzz-%d.work", o.dir, getpid());
	snprintf(out, sizeof(out), "%s/scopefs-fuzz-%d.out", o.dir, getpid());
	mkfs[0] = (char *)o.mkfs;
	if ((status = run(mkfs, out)) != 0) {
		fprintf(stderr, "scopefs-fuzz: mkfs: %s\n", verdict(status, v, sizeof(v)));
		show(out);
		goto out;
	}
	if (fuzz_populate(base, why, sizeof(why)) || fuzz_scan(base, &im, why, sizeof(why))) {
		fprintf(stderr, "scopefs-fuzz: preparing the image: %s\n", why);
		goto out;
	}
	buf = malloc(im.size);
	if (!buf || !im.nt) {
		fprintf(stderr, "scopefs-fuzz: nothing to corrupt\n");
		goto out;
	}
	to = o.cases;
	if (o.only >= 0) {
		from = (uint64_t)o.only;
		to = from + 1;
	}
	for (uint64_t n = from; n < to; n++) {
		int r = one_case(&o, &im, buf, n, work, out);
		if (r < 0) {
			fprintf(stderr, "scopefs-fuzz: cannot write %s\n", work);
			goto out;
		}
		failed += (uint64_t)r;
	}
	printf("fuzz: %llu cases over %zu targets (seed %llu), %llu left unclean by fsck -y, "
	       "%llu failures\n", (unsigned long long)(to - from), im.nt,
	       (unsigned long long)o.seed, (unsigned long long)unrepaired,
	       (unsigned long long)failed);
	ret = failed ? 1 : 0;
out:
	fuzz_image_free(&im);
	free(buf);
	unlink(base);
	unlink(work);
	unlink(out);
	return ret;
}
