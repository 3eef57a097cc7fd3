/* Loading a write log for replay (see crashlog.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fs/block/wlog.h"
#include "crashlog.h"

static int grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 256;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = nc;
	return 0;
}

int crashlog_load(const char *path, struct crashlog *cl, char *err, size_t errlen)
{
	struct sfs_wlog_reader *r;
	struct sfs_wlog_rec rec;
	size_t cw = 0, cf = 0, cm = 0, cp = 0;
	int ret;

	memset(cl, 0, sizeof(*cl));
	ret = sfs_wlog_reader_open(path, &r);
	if (ret) {
		snprintf(err, errlen, "%s: cannot read the write log (%s)", path, strerror(-ret));
		return ret;
	}
	while ((ret = sfs_wlog_reader_next(r, &rec)) == 1) {
		switch (rec.type) {
		case SFS_WLOG_WRITE:
			if (grow((void **)&cl->w, &cw, cl->nw, sizeof(*cl->w)))
				goto nomem;
			while (cl->payload_len + rec.len > cp) {
				size_t nc = cp ? cp * 2 : 1 << 20;
				unsigned char *q = realloc(cl->payload, nc);
				if (!q)
					goto nomem;
				cl->payload = q;
				cp = nc;
			}
			memcpy(cl->payload + cl->payload_len, rec.data, rec.len);
			cl->w[cl->nw++] = (struct cl_write){ rec.seq, rec.off, rec.len,
							     cl->payload_len };
			cl->payload_len += rec.len;
			break;
		case SFS_WLOG_FLUSH:
			if (grow((void **)&cl->f, &cf, cl->nf, sizeof(*cl->f)))
				goto nomem;
			cl->f[cl->nf++] = (struct cl_flush){ rec.seq, rec.covers };
			break;
		case SFS_WLOG_MARK:
			if (grow((void **)&cl->m, &cm, cl->nm, sizeof(*cl->m)))
				goto nomem;
			cl->m[cl->nm].seq = rec.seq;
			snprintf(cl->m[cl->nm].label, sizeof(cl->m[cl->nm].label), "%.*s",
				 (int)rec.len, (const char *)rec.data);
			cl->nm++;
			break;
		}
	}
	sfs_wlog_reader_close(r);
	if (ret < 0) {
		snprintf(err, errlen, "%s: the write log is torn or corrupt", path);
		crashlog_free(cl);
		return ret;
	}
	return 0;
nomem:
	sfs_wlog_reader_close(r);
	crashlog_free(cl);
	snprintf(err, errlen, "out of memory loading %s", path);
	return -ENOMEM;
}

void crashlog_free(struct crashlog *cl)
{
	free(cl->w);
	free(cl->f);
	free(cl->m);
	free(cl->payload);
	memset(cl, 0, sizeof(*cl));
}

/* Index of the first write with seq > @seq. */
static size_t writes_upto(const struct crashlog *cl, uint64_t seq)
{
	size_t lo = 0, hi = cl->nw;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cl->w[mid].seq <= seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void crashlog_epoch(const struct crashlog *cl, size_t e, size_t *durable, size_t *first,
		    size_t *end)
{
	*durable = e ? writes_upto(cl, cl->f[e - 1].covers) : 0;
	*first = *durable;
	*end = e < cl->nf ? writes_upto(cl, cl->f[e].seq) : cl->nw;
}

const char *crashlog_required_mark(const struct crashlog *cl, size_t e)
{
	uint64_t until = e < cl->nf ? cl->f[e].seq : UINT64_MAX;
	const char *label = NULL;

	for (size_t i = 0; i < cl->nm && cl->m[i].seq < until; i++)
		label = cl->m[i].label;
	return label;
}
