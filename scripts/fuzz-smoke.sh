#!/usr/bin/env bash
# A short fuzzing run for CI: every fuzz target for FUZZ_SECONDS (default 15, under two minutes in all), seeded
# with the recorded replies and streams and, when ONEPASS_BIN names a onepass binary (CI passes the one it
# installed), with the walk snapshot and pack cache it writes for a small repository: files of the version the
# binary writes, so the seeds follow the formats. Fails on the first crash; the input is left in fuzz/artifacts/.
# Needs cargo-fuzz (cargo install cargo-fuzz); on a stable toolchain RUSTC_BOOTSTRAP=1 stands in for nightly.
# The sanitizer is off (FUZZ_SANITIZER=address turns ASan on where its runtime exists): the targets are
# safe Rust, so a crash is a panic or a failed assertion.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-15}
sanitizer=${FUZZ_SANITIZER:-none}
export RUSTC_BOOTSTRAP=1
binseeds=$(mktemp -d)
trap 'rm -rf "$binseeds"' EXIT
if [ -n "${ONEPASS_BIN:-}" ]; then
  repo="$binseeds/repo"
  git init -q "$repo"
  printf 'fn main() {\n    println!("hello");\n}\n' >"$repo/main.rs"
  printf '# hello\n\nSays hello.\n' >"$repo/README.md"
  (cd "$repo" && "$ONEPASS_BIN" pack --budget 8000 "x" >/dev/null)
  mkdir -p "$binseeds/walk" "$binseeds/cache"
  cp "$repo"/.git/onepass/walk-*.bin "$binseeds/walk/"
  cp "$repo"/.git/onepass/pack-cache-*.bin "$binseeds/cache/"
fi
seeds() {
  case "$1" in
    patch_plan) echo ../fixtures/replies ;;
    sse_ndjson) echo ../fixtures/streams ;;
    walk_snapshot) if [ -d "$binseeds/walk" ]; then echo "$binseeds/walk"; fi ;;
    pack_cache | pack_cache_journal) if [ -d "$binseeds/cache" ]; then echo "$binseeds/cache"; fi ;;
    *) ;;
  esac
}
cargo fuzz build --sanitizer "$sanitizer" -O
for target in patch_plan sse_ndjson paths secrets walk_snapshot pack_cache pack_cache_journal; do
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
