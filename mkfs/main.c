/*
 * mkfs.scopefs [options] IMAGE [SIZE]
 *
 * Creates IMAGE if it does not exist (SIZE then required), sets the image
 * file's size to the filesystem's (the backup superblock is the file's
 * last block), and refuses clearly: too small (stating the minimum), an
 * existing filesystem without -F, an image it cannot write, nonsense sizes.
 * Exit status per mkfs(8): 0 success, 1 failure (usage errors included).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc/mc.h"
#include "fs/block/bdev.h"
#include "fs/format/imagelock.h"
#include "fs/format/io.h"
#include "fs/format/ondisk.h"
#include "fs/format/super.h"
#include "fs/format/uuid.h"
#include "mkfs/mkfs.h"
#include "tools/common/toolutil.h"

#define PROG "mkfs.scopefs"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [options] IMAGE [SIZE]\n"
		"Create a scopefs filesystem in the image file IMAGE (created when absent;\n"
		"SIZE is then required).  Sizes take K, M, G, T suffixes (binary).\n"
		"\n"
		"  -b SIZE   block size: 1024, 2048, 4096 (default), ... 65536\n"
		"  -N COUNT  number of inodes\n"
		"  -i BYTES  bytes per inode (default 4096 below 512 MiB, 16384 below 4 TiB,\n"
		"            65536 above)\n"
		"  -I BYTES  inode size: 256, 512 (default), ... up to the block size\n"
		"  -J SIZE   journal size (bare number = MiB; 0 = no journal; default scales\n"
		"            with the filesystem from 1024 blocks up)\n"
		"  -g COUNT  blocks per group (multiple of 8; default fills one bitmap block)\n"
		"  -m PCT    blocks reserved for privileged users, percent (default 5)\n"
		"  -L LABEL  volume label (up to 63 bytes)\n"
		"  -U UUID   filesystem UUID (default random)\n"
		"  -F        overwrite an existing filesystem\n"
		"  -K        keep: do not reset the image to zeros first (inode tables are\n"
		"            then marked not zeroed, for the background initialiser)\n"
		"  -n        show what would be done, write nothing\n"
		"  -q        quiet\n"
		"  -V        version\n"
		"  -h        this help\n"
		"\n"
		"Minimum image sizes with the default journal (or -J 0):\n");
	for (uint32_t log = SFS_MIN_BLOCK_LOG; log <= SFS_MAX_BLOCK_LOG; log += 1) {
		struct sfs_geo_params p = { .block_log = log, .journal_bytes = -1 };
		struct sfs_geo_params q = { .block_log = log, .journal_bytes = 0 };
		char a[32], b[32];

		if (log != 10 && log != 12 && log != 16)
			continue;
		fprintf(f, "  %5u-byte blocks: %s (%s without a journal)\n", 1u << log,
			tu_human(sfs_geo_min_size(&p), a, sizeof(a)),
			tu_human(sfs_geo_min_size(&q), b, sizeof(b)));
	}
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static int parse_args(int argc, char **argv, struct mkfs_opts *o, uint64_t *size, bool *size_set)
{
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->geo.journal_bytes = -1;
	o->reserved_pct_x100 = 500;
	*size_set = false;
	opterr = 0;
	while ((c = getopt(argc, argv, ":b:N:i:I:J:g:m:L:U:FKnqVh")) != -1) {
		switch (c) {
		case 'b':
			if (tu_parse_size(optarg, 1, &v) || v < 1024 || v > 65536 || (v & (v - 1)))
				return fail("-b %s: block size must be 1024, 2048, 4096, ... 65536",
					    optarg);
			o->geo.block_log = (uint32_t)__builtin_ctzll(v);
			break;
		case 'N':
			if (tu_parse_u64(optarg, &v) || v == 0)
				return fail("-N %s: not a positive inode count", optarg);
			o->geo.inode_count = v;
			break;
		case 'i':
			if (tu_parse_size(optarg, 1, &v) || v == 0)
				return fail("-i %s: not a size in bytes", optarg);
			o->geo.bytes_per_inode = v;
			break;
		case 'I':
			if (tu_parse_size(optarg, 1, &v) || v > 65536)
				return fail("-I %s: not an inode size", optarg);
			o->geo.inode_size = (uint32_t)v;
			break;
		case 'J':
			if (tu_parse_size(optarg, 1u << 20, &v) || v > (1ull << 40))
				return fail("-J %s: not a journal size", optarg);
			o->geo.journal_bytes = (int64_t)v;
			break;
		case 'g':
			if (tu_parse_u64(optarg, &v) || v == 0 || v > UINT32_MAX)
				return fail("-g %s: not a block count", optarg);
			o->geo.blocks_per_group = (uint32_t)v;
			break;
		case 'm': {
			char *end;
			double pct = strtod(optarg, &end);

			if (end == optarg || *end || !(pct >= 0 && pct <= 50))
				return fail("-m %s: reserved percentage must be from 0 to 50", optarg);
			o->reserved_pct_x100 = (uint32_t)(pct * 100 + 0.5);
			break;
		}
		case 'L':
			if (strlen(optarg) >= sizeof(o->label))
				return fail("-L: label too long (%zu bytes, at most %zu)",
					    strlen(optarg), sizeof(o->label) - 1);
			strcpy(o->label, optarg);
			break;
		case 'U':
			if (sfs_uuid_parse(optarg, o->uuid))
				return fail("-U %s: not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
					    optarg);
			o->uuid_set = true;
			break;
		case 'F': o->force = true; break;
		case 'K': o->keep = true; break;
		case 'n': o->dry_run = true; break;
		case 'q': o->quiet = true; break;
		case 'V':
			printf(PROG " 0.1.0 (format revision %u)\n", SFS_FORMAT_REV);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fail("option -%c needs a value", optopt);
			usage(stderr);
			return 1;
		default:
			fail("unknown option -%c", optopt);
			usage(stderr);
			return 1;
		}
	}
	if (optind >= argc || argc - optind > 2) {
		fail(optind >= argc ? "no IMAGE given" : "too many arguments");
		usage(stderr);
		return 1;
	}
	o->image = argv[optind];
	if (argc - optind == 2) {
		int ret = tu_parse_size(argv[optind + 1], 1, size);

		if (ret == -ERANGE)
			return fail("SIZE %s: too large", argv[optind + 1]);
		if (ret || *size == 0)
			return fail("SIZE %s: not a size (e.g. 16M, 4G, 1T)", argv[optind + 1]);
		*size_set = true;
	}
	return 0;
}

/* Describe a filesystem already in the image, or return NULL. */
static const char *existing_fs(struct sfs_bdev *bdev, char *buf, size_t len)
{
	uint8_t *raw = sfs_io_alloc(4096);
	const char *what = NULL;

	if (!raw || sfs_bdev_size(bdev) < 2048 || sfs_io_read(bdev, raw, 2048, 0))
		goto out;
	if (!sfs_super_verify(raw, 0, NULL, 0)) {
		struct sfs_super sb;
		char u[SFS_UUID_STR_LEN], t[32];
		time_t mt;

		sfs_super_decode(&sb, raw);
		mt = (time_t)sb.mkfs_time;
		strftime(t, sizeof(t), "%Y-%m-%d %H:%M", localtime(&mt));
		snprintf(buf, len, "a scopefs filesystem (label \"%s\", UUID %s, created %s)",
			 sb.label, sfs_uuid_unparse(sb.uuid, u), t);
		what = buf;
	} else if (sfs_get_le(raw, 4) == SFS_MAGIC_SB) {
		snprintf(buf, len, "a damaged scopefs filesystem");
		what = buf;
	} else if (sfs_get_le(raw + 1080, 2) == 0xEF53) {
		snprintf(buf, len, "an ext2/ext3/ext4 filesystem");
		what = buf;
	} else if (!memcmp(raw, "XFSB", 4)) {
		snprintf(buf, len, "an XFS filesystem");
		what = buf;
	}
out:
	mc_free(raw);
	return what;
}

