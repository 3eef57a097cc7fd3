/*
 * Images that are not (or no longer) scopefs filesystems: truncated,
 * zero-filled, random, from the future, or with random bytes over any one
 * metadata block.  fsck gives a clear message and exit 8 (cannot check) or
 * 4/1 (found, repaired), never a crash or a hang (the suite runs under
 * ASan); plus fsck's usage and locking exit codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tools.h"

struct tools tools;

struct img {
	char path[256];
};

static int setup(void **state)
{
	struct img *im = mc_zalloc(sizeof(*im), MC_KERNEL);
	char out[OUT_MAX];

	scratch_path(im->path, sizeof(im->path), "bad");
	if (tool(out, tools.mkfs, "-q", "-g", "1024", im->path, "16M", NULL))
		fail_msg("mkfs: %s", out);
	*state = im;
	return 0;
}

static int teardown(void **state)
{
	struct img *im = *state;

	unlink(im->path);
	mc_free(im);
	return 0;
}

static void fill_random(const char *path, uint64_t off, size_t len)
{
	uint8_t buf[4096];
	int fd = open(path, O_WRONLY);

	assert_true(fd >= 0);
	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		for (size_t got = 0; got < n;) {
			ssize_t r = getrandom(buf + got, n - got, 0);

			assert_true(r > 0);
			got += (size_t)r;
		}
		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
		off += n;
		len -= n;
	}
	close(fd);
}

static void expect_fsck(const char *path, int code, const char *words)
{
	char out[OUT_MAX];
	int ret = tool(out, tools.fsck, "-fn", path, NULL);

	if (ret != code || (words && !strstr(out, words)))
		fail_msg("fsck -fn: exit %d (expected %d, \"%s\")\n%s", ret, code,
			 words ? words : "", out);
	ret = tool(out, tools.fsck, "-fy", path, NULL);
	if (ret != code)
		fail_msg("fsck -fy: exit %d (expected %d)\n%s", ret, code, out);
}

static void test_zero_filled(void **state)
{
	struct img *im = *state;

	assert_int_equal(truncate(im->path, 0), 0);
	assert_int_equal(truncate(im->path, 16 << 20), 0);
	expect_fsck(im->path, 8, "no valid superblock");
}

static void test_random(void **state)
{
	struct img *im = *state;

	fill_random(im->path, 0, 16 << 20);
	expect_fsck(im->path, 8, "no valid superblock");
}

static void test_truncated(void **state)
{
	struct img *im = *state;

	assert_int_equal(truncate(im->path, 10 << 20), 0);
	expect_fsck(im->path, 8, "truncated");
	assert_int_equal(truncate(im->path, 3000), 0);
	expect_fsck(im->path, 8, "truncated");
	assert_int_equal(truncate(im->path, 512), 0);
	expect_fsck(im->path, 8, "too small");
	assert_int_equal(truncate(im->path, 0), 0);
	expect_fsck(im->path, 8, "too small");
}

static void test_future_features(void **state)
{
	struct img *im = *state;
	char out[OUT_MAX];

	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "feature_incompat", "0x8000", NULL), 0);
	expect_fsck(im->path, 8, "incompatible");
	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "feature_incompat", "0", NULL), 0);
	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "feature_ro_compat", "0x8001", NULL), 0);
	expect_fsck(im->path, 8, "read-only-compatible");
	assert_int_equal(tool(out, tools.db, im->path, "set-sb", "rev_level", "9", NULL), 0);
	expect_fsck(im->path, 8, "revision 9");
}

/* Random bytes over one metadata block at a time: found and repaired.
 * The root's directory block (1156) comes before its inode (in 1028): a
 * root re-created from nothing gets a block of fsck's own, and the one it
 * had, a leak, is freed by pass 3. */
static void test_random_over_each_metadata_block(void **state)
{
	static const uint64_t blocks[] = { 0, 1, 2, 1026, 1027, 1156, 1028, 4094, 4095 };
	struct img *im = *state;
	char out[OUT_MAX];

	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		int ret;

		fill_random(im->path, blocks[i] * 4096, 4096);
		ret = tool(out, tools.fsck, "-fn", im->path, NULL);
		if (ret != 4)
			fail_msg("block %llu randomised: fsck -n exit %d\n%s",
				 (unsigned long long)blocks[i], ret, out);
		ret = tool(out, tools.fsck, "-fy", im->path, NULL);
		if (ret != 1)
			fail_msg("block %llu randomised: fsck -y exit %d\n%s",
				 (unsigned long long)blocks[i], ret, out);
		ret = tool(out, tools.fsck, "-fn", im->path, NULL);
		if (ret != 0)
			fail_msg("block %llu randomised, repaired: fsck -n exit %d\n%s",
				 (unsigned long long)blocks[i], ret, out);
	}
}

