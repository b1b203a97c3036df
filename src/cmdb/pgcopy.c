// SPDX-License-Identifier: MIT
#include "cmdb/pgcopy.h"

#include "core/utf8.h"

#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

/* "PGCOPY\n\377\r\n\0", flags, header extension length. */
static const char header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";

/* PostgreSQL's own family numbers in inet's binary form (utils/inet.h). */
#define PGSQL_AF_INET 2
#define PGSQL_AF_INET6 3

/* timestamptz counts microseconds from 2000-01-01 00:00:00 UTC. */
#define PG_EPOCH_UNIX_MS INT64_C(946684800000)

/* Streams of a large batch (100k flows: ~15 MB) live in transparent huge
 * pages where the kernel allows it: each 4 KiB page fault costs more than
 * encoding the rows it holds on a virtual machine (measured: 9k faults,
 * three quarters of the time of encoding 100k flows). */
#define HUGE_SZ ((size_t)2 << 20)

static bool reserve(struct pgcopy *c, size_t more)
{
	if (c->oom)
		return false;
	if (c->len + more <= c->cap)
		return true;
	size_t cap = c->cap ? c->cap : 4096;
	while (cap < c->len + more)
		cap *= 2;
	char *b;
	if (cap < HUGE_SZ) {
		b = realloc(c->buf, cap);
	} else {
		cap = (cap + HUGE_SZ - 1) & ~(HUGE_SZ - 1);
		b = aligned_alloc(HUGE_SZ, cap);
		if (b) {
			(void)madvise(b, cap, MADV_HUGEPAGE); /* a hint */
			if (c->len)
				memcpy(b, c->buf, c->len);
			free(c->buf);
		}
	}
	if (!b) {
		c->oom = true;
		return false;
	}
	c->buf = b;
	c->cap = cap;
	return true;
}

static void put(struct pgcopy *c, const void *p, size_t n)
{
	if (!reserve(c, n))
		return;
	memcpy(c->buf + c->len, p, n);
	c->len += n;
}

void pgcopy_reserve(struct pgcopy *c, size_t more)
{
	reserve(c, more);
}

void pgcopy_fields(struct pgcopy *c, const void *fields, size_t len)
{
	put(c, fields, len);
}

static void put_u16(struct pgcopy *c, uint16_t v)
{
	v = htobe16(v);
	put(c, &v, 2);
}

static void put_u32(struct pgcopy *c, uint32_t v)
{
	v = htobe32(v);
	put(c, &v, 4);
}

static void put_u64(struct pgcopy *c, uint64_t v)
{
	v = htobe64(v);
	put(c, &v, 8);
}

void pgcopy_init(struct pgcopy *c)
{
	memset(c, 0, sizeof(*c));
	put(c, header, sizeof(header));
}

void pgcopy_clear(struct pgcopy *c)
{
	free(c->buf);
	memset(c, 0, sizeof(*c));
}

void pgcopy_row(struct pgcopy *c, uint16_t nfields)
{
	put_u16(c, nfields);
	c->rows++;
}

void pgcopy_null(struct pgcopy *c)
{
	put_u32(c, UINT32_MAX); /* length -1 */
}

void pgcopy_text(struct pgcopy *c, const char *s)
{
	if (!s) {
		pgcopy_null(c);
		return;
	}
	size_t sl = strlen(s);
	if (sl > INT32_MAX || !reserve(c, 4 + sl)) {
		c->oom = true;
		return;
	}
	size_t at = c->len;
	char *o = c->buf + at + 4;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t l = utf8_seq_len(p);
		if (l == 0) {
			*o++ = '?';
			p++;
			continue;
		}
		memcpy(o, p, l);
		o += l;
		p += l;
	}
	uint32_t n = htobe32((uint32_t)(o - (c->buf + at + 4)));
	memcpy(c->buf + at, &n, 4);
	c->len = (size_t)(o - c->buf);
}

void pgcopy_int4(struct pgcopy *c, int32_t v)
{
	put_u32(c, 4);
	put_u32(c, (uint32_t)v);
}

void pgcopy_int8(struct pgcopy *c, int64_t v)
{
	put_u32(c, 8);
	put_u64(c, (uint64_t)v);
}

void pgcopy_inet(struct pgcopy *c, int family, const uint8_t addr[16])
{
	bool v4 = family == AF_INET;
	uint8_t h[4] = { v4 ? PGSQL_AF_INET : PGSQL_AF_INET6, v4 ? 32 : 128,
			 0 /* not cidr */, v4 ? 4 : 16 };
	put_u32(c, 4 + h[3]);
	put(c, h, 4);
	put(c, addr, h[3]);
}

void pgcopy_timestamptz_ms(struct pgcopy *c, int64_t ms)
{
	put_u32(c, 8);
	put_u64(c, (uint64_t)((ms - PG_EPOCH_UNIX_MS) * 1000));
}

const char *pgcopy_finish(struct pgcopy *c, size_t *ret_len)
{
	put_u16(c, UINT16_MAX); /* field count -1 */
	if (c->oom)
		return NULL;
	*ret_len = c->len;
	return c->buf;
}
