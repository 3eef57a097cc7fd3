/*
 * mkfs.scopefs: every size and block size the issue names makes a
 * filesystem fsck finds clean; a sparse image costs only what mkfs must
 * write; and every request mkfs must refuse is refused with exit 1 and a
 * sentence saying why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "tools.h"

struct tools tools;

static void mkfs_then_fsck_clean(const char *bs, const char *size, uint64_t max_written)
{
	char img[256], out[OUT_MAX];
	struct stat st;
	int ret;

	scratch_path(img, sizeof(img), "mkfs");
	ret = tool(out, tools.mkfs, "-b", bs, img, size, NULL);
	if (ret)
		fail_msg("mkfs -b %s %s: exit %d\n%s", bs, size, ret, out);
	assert_non_null(strstr(out, "Creating filesystem"));
	assert_int_equal(stat(img, &st), 0);
	/* Sparse: lazy initialisation writes only what it must. */
	if ((uint64_t)st.st_blocks * 512 > max_written)
		fail_msg("%s at %s: %llu bytes allocated, expected at most %llu", size, bs,
			 (unsigned long long)st.st_blocks * 512, (unsigned long long)max_written);
	ret = tool(out, tools.fsck, "-fn", img, NULL);
	if (ret)
		fail_msg("fsck after mkfs -b %s %s: exit %d\n%s", bs, size, ret, out);
	/* Without -f a fresh filesystem is clean and not checked. */
	assert_int_equal(tool(out, tools.fsck, "-p", img, NULL), 0);
	assert_non_null(strstr(out, "clean"));
	unlink(img);
}

static void test_4k_16m(void **s) { (void)s; mkfs_then_fsck_clean("4096", "16M", 1 << 20); }
static void test_4k_4g(void **s) { (void)s; mkfs_then_fsck_clean("4096", "4G", 1 << 20); }
static void test_4k_1t(void **s) { (void)s; mkfs_then_fsck_clean("4096", "1T", 4 << 20); }
static void test_1k_16m(void **s) { (void)s; mkfs_then_fsck_clean("1024", "16M", 1 << 20); }
static void test_1k_4g(void **s) { (void)s; mkfs_then_fsck_clean("1024", "4G", 1 << 20); }
static void test_64k_256m(void **s) { (void)s; mkfs_then_fsck_clean("65536", "256M", 4 << 20); }
static void test_64k_4g(void **s) { (void)s; mkfs_then_fsck_clean("65536", "4G", 4 << 20); }

static void test_options_shape_the_filesystem(void **state)
{
	char img[256], out[OUT_MAX];

	(void)state;
	scratch_path(img, sizeof(img), "mkfs");
	assert_int_equal(tool(out, tools.mkfs, "-q", "-N", "5000", "-I", "1024", "-J", "8M",
			      "-L", "mylabel", "-U", "12345678-1234-4234-9234-123456789abc",
			      "-g", "2048", "-m", "1", img, "64M", NULL), 0);
	assert_int_equal(out[0], 0);   /* -q */
	assert_int_equal(tool(out, tools.db, img, "sb", NULL), 0);
	assert_non_null(strstr(out, "\"mylabel\""));
	assert_non_null(strstr(out, "12345678-1234-4234-9234-123456789abc"));
	assert_non_null(strstr(out, "inode_size           1024"));
	assert_non_null(strstr(out, "journal_blocks       2048"));
	assert_non_null(strstr(out, "blocks_per_group     2048"));
	assert_int_equal(tool(out, tools.fsck, "-fn", img, NULL), 0);
	/* No journal at all. */
	assert_int_equal(tool(out, tools.mkfs, "-q", "-F", "-J", "0", img, "1M", NULL), 0);
	assert_int_equal(tool(out, tools.fsck, "-fn", img, NULL), 0);
	/* Keep (-K): inode tables not known to be zero, still clean. */
	assert_int_equal(tool(out, tools.mkfs, "-q", "-F", "-K", img, "16M", NULL), 0);
	assert_int_equal(tool(out, tools.fsck, "-fn", img, NULL), 0);
	assert_int_equal(tool(out, tools.db, img, "gd", "0", NULL), 0);
	assert_null(strstr(out, "ITABLE_ZEROED"));
	unlink(img);
}

