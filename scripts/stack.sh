#!/usr/bin/env bash
# The compose stack without Docker: throwaway PostgreSQL 15 with pgvector,
# Redis, the five exporters, Prometheus with our rules and the same job names,
# and Alertmanager with our routing, all on loopback. It seeds from the same
# files as docker-compose.yml: postgres/initdb/ (the exporter's pg_monitor
# role, extensions), queue/queues.yml and the demo workload in demo/.
#
#   scripts/stack.sh up      # builds the exporters, starts everything
#   scripts/stack.sh down    # stops everything and removes the state
#
# Ports (environment): PROMETHEUS_PORT (9090), ALERTMANAGER_PORT (9093),
# PG_PORT (15432), REDIS_PORT (16379), NODE_PORT (9100), POSTGRES_EXPORTER_PORT
# (9187), REDIS_EXPORTER_PORT (9121), WAL_PORT (9741), QUEUE_PORT (9742).
# State lives in SIDEWATCH_STACK_DIR (default /tmp/sidewatch-stack).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=${SIDEWATCH_STACK_DIR:-/tmp/sidewatch-stack}
PROMETHEUS_PORT=${PROMETHEUS_PORT:-9090}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT:-9093}
PG_PORT=${PG_PORT:-15432}
REDIS_PORT=${REDIS_PORT:-16379}
NODE_PORT=${NODE_PORT:-9100}
POSTGRES_EXPORTER_PORT=${POSTGRES_EXPORTER_PORT:-9187}
REDIS_EXPORTER_PORT=${REDIS_EXPORTER_PORT:-9121}
WAL_PORT=${WAL_PORT:-9741}
QUEUE_PORT=${QUEUE_PORT:-9742}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
BIN=${SIDEWATCH_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug}
# A throwaway password: the stack is on loopback, but runs as compose does.
REDIS_PASSWORD=${REDIS_PASSWORD:-sidewatch-local}

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

as_postgres() {
  if [ "$(id -u)" -eq 0 ]; then setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"; else "$@"; fi
}

start() { # name, command...
  local name=$1; shift
  nohup "$@" >"$DIR/$name.log" 2>&1 &
  echo $! >"$DIR/$name.pid"
}

wait_http() { # url
  for _ in $(seq 1 100); do curl -fsS -m 1 -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.2; done
  echo "not answering: $1" >&2; return 1
}

