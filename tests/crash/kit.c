/* Shared workload pieces (see kit.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "alloc/mc.h"
#include "kit.h"

int kit_open_dev(const char *path, const char *opts, struct sfs_bdev **b, char *err,
		 size_t errlen)
{
	struct sfs_bdev_opts o;
	int ret;

	memset(&o, 0, sizeof(o));
	err[0] = '\0';
	ret = sfs_bdev_opts_parse(&o, opts, err, errlen);
	if (!ret)
		ret = sfs_bdev_open(path, 0, &o, b);
	if (ret && !err[0])
		snprintf(err, errlen, "open %s: %s", path, strerror(-ret));
	return ret;
}

int kit_make_image(const char *path, uint64_t blocks, char *err, size_t errlen)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || ftruncate(fd, (off_t)(blocks * KIT_BSZ))) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

void kit_fill(void *buf, uint64_t blk, uint64_t ver)
{
	uint64_t *w = buf;

	if (!ver) {
		memset(buf, 0, KIT_BSZ);
		return;
	}
	for (size_t i = 0; i < KIT_BSZ / 8; i++)
		w[i] = blk << 40 ^ ver << 20 ^ i;
}

long kit_version(const void *buf, uint64_t blk)
{
	const uint64_t *w = buf;
	uint64_t want[KIT_BSZ / 8];
	size_t i;

	for (i = 0; i < KIT_BSZ / 8 && !w[i]; i++)
		;
	if (i == KIT_BSZ / 8)
		return 0;
	uint64_t ver = ((w[0] ^ blk << 40) >> 20) & 0xfffff;
	kit_fill(want, blk, ver);
	return memcmp(want, buf, KIT_BSZ) ? -1 : (long)ver;
}

void kit_area(struct jnl_area *a)
{
	memset(a, 0, sizeof(*a));
	a->block_size = KIT_BSZ;
	a->start = KIT_JSTART;
	a->blocks = KIT_JBLOCKS;
	for (int i = 0; i < 16; i++)
		a->uuid[i] = (uint8_t)(0x5c + i);
}

int kit_format_journal(const char *path, uint64_t blocks, char *err, size_t errlen)
{
	struct jnl_area a;
	struct sfs_bdev *b;
	int ret = kit_make_image(path, blocks, err, errlen);

	if (ret)
		return ret;
	kit_area(&a);
	ret = kit_open_dev(path, "cache=buffered", &b, err, errlen);
	if (ret)
		return ret;
	ret = jnl_format_area(b, &a);
	sfs_bdev_close(b);
	if (ret)
		snprintf(err, errlen, "jnl_format_area: %s", strerror(-ret));
	return ret;
}

int kit_change(struct sfs_bcache *c, struct jnl_handle *h, uint64_t blk, uint64_t ver)
{
	struct sfs_buf *bh;
	int ret = sfs_buf_read(c, blk, NULL, 0, &bh);

	if (ret)
		return ret;
	ret = jnl_get_write_access(h, bh);
	if (!ret) {
		sfs_buf_lock(bh);
		kit_fill(bh->data, blk, ver);
		ret = jnl_dirty_metadata(h, bh);
		sfs_buf_unlock(bh);
	}
	sfs_buf_release(bh);
	return ret;
}

int kit_forget(struct sfs_bcache *c, struct jnl_handle *h, uint64_t blk)
{
	struct sfs_buf *bh;
	int ret = sfs_buf_read(c, blk, NULL, 0, &bh);

	if (ret)
		return ret;
	ret = jnl_forget(h, bh);
	sfs_buf_release(bh);
	return ret;
}

int kit_recover(struct sfs_bdev *b, char *err, size_t errlen)
{
	struct jnl_recovery_info ri;
	struct jnl_area a;
	int ret;

	kit_area(&a);
	ret = jnl_recover(b, &a, 0, &ri);
	if (ret) {
		snprintf(err, errlen, "recovery failed: %s", strerror(-ret));
		return ret;
	}
	ret = jnl_recover(b, &a, JNL_RECOVER_CHECK, &ri);
	if (ret || !ri.was_clean) {
		snprintf(err, errlen, "the log is not clean after recovery (%s)",
			 ret ? strerror(-ret) : "replay pending");
		return -1;
	}
	return 0;
}

static int data_submit(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	struct kit_data *d = ji->priv;
	int ret = 0;

	pthread_mutex_lock(&d->lock);
	for (uint64_t i = start; i < end && i < d->n && !ret; i++) {
		if (!d->dirty[i])
			continue;
		kit_fill(d->buf, d->first + i, d->ver[i]);
		ret = sfs_bdev_write(d->bdev, d->buf, KIT_BSZ, (d->first + i) * KIT_BSZ);
		d->dirty[i] = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static int data_wait(struct jnl_inode *ji, uint64_t start, uint64_t end)
{
	(void)ji;
	(void)start;
	(void)end;
	return 0;         /* submit wrote synchronously */
}

static const struct jnl_inode_ops data_ops = { data_submit, data_wait };

int kit_data_init(struct kit_data *d, struct sfs_bdev *b, uint64_t first, unsigned n)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->bdev = b;
	d->first = first;
	d->n = n;
	d->ver = mc_calloc(n, sizeof(*d->ver), MC_KERNEL);
	d->dirty = mc_zalloc(n, MC_KERNEL);
	d->buf = mc_alloc(KIT_BSZ, MC_KERNEL);
	if (!d->ver || !d->dirty || !d->buf)
		return -ENOMEM;
	jnl_inode_init(&d->ji, &data_ops, d);
	return 0;
}

int kit_data_write(struct kit_data *d, struct jnl_handle *h, unsigned i, unsigned ver)
{
	pthread_mutex_lock(&d->lock);
	d->ver[i] = ver;
	d->dirty[i] = 1;
	pthread_mutex_unlock(&d->lock);
	return jnl_inode_add(h, &d->ji, i, (uint64_t)i + 1);
}

void kit_data_release(struct kit_data *d, struct jnl_journal *j)
{
	if (j)
		jnl_inode_release(j, &d->ji);
	mc_free(d->ver);
	mc_free(d->dirty);
	mc_free(d->buf);
	memset(d, 0, sizeof(*d));
}
