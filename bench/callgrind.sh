#!/usr/bin/env bash
# Instructions per scrape of one exporter, counted by callgrind: steady on a
# busy machine, unlike CPU time, so a change can be measured while CI runs.
# Usage: bench/callgrind.sh BINARY [SCRAPES] [-- EXPORTER ARGS...]
# Build an unstripped twin of the shipped binary for readable profiles:
#   RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
#   CARGO_TARGET_DIR=/tmp/prof CARGO_PROFILE_RELEASE_STRIP=false \
#   CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
#   cargo build --release -p sidewatch-node --target x86_64-unknown-linux-gnu
# The profile is left in the printed file: callgrind_annotate --inclusive=yes FILE
set -euo pipefail
binary=$1; scrapes=${2:-30}; shift $(( $# >= 2 ? 2 : 1 ))
[ "${1:-}" = -- ] && shift
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: valgrind)" >&2; exit 1; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp -d)/callgrind.out
valgrind --tool=callgrind --callgrind-out-file="$out" --instr-atstart=no \
  "$binary" --web.listen-address="127.0.0.1:$port" "$@" >"$out.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/live" && break; sleep 1; done
# Warm-up scrapes (first-use allocations, caches), then only the counted ones.
for _ in 1 2 3 4 5; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
callgrind_control -i on "$pid" >/dev/null 2>&1
for _ in $(seq 1 "$scrapes"); do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
callgrind_control -d "$pid" >/dev/null 2>&1
sleep 1
kill "$pid"; wait "$pid" 2>/dev/null || true
file=$(ls -S "$out"* | grep -v '\.log$' | head -1)
total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$(basename "$binary"): $((total / scrapes)) instructions per scrape ($scrapes scrapes); profile: $file"
