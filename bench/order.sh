#!/usr/bin/env bash
# Writes the link order of one exporter's functions: those a scrape runs
# first, then those only start-up runs, so that the code a running exporter
# touches sits in as few pages as possible (docs/benchmarks.md, "Code
# order"). The exporter's build.rs hands the file to the linker.
#
# Usage: bench/order.sh NAME [-- EXPORTER ARGS...]
#   NAME: node, postgres, redis, wal or queue; the target it scrapes comes
#   from its usual environment (DATA_SOURCE_NAME, REDIS_ADDR, ...).
# Writes exporters/NAME/symbol-order.txt. Needs valgrind. Names that a later
# change renames or removes are skipped by the linker, so a stale file costs
# resident pages, never a failed build.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: bench/order.sh NAME [-- ARGS...]}
shift
[ "${1:-}" = -- ] && shift
command -v valgrind >/dev/null || { echo "valgrind is needed (Debian: valgrind)" >&2; exit 1; }
target=x86_64-unknown-linux-gnu
prof=${CARGO_TARGET_DIR_ORDER:-/tmp/sidewatch-order}
# The shipped build with its symbols kept: the same code, the same names
# (the linker strips them otherwise: common/symbol-order.rs). All five in
# one build, as the Dockerfile and bench/run.sh build them: cargo unifies
# the dependencies' features over one build's packages, and the names with
# them.
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  CARGO_TARGET_DIR="$prof" SIDEWATCH_STRIP=0 \
  cargo build --release --quiet --target "$target" \
    -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue
binary="$prof/$target/release/sidewatch-$name"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
work=$(mktemp -d)
valgrind --tool=callgrind --callgrind-out-file="$work/out" --demangle=no \
  --compress-strings=no --compress-pos=no \
  "$binary" --web.listen-address="127.0.0.1:$port" "$@" >"$work/log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -sf -o /dev/null "http://127.0.0.1:$port/health/live" && break; sleep 1; done
# Start-up and the first scrapes (first-use paths) go to the first dump...
for _ in 1 2 3; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics"; done
callgrind_control -d "$pid" >/dev/null
# ...steady scrapes, and what a scraper and a prober also ask, to the second.
for _ in $(seq 1 20); do
  curl -s -o /dev/null "http://127.0.0.1:$port/metrics"
  curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$port/metrics"
  curl -s -o /dev/null "http://127.0.0.1:$port/health/live"
  curl -s -o /dev/null "http://127.0.0.1:$port/health/ready"
done
callgrind_control -d "$pid" >/dev/null
kill "$pid"; wait "$pid" 2>/dev/null || true
trap - EXIT
python3 - "$work" "exporters/$name/symbol-order.txt" <<'EOF'
import glob, re, sys
work, out = sys.argv[1:]
def functions(path):
    """Functions with instructions of their own in a callgrind dump, most first."""
    cost, fn, call = {}, None, False
    for line in open(path, errors="replace"):
        if line.startswith("fn="):
            fn = re.sub(r"'\d+$", "", line[3:].strip())
        elif line.startswith("calls="):
            call = True  # the next cost line is the callee's, inclusive
        elif fn and line[:1].isdigit():
            parts = line.split()
            if not call and len(parts) >= 2 and parts[1].isdigit():
                cost[fn] = cost.get(fn, 0) + int(parts[1])
            call = False
    # Names only: addresses without a symbol cannot be ordered.
    return [f for f, _ in sorted(cost.items(), key=lambda kv: -kv[1])
            if not f.startswith("0x")]
dumps = sorted(glob.glob(f"{work}/out.*"), key=lambda p: int(p.rsplit(".", 1)[1]))
if len(dumps) < 2:
    sys.exit(f"callgrind wrote {len(dumps)} dumps, 2 expected (see {work}/log)")
start, steady = functions(dumps[0]), functions(dumps[1])
hot = set(steady)
order = steady + [f for f in start if f not in hot]
with open(out, "w") as f:
    f.write("\n".join(order) + "\n")
print(f"{out}: {len(steady)} functions a scrape runs, then {len(order) - len(steady)} of start-up only")
EOF
