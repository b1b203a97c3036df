/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CORE_LOG_H
#define SHAWK_CORE_LOG_H

#include "core/util.h"

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

/* Parses "error|warn|info|debug"; returns the level or -EINVAL. */
int log_level_parse(const char *s);
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Writes one line "shawk: <level>: msg" to stderr when lvl is enabled. */
void log_msg(enum log_level lvl, const char *fmt, ...) _printf_(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_get_level() >= LOG_DEBUG)                              \
			log_msg(LOG_DEBUG, __VA_ARGS__);                       \
	} while (0)

#endif
