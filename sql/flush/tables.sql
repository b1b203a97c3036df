-- SPDX-License-Identifier: MIT
-- The flush stages the batch with binary COPYs into session temporary
-- tables (no text to parse on the server): the flows, and the passive and
-- active nodes they name, merged client-side (many flows per process), so
-- that the server neither sorts nor aggregates. One statement then writes
-- the three tables from them in data-modifying CTEs. Rows go in
-- primary-key order: consecutive index insertions then land on the same
-- leaf pages. Column order is the COPY row layout of
-- src/cmdb/flush_data.c; "i" is a row number.
--
-- Created once per connection, outside a batch's transaction. Emptied
-- by DELETE at the start of each flush (store.c), not ON COMMIT DELETE
-- ROWS: that truncates them at every commit, and a truncation sends a
-- shared invalidation message per relation (table, TOAST table, its
-- index) to every backend of the server. With a fleet of agents (1000
-- connections, 100 commits/s) an idle backend fell more than the queue
-- (4096 messages) behind between two of its flushes: its caches were
-- reset and its prepared flush replanned at every flush, and the
-- laggards were woken up to catch up all the time. The dead rows DELETE
-- leaves go with a TRUNCATE every 16 flushes, outside the batch's
-- transaction (a new file: one invalidation per table, a sixteenth as
-- often). Not VACUUM: it records 0 rows, and a large batch was then
-- planned for 1 row (nested loops: minutes for 100k flows).
-- 100k staged flows and their nodes take ~20 MB, more than the default
-- temp_buffers (8 MB): the rest goes through the kernel's page cache.
-- Still cheaper than 32 MB of local buffers, whose first use page-faults
-- (measured: COPY 114-135 ms vs 167-228 ms).
CREATE TEMPORARY TABLE IF NOT EXISTS shawk_flush_flows (
 i integer, direction text, proto text, laddr inet, lport integer,
 raddr inet, rport integer, netns bigint, pgid bigint, comm text,
 container_name text, connections bigint, new_connections bigint,
 first_seen timestamptz, last_seen timestamptz, service_addr inet,
 service_port integer, nat_peer_addr inet, nat_peer_port integer);
CREATE TEMPORARY TABLE IF NOT EXISTS shawk_flush_passive (
 i integer, addr inet, port integer, proto text, pgid bigint, comm text,
 pid bigint, cmdline text, cgroup text, container_id text,
 container_name text, pod_namespace text, pod_name text,
 pod_uid text, first_seen timestamptz, last_seen timestamptz);
CREATE TEMPORARY TABLE IF NOT EXISTS shawk_flush_active (
 i integer, addr inet, pgid bigint, comm text,
 pid bigint, cmdline text, cgroup text, container_id text,
 container_name text, pod_namespace text, pod_name text,
 pod_uid text, first_seen timestamptz, last_seen timestamptz);
-- The identities of the batch's new connections (seen.sql): i is the
-- row number of their flow in shawk_flush_flows.
CREATE TEMPORARY TABLE IF NOT EXISTS shawk_flush_conns (
 i integer, conn_id bigint);
-- Once per connection: the identities nobody reported for 30 days
-- (008_seen_conns.sql).
DELETE FROM seen_conns WHERE last_seen < now() - interval '30 days'
