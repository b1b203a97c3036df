-- SPDX-License-Identifier: MIT
-- Streams the encoded passive rows into their staging table (tables.sql).
COPY shawk_flush_passive FROM STDIN (FORMAT binary)