static void test_refusals_say_why(void **state)
{
	char img[256], dir[300], out[OUT_MAX];
	struct stat st;

	(void)state;
	scratch_path(img, sizeof(img), "mkfs");

	/* Too small: says the minimum. */
	assert_int_equal(tool(out, tools.mkfs, img, "1M", NULL), 1);
	assert_non_null(strstr(out, "minimum"));
	assert_int_not_equal(stat(img, &st), 0);   /* nothing left behind */
	assert_int_equal(tool(out, tools.mkfs, "-b", "65536", img, "32M", NULL), 1);
	assert_non_null(strstr(out, "minimum"));

	/* Nonsense sizes and options. */
	assert_int_equal(tool(out, tools.mkfs, img, "abc", NULL), 1);
	assert_non_null(strstr(out, "not a size"));
	assert_int_equal(tool(out, tools.mkfs, img, "-5M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, img, "1.5G", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, img, "0", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, img, "99999999999999T", NULL), 1);
	assert_non_null(strstr(out, "too large"));
	assert_int_equal(tool(out, tools.mkfs, "-b", "3000", img, "16M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, "-b", "131072", img, "16M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, "-J", "1M", img, "64M", NULL), 1);
	assert_non_null(strstr(out, "journal too small"));
	assert_int_equal(tool(out, tools.mkfs, "-N", "100000000", img, "16M", NULL), 1);
	assert_non_null(strstr(out, "too many inodes"));
	assert_int_equal(tool(out, tools.mkfs, "-U", "not-a-uuid", img, "16M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, "-L",
			      "0123456789012345678901234567890123456789012345678901234567890123",
			      img, "16M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, "-Z", img, "16M", NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, NULL), 1);
	assert_int_equal(tool(out, tools.mkfs, img, NULL), 1);
	assert_non_null(strstr(out, "does not exist"));

	/* Not a regular file. */
	snprintf(dir, sizeof(dir), "%s.d", img);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(tool(out, tools.mkfs, dir, "16M", NULL), 1);
	assert_non_null(strstr(out, "not a regular file"));
	rmdir(dir);

	/* An existing filesystem needs -F. */
	assert_int_equal(tool(out, tools.mkfs, "-q", img, "16M", NULL), 0);
	assert_int_equal(tool(out, tools.mkfs, img, NULL), 1);
	assert_non_null(strstr(out, "use -F"));
	assert_int_equal(tool(out, tools.mkfs, "-q", "-F", img, NULL), 0);

	/* Dry run writes nothing. */
	assert_int_equal(tool(out, tools.mkfs, "-n", "-F", "-L", "dry", img, NULL), 0);
	assert_int_equal(tool(out, tools.db, img, "sb", NULL), 0);
	assert_null(strstr(out, "\"dry\""));

	/* In use: the image lock. */
	{
		int fd;

		assert_int_equal(sfs_image_lock(img, true, &fd), 0);
		assert_int_equal(tool(out, tools.mkfs, "-F", img, NULL), 1);
		assert_non_null(strstr(out, "in use"));
		sfs_image_unlock(fd);
	}
	unlink(img);

	/* A read-only location (root ignores modes, so use /proc). */
	assert_int_equal(tool(out, tools.mkfs, "/proc/version", NULL), 1);
}

static void test_help_states_minimum_sizes(void **state)
{
	char out[OUT_MAX];

	(void)state;
	assert_int_equal(tool(out, tools.mkfs, "-h", NULL), 0);
	assert_non_null(strstr(out, "1024-byte blocks"));
	assert_non_null(strstr(out, "4096-byte blocks"));
	assert_non_null(strstr(out, "65536-byte blocks"));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4k_16m),
		cmocka_unit_test(test_4k_4g),
		cmocka_unit_test(test_4k_1t),
		cmocka_unit_test(test_1k_16m),
		cmocka_unit_test(test_1k_4g),
		cmocka_unit_test(test_64k_256m),
		cmocka_unit_test(test_64k_4g),
		cmocka_unit_test(test_options_shape_the_filesystem),
		cmocka_unit_test(test_refusals_say_why),
		cmocka_unit_test(test_help_states_minimum_sizes),
	};

	if (tools_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
