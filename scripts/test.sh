#!/usr/bin/env bash
# The one test command: installs what is missing (idempotently), then runs
# formatting, lints and every test. Works as root on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

# --- system packages -------------------------------------------------------
# program-or-file : package
REQUIRED=(
  "/usr/lib/postgresql/15/bin/postgres:postgresql-15"
  "/usr/bin/psql:postgresql-client-15"
  "/usr/bin/redis-server:redis-server"
  "/usr/bin/prometheus:prometheus"
  "/usr/bin/promtool:prometheus"
  "/usr/bin/prometheus-alertmanager:prometheus-alertmanager"
  "/usr/bin/amtool:prometheus-alertmanager"
  "/usr/bin/prometheus-node-exporter:prometheus-node-exporter"
  "/usr/bin/prometheus-redis-exporter:prometheus-redis-exporter"
  "/usr/bin/node:nodejs"
  "/usr/bin/npm:npm"
  "/usr/bin/openssl:openssl"
  "/usr/bin/curl:curl"
  "/usr/sbin/dockerd:docker.io"
  "/usr/sbin/debootstrap:debootstrap"
  "/bin/ip:iproute2"
  "/usr/bin/nsenter:util-linux"
  "/usr/sbin/pgbouncer:pgbouncer"
)
missing=()
for entry in "${REQUIRED[@]}"; do
  path=${entry%%:*}; pkg=${entry#*:}
  [ -e "$path" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  log "installing: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # Packages' own services are not wanted: tests start their own instances.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

# kubectl renders deploy/kubernetes with its built-in kustomize (the suite
# validates the result offline; no cluster is needed).
command -v kubectl >/dev/null || { echo "kubectl (with kustomize) is required: deploy/kubernetes is rendered with it" >&2; exit 1; }

# --- Rust tooling ----------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo is required" >&2; exit 1; }
if ! cargo nextest --version >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt clippy >/dev/null 2>&1 || true

# --- today's Prometheus tools (sid), for promtool/amtool and the images ------
CACHE=${SIDEWATCH_CACHE:-$HOME/.cache/sidewatch}
mkdir -p "$CACHE"
log "sid's prometheus, promtool, alertmanager and the peers"
bash scripts/fetch-debian.sh sid prometheus promtool prometheus-alertmanager \
  prometheus-postgres-exporter prometheus-redis-exporter prometheus-node-exporter >/dev/null

# --- Docker: the engine (stopped again at exit if started here), images -----
rm -f "$CACHE/dockerd.pid"
stop_dockerd() {
  if [ -s "$CACHE/dockerd.pid" ]; then
    local pid
    pid=$(cat "$CACHE/dockerd.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    rm -f "$CACHE/dockerd.pid"
  fi
}
trap stop_dockerd EXIT
docker_log=$(mktemp)
bash scripts/setup-docker.sh >"$docker_log" 2>&1 &
docker_pid=$!

# --- PostgreSQL extras: the peer, pgvector, RuVector, PostgreSQL 16 ---------
# Built in the background while the workspace compiles (RuVector takes
# minutes the first time; later runs use the cache).
setup_log=$(mktemp)
bash scripts/setup-postgres.sh >"$setup_log" 2>&1 &
setup_pid=$!
# The job-queue libraries sidewatch-queue's tests enqueue with (PyPI, npm).
libs_log=$(mktemp)
bash scripts/setup-test-tools.sh >"$libs_log" 2>&1 &
libs_pid=$!

# --- checks ----------------------------------------------------------------
# The workspace's build is kept in the cache, not in the clone: a clean
# clone then compiles only what changed (cargo's fingerprints decide), not
# every dependency again for clippy, the build and the tests (a warm suite
# spent about 5 of its 12 minutes there). CARGO_TARGET_DIR set by the caller
# wins. Set here, after the set-up scripts started: their own cargo runs
# (cargo-pgrx's install) keep theirs.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$CACHE/target}
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "building"
cargo build --workspace --all-targets --quiet
await() { # script, pid, log: its progress lines, or all of its output and exit 1
  log "waiting for $1"
  if ! wait "$2"; then
    cat "$3" >&2
    echo "$1 failed" >&2
    exit 1
  fi
  grep '^==>' "$3" >&2 || true
}
await scripts/setup-postgres.sh "$setup_pid" "$setup_log"
await scripts/setup-test-tools.sh "$libs_pid" "$libs_log"
await scripts/setup-docker.sh "$docker_pid" "$docker_log"
# Every fuzz target for a short while (scripts/fuzz.sh 60 for longer runs);
# before the tests, so that their summary closes the output.
log "fuzz targets, ${SIDEWATCH_FUZZ_SECONDS:-10} s each"
bash scripts/fuzz.sh "${SIDEWATCH_FUZZ_SECONDS:-10}"
log "tests"
cargo nextest run --workspace --no-fail-fast --profile ci
