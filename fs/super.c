/*
 * Mounting and unmounting, the filesystem's state, runtime errors.
 *
 * Mount: take the image lock, open the device, check the superblock and
 * descriptors (fs/format/mount.h), create the buffer cache, open the
 * journal (which replays it after a crash), then read the superblock and
 * descriptors again through the cache -- replay may have changed them --
 * and load the allocator.  A read-write mount then writes the superblock
 * home directly with needs_recovery set and the clean state cleared (from
 * here on the home copy may lag the journal, and whoever opens the image
 * after a crash must know to replay), and finishes what the orphan file
 * records (fs/namespace/namespace.h).  Unmount reverses it: release the
 * inodes, close the journal (commit and checkpoint), write everything
 * home, then the superblock clean, its backup, and flush.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fs/balloc.h"
#include "fs/es/extent_status.h"
#include "fs/extent_tree.h"
#include "fs/format/group.h"
#include "fs/format/imagelock.h"
#include "fs/format/io.h"
#include "fs/format/super.h"
#include "fs/format/verify.h"
#include "fs/inode.h"
#include "fs/pagecache/pagecache.h"
#include "fs/namespace/namespace.h"
#include "fs/namespace/orphan.h"
#include "fs/trans.h"

static int mount_err(int err, char *msg, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int mount_err(int err, char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (msg && len) {
		va_start(ap, fmt);
		vsnprintf(msg, len, fmt, ap);
		va_end(ap);
	}
	return err;
}

int sfs_fs_writable(struct sfs_fs *fs)
{
	switch (atomic_load(&fs->state)) {
	case SFS_FS_LIVE:
		return 0;
	case SFS_FS_READONLY:
		return -EROFS;
	default:
		return -EIO;
	}
}

int sfs_fs_readable(struct sfs_fs *fs)
{
	return atomic_load(&fs->state) == SFS_FS_SHUTDOWN ? -EIO : 0;
}

int sfs_fs_error(struct sfs_fs *fs, int err, uint64_t ino, uint64_t blk, const char *func,
		 const char *fmt, ...)
{
	struct sfs_super *sb = &fs->sbi->sb;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	SFS_STAT(fs, errors, 1);
	fprintf(stderr, "scopefs: %s: error %d in %s: %s\n", fs->path, -err, func, why);

	mc_mutex_lock(&fs->sbi->sb_lock);
	sb->state |= SFS_STATE_ERROR;
	if (!sb->error_count++) {
		sb->first_error_errno = (uint32_t)-err;
		sb->first_error_time = (uint64_t)time(NULL);
		sb->first_error_ino = ino;
		sb->first_error_block = blk;
		snprintf(sb->first_error_func, sizeof(sb->first_error_func), "%s", func);
	}
	sb->last_error_errno = (uint32_t)-err;
	sb->last_error_time = (uint64_t)time(NULL);
	sb->last_error_ino = ino;
	sb->last_error_block = blk;
	snprintf(sb->last_error_func, sizeof(sb->last_error_func), "%s", func);
	mc_mutex_unlock(&fs->sbi->sb_lock);

	switch (fs->errors) {
	case SFS_ERRORS_RO: {
		int live = SFS_FS_LIVE;

		if (atomic_compare_exchange_strong(&fs->state, &live, SFS_FS_READONLY))
			fprintf(stderr, "scopefs: %s: remounted read-only\n", fs->path);
		break;
	}
	case SFS_ERRORS_SHUTDOWN:
		if (atomic_exchange(&fs->state, SFS_FS_SHUTDOWN) != SFS_FS_SHUTDOWN) {
			fprintf(stderr, "scopefs: %s: shut down\n", fs->path);
			if (fs->j)
				jnl_abort(fs->j, err);
		}
		break;
	default:
		break;
	}
	/* An aborted journal takes everything down, whatever errors= says. */
	if (fs->j && jnl_errno(fs->j) && atomic_load(&fs->state) != SFS_FS_SHUTDOWN &&
	    err == -EIO)
		atomic_store(&fs->state, SFS_FS_SHUTDOWN);
	return err;
}

