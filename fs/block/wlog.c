/*
 * Write log: writer and reader of the format described in wlog.h.
 *
 * Locking: the writer's mutex serialises appends, so seq numbers follow the
 * order records reach the file.  The reader is single-threaded.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#define XXH_STATIC_LINKING_ONLY   /* XXH64_state_t on the stack: no hidden malloc */
#include <xxhash.h>

#include "alloc/mc.h"
#include "fs/block/buf_ops.h"
#include "fs/block/wlog.h"

struct sfs_wlog {
	int fd;
	mc_mutex_t lock;
	uint64_t seq;              /* last record appended */
	uint64_t last_write;       /* seq of the last WRITE */
	uint64_t epoch;            /* FLUSH records appended */
	int error;                 /* first error met, sticky */
};

struct sfs_wlog_reader {
	int fd;
	unsigned align;
	void *buf;                 /* payload of the current record */
	size_t cap;
};

static void put16(uint8_t *p, uint16_t v) { v = htole16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htole32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htole64(v); memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return le16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return le32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return le64toh(v); }

/* Whole buffer or -errno; the log is an ordinary file, so EINTR and short
 * writes are the only partial outcomes. */
static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (int)got;
}

static uint64_t rec_csum(const uint8_t *hdr, const void *data, uint32_t len)
{
	uint8_t tmp[SFS_WLOG_REC_SIZE];
	XXH64_state_t st;

	memcpy(tmp, hdr, sizeof(tmp));
	memset(tmp + 48, 0, 8);
	XXH64_reset(&st, 0);
	XXH64_update(&st, tmp, sizeof(tmp));
	if (len)
		XXH64_update(&st, data, len);
	return XXH64_digest(&st);
}

int sfs_wlog_create(const char *path, unsigned align, struct sfs_wlog **out)
{
	uint8_t hdr[SFS_WLOG_HDR_SIZE] = { 0 };
	struct sfs_wlog *w;
	int ret;

	w = mc_zalloc(sizeof(*w), MC_KERNEL);
	if (!w)
		return -ENOMEM;
	w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	memcpy(hdr, SFS_WLOG_MAGIC, 8);
	put32(hdr + 8, SFS_WLOG_VERSION);
	put32(hdr + 12, SFS_WLOG_HDR_SIZE);
	put32(hdr + 16, align);
	ret = write_all(w->fd, hdr, sizeof(hdr));
	if (ret)
		goto err_close;
	mc_mutex_init(&w->lock, "sfs_wlog.lock");
	*out = w;
	return 0;

err_close:
	close(w->fd);
err_free:
	mc_free(w);
	return ret;
}

static int append(struct sfs_wlog *w, enum sfs_wlog_type type, uint64_t off,
		  const void *data, uint32_t len, uint64_t aux)
{
	uint8_t hdr[SFS_WLOG_REC_SIZE] = { 0 };
	int ret;

	mc_mutex_lock(&w->lock);
	if (w->error) {
		ret = w->error;
		goto out;
	}
	put32(hdr, SFS_WLOG_REC_MAGIC);
	put16(hdr + 4, (uint16_t)type);
	put64(hdr + 8, w->seq + 1);
	put64(hdr + 16, w->epoch);
	put64(hdr + 24, off);
	put32(hdr + 32, len);
	put64(hdr + 40, aux);
	put64(hdr + 48, rec_csum(hdr, data, len));
	ret = write_all(w->fd, hdr, sizeof(hdr));
	if (!ret && len)
		ret = write_all(w->fd, data, len);
	if (ret) {
		/* A half-written record is detected by the reader as torn; stop
		 * logging rather than write records after a hole. */
		w->error = ret;
		goto out;
	}
	w->seq++;
	if (type == SFS_WLOG_WRITE)
		w->last_write = w->seq;
	if (type == SFS_WLOG_FLUSH)
		w->epoch++;
out:
	mc_mutex_unlock(&w->lock);
	return ret;
}

