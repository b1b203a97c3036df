-- SPDX-License-Identifier: MIT
-- $1 node_name, $2 boot_id, $3 seq (struct cmdb_batch).
-- The batch claim succeeds only for a seq newer than the last committed
-- one of this probe process; no row back means "already applied".
INSERT INTO flush_batches AS o (node_name, boot_id, seq)
 VALUES ($1, $2, $3)
 ON CONFLICT (node_name, boot_id) DO UPDATE SET seq = EXCLUDED.seq,
  flushed_at = now() WHERE o.seq < EXCLUDED.seq
 RETURNING seq
