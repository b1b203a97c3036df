// SPDX-License-Identifier: MIT
#include "probe/procfs.h"

#include "core/addr.h"
#include "core/util.h"

#include <ctype.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

static const char *skip_field(const char *p, const char *end)
{
	while (p < end && *p == ' ')
		p++;
	while (p < end && *p != ' ')
		p++;
	return p;
}

static int read_u64(const char **pp, const char *end, uint64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;
	while (p < end && *p == ' ')
		p++;
	if (p >= end || !isdigit((unsigned char)*p))
		return -EINVAL;
	while (p < end && isdigit((unsigned char)*p)) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
		p++;
	}
	*pp = p;
	*ret = v;
	return 0;
}

int procfs_parse_stat(const char *buf, size_t len, struct procfs_stat *ret)
{
	const char *end = buf + len;
	const char *open = memchr(buf, '(', len);
	const char *close = NULL;
	struct procfs_stat st = { 0 };
	uint64_t v;

	if (!open)
		return -EINVAL;
	for (const char *p = end; p > open; p--)
		if (p[-1] == ')') {
			close = p - 1;
			break;
		}
	if (!close)
		return -EINVAL;

	const char *p = buf;
	if (read_u64(&p, open, &v) < 0 || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	st.pid = (uint32_t)v;
	size_t clen = (size_t)(close - open - 1);
	if (clen >= sizeof(st.comm))
		clen = sizeof(st.comm) - 1;
	memcpy(st.comm, open + 1, clen);
	st.comm[clen] = '\0';

	p = close + 1;
	p = skip_field(p, end); /* 3: state */
	if (read_u64(&p, end, &v) < 0) /* 4: ppid */
		return -EINVAL;
	st.ppid = (uint32_t)v;
	if (read_u64(&p, end, &v) < 0) /* 5: pgrp */
		return -EINVAL;
	st.pgid = (uint32_t)v;
	for (int field = 6; field < 22; field++) {
		/* Fields 6..21 may be negative (tty_nr, priority...): skip. */
		p = skip_field(p, end);
		if (p >= end)
			return -EINVAL;
	}
	if (read_u64(&p, end, &v) < 0) /* 22: starttime */
		return -EINVAL;
	st.starttime = v;
	*ret = st;
	return 0;
}

uint64_t procfs_socket_inode(const char *link, size_t len)
{
	static const char prefix[] = "socket:[";
	const size_t plen = sizeof(prefix) - 1;
	uint64_t v = 0;

	if (len < plen + 2 || memcmp(link, prefix, plen) != 0 ||
	    link[len - 1] != ']')
		return 0;
	for (size_t i = plen; i < len - 1; i++) {
		if (!isdigit((unsigned char)link[i]) ||
		    v > (UINT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (uint64_t)(link[i] - '0');
	}
	return v;
}

/* [p, end) into out as a string. Returns 0 or -ENAMETOOLONG. */
static int copy_path(char *out, size_t outsz, const char *p, const char *end)
{
	size_t n = (size_t)(end - p);
	if (n + 1 > outsz)
		return -ENAMETOOLONG;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int procfs_parse_cgroup_v2(const char *buf, size_t len, char *out,
			   size_t outsz)
{
	const char *end = buf + len;
	const char *fallback = NULL, *fallback_end = NULL;

	for (const char *line = buf; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *lend = nl ? nl : end;
		const char *path = NULL;

		if (lend - line >= 3 && memcmp(line, "0::", 3) == 0) {
			path = line + 3;
		} else {
			const char *c1 = memchr(line, ':', (size_t)(lend - line));
			if (c1) {
				const char *c2 = memchr(c1 + 1, ':',
							(size_t)(lend - c1 - 1));
				if (c2 && (size_t)(c2 - c1 - 1) == 12 &&
				    memcmp(c1 + 1, "name=systemd", 12) == 0) {
					fallback = c2 + 1;
					fallback_end = lend;
				}
			}
		}
		if (path)
			return copy_path(out, outsz, path, lend);
		line = nl ? nl + 1 : end;
	}
	if (fallback)
		return copy_path(out, outsz, fallback, fallback_end);
	return -ENOENT;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Reads exactly n hex digits as a big-endian number. */
static int read_hex(const char **pp, int n, uint32_t *ret)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++) {
		int h = hexval((unsigned char)(*pp)[i]);
		if (h < 0)
			return -EINVAL;
		v = (v << 4) | (uint32_t)h;
	}
	*pp += n;
	*ret = v;
	return 0;
}

/*
 * The kernel prints each 32-bit word of the address with %08X of its
 * in-memory (network order) value read as a native integer, so copying
 * the parsed native word back to memory restores network byte order.
 */
static int read_addr(const char **pp, int *family, uint8_t addr[16])
{
	const char *p = *pp;
	size_t n = 0;
	while (isxdigit((unsigned char)p[n]))
		n++;
	if (n != 8 && n != 32)
		return -EINVAL;
	memset(addr, 0, 16);
	for (size_t w = 0; w < n / 8; w++) {
		uint32_t v;
		if (read_hex(&p, 8, &v) < 0)
			return -EINVAL;
		memcpy(addr + 4 * w, &v, 4);
	}
	*family = n == 8 ? AF_INET : AF_INET6;
	if (*p != ':')
		return -EINVAL;
	*pp = p + 1;
	return 0;
}

int procfs_parse_net_line(const char *line, struct sock_record *rec)
{
	const char *p = line;
	struct sock_record r = { 0 };
	int lfam, rfam;
	uint32_t v;
	uint64_t u;

	while (*p == ' ')
		p++;
	if (strncmp(p, "sl", 2) == 0)
		return -ENOENT;
	/* "  0: " slot number */
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':')
		return -EINVAL;
	while (*p == ' ')
		p++;
	if (read_addr(&p, &lfam, r.laddr) < 0 || read_hex(&p, 4, &v) < 0)
		return -EINVAL;
	r.lport = (uint16_t)v;
	if (*p++ != ' ')
		return -EINVAL;
	if (read_addr(&p, &rfam, r.raddr) < 0 || read_hex(&p, 4, &v) < 0 ||
	    lfam != rfam)
		return -EINVAL;
	r.rport = (uint16_t)v;
	if (*p++ != ' ' || read_hex(&p, 2, &v) < 0)
		return -EINVAL;
	r.state = (uint8_t)v;
	/* tx:rx  tr:when  retrnsmt  uid  timeout  inode */
	const char *end = p + strlen(p);
	p = skip_field(p, end); /* tx_queue:rx_queue */
	p = skip_field(p, end); /* tr:tm->when */
	p = skip_field(p, end); /* retrnsmt */
	if (read_u64(&p, end, &u) < 0)
		return -EINVAL;
	r.uid = (uint32_t)u;
	p = skip_field(p, end); /* timeout */
	if (read_u64(&p, end, &u) < 0)
		return -EINVAL;
	r.inode = u;

	if (lfam == AF_INET6) {
		/* Same normalisation as sockdiag.c: a v4-mapped end turns
		 * the record into AF_INET when the other end agrees or is
		 * "::". */
		uint8_t la[16], ra[16];
		memcpy(la, r.laddr, 16);
		memcpy(ra, r.raddr, 16);
		int lf = addr_normalize(AF_INET6, la);
		int rf = addr_normalize(AF_INET6, ra);
		if (lf != rf && addr_is_any(AF_INET6, la))
			lf = rf;
		if (lf != rf && addr_is_any(AF_INET6, ra))
			rf = lf;
		if (lf == rf) {
			memcpy(r.laddr, la, 16);
			memcpy(r.raddr, ra, 16);
			r.family = (uint8_t)lf;
		} else {
			r.family = AF_INET6;
		}
	} else {
		r.family = AF_INET;
	}
	*rec = r;
	return 0;
}

void procfs_cmdline_to_string(char *buf, size_t len)
{
	while (len > 0 && buf[len - 1] == '\0')
		len--;
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[len] = '\0';
}

/* The line of buf[0..len) at *off, its length (without the '\n') in
 * *ret_len; advances *off past it. NULL past the end. */
static const char *next_line(const char *buf, size_t len, size_t *off,
			     size_t *ret_len)
{
	if (*off >= len)
		return NULL;
	const char *line = buf + *off;
	const char *nl = memchr(line, '\n', len - *off);
	size_t ll = nl ? (size_t)(nl - line) : len - *off;
	*off += ll + 1;
	*ret_len = ll;
	return line;
}

/* Decimal at s[*j..end); advances *j. -EBADMSG without digits or on overflow. */
static int parse_u64_at(const char *s, size_t *j, size_t end, uint64_t *ret)
{
	uint64_t v = 0;
	size_t i = *j;
	if (i >= end || s[i] < '0' || s[i] > '9')
		return -EBADMSG;
	for (; i < end && s[i] >= '0' && s[i] <= '9'; i++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*j = i;
	*ret = v;
	return 0;
}

int procfs_parse_sockstat_inuse(const char *buf, size_t len, uint64_t *ret)
{
	static const char *const protos[] = { "TCP: inuse ", "UDP: inuse ",
					      "TCP6: inuse ", "UDP6: inuse " };
	uint64_t sum = 0;
	bool found = false;
	size_t off = 0, ll;
	const char *line;

	while ((line = next_line(buf, len, &off, &ll))) {
		for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
			size_t pl = strlen(protos[i]);
			if (ll <= pl || memcmp(line, protos[i], pl) != 0)
				continue;
			uint64_t v;
			size_t j = pl;
			if (parse_u64_at(line, &j, ll, &v) < 0)
				return -EBADMSG;
			sum += v;
			found = true;
		}
	}
	if (!found)
		return -EBADMSG;
	*ret = sum;
	return 0;
}

int procfs_parse_sockstat_value(const char *buf, size_t len, const char *proto,
				const char *key, uint64_t *ret)
{
	size_t pl = strlen(proto), kl = strlen(key);
	size_t off = 0, ll;
	const char *line;

	while ((line = next_line(buf, len, &off, &ll))) {
		if (ll < pl + 2 || memcmp(line, proto, pl) != 0 ||
		    line[pl] != ':' || line[pl + 1] != ' ')
			continue;
		/* "key value key value ..." after "<proto>: " */
		size_t j = pl + 2;
		while (j < ll) {
			size_t ks = j;
			while (j < ll && line[j] != ' ')
				j++;
			size_t klen = j - ks;
			if (j < ll)
				j++;
			size_t vs = j;
			while (j < ll && line[j] != ' ')
				j++;
			if (klen == kl && memcmp(line + ks, key, kl) == 0) {
				size_t e = vs;
				int r = parse_u64_at(line, &e, j, ret);
				if (r < 0 || e != j)
					return -EBADMSG;
				return 0;
			}
			if (j < ll)
				j++;
		}
		return -ENOENT;
	}
	return -ENOENT;
}

int procfs_parse_snmp_tcp(const char *buf, size_t len,
			  struct procfs_snmp_tcp *ret)
{
	static const char *const names[] = { "ActiveOpens", "PassiveOpens",
					     "AttemptFails", "EstabResets",
					     "CurrEstab" };
	const char *hdr = NULL, *val = NULL;
	size_t hl = 0, vl = 0, off = 0, ll;
	uint64_t out[5];
	bool got[5] = { false };
	const char *line;

	while (!val && (line = next_line(buf, len, &off, &ll))) {
		if (ll < 5 || memcmp(line, "Tcp: ", 5) != 0)
			continue;
		if (!hdr) {
			hdr = line;
			hl = ll;
		} else {
			val = line;
			vl = ll;
		}
	}
	if (!val)
		return -EBADMSG;
	/* Walk both lines column by column. */
	size_t h = 5, v = 5;
	while (h < hl && v < vl) {
		size_t hs = h, vs = v;
		while (h < hl && hdr[h] != ' ')
			h++;
		while (v < vl && val[v] != ' ')
			v++;
		for (size_t i = 0; i < 5; i++) {
			if (strlen(names[i]) != h - hs ||
			    memcmp(hdr + hs, names[i], h - hs) != 0)
				continue;
			size_t e = vs;
			if (parse_u64_at(val, &e, v, &out[i]) < 0 || e != v)
				return -EBADMSG;
			got[i] = true;
		}
		if (h < hl)
			h++;
		if (v < vl)
			v++;
	}
	for (size_t i = 0; i < 5; i++)
		if (!got[i])
			return -EBADMSG;
	ret->active_opens = out[0];
	ret->passive_opens = out[1];
	ret->attempt_fails = out[2];
	ret->estab_resets = out[3];
	ret->curr_estab = out[4];
	return 0;
}