int sfs_wlog_write(struct sfs_wlog *w, uint64_t off, const void *data, uint32_t len)
{
	return append(w, SFS_WLOG_WRITE, off, data, len, 0);
}

uint64_t sfs_wlog_last_write(struct sfs_wlog *w)
{
	uint64_t seq;

	mc_mutex_lock(&w->lock);
	seq = w->last_write;
	mc_mutex_unlock(&w->lock);
	return seq;
}

int sfs_wlog_flush(struct sfs_wlog *w, uint64_t covers)
{
	return append(w, SFS_WLOG_FLUSH, 0, NULL, 0, covers);
}

int sfs_wlog_mark(struct sfs_wlog *w, const char *label)
{
	return append(w, SFS_WLOG_MARK, 0, label, (uint32_t)strlen(label), 0);
}

int sfs_wlog_close(struct sfs_wlog *w)
{
	int ret;

	if (!w)
		return 0;
	ret = w->error;
	if (fsync(w->fd) && !ret)
		ret = -errno;
	close(w->fd);
	mc_mutex_destroy(&w->lock);
	mc_free(w);
	return ret;
}

int sfs_wlog_reader_open(const char *path, struct sfs_wlog_reader **out)
{
	uint8_t hdr[SFS_WLOG_HDR_SIZE];
	struct sfs_wlog_reader *r;
	int ret;

	r = mc_zalloc(sizeof(*r), MC_KERNEL);
	if (!r)
		return -ENOMEM;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		goto err_free;
	}
	ret = read_all(r->fd, hdr, sizeof(hdr));
	if (ret < 0)
		goto err_close;
	if (ret != (int)sizeof(hdr) || memcmp(hdr, SFS_WLOG_MAGIC, 8) ||
	    get32(hdr + 8) != SFS_WLOG_VERSION || get32(hdr + 12) != SFS_WLOG_HDR_SIZE) {
		ret = -EFSCORRUPTED;
		goto err_close;
	}
	r->align = get32(hdr + 16);
	*out = r;
	return 0;

err_close:
	close(r->fd);
err_free:
	mc_free(r);
	return ret;
}

int sfs_wlog_reader_next(struct sfs_wlog_reader *r, struct sfs_wlog_rec *rec)
{
	uint8_t hdr[SFS_WLOG_REC_SIZE];
	uint32_t len;
	int ret;

	ret = read_all(r->fd, hdr, sizeof(hdr));
	if (ret <= 0)
		return ret;
	if (ret != (int)sizeof(hdr) || get32(hdr) != SFS_WLOG_REC_MAGIC)
		return -EFSCORRUPTED;
	len = get32(hdr + 32);
	if (len > r->cap) {
		void *nb = mc_alloc(len, MC_KERNEL);

		if (!nb)
			return -ENOMEM;
		mc_free(r->buf);
		r->buf = nb;
		r->cap = len;
	}
	if (len) {
		ret = read_all(r->fd, r->buf, len);
		if (ret < 0)
			return ret;
		if ((uint32_t)ret != len)
			return -EFSCORRUPTED;
	}
	if (rec_csum(hdr, r->buf, len) != get64(hdr + 48))
		return -EFSCORRUPTED;
	rec->type = (enum sfs_wlog_type)get16(hdr + 4);
	rec->seq = get64(hdr + 8);
	rec->epoch = get64(hdr + 16);
	rec->off = get64(hdr + 24);
	rec->len = len;
	rec->covers = get64(hdr + 40);
	rec->data = r->buf;
	if (rec->type < SFS_WLOG_WRITE || rec->type > SFS_WLOG_MARK)
		return -EFSCORRUPTED;
	return 1;
}

unsigned sfs_wlog_reader_align(const struct sfs_wlog_reader *r)
{
	return r->align;
}

void sfs_wlog_reader_close(struct sfs_wlog_reader *r)
{
	if (!r)
		return;
	close(r->fd);
	mc_free(r->buf);
	mc_free(r);
}
