/* flock-based image lock (see imagelock.h for the protocol). */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "fs/format/imagelock.h"

int sfs_image_lock(const char *path, bool exclusive, int *fdp)
{
	int fd, ret;

	*fdp = -1;
	/* O_RDONLY is enough for flock and works on read-only images too. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		ret = flock(fd, (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
	} while (ret && errno == EINTR);
	if (ret) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return ret;
	}
	*fdp = fd;
	return 0;
}

void sfs_image_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
