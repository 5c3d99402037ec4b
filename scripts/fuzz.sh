#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ (libFuzzer, the layout cargo-fuzz
# uses) for a while.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s, all)
#
# Each target starts from its committed seeds (fuzz/corpus/<target>) plus
# what earlier runs found (kept in fuzz/target/corpus, not committed). A crash
# leaves its input in fuzz/artifacts/<target>/ and makes this exit 1. Prints
# one line per target: executions, corpus size, and the result.
#
# The targets build with coverage instrumentation and no sanitizer (the code
# is safe Rust), so the machine's stable toolchain is enough. They are built
# by cargo itself with the instrumentation flags `cargo fuzz build
# --sanitizer none` passes (cargo-fuzz 0.13.2), one codegen unit per crate
# included (sixteen built slower here: 300 s cold against 281 s): installing
# cargo-fuzz only for that took a cold suite a minute. `cargo fuzz run`
# works on the same directory for longer sessions.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^sidewatch-fuzz$')
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# The instrumented build is kept in the cache, not in the clone: a clean
# clone then rebuilds only the workspace's own crates, not every dependency
# (a warm suite spent 4 of its 14 minutes on it). The corpus found so far
# stays in fuzz/target/corpus.
CACHE=${SIDEWATCH_CACHE:-$HOME/.cache/sidewatch}
export CARGO_TARGET_DIR=${SIDEWATCH_FUZZ_TARGET_DIR:-$CACHE/fuzz-target}
log "building ${#targets[@]} fuzz targets"
fuzz_build() {
  RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing \
-Cllvm-args=-simplifycfg-branch-fold-threshold=0 -Cllvm-args=-sanitizer-coverage-stack-depth \
-Ccodegen-units=1" \
    cargo build --manifest-path fuzz/Cargo.toml --target x86_64-unknown-linux-gnu --release \
      --config 'profile.release.debug="line-tables-only"' --bins "$@"
}
fuzz_build --quiet >/dev/null 2>&1 || { fuzz_build; exit 1; }

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
  "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t" "$found" "fuzz/corpus/$t" \
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
