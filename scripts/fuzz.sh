#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ (cargo-fuzz, libFuzzer) for a while.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, all)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>) plus
# what earlier runs found (kept in fuzz/target/corpus, not committed). A crash
# leaves its input in fuzz/artifacts/<target>/ and makes this exit 1. Prints
# one line per target: executions, corpus size, and the result.
#
# The targets build with coverage instrumentation and no sanitizer (the code
# is safe Rust), so the machine's stable toolchain is enough.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
CARGO_FUZZ_VERSION=0.13.2

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi

mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sidewatch-fuzz$')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

log "building ${#targets[@]} fuzz targets"
cargo fuzz build --sanitizer none --fuzz-dir fuzz >/dev/null 2>&1 || {
  cargo fuzz build --sanitizer none --fuzz-dir fuzz
  exit 1
}

failed=0
passed=0
printf '%-14s %12s %8s  %s\n' target executions corpus result
for t in "${targets[@]}"; do
  found="fuzz/target/corpus/$t"
  mkdir -p "$found" "fuzz/artifacts/$t"
  out=$(mktemp)
  set +e
  # The binaries built above run directly: a change to the sources while
  # this runs does not rebuild them half-way. -timeout: one input taking
  # longer is a hang, reported as a crash.
  "fuzz/target/x86_64-unknown-linux-gnu/release/$t" "$found" "fuzz/corpus/$t" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" >"$out" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  corpus=$(find "$found" "fuzz/corpus/$t" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    result=ok
    passed=$((passed + 1))
  else
    result="FAILED (exit $rc; input in fuzz/artifacts/$t/)"
    failed=$((failed + 1))
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$out" | head -20 >&2 || tail -20 "$out" >&2
  fi
  printf '%-14s %12s %8s  %s\n' "$t" "${execs:-?}" "$corpus" "$result"
  rm -f "$out"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
