// SPDX-License-Identifier: MIT
#include "core/addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static const uint8_t v4mapped_prefix[12] = { 0, 0, 0, 0, 0, 0,
					     0, 0, 0, 0, 0xff, 0xff };

int addr_normalize(int family, uint8_t addr[16])
{
	if (family == AF_INET6 &&
	    memcmp(addr, v4mapped_prefix, sizeof(v4mapped_prefix)) == 0) {
		memmove(addr, addr + 12, 4);
		memset(addr + 4, 0, 12);
		return AF_INET;
	}
	return family;
}

int addr_normalize_pair(uint8_t l[16], uint8_t r[16])
{
	uint8_t nl[16], nr[16];
	memcpy(nl, l, 16);
	memcpy(nr, r, 16);
	int lf = addr_normalize(AF_INET6, nl);
	int rf = addr_normalize(AF_INET6, nr);
	/* One end v4-mapped, the other "::" (a [::] socket talking to a
	 * mapped peer, or a listener bound to a mapped address): the mapped
	 * end decides, "::" then reads as 0.0.0.0. */
	if (lf != rf && addr_is_any(AF_INET6, nl))
		lf = rf;
	if (lf != rf && addr_is_any(AF_INET6, nr))
		rf = lf;
	if (lf != rf)
		return AF_INET6;
	memcpy(l, nl, 16);
	memcpy(r, nr, 16);
	return lf;
}

bool addr_is_loopback(int family, const uint8_t addr[16])
{
	static const uint8_t v6_lo[16] = { [15] = 1 };
	if (family == AF_INET)
		return addr[0] == 127;
	return memcmp(addr, v6_lo, 16) == 0;
}

bool addr_is_any(int family, const uint8_t addr[16])
{
	static const uint8_t zero[16];
	return memcmp(addr, zero, family == AF_INET ? 4 : 16) == 0;
}

void addr_format(int family, const uint8_t addr[16], char out[ADDR_STRLEN])
{
	if (!inet_ntop(family, addr, out, ADDR_STRLEN))
		strcpy(out, "?");
}

int addr_parse(const char *s, int want_family, int *ret_family,
	       uint8_t ret_addr[16])
{
	uint8_t buf[16] = { 0 };

	if (want_family != AF_INET6 && inet_pton(AF_INET, s, buf) == 1) {
		*ret_family = AF_INET;
		memcpy(ret_addr, buf, 16);
		return 0;
	}
	if (want_family != AF_INET && inet_pton(AF_INET6, s, buf) == 1) {
		int fam = addr_normalize(AF_INET6, buf);
		if (want_family == AF_INET6 && fam != AF_INET6)
			return -EINVAL;
		*ret_family = fam;
		memcpy(ret_addr, buf, 16);
		return 0;
	}
	return -EINVAL;
}
