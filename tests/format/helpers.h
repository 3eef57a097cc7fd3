/*
 * Shared by the format tests: an in-memory filesystem description (no
 * image needed for verifier round trips), scratch image paths, and running
 * mkfs.scopefs.
 *
 * Images live in $SCOPEFS_TEST_DIR, else /var/tmp, else /tmp (a tmpfs /tmp
 * may refuse O_DIRECT; /var/tmp is usually disk).
 */
#ifndef TESTS_FORMAT_HELPERS_H
#define TESTS_FORMAT_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/format/checksum.h"
#include "fs/format/geometry.h"
#include "fs/format/imagelock.h"
#include "fs/format/mount.h"
#include "fs/format/uuid.h"

/* A consistent sfs_sb_info for @size bytes of 1 << @log blocks. */
static inline void make_sbi(struct sfs_sb_info *sbi, uint32_t log, uint64_t size, uint32_t bpg)
{
	struct sfs_geo_params p = { .block_log = log, .size = size, .journal_bytes = -1,
				    .blocks_per_group = bpg };
	struct sfs_super sb;
	struct sfs_geo g;
	char msg[256];

	if (sfs_geo_compute(&p, &g, msg, sizeof(msg))) {
		fprintf(stderr, "make_sbi: %s\n", msg);
		abort();
	}
	memset(&sb, 0, sizeof(sb));
	sfs_geo_to_super(&g, &sb);
	sb.rev_level = SFS_FORMAT_REV;
	sfs_uuid_generate(sb.uuid);
	sb.csum_seed = sfs_csum_seed(sb.uuid);
	sb.root_ino = SFS_ROOT_INO;
	sb.first_ino = SFS_FIRST_INO;
	sb.errors = SFS_ERRORS_CONTINUE;
	sb.state = SFS_STATE_VALID;
	if (sfs_sb_info_init(sbi, &sb, msg, sizeof(msg))) {
		fprintf(stderr, "make_sbi: %s\n", msg);
		abort();
	}
}

static inline const char *scratch_dir(void)
{
	const char *d = getenv("SCOPEFS_TEST_DIR");

	if (d && !access(d, W_OK))
		return d;
	if (!access("/var/tmp", W_OK))
		return "/var/tmp";
	return "/tmp";
}

/* A unique path (the file is not created). */
static inline void scratch_path(char *buf, size_t len, const char *tag)
{
	static int seq;

	snprintf(buf, len, "%s/sfs-%s-%d-%d.img", scratch_dir(), tag, (int)getpid(), seq++);
	unlink(buf);
}

/*
 * Run @argv[0] with @argv, output (stdout and stderr) into @out.  Returns
 * the exit status, or -1 if it died of a signal (an ASan abort, a crash):
 * tests treat that as a failure by comparing with an exit code.
 */
static inline int run_tool(char *out, size_t outlen, char *const argv[])
{
	int pfd[2], status;
	size_t used = 0;
	pid_t pid;

	if (pipe(pfd))
		abort();
	pid = fork();
	if (pid < 0)
		abort();
	if (!pid) {
		int null = open("/dev/null", O_RDONLY);

		/* Never wait for a terminal: interactive tools see end of input. */
		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char tmp[4096];
		ssize_t n = read(pfd[0], tmp, sizeof(tmp));

		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t take = (size_t)n < outlen - 1 - used ? (size_t)n : outlen - 1 - used;

			memcpy(out + used, tmp, take);
			used += take;
		}
	}
	if (out && outlen)
		out[used] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) < 0)
		abort();
	if (WIFSIGNALED(status)) {
		if (out)
			fprintf(stderr, "%s died of signal %d; output:\n%s\n", argv[0],
				WTERMSIG(status), out);
		return -1;
	}
	return WEXITSTATUS(status);
}

#endif
