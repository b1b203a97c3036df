// SPDX-License-Identifier: MIT
/*
 * The CMDB sink on the real store (PostgreSQL, src/cmdb) and the real
 * clock; tests give sink_cmdb_new_ops() fakes instead.
 */
#include "agent/sink_cmdb.h"

#include "cmdb/pg.h"
#include "cmdb/pods_store.h"
#include "cmdb/prune.h"
#include "cmdb/store.h"
#include "core/clock.h"

#include <time.h>

static int64_t real_now_ms(void)
{
	return now_monotonic_ms();
}

static void real_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000 };
	nanosleep(&ts, NULL);
}

const struct sink_cmdb_ops sink_cmdb_pg = {
	.connect = cmdb_connect_limited,
	.is_connected = cmdb_is_connected,
	.last_error = cmdb_last_error,
	.flush = cmdb_store_flush,
	.store_pods = cmdb_store_pods,
	.prune = cmdb_prune,
	.store_services = cmdb_store_services,
	.take_owed = cmdb_store_take_owed,
	.give_owed = cmdb_store_give_owed,
	.owes = cmdb_store_owes,
	.free = cmdb_free,
	.now_ms = real_now_ms,
	.sleep_ms = real_sleep_ms,
};

struct sink *sink_cmdb_new(const struct probe_config *cfg)
{
	return sink_cmdb_new_ops(cfg, &sink_cmdb_pg);
}