/* Encode the in-memory superblock into block 0 and write it home now
 * (mount and unmount only: no handle may be open). */
static int write_super_home(struct sfs_fs *fs)
{
	struct sfs_sb_info *sbi = fs->sbi;
	int ret;

	sfs_buf_lock(fs->sb_bh);
	mc_mutex_lock(&sbi->sb_lock);
	sfs_super_relocate(&sbi->sb, 0);
	sfs_super_encode(fs->sb_bh->data, &sbi->sb);
	mc_mutex_unlock(&sbi->sb_lock);
	sfs_buf_mark_dirty(fs->sb_bh);
	sfs_buf_unlock(fs->sb_bh);
	ret = sfs_buf_write(fs->sb_bh);
	if (!ret)
		ret = sfs_bdev_flush(fs->bdev);
	return ret;
}

static int write_backup_super(struct sfs_fs *fs)
{
	const struct sfs_geo *g = &fs->sbi->geo;
	struct sfs_super copy;
	uint8_t *blk = sfs_io_alloc(g->block_size);
	int ret;

	if (!blk)
		return -ENOMEM;
	mc_mutex_lock(&fs->sbi->sb_lock);
	copy = fs->sbi->sb;
	mc_mutex_unlock(&fs->sbi->sb_lock);
	sfs_super_relocate(&copy, g->backup_sb_block);
	sfs_super_encode(blk, &copy);
	/* Verified like every metadata write: the backup is what fsck
	 * restores a damaged primary from, so it must never take damage. */
	ret = sfs_super_buf_ops.prepare_write(blk, g->block_size, g->backup_sb_block, fs->sbi);
	if (ret)
		fprintf(stderr, "scopefs: %s: backup superblock not written: %s\n", fs->path,
			sfs_verify_reason());
	else
		ret = sfs_io_write_blocks(fs->bdev, blk, g->block_log, g->backup_sb_block, 1);
	mc_free(blk);
	return ret;
}

/* Superblock and descriptors as the cache (after replay) has them. */
static int reload_metadata(struct sfs_fs *fs, char *msg, size_t msglen)
{
	struct sfs_sb_info *sbi = fs->sbi;
	const struct sfs_geo *g = &sbi->geo;
	char why[200];
	int ret;

	ret = sfs_buf_read(fs->bc, 0, &sfs_super_buf_ops, 0, &fs->sb_bh);
	if (ret)
		return mount_err(ret, msg, msglen, "superblock unreadable after journal replay: %s",
				 ret == -EIO ? "I/O error" : sfs_verify_reason());
	mc_mutex_lock(&sbi->sb_lock);
	sfs_super_decode(&sbi->sb, fs->sb_bh->data);
	mc_mutex_unlock(&sbi->sb_lock);
	for (uint32_t i = 0; i < g->gdt_blocks; i++) {
		struct sfs_buf *bh;

		ret = sfs_buf_read(fs->bc, 1 + (uint64_t)i, &sfs_gdt_buf_ops, 0, &bh);
		if (ret)
			return mount_err(ret, msg, msglen, "descriptor block %u: %s", i,
					 ret == -EIO ? "I/O error" : sfs_verify_reason());
		sfs_gdt_block_decode(bh->data, sbi, i, sbi->gd);
		sfs_buf_release(bh);
	}
	for (uint32_t grp = 0; grp < g->group_count; grp++) {
		ret = sfs_gd_check(sbi, grp, &sbi->gd[grp], why, sizeof(why));
		if (ret)
			return mount_err(ret, msg, msglen, "group %u: %s", grp, why);
	}
	return 0;
}

void sfs_mount_opts_default(struct sfs_mount_opts *o)
{
	memset(o, 0, sizeof(*o));
}

