#!/usr/bin/env bash
# Builds sidewatch the way it is shipped (release, statically linked, non-PIE)
# and runs the side-by-side benchmarks against the Go peers.
# Usage: bench/run.sh [--scrapes N]
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --quiet -p sidewatch-node --target "$target"
python3 bench/node.py "target/$target/release/sidewatch-node" "$@"
