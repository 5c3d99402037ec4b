#!/usr/bin/env bash
# Builds the five exporters as shipped (release, static) and soaks them under
# steady scraping with faults injected (bench/soak.py).
# Usage: bench/soak.sh [SECONDS]      (default 600)
set -euo pipefail
cd "$(dirname "$0")/.."
target=x86_64-unknown-linux-gnu
RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --quiet --target "$target" \
  -p sidewatch-node -p sidewatch-postgres -p sidewatch-redis -p sidewatch-wal -p sidewatch-queue
exec python3 bench/soak.py "target/$target/release" --seconds "${1:-600}"
