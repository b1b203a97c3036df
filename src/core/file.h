/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_FILE_H
#define SHAWK_CORE_FILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Whole-file reads (procfs and sysfs files, tokens, fixtures): one loop
 * that retries EINTR and short reads, with a bound the caller chooses.
 * Files are opened O_CLOEXEC.
 */

/*
 * Reads fd until end of file or until cap bytes. Returns the number of
 * bytes read (cap: the file may hold more) or -errno.
 */
ssize_t file_read_fd(int fd, void *buf, size_t cap);

/*
 * Reads the file at path whole into buf and NUL-terminates it. Returns its
 * length, -EFBIG when it holds more than bufsz - 1 bytes (buf then holds
 * the first bufsz - 1, NUL-terminated), -EINVAL when bufsz is 0 or above
 * INT_MAX, or -errno from open/read.
 */
int file_read(const char *path, char *buf, size_t bufsz);

/*
 * Reads the file at path whole into a buffer it allocates (max bytes at
 * most, plus a NUL). Returns 0 with *ret (free() it) and *ret_len written,
 * -EFBIG when the file holds more than max bytes, -ENOMEM, or -errno from
 * open/read.
 */
int file_read_alloc(const char *path, size_t max, char **ret,
		    size_t *ret_len);

#endif
