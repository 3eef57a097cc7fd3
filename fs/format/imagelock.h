/*
 * The image lock: who may have an image open at the same time.
 *
 * Protocol (every front end follows it; the daemon too):
 *   - flock(2) on the image file itself (any descriptor of it: flock locks
 *     belong to the open file description, and conflict across opens).
 *   - Writers take LOCK_EX: the mount daemon for a read-write mount,
 *     mkfs.scopefs, fsck.scopefs (always, even with -n, so it never checks
 *     an image that is changing underneath), scopefs-db when it writes.
 *   - Readers take LOCK_SH: a read-only mount, scopefs-db when it only reads.
 *   - Never blocking: a held lock is reported as "in use" (-EBUSY).
 * The lock dies with the process, so a crashed daemon never leaves the image
 * locked.
 */
#ifndef SFS_FORMAT_IMAGELOCK_H
#define SFS_FORMAT_IMAGELOCK_H

#include <stdbool.h>

/* Open @path and lock it; the returned descriptor (*fdp) holds the lock.
 * 0, -EBUSY (someone holds a conflicting lock) or -errno from open. */
int sfs_image_lock(const char *path, bool exclusive, int *fdp);
void sfs_image_unlock(int fd);

#endif
