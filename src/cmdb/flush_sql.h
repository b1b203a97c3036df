/* SPDX-License-Identifier: MIT */
#ifndef SHAWK_CMDB_FLUSH_SQL_H
#define SHAWK_CMDB_FLUSH_SQL_H

/*
 * The statements of the flush, sql/flush/NAME.sql embedded at build time by
 * scripts/embed-sql.sh as cmdb_flush_sql_NAME. What each does and why is
 * written in its file.
 */
extern const char cmdb_flush_sql_tables[];
extern const char cmdb_flush_sql_claim[];
extern const char cmdb_flush_sql_copy_flows[];
extern const char cmdb_flush_sql_copy_passive[];
extern const char cmdb_flush_sql_copy_active[];
extern const char cmdb_flush_sql_copy_conns[];
extern const char cmdb_flush_sql_seen[];
extern const char cmdb_flush_sql_unique[];
extern const char cmdb_flush_sql_unique_join[];
extern const char cmdb_flush_sql_grouped[];

#endif
