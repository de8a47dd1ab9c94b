#!/usr/bin/env bash
# A short fuzzing run for CI: every fuzz target for FUZZ_SECONDS (default 15, about a minute in all), seeded
# with the recorded replies and streams. Fails on the first crash; the input is left in fuzz/artifacts/.
# Needs cargo-fuzz (cargo install cargo-fuzz); on a stable toolchain RUSTC_BOOTSTRAP=1 stands in for nightly.
# The sanitizer is off (FUZZ_SANITIZER=address turns ASan on where its runtime exists): the targets are
# safe Rust, so a crash is a panic or a failed assertion.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-15}
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1
seeds() {
  case "$1" in
    patch_plan) echo ../fixtures/replies ;;
    sse_ndjson) echo ../fixtures/streams ;;
    *) ;;
  esac
}
cargo fuzz build --sanitizer "$sanitizer" -O
for target in patch_plan sse_ndjson paths secrets; do
  mkdir -p "corpus/$target"
  echo "fuzz: $target for ${seconds}s"
  log=$(mktemp)
  status=0
  # shellcheck disable=SC2046
  cargo fuzz run --sanitizer "$sanitizer" -O "$target" "corpus/$target" $(seeds "$target") -- \
    -max_total_time="$seconds" -max_len=16384 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E "stat::number_of_executed_units|panicked|SUMMARY|crash-" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log" >&2
    echo "fuzz: $target crashed" >&2
    exit 1
  fi
  rm -f "$log"
done
echo "fuzz: no crash"
