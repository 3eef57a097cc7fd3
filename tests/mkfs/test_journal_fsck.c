/*
 * fsck's journal pass: an image whose log holds a committed transaction
 * (written, then a power cut before the checkpoint) is reported by
 * fsck -n without a write, replayed by fsck -y, and clean afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fs/block/buffer.h"
#include "fs/format/jsb.h"
#include "journal/journal.h"
#include "tools.h"

struct tools tools;

#define TARGET 3000u    /* a free data block of group 2 */

static void fill(uint8_t *b, uint32_t bs)
{
	for (uint32_t i = 0; i < bs; i++)
		b[i] = (uint8_t)(i * 13 + 7);
}

/* Commit one handle changing TARGET, then lose every later write. */
static void dirty_log(const char *path)
{
	struct sfs_sb_info *sbi;
	struct jnl_area a = { 0 };
	char msg[256];

	assert_int_equal(sfs_sb_open(path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	a.block_size = sbi->geo.block_size;
	a.start = sbi->geo.journal_start;
	a.blocks = sbi->geo.journal_blocks;
	memcpy(a.uuid, sbi->sb.uuid, 16);
	sfs_sb_free(sbi);

	struct sfs_bdev_opts bo = { .cache = SFS_CACHE_BUFFERED };
	struct sfs_bcache_opts co = { .block_size = a.block_size, .name = "test_jfsck" };
	struct sfs_bdev *b;
	struct sfs_bcache *c;
	struct jnl_journal *j;
	struct jnl_handle *h;
	struct sfs_buf *bh;

	assert_int_equal(sfs_bdev_open(path, 0, &bo, &b), 0);
	assert_int_equal(sfs_bcache_create(b, &co, &c), 0);
	assert_int_equal(jnl_open(c, &a, NULL, NULL, &j), 0);
	assert_int_equal(jnl_start(j, 2, 0, &h), 0);
	assert_int_equal(sfs_buf_read(c, TARGET, NULL, 0, &bh), 0);
	assert_int_equal(jnl_get_write_access(h, bh), 0);
	sfs_buf_lock(bh);
	fill(bh->data, a.block_size);
	assert_int_equal(jnl_dirty_metadata(h, bh), 0);
	sfs_buf_unlock(bh);
	sfs_buf_release(bh);
	assert_int_equal(jnl_stop(h), 0);
	assert_int_equal(jnl_force_commit(j), 0);
	sfs_bdev_power_cut(b);                 /* the checkpoint never lands */
	jnl_close(j);
	sfs_bcache_destroy(c);
	sfs_bdev_close(b);
}

static int target_replayed(const char *path)
{
	struct sfs_bdev *b;
	uint8_t got[4096], want[4096];

	assert_int_equal(sfs_bdev_open(path, SFS_BDEV_RDONLY, NULL, &b), 0);
	assert_int_equal(sfs_bdev_read(b, got, sizeof(got), (uint64_t)TARGET * 4096), 0);
	sfs_bdev_close(b);
	fill(want, sizeof(want));
	return !memcmp(got, want, sizeof(got));
}

static void test_fsck_replays_a_committed_transaction(void **state)
{
	char path[256], out[OUT_MAX];
	int ret;
	(void)state;

	scratch_path(path, sizeof(path), "jfsck");
	if (tool(out, tools.mkfs, "-q", "-g", "1024", path, "16M", NULL))
		fail_msg("mkfs: %s", out);
	dirty_log(path);
	/* As a crashed mount leaves it: the recovery flag set. */
	assert_int_equal(tool(out, tools.db, "-w", path, "set-sb", "feature_incompat", "1", NULL), 0);
	assert_false(target_replayed(path));

	ret = tool(out, tools.fsck, "-fn", path, NULL);
	if (ret != 4 || !strstr(out, "J01") || !strstr(out, "S04"))
		fail_msg("fsck -n: exit %d, expected 4 with J01 and S04\n%s", ret, out);
	assert_false(target_replayed(path));          /* -n wrote nothing */
	ret = tool(out, tools.fsck, "-fy", path, NULL);
	if (ret != 1)
		fail_msg("fsck -y: exit %d, expected 1\n%s", ret, out);
	assert_true(target_replayed(path));
	ret = tool(out, tools.fsck, "-fn", path, NULL);
	if (ret != 0)
		fail_msg("fsck -n after replay: exit %d\n%s", ret, out);
	unlink(path);
}

/* Rewrite the journal superblock through @edit, checksum kept valid (as
 * the journal itself would have written it). */
static void edit_jsb(const char *path, void (*edit)(struct sfs_jsb *j))
{
	struct sfs_sb_info *sbi;
	struct sfs_jsb j;
	uint8_t *blk;
	uint64_t off;
	char msg[256];
	int fd;

	assert_int_equal(sfs_sb_open(path, SFS_MOUNT_RDONLY, &sbi, msg, sizeof(msg)), 0);
	off = sbi->geo.journal_start << sbi->geo.block_log;
	blk = mc_zalloc(sbi->geo.block_size, MC_KERNEL);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, blk, sbi->geo.block_size, (off_t)off), (ssize_t)sbi->geo.block_size);
	sfs_jsb_decode(&j, blk);
	edit(&j);
	sfs_jsb_build(blk, sbi, &j);
	assert_int_equal(sfs_jsb_verify(blk, sbi->geo.block_size, sbi->geo.journal_start, sbi), 0);
	assert_int_equal(pwrite(fd, blk, sbi->geo.block_size, (off_t)off), (ssize_t)sbi->geo.block_size);
	close(fd);
	mc_free(blk);
	sfs_sb_free(sbi);
}