up() {
  [ -e "$DIR/up" ] && { echo "already up ($DIR); run: $0 down" >&2; exit 1; }
  mkdir -p "$DIR"
  if [ -z "${SIDEWATCH_BIN:-}" ]; then
    log "building the exporters"
    cargo build --quiet -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue
  fi

  log "PostgreSQL on 127.0.0.1:$PG_PORT"
  mkdir -p "$DIR/pg"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR/pg" && chmod 755 "$DIR"
  as_postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust --no-sync >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/postgres.log" -w start -o \
    "-p $PG_PORT -k $DIR/pg -c listen_addresses=127.0.0.1 -c shared_preload_libraries=pg_stat_statements -c archive_mode=on -c archive_command=true" >/dev/null
  # The same init script the compose stack's PostgreSQL runs.
  PGHOST=127.0.0.1 PGPORT=$PG_PORT POSTGRES_USER=postgres POSTGRES_DB=postgres \
    MONITOR_PASSWORD=${MONITOR_PASSWORD:-sidewatch-local} bash "$ROOT/postgres/initdb/10-monitoring.sh" >/dev/null

  log "Redis on 127.0.0.1:$REDIS_PORT"
  start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$DIR" \
    --requirepass "$REDIS_PASSWORD" --maxmemory 256mb --maxmemory-policy noeviction
  for _ in $(seq 1 50); do REDISCLI_AUTH=$REDIS_PASSWORD redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

  log "the demo workload (demo/*.sh, as the compose stack's demo profile)"
  REDIS_HOST=127.0.0.1 REDISCLI_AUTH=$REDIS_PASSWORD start demo-redis sh "$ROOT/demo/redis.sh"
  PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres PGDATABASE=postgres start demo-postgres bash "$ROOT/demo/postgres.sh"
  TEXTFILE_DIR="$DIR/textfile" start demo-textfile sh "$ROOT/demo/textfile.sh"

  log "exporters"
  start node "$BIN/sidewatch-node" --web.listen-address="127.0.0.1:$NODE_PORT" --collector.textfile.directory="$DIR/textfile"
  DATA_SOURCE_NAME="postgresql://monitor@127.0.0.1:$PG_PORT/postgres?sslmode=disable" \
    start postgres-exporter "$BIN/sidewatch-postgres" --collector.database_wraparound --web.listen-address="127.0.0.1:$POSTGRES_EXPORTER_PORT"
  REDIS_PASSWORD=$REDIS_PASSWORD start redis-exporter "$BIN/sidewatch-redis" --redis.addr="redis://127.0.0.1:$REDIS_PORT" \
    --check-single-streams=events --web.listen-address="127.0.0.1:$REDIS_EXPORTER_PORT"
  start wal-exporter "$BIN/sidewatch-wal" --wal.dir="$DIR/pg/data/pg_wal" --web.listen-address="127.0.0.1:$WAL_PORT"
  # The shipped queues.yml with the loopback Redis.
  sed "s|redis://redis:6379|redis://127.0.0.1:$REDIS_PORT|" "$ROOT/queue/queues.yml" >"$DIR/queues.yml"
  REDIS_PASSWORD=$REDIS_PASSWORD start queue-exporter "$BIN/sidewatch-queue" --config.file="$DIR/queues.yml" --web.listen-address="127.0.0.1:$QUEUE_PORT"

  log "Alertmanager on 127.0.0.1:$ALERTMANAGER_PORT"
  mkdir -p "$DIR/am"
  sed "s|/etc/alertmanager/secrets/|$DIR/am/|" "$ROOT/alertmanager/alertmanager.yml" >"$DIR/am/alertmanager.yml"
  printf 'local\n' >"$DIR/am/pagerduty_routing_key"
  printf 'http://127.0.0.1:9/\n' >"$DIR/am/slack_webhook_url"
  printf 'local\n' >"$DIR/am/heartbeat_token"
  start alertmanager "$(command -v prometheus-alertmanager || command -v alertmanager)" \
    --config.file="$DIR/am/alertmanager.yml" --storage.path="$DIR/am/data" \
    --web.listen-address="127.0.0.1:$ALERTMANAGER_PORT" --cluster.listen-address=

  log "Prometheus on 127.0.0.1:$PROMETHEUS_PORT"
  mkdir -p "$DIR/prom"
  # The shipped prometheus.yml with loopback targets and local paths.
  sed -e "s|/etc/prometheus/rules/|$ROOT/alerts/|" \
      -e "s|alertmanager:9093|127.0.0.1:$ALERTMANAGER_PORT|" \
      -e "s|\"node:9100\"|\"127.0.0.1:$NODE_PORT\"|" \
      -e "s|\"postgres-exporter:9187\"|\"127.0.0.1:$POSTGRES_EXPORTER_PORT\"|" \
      -e "s|\"redis-exporter:9121\"|\"127.0.0.1:$REDIS_EXPORTER_PORT\"|" \
      -e "s|\"wal-exporter:9741\"|\"127.0.0.1:$WAL_PORT\"|" \
      -e "s|\"queue-exporter:9742\"|\"127.0.0.1:$QUEUE_PORT\"|" \
      -e "s|scrape_interval: 15s|scrape_interval: ${SCRAPE_INTERVAL:-15s}|" \
      -e "s|evaluation_interval: 15s|evaluation_interval: ${SCRAPE_INTERVAL:-15s}|" \
      -e "s|scrape_timeout: 10s|scrape_timeout: ${SCRAPE_TIMEOUT:-10s}|" \
      "$ROOT/prometheus/prometheus.yml" >"$DIR/prom/prometheus.yml"
  start prometheus prometheus --config.file="$DIR/prom/prometheus.yml" \
    --storage.tsdb.path="$DIR/prom/data" --web.listen-address="127.0.0.1:$PROMETHEUS_PORT"

  for url in "http://127.0.0.1:$NODE_PORT/metrics" "http://127.0.0.1:$POSTGRES_EXPORTER_PORT/metrics" \
             "http://127.0.0.1:$REDIS_EXPORTER_PORT/metrics" "http://127.0.0.1:$WAL_PORT/metrics" \
             "http://127.0.0.1:$QUEUE_PORT/metrics" "http://127.0.0.1:$ALERTMANAGER_PORT/-/ready" \
             "http://127.0.0.1:$PROMETHEUS_PORT/-/ready"; do
    wait_http "$url"
  done
  touch "$DIR/up"
  log "up: Prometheus http://127.0.0.1:$PROMETHEUS_PORT, Alertmanager http://127.0.0.1:$ALERTMANAGER_PORT (state in $DIR)"
}

down() {
  [ -d "$DIR" ] || { log "nothing to stop"; return 0; }
  for pidfile in "$DIR"/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  if [ -d "$DIR/pg/data" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  sleep 0.5
  rm -rf "$DIR"
  log "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