static void test_usage_and_lock_exit_codes(void **state)
{
	struct img *im = *state;
	char out[OUT_MAX];
	int fd;

	assert_int_equal(tool(out, tools.fsck, NULL), 16);
	assert_int_equal(tool(out, tools.fsck, "-n", "-y", im->path, NULL), 16);
	assert_int_equal(tool(out, tools.fsck, "-q", im->path, NULL), 16);
	assert_int_equal(tool(out, tools.fsck, im->path, im->path, NULL), 16);
	/* No terminal for interactive questions. */
	assert_int_equal(tool(out, tools.fsck, im->path, NULL), 8);
	assert_non_null(strstr(out, "terminal"));
	/* Missing image. */
	assert_int_equal(tool(out, tools.fsck, "-n", "/nonexistent/image", NULL), 8);
	/* Someone holds the image: even -n does not check it. */
	assert_int_equal(sfs_image_lock(im->path, false, &fd), 0);
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 8);
	assert_non_null(strstr(out, "in use"));
	sfs_image_unlock(fd);
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 0);
	assert_int_equal(tool(out, tools.fsck, "-P", NULL), 0);
	assert_non_null(strstr(out, "B03"));
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Read what the child wrote to the terminal into @buf (NUL-terminated)
 * until @want appears (NULL: until it closes) or @deadline passes. */
static bool pty_read_until(int master, char *buf, size_t cap, size_t *len, const char *want,
			   uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = master, .events = POLLIN };
		uint64_t now = mono_ns();
		ssize_t n;

		if (want && strstr(buf, want))
			return true;
		if (now >= deadline)
			return false;
		if (poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			continue;
		n = read(master, buf + *len, cap - 1 - *len);
		if (n <= 0)
			return !want;   /* EIO: the child closed the terminal */
		*len += (size_t)n;
		buf[*len] = 0;
		if (*len == cap - 1)
			*len = 0;       /* keep reading; only the tail matters */
	}
}

/*
 * ^C at a repair question: fsck stops asking, writes nothing and exits
 * with 32 (cancelled) or'ed with 4 (the problem it was asked about is
 * left).  A terminal is needed for the question, hence the pty; the
 * signal is sent while fsck waits for the answer, so it cannot race.
 */
static void test_cancelled_exit_code(void **state)
{
	struct img *im = *state;
	char buf[16384] = "", out[OUT_MAX];
	uint64_t deadline;
	size_t len = 0;
	int master, status;
	pid_t pid;

	assert_int_equal(tool(out, tools.db, "-w", im->path, "flip-bit", "block", "0", "500", NULL), 0);
	pid = forkpty(&master, NULL, NULL, NULL);
	assert_true(pid >= 0);
	if (!pid) {
		execl(tools.fsck, tools.fsck, "-f", im->path, (char *)NULL);
		_exit(127);
	}
	deadline = mono_ns() + 60ull * 1000000000u;
	if (!pty_read_until(master, buf, sizeof(buf), &len, "<y>? ", deadline)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		close(master);
		fail_msg("fsck asked no question within 60 s:\n%s", buf);
	}
	assert_non_null(strstr(buf, "[B03]"));
	assert_int_equal(kill(pid, SIGINT), 0);
	len = 0;
	buf[0] = 0;
	pty_read_until(master, buf, sizeof(buf), &len, NULL, mono_ns() + 60ull * 1000000000u);
	close(master);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fail_msg("fsck did not exit (status 0x%x):\n%s", status, buf);
	assert_int_equal(WEXITSTATUS(status), 32 | 4);
	assert_non_null(strstr(buf, "check cancelled"));
	/* Nothing was repaired: the bit is still wrong. */
	assert_int_equal(tool(out, tools.fsck, "-fn", im->path, NULL), 4);
	assert_non_null(strstr(out, "[B03]"));
}

int main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_zero_filled),
		T(test_random),
		T(test_truncated),
		T(test_future_features),
		T(test_random_over_each_metadata_block),
		T(test_usage_and_lock_exit_codes),
		T(test_cancelled_exit_code),
	};
#undef T

	if (tools_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
