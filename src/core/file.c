// SPDX-License-Identifier: MIT
#include "core/file.h"

#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

ssize_t file_read_fd(int fd, void *buf, size_t cap)
{
	size_t len = 0;
	while (len < cap) {
		ssize_t n = read(fd, (char *)buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

/* After a read that filled its buffer: 0 at end of file, -EFBIG when
 * there is more, -errno. */
static int at_eof(int fd)
{
	char c;
	ssize_t n = file_read_fd(fd, &c, 1);
	return n < 0 ? (int)n : n ? -EFBIG : 0;
}

int file_read(const char *path, char *buf, size_t bufsz)
{
	if (bufsz == 0 || bufsz > INT_MAX)
		return -EINVAL;
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = file_read_fd(fd, buf, bufsz - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	int r = (size_t)n == bufsz - 1 ? at_eof(fd) : 0;
	return r < 0 ? r : (int)n;
}

int file_read_alloc(const char *path, size_t max, char **ret,
		    size_t *ret_len)
{
	_cleanup_(closep) int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* cap counts the NUL; it doubles up to max + 1. */
	size_t cap = (max < 4096 ? max : 4096) + 1, len = 0;
	_cleanup_(freep) char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = file_read_fd(fd, buf + len, cap - 1 - len);
		if (n < 0)
			return (int)n;
		len += (size_t)n;
		if (len < cap - 1)
			break; /* end of file */
		if (len == max) {
			int r = at_eof(fd);
			if (r < 0)
				return r;
			break;
		}
		size_t ncap = (cap - 1 > max / 2 ? max : 2 * (cap - 1)) + 1;
		char *nb = realloc(buf, ncap);
		if (!nb)
			return -ENOMEM;
		buf = nb;
		cap = ncap;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}
