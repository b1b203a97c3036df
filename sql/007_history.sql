-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 7: the CMDB over time (issue 19). A flow row only
-- knows first_seen/last_seen; flow_history keeps, per flow and time
-- bucket, that it was active then and how many connections started in
-- that bucket. `look --since/--until` is then exact to the bucket, and
-- `look --diff-since/--diff-until` compares two windows. Old history goes
-- by dropping whole daily partitions (shawk_prune), never by DELETE.
-- Numbered 7: 006 is issue 15's; create-scheme applies every file it has
-- not applied yet, in order, whatever the numbers in between.

-- One row per flow (the key of flows, without the agent's counters) and
-- bucket. Written by the flush in the same statement as flows.
CREATE TABLE flow_history (
	laddr       inet        NOT NULL, -- distribution key, as flows
	lport       integer     NOT NULL,
	direction   text        NOT NULL,
	proto       text        NOT NULL,
	raddr       inet        NOT NULL,
	rport       integer     NOT NULL,
	node_name   text        NOT NULL,
	netns       bigint      NOT NULL,
	pgid        bigint      NOT NULL,
	comm        text        NOT NULL,
	bucket      timestamptz NOT NULL, -- start of the bucket
	seconds     integer     NOT NULL, -- its width (SHAWK_HISTORY_BUCKET)
	connections bigint      NOT NULL, -- connections started in it
	PRIMARY KEY (laddr, lport, direction, proto, raddr, rport, node_name,
		     netns, pgid, comm, bucket)
) PARTITION BY RANGE (bucket);

-- The start of the bucket of width `seconds` holding t (buckets are
-- aligned on the Unix epoch, so every agent with the same width agrees).
CREATE FUNCTION shawk_bucket(t timestamptz, seconds integer)
RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT date_bin(make_interval(secs => seconds), t,
		   timestamptz '1970-01-01 00:00:00+00') $$;

-- Creates the missing daily (UTC) partitions covering [lo, hi]; returns
-- how many it created. Called by the flush before it writes (the days of
-- its flows, and the next one ahead) and by create-scheme. Two agents
-- creating the same day at once: the second one's error is swallowed.
CREATE FUNCTION shawk_history_prepare(lo timestamptz, hi timestamptz)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	d date := (lo AT TIME ZONE 'UTC')::date;
	last date := (hi AT TIME ZONE 'UTC')::date;
	n integer := 0;
	part text;
BEGIN
	IF last - d > 4000 THEN
		RAISE EXCEPTION 'shawk_history_prepare: % days: too many', last - d;
	END IF;
	WHILE d <= last LOOP
		part := 'flow_history_p' || to_char(d, 'YYYYMMDD');
		IF to_regclass(quote_ident(part)) IS NULL THEN
			BEGIN
				EXECUTE format('CREATE TABLE %I PARTITION OF flow_history'
					' FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = 70)',
					part, d::timestamp AT TIME ZONE 'UTC',
					(d + 1)::timestamp AT TIME ZONE 'UTC');
				n := n + 1;
			EXCEPTION WHEN duplicate_table OR invalid_object_definition THEN
				NULL;
			END;
		END IF;
		d := d + 1;
	END LOOP;
	RETURN n;
END
$$;

-- Whether an edge, as the edges view names it, has history near its
-- last_seen (every flush and the upgrade write the bucket of a flow's
-- last_seen; two partitions at most): if not, it was written by an agent
-- older than this schema (a rolling upgrade), and look falls back to its
-- flows' first/last seen. An active flow is read by its client, a
-- passive one (client not probed, client_pgid 0) by its server.
CREATE FUNCTION shawk_edge_has_history(e_proto text, c_addr inet,
	c_pgid bigint, c_comm text, s_addr inet, s_port integer,
	s_pgid bigint, s_comm text, e_last timestamptz)
RETURNS boolean LANGUAGE sql STABLE AS $$
SELECT EXISTS (
	SELECT 1 FROM flow_history f
	WHERE f.laddr = c_addr AND f.lport = 0 AND f.direction = 'active'
	  AND f.proto = e_proto AND f.raddr = s_addr AND f.rport = s_port
	  AND f.pgid = c_pgid AND f.comm = c_comm
	  AND f.bucket > e_last - interval '1 day' AND f.bucket <= e_last
	UNION ALL
	SELECT 1 FROM flow_history f
	WHERE c_pgid = 0 AND c_comm = ''
	  AND f.laddr = s_addr AND f.lport = s_port
	  AND f.direction = 'passive' AND f.proto = e_proto
	  AND f.raddr = c_addr AND f.rport = 0
	  AND f.pgid = s_pgid AND f.comm = s_comm
	  AND f.bucket > e_last - interval '1 day' AND f.bucket <= e_last)
$$;

-- When retention last ran to completion (one row), so that a fleet of
-- agents prunes once per period, not once per agent.
CREATE TABLE shawk_prune_state (
	id          boolean     PRIMARY KEY DEFAULT true CHECK (id),
	finished_at timestamptz NOT NULL,
	pending     boolean     NOT NULL
);

-- Retention: drops the history partitions wholly older than `retention`
-- and deletes at most `batch` rows per table of flows, nodes and pods not
-- seen within it. `every` (the agents': an hour) skips the run when one
-- completed within that period; NULL (`shawk prune`) runs now. Only one
-- session prunes at a time (an advisory lock; the others return
-- skipped). A partition whose lock is not granted within a second (a
-- flush holds it) is left for the next run: a flush never waits long.
-- more: a table had more than `batch` old rows (run again).
CREATE FUNCTION shawk_prune(retention interval, batch integer,
	every interval, OUT skipped boolean, OUT partitions integer,
	OUT deleted bigint, OUT more boolean)
LANGUAGE plpgsql AS $$
DECLARE
	cutoff timestamptz := now() - retention;
	p record;
	n bigint;
BEGIN
	skipped := true; partitions := 0; deleted := 0; more := false;
	-- "SHWL": another key than create-scheme's lock.
	IF NOT pg_try_advisory_xact_lock(1397249868) THEN
		RETURN;
	END IF;
	IF every IS NOT NULL AND EXISTS (SELECT 1 FROM shawk_prune_state
		WHERE NOT pending AND finished_at > now() - every) THEN
		RETURN;
	END IF;
	skipped := false;
	PERFORM set_config('lock_timeout', '1s', true);
	FOR p IN
		SELECT c.relname FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'flow_history'::regclass
		  AND c.relname ~ '^flow_history_p[0-9]{8}$'
		  AND (to_date(substr(c.relname, 15), 'YYYYMMDD') + 1)::timestamp
			AT TIME ZONE 'UTC' <= cutoff
		ORDER BY c.relname
	LOOP
		BEGIN
			EXECUTE format('DROP TABLE %I', p.relname);
			partitions := partitions + 1;
		EXCEPTION WHEN lock_not_available THEN
			more := true;
			EXIT;
		END;
	END LOOP;
	-- No index on last_seen (it would make every flush's update of it
	-- a non-HOT one): a bounded scan per table.
	DELETE FROM flows WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM flows WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM passive_nodes WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM passive_nodes WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM active_nodes WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM active_nodes WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	DELETE FROM pods WHERE ctid = ANY (ARRAY(
		SELECT ctid FROM pods WHERE last_seen < cutoff LIMIT batch));
	GET DIAGNOSTICS n = ROW_COUNT;
	deleted := deleted + n; more := more OR n >= batch;
	INSERT INTO shawk_prune_state AS o (finished_at, pending)
		VALUES (now(), more)
		ON CONFLICT (id) DO UPDATE SET finished_at = EXCLUDED.finished_at,
			pending = EXCLUDED.pending;
END
$$;

-- Existing data kept: each flow becomes history at the minute of its
-- first_seen (all of connections_total: when they started is not known
-- any better) and at the minute of its last_seen, within the last 400
-- days. The partitions of those days (and of today and tomorrow) first.
DO $$
DECLARE
	lo timestamptz;
BEGIN
	SELECT min(greatest(first_seen, now() - interval '400 days'))
		INTO lo FROM flows;
	PERFORM shawk_history_prepare(least(coalesce(lo, now()), now()),
				      now() + interval '1 day');
END
$$;
INSERT INTO flow_history (laddr, lport, direction, proto, raddr, rport,
	node_name, netns, pgid, comm, bucket, seconds, connections)
SELECT laddr, lport, direction, proto, raddr, rport, node_name, netns, pgid,
       comm, b.bucket, 60, sum(b.connections)
FROM flows,
     LATERAL (VALUES
	(shawk_bucket(greatest(first_seen, now() - interval '400 days'), 60),
	 connections_total),
	(shawk_bucket(greatest(last_seen, now() - interval '400 days'), 60), 0)
     ) b(bucket, connections)
GROUP BY laddr, lport, direction, proto, raddr, rport, node_name, netns, pgid,
	 comm, b.bucket;