/*
 * Round the size so the image is a whole number of 4 KiB units as well as
 * blocks: O_DIRECT then never meets a partial unit at the end.
 */
static int compute_geometry(const struct mkfs_opts *o, uint64_t size, struct sfs_geo *g,
			    char *msg, size_t msglen)
{
	struct sfs_geo_params p = o->geo;
	uint64_t unit = 4096;
	int ret;

	for (int i = 0; i < 8; i++) {
		p.size = size - size % unit;
		ret = sfs_geo_compute(&p, g, msg, msglen);
		if (ret)
			return ret;
		if (((g->block_count << g->block_log) % unit) == 0)
			return 0;
		size = g->block_count << g->block_log;
		if (size < unit)
			break;
	}
	return sfs_geo_compute(&p, g, msg, msglen);
}

static void summary(const struct mkfs_opts *o, const struct sfs_sb_info *sbi,
		    const struct mkfs_result *res, uint64_t min_size, uint64_t st_bytes)
{
	const struct sfs_geo *g = &sbi->geo;
	char a[32], b[32], u[SFS_UUID_STR_LEN], feat[128];

	printf("Creating filesystem with %llu %uk blocks and %llu inodes%s\n",
	       (unsigned long long)g->block_count, g->block_size / 1024,
	       (unsigned long long)g->inode_count, o->dry_run ? " (dry run)" : "");
	printf("Image:             %s (%s)\n", o->image,
	       tu_human(g->block_count << g->block_log, a, sizeof(a)));
	printf("Filesystem UUID:   %s\n", sfs_uuid_unparse(sbi->sb.uuid, u));
	if (sbi->sb.label[0])
		printf("Label:             %s\n", sbi->sb.label);
	printf("Block size:        %u (smallest image with these options: %s)\n", g->block_size,
	       tu_human(min_size, b, sizeof(b)));
	printf("Block groups:      %u of %u blocks and %u inodes",
	       g->group_count, g->blocks_per_group, g->inodes_per_group);
	printf("; %u initialised, the rest lazily\n", res->groups_initialised);
	printf("Inodes:            %u bytes each, inode tables %u blocks per group\n",
	       g->inode_size, g->itable_blocks);
	if (g->journal_blocks)
		printf("Journal:           %llu blocks (%s) at blocks %llu-%llu\n",
		       (unsigned long long)g->journal_blocks,
		       tu_human(g->journal_blocks << g->block_log, a, sizeof(a)),
		       (unsigned long long)g->journal_start,
		       (unsigned long long)(g->first_data_block - 1));
	else
		printf("Journal:           none\n");
	printf("Reserved blocks:   %llu (%.2f%%)\n", (unsigned long long)sbi->sb.reserved_blocks,
	       o->reserved_pct_x100 / 100.0);
	printf("Backup superblock: block %llu; backup descriptors at %llu\n",
	       (unsigned long long)g->backup_sb_block, (unsigned long long)g->backup_gdt_start);
	printf("Features:          %s\n", sfs_super_features_str(&sbi->sb, feat, sizeof(feat)));
	if (!o->dry_run)
		printf("Written:           %llu blocks (%s) in %.3f s; image occupies %s on disk\n",
		       (unsigned long long)res->blocks_written,
		       tu_human(res->blocks_written << g->block_log, a, sizeof(a)), res->seconds,
		       tu_human(st_bytes, b, sizeof(b)));
}

