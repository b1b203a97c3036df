-- SPDX-License-Identifier: MIT
-- Streams the encoded flows rows into their staging table (tables.sql).
COPY shawk_flush_flows FROM STDIN (FORMAT binary)
