#!/usr/bin/env bash
# Builds sidewatch in release mode and runs the side-by-side benchmarks.
# Usage: bench/run.sh [--scrapes N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p sidewatch-node
python3 bench/node.py target/release/sidewatch-node "$@"