static void teardown(struct sfs_fs *fs)
{
	if (fs->icache)
		sfs_icache_destroy(fs);
	sfs_pc_destroy(fs);   /* after the inodes: freeing one drops its pages */
	/* After the inodes: each held a tree of this cache. */
	sfs_es_cache_destroy(fs->es);
	sfs_ext_index_destroy(fs);
	if (fs->sb_bh)
		sfs_buf_release(fs->sb_bh);
	if (fs->bc)
		sfs_bcache_destroy(fs->bc);
	sfs_balloc_destroy(fs);
	if (fs->sbi)
		sfs_sb_free(fs->sbi);
	mc_free((void *)fs->path);
	mc_free(fs);
}

/*
 * Finish what the orphan file records (unlinked inodes still in use when
 * the last run ended, truncates cut short) before anyone sees the
 * filesystem.  The filesystem is live by now, so a failure unmounts it
 * again: what was finished stays finished, the rest stays recorded for
 * the next mount.  A read-only mount leaves the file alone (fsck reports
 * what it records).
 */
static int mount_orphans(struct sfs_fs *fs, char *msg, size_t msglen)
{
	uint64_t done = 0;
	int ret = sfs_orphan_replay(fs, &done);

	if (ret) {
		sfs_fs_unmount(fs);
		return mount_err(ret, msg, msglen, "cannot finish the orphan file: %s",
				 strerror(-ret));
	}
	if (done)
		fprintf(stderr, "scopefs: %s: orphan file: %llu inodes finished\n", fs->path,
			(unsigned long long)done);
	return 0;
}

