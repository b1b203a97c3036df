// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the CMDB encoders: the array literal
 * (cmdb/sqlarray.c) and the binary COPY stream (cmdb/pgcopy.c) of
 * arbitrary strings decode back to those strings (invalid UTF-8 as '?'),
 * and the flush's rows (cmdb/flush_data.c) encode for flows built from the
 * input. The input is NUL-separated strings. Seeds: tests/fuzz/corpus/
 * encoders.
 */
#include "cmdb/flush_data.h"
#include "cmdb/pgcopy.h"
#include "cmdb/sqlarray.h"
#include "core/utf8.h"
#include "fuzz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define MAX_STRS 32

/* Reads one element of an array literal at *p into out (NULL -> *is_null). */
static bool lit_elem(const char **p, char *out, size_t outsz, bool *is_null)
{
	const char *s = *p;
	size_t o = 0;
	*is_null = false;
	if (strncmp(s, "NULL", 4) == 0 && (s[4] == ',' || s[4] == '}')) {
		*is_null = true;
		*p = s + 4;
		return true;
	}
	if (*s++ != '"')
		return false;
	while (*s && *s != '"') {
		if (*s == '\\')
			s++;
		if (!*s || o + 1 >= outsz)
			return false;
		out[o++] = *s++;
	}
	if (*s++ != '"')
		return false;
	out[o] = '\0';
	*p = s;
	return true;
}

static uint32_t be32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return ntohl(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	if (!s)
		return 0;
	/* The strings, and what the server must get: '?' for bad bytes. */
	const char *strs[MAX_STRS];
	char *want[MAX_STRS];
	size_t n = 0;
	/* s ends with a NUL at size: embedded NULs split the strings. */
	for (size_t off = 0; n < MAX_STRS;) {
		size_t l = strlen(s + off);
		if (!(want[n] = strdup(s + off)))
			break;
		utf8_sanitize(want[n]);
		strs[n++] = s + off;
		off += l + 1;
		if (off > size)
			break;
	}

	struct sql_array a;
	sql_array_init(&a);
	sql_array_add_str(&a, NULL);
	for (size_t i = 0; i < n; i++)
		sql_array_add_str(&a, strs[i]);
	sql_array_add_int(&a, (int64_t)size * -7);
	const char *lit = sql_array_finish(&a);
	if (lit) {
		FUZZ_ASSERT(lit[0] == '{');
		const char *p = lit + 1;
		char *buf = malloc(size + 2);
		bool null;
		FUZZ_ASSERT(buf && lit_elem(&p, buf, size + 2, &null) && null);
		for (size_t i = 0; i < n; i++) {
			FUZZ_ASSERT(*p++ == ',');
			FUZZ_ASSERT(lit_elem(&p, buf, size + 2, &null) && !null);
			FUZZ_ASSERT(strcmp(buf, want[i]) == 0);
		}
		FUZZ_ASSERT(*p == ',');
		free(buf);
	}
	sql_array_clear(&a);

	struct pgcopy c;
	pgcopy_init(&c);
	pgcopy_row(&c, (uint16_t)(n + 1));
	pgcopy_null(&c);
	for (size_t i = 0; i < n; i++)
		pgcopy_text(&c, strs[i]);
	size_t len;
	const char *cp = pgcopy_finish(&c, &len);
	if (cp) {
		/* 19-byte header, the row's field count, then the fields. */
		FUZZ_ASSERT(len >= 19 + 2 + 4 + 2);
		const char *p = cp + 21;
		FUZZ_ASSERT(be32(p) == 0xffffffffu);
		p += 4;
		for (size_t i = 0; i < n; i++) {
			uint32_t l = be32(p);
			p += 4;
			FUZZ_ASSERT(l == strlen(want[i]));
			FUZZ_ASSERT(memcmp(p, want[i], l) == 0);
			p += l;
		}
		FUZZ_ASSERT((size_t)(p - cp) + 2 == len);
	}
	pgcopy_clear(&c);

	/* Flows from the strings: comm, texts, addresses from the bytes. */
	struct flow fl[MAX_STRS];
	memset(fl, 0, sizeof(fl));
	for (size_t i = 0; i < n; i++) {
		struct flow *f = &fl[i];
		size_t k = strlen(strs[i]);
		f->key.dir = k & 1 ? SOCK_DIR_PASSIVE : SOCK_DIR_ACTIVE;
		f->key.proto = k & 2 ? IPPROTO_UDP : IPPROTO_TCP;
		f->key.family = k & 4 ? AF_INET6 : AF_INET;
		memcpy(f->key.laddr, strs[i], k < 16 ? k : 16);
		f->key.lport = (uint16_t)k;
		strncpy(f->key.comm, strs[i], sizeof(f->key.comm));
		f->cmdline = (char *)strs[i];
		f->pod_name = (char *)strs[(i + 1) % n];
		f->connections = (uint32_t)k;
		f->first_seen_ms = (int64_t)k * 1000;
		f->last_seen_ms = (int64_t)k * 1001;
	}
	struct cmdb_flush_data d;
	cmdb_flush_data_init(&d);
	if (cmdb_flush_data_encode(&d, fl, n, size) == 0) {
		FUZZ_ASSERT(d.flows.rows == n);
		FUZZ_ASSERT(d.passive.rows + d.active.rows <= n);
		FUZZ_ASSERT(pgcopy_finish(&d.flows, &len) != NULL);
	}
	cmdb_flush_data_clear(&d);

	for (size_t i = 0; i < n; i++)
		free(want[i]);
	free(s);
	return 0;
}