static void record_eio(struct sfs_jsb *j) { j->errno_ = EIO; }
/* Passes the format's verifier (S08 stays quiet) but not the journal's
 * own rule that the log starts at its first position. */
static void shift_first(struct sfs_jsb *j) { j->first = j->first + 1; }

/* fsck -n reports @code (exit 4), -y repairs (exit 1), then clean. */
static void journal_found_and_repaired(const char *path, const char *code)
{
	char out[OUT_MAX];
	int ret;

	ret = tool(out, tools.fsck, "-fn", path, NULL);
	if (ret != 4 || !strstr(out, code))
		fail_msg("fsck -n: exit %d, expected 4 with [%s]\n%s", ret, code, out);
	ret = tool(out, tools.fsck, "-fy", path, NULL);
	if (ret != 1 || !strstr(out, code))
		fail_msg("fsck -y: exit %d, expected 1 with [%s]\n%s", ret, code, out);
	ret = tool(out, tools.fsck, "-fn", path, NULL);
	if (ret != 0)
		fail_msg("fsck -n after -y: exit %d, expected 0\n%s", ret, out);
}

/* An abort recorded in the journal (J02) moves into the superblock's
 * error record when repaired, and the journal's copy is cleared. */
static void test_fsck_journal_recorded_abort(void **state)
{
	char path[256], out[OUT_MAX];

	(void)state;
	scratch_path(path, sizeof(path), "jfsck");
	if (tool(out, tools.mkfs, "-q", "-g", "1024", path, "16M", NULL))
		fail_msg("mkfs: %s", out);
	edit_jsb(path, record_eio);
	journal_found_and_repaired(path, "J02");
	assert_int_equal(tool(out, tools.db, path, "sb", NULL), 0);
	assert_non_null(strstr(out, "last_error_errno"));
	unlink(path);
}

/* A journal superblock the log scan refuses (J03): re-created empty. */
static void test_fsck_journal_log_unscannable(void **state)
{
	char path[256], out[OUT_MAX];

	(void)state;
	scratch_path(path, sizeof(path), "jfsck");
	if (tool(out, tools.mkfs, "-q", "-g", "1024", path, "16M", NULL))
		fail_msg("mkfs: %s", out);
	edit_jsb(path, shift_first);
	journal_found_and_repaired(path, "J03");
	unlink(path);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fsck_replays_a_committed_transaction),
		cmocka_unit_test(test_fsck_journal_recorded_abort),
		cmocka_unit_test(test_fsck_journal_log_unscannable),
	};
	if (tools_init(argc, argv))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