int main(int argc, char **argv)
{
	struct mkfs_opts o;
	struct mkfs_result res = { .groups_initialised = 1 };
	struct sfs_sb_info sbi;
	struct sfs_bdev *bdev = NULL;
	struct sfs_geo geo;
	struct stat st;
	uint64_t size = 0, min_size;
	bool size_set, exists, created = false, sbi_ready = false;
	char msg[256], buf[256];
	int lock_fd = -1, ret, status = 1;

	if (parse_args(argc, argv, &o, &size, &size_set))
		return 1;

	exists = stat(o.image, &st) == 0;
	if (!exists && errno != ENOENT)
		return fail("%s: %s", o.image, strerror(errno));
	if (exists && !S_ISREG(st.st_mode))
		return fail("%s: not a regular file (scopefs images are files)", o.image);
	if (!exists && !size_set)
		return fail("%s does not exist; give a SIZE to create it", o.image);
	if (!exists && o.dry_run) {
		/* Nothing to open: plan on the requested size alone. */
		size = size_set ? size : 0;
	} else {
		if (exists && access(o.image, W_OK) && !o.dry_run)
			return fail("%s: not writable: %s", o.image, strerror(errno));
		ret = sfs_bdev_open(o.image, (exists ? 0 : SFS_BDEV_CREATE) |
				    (o.dry_run ? SFS_BDEV_RDONLY : 0), NULL, &bdev);
		if (ret)
			return fail("cannot open %s: %s", o.image, strerror(-ret));
		created = !exists;
		ret = sfs_image_lock(o.image, !o.dry_run, &lock_fd);
		if (ret) {
			fail(ret == -EBUSY ? "%s is in use (mounted or being checked)" : "%s: %s",
			     o.image, strerror(-ret));
			goto out;
		}
		if (exists && !o.force && existing_fs(bdev, buf, sizeof(buf))) {
			fail("%s contains %s; use -F to overwrite it", o.image, buf);
			goto out;
		}
		if (!size_set)
			size = sfs_bdev_size(bdev);
	}

	min_size = sfs_geo_min_size(&(struct sfs_geo_params){ .block_log = o.geo.block_log,
		.inode_count = o.geo.inode_count, .bytes_per_inode = o.geo.bytes_per_inode,
		.journal_bytes = o.geo.journal_bytes, .blocks_per_group = o.geo.blocks_per_group,
		.inode_size = o.geo.inode_size });
	ret = compute_geometry(&o, size, &geo, msg, sizeof(msg));
	if (ret == -ENOSPC) {
		char a[32], b[32];

		fail("%s: %s is too small; the minimum with %u-byte blocks%s is %s (%llu bytes)",
		     o.image, tu_human(size, a, sizeof(a)),
		     1u << (o.geo.block_log ? o.geo.block_log : SFS_DEFAULT_BLOCK_LOG),
		     o.geo.journal_bytes == 0 ? " and no journal" : " and the journal",
		     tu_human(min_size, b, sizeof(b)), (unsigned long long)min_size);
		goto out;
	}
	if (ret) {
		fail("%s: %s", o.image, msg);
		goto out;
	}

	ret = mkfs_prepare(&o, &geo, &sbi);
	sbi_ready = !ret;
	if (ret) {
		fail("cannot prepare the filesystem: %s", strerror(-ret));
		goto out;
	}
	if (o.dry_run) {
		if (!o.quiet)
			summary(&o, &sbi, &res, min_size, 0);
		status = 0;
		goto out;
	}

	/* Reset the image to a sparse file of zeros (a "discard"): stale
	 * metadata cannot survive, and inode tables are known to be zero. */
	if (!o.keep) {
		ret = sfs_bdev_set_size(bdev, 0);
		if (ret) {
			fail("%s: cannot reset the image: %s", o.image, strerror(-ret));
			goto out;
		}
	}
	ret = sfs_bdev_set_size(bdev, geo.block_count << geo.block_log);
	if (ret) {
		char a[32];

		fail(ret == -EFBIG ? "%s: %s exceeds the largest file the host filesystem allows"
				   : "%s: cannot size the image to %s: %s",
		     o.image, tu_human(geo.block_count << geo.block_log, a, sizeof(a)),
		     strerror(-ret));
		goto out;
	}
	ret = mkfs_write(&o, &sbi, bdev, &res);
	if (ret) {
		fail("%s: writing the filesystem failed: %s", o.image, strerror(-ret));
		goto out;
	}
	sfs_bdev_close(bdev);
	bdev = NULL;
	if (!o.quiet) {
		uint64_t st_bytes = stat(o.image, &st) ? 0 : (uint64_t)st.st_blocks * 512;

		summary(&o, &sbi, &res, min_size, st_bytes);
	}
	status = 0;
out:
	if (bdev)
		sfs_bdev_close(bdev);
	/* Do not leave behind a file we created for a filesystem we could not make. */
	if (status && created)
		unlink(o.image);
	sfs_image_unlock(lock_fd);
	if (sbi_ready)
		sfs_sb_info_destroy(&sbi);
	return status;
}
