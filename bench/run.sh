#!/usr/bin/env bash
# Builds sidewatch the way it is shipped (release, statically linked, non-PIE)
# and runs the side-by-side benchmarks against the Go peers.
# Usage: bench/run.sh [node|postgres|redis|wal|queue]...   (all when none named)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
which=("$@")
[ ${#which[@]} -gt 0 ] || which=(node postgres redis wal queue)
# All five in one build, as the Dockerfile builds them: cargo unifies the
# dependencies' features over the packages of one build, and with them the
# code and the symbol names that symbol-order.txt lists.
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --quiet --target "$target" \
    -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue
for name in "${which[@]}"; do
  echo "## sidewatch-$name"
  echo
  python3 "bench/$name.py" "target/$target/release/sidewatch-$name"
  if [ "$name" = node ]; then
    # Each exporter's default collectors: the set issue 17's ratios are on.
    echo
    python3 bench/node.py "target/$target/release/sidewatch-node" --defaults
  fi
  echo
done
