// SPDX-License-Identifier: MIT
#include "core/config.h"

#include "core/duration.h"
#include "core/log.h"
#include "core/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>

int config_error(char *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, CONFIG_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int config_parse_duration(const char *what, const char *value,
			  bool allow_zero, int64_t *ret_ms, char *err)
{
	int64_t ms;
	if (duration_parse_ms(value, &ms) < 0 || (!allow_zero && ms == 0))
		return config_error(err,
			    "invalid %s '%s': expected a %sduration such as "
			    "500ms, 1s, 10m, 2h or 1d",
			    what, value, allow_zero ? "" : "positive ");
	*ret_ms = ms;
	return 0;
}

int config_parse_bool(const char *what, const char *value, bool *ret,
		      char *err)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	static const char *const no[] = { "0", "false", "no", "off", "" };
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++)
		if (strcasecmp(value, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++)
		if (strcasecmp(value, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	return config_error(err, "invalid %s '%s': expected true or false", what,
		    value);
}

int config_parse_uint(const char *what, const char *value, uint64_t min,
		      uint64_t max, uint64_t *ret, char *err)
{
	char *end;
	errno = 0;
	/* strtoull skips blanks and takes a sign: " -1" would wrap. */
	if (!isdigit((unsigned char)*value))
		goto bad;
	unsigned long long v = strtoull(value, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	return config_error(err, "invalid %s '%s': expected an integer from %llu to %llu",
		    what, value, (unsigned long long)min,
		    (unsigned long long)max);
}

static const char *const mode_names[] = {
	[PROBE_MODE_AUTO] = "auto",
	[PROBE_MODE_POLLING] = "polling",
	[PROBE_MODE_STREAMING] = "streaming",
};

const char *probe_mode_name(enum probe_mode m)
{
	return mode_names[m];
}

int config_parse_mode(const char *what, const char *value,
		      enum probe_mode *ret, char *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(value, mode_names[i]) == 0) {
			*ret = (enum probe_mode)i;
			return 0;
		}
	return config_error(err,
		    "invalid %s '%s': expected polling, streaming or auto",
		    what, value);
}

static const char *const backend_names[] = {
	[POLL_BACKEND_AUTO] = "auto",
	[POLL_BACKEND_BPF_ITER] = "bpf-iter",
	[POLL_BACKEND_SOCKDIAG] = "sockdiag",
};

const char *poll_backend_name(enum poll_backend b)
{
	return (size_t)b < ARRAY_SIZE(backend_names) ? backend_names[b] : "?";
}

int config_parse_poll_backend(const char *what, const char *value,
			      enum poll_backend *ret, char *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(backend_names); i++)
		if (strcmp(value, backend_names[i]) == 0) {
			*ret = (enum poll_backend)i;
			return 0;
		}
	return config_error(err,
		    "invalid %s '%s': expected auto, bpf-iter or sockdiag",
		    what, value);
}

int config_parse_output(const char *what, const char *value,
			enum output_format *ret, char *err)
{
	static const struct {
		const char *name;
		enum output_format f;
	} outs[] = { { "none", OUTPUT_NONE },
		     { "text", OUTPUT_TEXT },
		     { "json", OUTPUT_JSON },
		     { "cmdb", OUTPUT_CMDB } };
	for (size_t i = 0; i < ARRAY_SIZE(outs); i++)
		if (strcmp(value, outs[i].name) == 0) {
			*ret = outs[i].f;
			return 0;
		}
	return config_error(err, "invalid %s '%s': expected text, json, none or cmdb", what,
		    value);
}

int config_parse_log_level(const char *what, const char *value, int *ret,
			   char *err)
{
	int lvl = log_level_parse(value);
	if (lvl < 0)
		return config_error(err,
				    "invalid %s '%s': expected error, warn, "
				    "info or debug",
				    what, value);
	*ret = lvl;
	return 0;
}
