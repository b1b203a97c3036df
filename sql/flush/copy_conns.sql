-- SPDX-License-Identifier: MIT
-- Streams the identities of the batch's new connections (tables.sql).
COPY shawk_flush_conns FROM STDIN (FORMAT binary)
