-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 1: what the probes write. See docs/cmdb.md.
--
-- No surrogate keys and no foreign keys: every row is identified by its
-- natural key, which starts with an address (the distribution key), so the
-- tables can be sharded by a distributed PostgreSQL without a global
-- sequence or cross-shard constraint.

-- One row per flow as one agent observes it: (direction, local endpoint,
-- peer endpoint, local process). Port 0 means "many" (the ephemeral side).
CREATE TABLE flows (
	laddr             inet        NOT NULL, -- distribution key
	node_name         text        NOT NULL, -- the agent that saw it
	direction         text        NOT NULL CHECK (direction IN ('passive', 'active')),
	proto             text        NOT NULL CHECK (proto IN ('tcp', 'udp')),
	lport             integer     NOT NULL,
	raddr             inet        NOT NULL,
	rport             integer     NOT NULL,
	netns             bigint      NOT NULL,
	pgid              bigint      NOT NULL,
	comm              text        NOT NULL,
	container_name    text,
	connections       integer     NOT NULL, -- in the last flushed interval
	connections_total bigint      NOT NULL, -- each connection counted once
	first_seen        timestamptz NOT NULL,
	last_seen         timestamptz NOT NULL,
	PRIMARY KEY (laddr, lport, direction, proto, raddr, rport, node_name,
		     netns, pgid, comm)
);

-- Passive nodes: a listening endpoint and the process behind it.
CREATE TABLE passive_nodes (
	addr           inet        NOT NULL, -- distribution key
	port           integer     NOT NULL,
	proto          text        NOT NULL,
	pgid           bigint      NOT NULL,
	comm           text        NOT NULL,
	node_name      text        NOT NULL,
	pid            bigint,
	cmdline        text,
	cgroup         text,
	container_id   text,
	container_name text,
	pod_namespace  text,
	pod_name       text,
	pod_uid        text,
	first_seen     timestamptz NOT NULL,
	last_seen      timestamptz NOT NULL,
	PRIMARY KEY (addr, port, proto, pgid, comm)
);

-- Active nodes: a client process at an address (its ports are "many").
CREATE TABLE active_nodes (
	addr           inet        NOT NULL, -- distribution key
	pgid           bigint      NOT NULL,
	comm           text        NOT NULL,
	node_name      text        NOT NULL,
	pid            bigint,
	cmdline        text,
	cgroup         text,
	container_id   text,
	container_name text,
	pod_namespace  text,
	pod_name       text,
	pod_uid        text,
	first_seen     timestamptz NOT NULL,
	last_seen      timestamptz NOT NULL,
	PRIMARY KEY (addr, pgid, comm)
);

-- The last batch each probe instance committed: a batch retried after a
-- lost COMMIT acknowledgement is recognised and not counted twice.
CREATE TABLE flush_batches (
	node_name  text        NOT NULL, -- distribution key
	boot_id    bigint      NOT NULL, -- random per probe process
	seq        bigint      NOT NULL,
	flushed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (node_name, boot_id)
);
