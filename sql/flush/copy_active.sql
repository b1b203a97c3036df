-- SPDX-License-Identifier: MIT
-- Streams the encoded active rows into their staging table (tables.sql).
COPY shawk_flush_active FROM STDIN (FORMAT binary)