int sfs_fs_mount(const char *path, const struct sfs_mount_opts *o, struct sfs_fs **out,
		 char *msg, size_t msglen)
{
	struct sfs_bdev_opts bo;
	struct sfs_bcache_opts co = { 0 };
	struct jnl_config jc = { 0 };
	struct jnl_recovery_info ri;
	struct sfs_bdev *bdev = NULL;
	struct sfs_fs *fs;
	char err[256];
	bool ro;
	int lock_fd = -1, ret;

	*out = NULL;
	mc_op_begin();
	fs = mc_zalloc(sizeof(*fs), MC_KERNEL);
	if (!fs) {
		ret = mount_err(-ENOMEM, msg, msglen, "out of memory");
		goto out;
	}
	if (o)
		fs->opts = *o;
	else
		sfs_mount_opts_default(&fs->opts);
	fs->path = mc_strdup(path, MC_KERNEL);
	fs->es = sfs_es_cache_create("es.cache");
	if (!fs->path || !fs->es || sfs_ext_index_create(fs)) {
		sfs_es_cache_destroy(fs->es);
		sfs_ext_index_destroy(fs);
		mc_free((void *)fs->path);
		mc_free(fs);
		ret = mount_err(-ENOMEM, msg, msglen, "out of memory");
		goto out;
	}
	ro = fs->opts.read_only;
	fs->ext_cap = fs->opts.extent_fanout;
	if (fs->ext_cap && fs->ext_cap < 3) {
		ret = mount_err(-EINVAL, msg, msglen, "fanout must be at least 3");
		goto err;
	}

	memset(&bo, 0, sizeof(bo));
	ret = sfs_bdev_opts_parse(&bo, fs->opts.bdev, err, sizeof(err));
	if (ret) {
		ret = mount_err(ret, msg, msglen, "%s", err);
		goto err;
	}
	ret = sfs_image_lock(path, !ro, &lock_fd);
	if (ret) {
		ret = mount_err(ret, msg, msglen, ret == -EBUSY ? "%s is in use" : "cannot open %s: %s",
				path, strerror(-ret));
		goto err;
	}
	ret = sfs_bdev_open(path, ro ? SFS_BDEV_RDONLY : 0, &bo, &bdev);
	if (ret) {
		sfs_image_unlock(lock_fd);
		ret = mount_err(ret, msg, msglen, "cannot open %s: %s", path, strerror(-ret));
		goto err;
	}
	ret = sfs_sb_load(bdev, ro ? SFS_MOUNT_RDONLY : 0, &fs->sbi, msg, msglen);
	if (ret) {
		sfs_bdev_close(bdev);
		sfs_image_unlock(lock_fd);
		goto err;
	}
	fs->sbi->owns_bdev = true;
	fs->sbi->lock_fd = lock_fd;
	fs->bdev = bdev;
	fs->bsize = fs->sbi->geo.block_size;
	fs->blog = fs->sbi->geo.block_log;
	if (fs->sbi->read_only)
		ro = true;
	fs->errors = fs->opts.errors ? fs->opts.errors : fs->sbi->sb.errors;
	if (!ro && !fs->sbi->geo.journal_blocks) {
		ret = mount_err(-EINVAL, msg, msglen,
				"a read-write mount needs a journal (mkfs.scopefs without -J 0)");
		goto err;
	}
	if (ro && fs->sbi->needs_recovery) {
		ret = mount_err(-EROFS, msg, msglen,
				"the journal needs recovery: mount read-write once first");
		goto err;
	}

	co.block_size = fs->bsize;
	co.max_bytes = fs->opts.cache_bytes;
	co.verifier_ctx = fs->sbi;
	co.name = "sfs_buffers";
	ret = sfs_bcache_create(bdev, &co, &fs->bc);
	if (ret) {
		ret = mount_err(ret, msg, msglen, "cannot create the buffer cache");
		goto err;
	}
	if (!ro) {
		struct jnl_area area = {
			.block_size = fs->bsize,
			.start = fs->sbi->geo.journal_start,
			.blocks = fs->sbi->geo.journal_blocks,
		};

		memcpy(area.uuid, fs->sbi->sb.uuid, 16);
		jc.mode = fs->opts.data == SFS_DATA_WRITEBACK ? JNL_DATA_WRITEBACK : JNL_DATA_ORDERED;
		jc.commit_interval_ms = fs->opts.commit_ms;
		ret = jnl_open(fs->bc, &area, &jc, &ri, &fs->j);
		if (ret) {
			ret = mount_err(ret, msg, msglen, "cannot open the journal: %s", strerror(-ret));
			goto err;
		}
		if (!ri.was_clean)
			fprintf(stderr, "scopefs: %s: journal replayed: %llu transactions, %llu blocks%s\n",
				path, (unsigned long long)ri.transactions,
				(unsigned long long)ri.replayed, ri.torn ? " (torn tail discarded)" : "");
	}
	ret = reload_metadata(fs, msg, msglen);
	if (ret)
		goto err;
	ret = sfs_balloc_init(fs);
	if (!ret)
		ret = sfs_icache_init(fs);
	if (!ret)
		ret = sfs_pc_init(fs);
	if (ret) {
		ret = mount_err(ret, msg, msglen, "out of memory");
		goto err;
	}
	atomic_store(&fs->next_generation, (uint32_t)time(NULL) * 2654435761u);
	fs->evict = sfs_ns_evict;   /* xattr blocks and orphan slots of freed inodes */
	atomic_store(&fs->state, ro ? SFS_FS_READONLY : SFS_FS_LIVE);

	if (!ro) {
		if (fs->j && jnl_errno(fs->j)) {
			/* An earlier run aborted the journal: the error is now in
			 * the superblock (fsck's business), the journal may go on. */
			SFS_ERROR(fs, jnl_errno(fs->j), 0, 0, "journal was aborted by an earlier run");
			jnl_clear_error(fs->j);
			atomic_store(&fs->state, SFS_FS_LIVE);
		}
		mc_mutex_lock(&fs->sbi->sb_lock);
		fs->sbi->sb.state &= (uint16_t)~SFS_STATE_VALID;
		fs->sbi->sb.feature_incompat |= SFS_FEATURE_INCOMPAT_RECOVER;
		fs->sbi->sb.mount_count++;
		fs->sbi->sb.mount_time = (uint64_t)time(NULL);
		fs->sbi->sb.free_blocks = fs->counts.free;
		fs->sbi->sb.free_inodes = fs->inodes_free;
		mc_mutex_unlock(&fs->sbi->sb_lock);
		ret = write_super_home(fs);
		if (ret) {
			ret = mount_err(ret, msg, msglen, "cannot write the superblock: %s",
					strerror(-ret));
			goto err;
		}
		ret = mount_orphans(fs, msg, msglen);
		if (ret)
			goto out;
	}
	*out = fs;
	ret = 0;
	goto out;
err:
	if (fs->j)
		jnl_close(fs->j);
	fs->j = NULL;
	teardown(fs);
out:
	mc_op_end();
	return ret;
}

