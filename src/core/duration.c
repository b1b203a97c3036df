// SPDX-License-Identifier: MIT
#include "core/duration.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const struct {
	const char *suffix;
	int64_t ms;
} units[] = {
	/* Longest suffix first so "ms" is not read as "m". */
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 },
	{ "d", 24 * 60 * 60 * 1000 },
};

int duration_parse_ms(const char *s, int64_t *ret_ms)
{
	if (!s || !*s)
		return -EINVAL;

	int64_t total = 0;
	const char *p = s;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		int64_t v = 0;
		while (isdigit((unsigned char)*p)) {
			if (v > (INT64_MAX - 9) / 10)
				return -ERANGE;
			v = v * 10 + (*p - '0');
			p++;
		}
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t n = strlen(units[i].suffix);
			if (strncmp(p, units[i].suffix, n) == 0) {
				p += n;
				break;
			}
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -EINVAL;
		if (v > (INT64_MAX - total) / units[i].ms)
			return -ERANGE;
		total += v * units[i].ms;
	}
	*ret_ms = total;
	return 0;
}

void duration_format(int64_t ms, char *buf, unsigned long bufsz)
{
	for (int i = (int)(sizeof(units) / sizeof(units[0])) - 1; i > 0; i--) {
		if (ms != 0 && ms % units[i].ms == 0) {
			snprintf(buf, bufsz, "%lld%s",
				 (long long)(ms / units[i].ms), units[i].suffix);
			return;
		}
	}
	snprintf(buf, bufsz, "%lldms", (long long)ms);
}

static int parse_digits(const char **p, int n, int *ret)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return -EINVAL;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return 0;
}

/* Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant). */
static int64_t days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int duration_rfc3339_parse_ms(const char *s, int64_t *ret_ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec;

	if (parse_digits(&p, 4, &y) < 0 || *p++ != '-' ||
	    parse_digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    parse_digits(&p, 2, &d) < 0)
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (parse_digits(&p, 2, &h) < 0 || *p++ != ':' ||
	    parse_digits(&p, 2, &mi) < 0 || *p++ != ':' ||
	    parse_digits(&p, 2, &sec) < 0)
		return -EINVAL;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31 };
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 ||
	    mi > 59 || sec > 60)
		return -EINVAL;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (mo == 2 && d == 29 && !leap)
		return -EINVAL;

	int64_t frac_ms = 0;
	if (*p == '.') {
		p++;
		int digits = 0;
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			if (digits < 3)
				frac_ms = frac_ms * 10 + (*p - '0');
			digits++;
			p++;
		}
		for (; digits < 3; digits++)
			frac_ms *= 10;
	}

	int64_t off_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh, om;
		p++;
		if (parse_digits(&p, 2, &oh) < 0 || *p++ != ':' ||
		    parse_digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -EINVAL;
		off_s = sign * (oh * 3600 + om * 60);
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;

	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		       sec - off_s;
	*ret_ms = secs * 1000 + frac_ms;
	return 0;
}

int duration_time_point_parse_ms(const char *s, int64_t now_ms,
				 int64_t *ret_ms)
{
	int64_t v;
	if (duration_parse_ms(s, &v) == 0) {
		*ret_ms = now_ms - v;
		return 0;
	}
	if (duration_rfc3339_parse_ms(s, &v) == 0) {
		*ret_ms = v;
		return 0;
	}
	return -EINVAL;
}
