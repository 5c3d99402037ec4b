#!/bin/bash
# The demo workload's PostgreSQL half: a table of 8-dimensional vectors with
# an HNSW index (pgvector), nearest-neighbour searches on it and a steady
# trickle of inserts and deletes, once a second, so the vector and WAL panels
# have data minutes after `docker compose up` (the `demo` profile) or
# `scripts/stack.sh up`. Connection: the libpq variables (PGHOST, PGPORT,
# PGUSER, PGPASSWORD, PGDATABASE). Runs until stopped; a server that goes
# away is waited for.
set -u
psql=(psql -X -q -v ON_ERROR_STOP=1)
until "${psql[@]}" -c 'SELECT 1' >/dev/null 2>&1; do sleep 1; done
"${psql[@]}" >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS demo_items (
  id bigserial PRIMARY KEY,
  embedding vector(8) NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO demo_items (embedding)
  SELECT (SELECT array_agg(random())::real[] FROM generate_series(1, 8) WHERE g > 0)::vector
  FROM generate_series(1, 500) AS g
  WHERE NOT EXISTS (SELECT 1 FROM demo_items);
CREATE INDEX IF NOT EXISTS demo_items_embedding_hnsw ON demo_items USING hnsw (embedding vector_l2_ops);
SQL
echo "demo workload: feeding PostgreSQL at ${PGHOST:-local}:${PGPORT:-5432}"

while :; do
  "${psql[@]}" >/dev/null 2>&1 <<'SQL'
INSERT INTO demo_items (embedding)
  SELECT (SELECT array_agg(random())::real[] FROM generate_series(1, 8) WHERE g > 0)::vector
  FROM generate_series(1, 20) AS g;
DELETE FROM demo_items WHERE id < (SELECT max(id) - 2000 FROM demo_items);
SET enable_seqscan = off;
SELECT id FROM demo_items ORDER BY embedding <-> (SELECT array_agg(random())::real[] FROM generate_series(1, 8))::vector LIMIT 5;
SELECT id FROM demo_items ORDER BY embedding <-> (SELECT array_agg(random())::real[] FROM generate_series(1, 8))::vector LIMIT 5;
SELECT id FROM demo_items ORDER BY embedding <-> (SELECT array_agg(random())::real[] FROM generate_series(1, 8))::vector LIMIT 5;
SQL
  sleep 1
done
