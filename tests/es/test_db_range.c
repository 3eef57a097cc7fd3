/*
 * scopefs-db reaches the truncate family (tools/db/range.c): falloc (and
 * KEEP_SIZE), punch, zero-range, collapse, insert, truncate and
 * seek-data / seek-hole run on an image through the library.  After each
 * command the file is read back through the library and compared with a
 * byte model of Linux's rules, the tree is verified and fsck is clean; the
 * errors (EINVAL for a misaligned collapse, a collapse reaching the end, an
 * insert at the end; ENXIO past the data; usage) exit 1, name the errno
 * and leave the image as it was.
 *
 * Usage: test_es_db_range FSCK SCOPEFS-DB
 */
#include "../fs/helpers.h"

const char *fsck_path;
static const char *db_path;

#define BS 4096u
#define MAXSZ (256u * 1024)

static uint8_t model[MAXSZ];
static uint64_t model_size;
static char out[16384];

/* Run scopefs-db IMAGE ARGS...; its exit status, its output in out[]. */
static int db(const char *image, const char *fmt, ...)
{
	char line[256], *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	argv[argc++] = (char *)db_path;
	argv[argc++] = (char *)image;
	for (char *tok = strtok(line, " "); tok && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return run_tool(out, sizeof(out), argv);
}

static void expect_ok(int ret, const char *what)
{
	if (ret)
		fail_msg("%s: exit %d:\n%s", what, ret, out);
}

/* Exit 1, and the output names @err (and @why, when given). */
static void expect_error(int ret, const char *what, const char *err, const char *why)
{
	if (ret != 1 || !strstr(out, err) || (why && !strstr(out, why)))
		fail_msg("%s: expected exit 1 with %s%s%s, got %d:\n%s", what, err, why ? " / " : "",
			 why ? why : "", ret, out);
}

/* The file through the library: size and every byte as the model says,
 * its extent tree sound; then fsck on the unmounted image. */
static void check(const char *image, uint64_t ino, const char *after)
{
	static uint8_t buf[MAXSZ];
	struct sfs_attr at;
	struct sfs_fs *fs;
	char why[256];
	ssize_t n;

	fs = mount_opts(image, NULL);
	assert_int_equal(sfs_getattr(fs, ino, &at), 0);
	if (at.size != model_size)
		fail_msg("after %s: size %llu, model %llu", after, (unsigned long long)at.size,
			 (unsigned long long)model_size);
	n = sfs_read(fs, ino, buf, sizeof(buf), 0);
	assert_int_equal(n, (ssize_t)model_size);
	for (uint64_t i = 0; i < model_size; i++)
		if (buf[i] != model[i])
			fail_msg("after %s: byte %llu is %#x, model %#x", after,
				 (unsigned long long)i, buf[i], model[i]);
	if (sfs_extent_verify(fs, ino, why, sizeof(why)))
		fail_msg("after %s: %s", after, why);
	assert_int_equal(sfs_fs_unmount(fs), 0);
	assert_fsck_clean(image);
}

/* The library's own answer to a seek, for comparing with the tool's. */
static int lib_seek(const char *image, uint64_t ino, uint64_t off, int whence, uint64_t *to)
{
	struct sfs_fs *fs = mount_opts(image, NULL);
	int ret = sfs_lseek_data_hole(fs, ino, off, whence, to);

	assert_int_equal(sfs_fs_unmount(fs), 0);
	return ret;
}

static void test_db_runs_the_truncate_family_through_the_library(void **state)
{
	char image[256], want[128];
	struct sfs_fs *fs;
	uint64_t ino, to;
	(void)state;

	scratch_path(image, sizeof(image), "esdb");
	make_image(image, 12, 64 << 20, 0);
	fs = mount_opts(image, NULL);
	ino = new_file(fs);
	for (unsigned i = 0; i < 64 * 1024; i++)
		model[i] = (uint8_t)(i * 7 + i / BS);
	model_size = 64 * 1024;
	assert_int_equal(sfs_write(fs, ino, model, model_size, 0, 0, NULL), (ssize_t)model_size);
	assert_int_equal(sfs_fs_unmount(fs), 0);

	/* fallocate past the end: unwritten blocks, the size grows. */
	expect_ok(db(image, "falloc %llu 65536 16384", (unsigned long long)ino), "falloc");
	assert_non_null(strstr(out, "size 81920"));
	model_size = 81920;
	check(image, ino, "falloc");
	/* KEEP_SIZE: blocks past the end, the size stays. */
	expect_ok(db(image, "falloc %llu 81920 8192 keep-size", (unsigned long long)ino),
		  "falloc keep-size");
	assert_non_null(strstr(out, "size 81920"));
	check(image, ino, "falloc keep-size");

	expect_ok(db(image, "punch %llu 8192 8192", (unsigned long long)ino), "punch");
	memset(model + 8192, 0, 8192);
	check(image, ino, "punch");

	/* Seeks, from the tool and from the library: data [0,8K), a hole
	 * [8K,16K), data to 64K, unwritten (a hole here) to the end. */
	expect_ok(db(image, "seek-hole %llu 0", (unsigned long long)ino), "seek-hole");
	assert_int_equal(lib_seek(image, ino, 0, SFS_SEEK_HOLE, &to), 0);
	assert_int_equal(to, 8192);
	snprintf(want, sizeof(want), "hole from 0: %llu", (unsigned long long)to);
	assert_non_null(strstr(out, want));
	expect_ok(db(image, "seek-data %llu 8192", (unsigned long long)ino), "seek-data");
	assert_int_equal(lib_seek(image, ino, 8192, SFS_SEEK_DATA, &to), 0);
	assert_int_equal(to, 16384);
	snprintf(want, sizeof(want), "data from 8192: %llu", (unsigned long long)to);
	assert_non_null(strstr(out, want));
	expect_ok(db(image, "seek-hole %llu 16384", (unsigned long long)ino), "seek-hole 2");
	assert_non_null(strstr(out, "hole from 16384: 65536"));
	expect_error(db(image, "seek-data %llu 65536", (unsigned long long)ino), "seek-data past",
		     "ENXIO", NULL);
	assert_int_equal(lib_seek(image, ino, 65536, SFS_SEEK_DATA, &to), -ENXIO);

	expect_ok(db(image, "zero-range %llu 20480 4096", (unsigned long long)ino), "zero-range");
	memset(model + 20480, 0, 4096);
	check(image, ino, "zero-range");

	expect_ok(db(image, "collapse %llu 4096 4096", (unsigned long long)ino), "collapse");
	memmove(model + 4096, model + 8192, model_size - 8192);
	model_size -= 4096;
	check(image, ino, "collapse");

	expect_ok(db(image, "insert %llu 4096 8192", (unsigned long long)ino), "insert");
	memmove(model + 4096 + 8192, model + 4096, model_size - 4096);
	memset(model + 4096, 0, 8192);
	model_size += 8192;
	check(image, ino, "insert");

	/* The errors: exit 1, the errno named, the image unchanged. */
	expect_error(db(image, "collapse %llu 1000 4096", (unsigned long long)ino),
		     "misaligned collapse", "EINVAL", "multiples of the block size (4096)");
	expect_error(db(image, "collapse %llu 4096 %llu", (unsigned long long)ino,
			(unsigned long long)(model_size - 4096)),
		     "collapse to the end", "EINVAL", "end before the end of the file");
	expect_error(db(image, "insert %llu %llu 4096", (unsigned long long)ino,
			(unsigned long long)model_size),
		     "insert at the end", "EINVAL", "below the size of the file");
	expect_error(db(image, "insert %llu 4096 100", (unsigned long long)ino),
		     "misaligned insert", "EINVAL", "multiples of the block size");
	expect_error(db(image, "collapse %llu 4096", (unsigned long long)ino), "usage",
		     "usage: collapse INO OFF LEN", NULL);
	expect_error(db(image, "punch 999999 0 4096"), "no such inode", "punch:", NULL);
	check(image, ino, "the refused commands");

	/* Truncate down in the middle of a block, then up (a hole). */
	expect_ok(db(image, "truncate %llu 10000", (unsigned long long)ino), "truncate");
	assert_non_null(strstr(out, "size 10000"));
	model_size = 10000;
	check(image, ino, "truncate down");
	expect_ok(db(image, "truncate %llu 40000", (unsigned long long)ino), "truncate up");
	memset(model + 10000, 0, 30000);
	model_size = 40000;
	check(image, ino, "truncate up");
	unlink(image);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_db_runs_the_truncate_family_through_the_library),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s FSCK SCOPEFS-DB\n", argv[0]);
		return 1;
	}
	db_path = argv[2];
	if (test_main_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
