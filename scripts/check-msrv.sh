#!/usr/bin/env bash
# Checks the MSRV stated in Cargo.toml (rust-version) without a second toolchain: no locked dependency may
# need a newer Rust, and clippy's incompatible_msrv lint (run with -D warnings in CI) flags any use of a
# standard-library API newer than the stated version in onepass's own code.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo metadata --locked --format-version 1 | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def parse(v): return tuple(int(x) for x in (v or "0").split("."))
ours = next(p for p in meta["packages"] if p["name"] == "onepass")
msrv = ours.get("rust_version")
if not msrv:
    sys.exit("Cargo.toml states no rust-version")
worst = max(((parse(p.get("rust_version")), p["name"], p.get("rust_version")) for p in meta["packages"] if p["name"] != "onepass"))
if worst[0] > parse(msrv):
    sys.exit(f"MSRV {msrv} is too low: {worst[1]} needs Rust {worst[2]}")
print(f"MSRV {msrv}: every dependency builds with it (the most demanding, {worst[1]}, needs {worst[2]})")
'