int sfs_fs_unmount(struct sfs_fs *fs)
{
	int ret = 0, r;

	if (!fs)
		return 0;
	mc_op_begin();
	/* Dirty data first (it may allocate), then no more writeback. */
	if (atomic_load(&fs->state) == SFS_FS_LIVE)
		ret = sfs_pc_sync_all(fs);
	sfs_pc_stop_thread(fs);
	sfs_icache_destroy(fs);
	sfs_pa_discard_all(fs);
	if (fs->j) {
		r = jnl_close(fs->j);
		if (!ret)
			ret = r;
		fs->j = NULL;
	}
	if (atomic_load(&fs->state) == SFS_FS_LIVE ||
	    (atomic_load(&fs->state) == SFS_FS_READONLY && !fs->opts.read_only && !ret)) {
		r = sfs_bcache_sync(fs->bc);
		if (!ret)
			ret = r;
		mc_mutex_lock(&fs->sbi->sb_lock);
		if (!ret)
			fs->sbi->sb.feature_incompat &= ~SFS_FEATURE_INCOMPAT_RECOVER;
		fs->sbi->sb.state |= SFS_STATE_VALID;
		fs->sbi->sb.write_time = (uint64_t)time(NULL);
		fs->sbi->sb.free_blocks = fs->counts.free;
		fs->sbi->sb.free_inodes = fs->inodes_free;
		mc_mutex_unlock(&fs->sbi->sb_lock);
		r = write_super_home(fs);
		if (!ret)
			ret = r;
		r = write_backup_super(fs);
		if (!ret)
			ret = r;
		r = sfs_bdev_flush(fs->bdev);
		if (!ret)
			ret = r;
	}
	teardown(fs);
	mc_op_end();
	return ret;
}

int sfs_fs_commit(struct sfs_fs *fs)
{
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_pc_sync_all(fs);   /* the data the commit maps, too */
	if (!ret && fs->j)
		ret = jnl_force_commit(fs->j);
	mc_op_end();
	return ret;
}

int sfs_fs_sync(struct sfs_fs *fs)
{
	int ret;

	mc_op_begin();
	ret = sfs_fs_readable(fs);
	if (!ret)
		ret = sfs_pc_sync_all(fs);
	if (!ret && fs->j)
		ret = jnl_flush(fs->j);
	if (!ret)
		ret = sfs_bcache_sync(fs->bc);
	mc_op_end();
	return ret;
}

struct sfs_bdev *sfs_fs_bdev(struct sfs_fs *fs)
{
	return fs->bdev;
}

int sfs_fs_statfs(struct sfs_fs *fs, struct sfs_statfs *st)
{
	const struct sfs_geo *g = &fs->sbi->geo;
	struct sfs_block_counts c;
	uint64_t data = 0, avail;

	mc_op_begin();
	for (uint32_t i = 0; i < g->group_count; i++)
		data += sfs_geo_group_blocks(g, i) - sfs_geo_group_overhead(g);
	sfs_balloc_counts(fs, &c);
	memset(st, 0, sizeof(*st));
	st->block_size = fs->bsize;
	st->blocks = data;
	/* Busy blocks count as free (they are, from the next commit on);
	 * delayed reservations as used; the reserves as unavailable. */
	st->bfree = c.free > c.dirty ? c.free - c.dirty : 0;
	avail = c.root_resv + c.fs_resv;
	st->bavail = st->bfree > avail ? st->bfree - avail : 0;
	st->files = g->inode_count;
	mc_spin_lock(&fs->cnt_lock);
	st->ffree = fs->inodes_free;
	mc_spin_unlock(&fs->cnt_lock);
	st->namemax = SFS_NAME_MAX;
	mc_op_end();
	return 0;
}
