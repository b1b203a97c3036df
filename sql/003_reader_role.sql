-- SPDX-License-Identifier: MIT
-- shawk CMDB, version 3: the read-only role for `shawk look` users.
-- Agents write with the owner's credentials; people and dashboards log in
-- as their own role granted shawk_reader. Creating a role needs CREATEROLE:
-- without it this only says so (docs/cmdb.md has the SQL to run as admin).
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shawk_reader') THEN
		CREATE ROLE shawk_reader NOLOGIN;
	END IF;
	EXECUTE format('GRANT USAGE ON SCHEMA %I TO shawk_reader', current_schema());
	EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO shawk_reader', current_schema());
	EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO shawk_reader', current_schema());
EXCEPTION WHEN insufficient_privilege THEN
	RAISE NOTICE 'shawk: no privilege to create role shawk_reader; see docs/cmdb.md';
END
$$;
