// SPDX-License-Identifier: MIT
#include "probe/iterrec.h"

#include "core/addr.h"

#include <errno.h>
#include <linux/types.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iter_record.h"

_Static_assert(sizeof(struct shawk_iter_sock) == 72, "record layout");
_Static_assert(sizeof(struct shawk_iter_owner) == 16, "record layout");
_Static_assert(sizeof(struct shawk_iter_fdsock) == 80, "record layout");

static int decode_sock(const struct shawk_iter_sock *s, uint8_t magic,
		       struct sock_record *rec)
{
	if (s->magic != magic ||
	    (s->proto != IPPROTO_TCP && s->proto != IPPROTO_UDP) ||
	    (s->family != AF_INET && s->family != AF_INET6) || s->state > 12)
		return -EBADMSG;
	memset(rec, 0, sizeof(*rec));
	rec->proto = s->proto;
	rec->state = s->state;
	rec->lport = s->lport;
	rec->rport = s->rport;
	memcpy(rec->laddr, s->laddr, 16);
	memcpy(rec->raddr, s->raddr, 16);
	if (s->family == AF_INET) {
		memset(rec->laddr + 4, 0, 12);
		memset(rec->raddr + 4, 0, 12);
		rec->family = AF_INET;
	} else {
		rec->family =
			(uint8_t)addr_normalize_pair(rec->laddr, rec->raddr);
	}
	rec->uid = s->uid;
	rec->netns = s->netns;
	rec->inode = s->inode;
	rec->cookie = s->cookie;
	rec->cgroup_id = s->cgroup_id;
	return 0;
}

int iterrec_decode_socks(const void *buf, size_t len, sock_record_fn fn,
			 void *ud, size_t *ret_used)
{
	const unsigned char *p = buf;
	size_t n = len / sizeof(struct shawk_iter_sock);
	struct sock_record rec;

	for (size_t i = 0; i < n; i++) {
		struct shawk_iter_sock s;
		/* memcpy: buf need not be aligned. */
		memcpy(&s, p + i * sizeof(s), sizeof(s));
		int r = decode_sock(&s, SHAWK_ITER_SOCK_MAGIC, &rec);
		if (r < 0)
			return r;
		r = fn(&rec, ud);
		if (r < 0)
			return r;
	}
	*ret_used = n * sizeof(struct shawk_iter_sock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int iterrec_decode_fdsocks(const void *buf, size_t len, sock_record_fn fn,
			   void *ud, size_t *ret_used)
{
	const unsigned char *p = buf;
	size_t n = len / sizeof(struct shawk_iter_fdsock);
	struct sock_record rec;

	for (size_t i = 0; i < n; i++) {
		struct shawk_iter_fdsock f;
		memcpy(&f, p + i * sizeof(f), sizeof(f));
		int r = decode_sock(&f.s, SHAWK_ITER_FDSOCK_MAGIC, &rec);
		/* An fd always has its inode and its process. */
		if (r == 0 && (!f.tgid || !f.s.inode))
			r = -EBADMSG;
		if (r < 0)
			return r;
		rec.pid = f.tgid;
		if (f.flags & SHAWK_FDSOCK_F_SHARED)
			rec.flags |= SOCK_REC_F_FD_SHARED;
		r = fn(&rec, ud);
		if (r < 0)
			return r;
	}
	*ret_used = n * sizeof(struct shawk_iter_fdsock);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

int iterrec_decode_owners(const void *buf, size_t len, iterrec_owner_fn fn,
			  void *ud, size_t *ret_used)
{
	const unsigned char *p = buf;
	size_t n = len / sizeof(struct shawk_iter_owner);

	for (size_t i = 0; i < n; i++) {
		struct shawk_iter_owner o;
		memcpy(&o, p + i * sizeof(o), sizeof(o));
		if (o.magic != SHAWK_ITER_OWNER_MAGIC || !o.tgid || !o.inode)
			return -EBADMSG;
		int r = fn(o.tgid, o.inode, ud);
		if (r < 0)
			return r;
	}
	*ret_used = n * sizeof(struct shawk_iter_owner);
	return n > INT32_MAX ? INT32_MAX : (int)n;
}

static int read_all(int fd, unsigned char *buf, size_t bufsz, size_t recsz,
		    int (*decode)(const void *, size_t, void *, void *,
				  size_t *),
		    void *fn, void *ud)
{
	size_t have = 0;
	int total = 0;

	if (bufsz < recsz)
		return -EINVAL;
	for (;;) {
		ssize_t n = read(fd, buf + have, bufsz - have);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: the kernel restarts a walk that lost its
			 * place; callers retry the scan. */
			return -errno;
		}
		if (n == 0)
			return have ? -EBADMSG : total;
		have += (size_t)n;
		size_t used = 0;
		int r = decode(buf, have, fn, ud, &used);
		if (r < 0)
			return r;
		total += r;
		/* A record split across reads: keep its head. */
		memmove(buf, buf + used, have - used);
		have -= used;
	}
}

static int decode_socks_any(const void *buf, size_t len, void *fn, void *ud,
			    size_t *ret_used)
{
	return iterrec_decode_socks(buf, len, (sock_record_fn)fn, ud,
				    ret_used);
}

static int decode_fdsocks_any(const void *buf, size_t len, void *fn,
			      void *ud, size_t *ret_used)
{
	return iterrec_decode_fdsocks(buf, len, (sock_record_fn)fn, ud,
				      ret_used);
}

static int decode_owners_any(const void *buf, size_t len, void *fn, void *ud,
			     size_t *ret_used)
{
	return iterrec_decode_owners(buf, len, (iterrec_owner_fn)fn, ud,
				     ret_used);
}

int iterrec_read_socks(int fd, void *buf, size_t bufsz, sock_record_fn fn,
		       void *ud)
{
	return read_all(fd, buf, bufsz, sizeof(struct shawk_iter_sock),
			decode_socks_any, (void *)fn, ud);
}

int iterrec_read_owners(int fd, void *buf, size_t bufsz, iterrec_owner_fn fn,
			void *ud)
{
	return read_all(fd, buf, bufsz, sizeof(struct shawk_iter_owner),
			decode_owners_any, (void *)fn, ud);
}

int iterrec_read_fdsocks(int fd, void *buf, size_t bufsz, sock_record_fn fn,
			 void *ud)
{
	return read_all(fd, buf, bufsz, sizeof(struct shawk_iter_fdsock),
			decode_fdsocks_any, (void *)fn, ud);
}
