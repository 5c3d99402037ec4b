#!/bin/bash
# Run once, when the data directory is created (the postgres image runs
# /docker-entrypoint-initdb.d/*; scripts/stack.sh runs this file too): the
# extensions the exporter reads, and the login role it uses — a member of
# pg_monitor, not a superuser — with MONITOR_PASSWORD.
set -euo pipefail
: "${MONITOR_USER:=monitor}"
psql -X -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
  --set user="$MONITOR_USER" --set password="${MONITOR_PASSWORD:?set MONITOR_PASSWORD}" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS vector;
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE pg_monitor', :'user', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') \gexec
SQL
