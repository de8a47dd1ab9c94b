#!/usr/bin/env bash
# Large and odd repository check (issue 8, item 6): builds a throwaway repository with N small files (default
# 100000) plus the odd cases (a 50 MB file, binary files with text extensions, invalid UTF-8, CRLF, a nested
# repository, secrets), runs `onepass pack --json` on it, and prints the wall time, peak memory and what was
# packed and skipped. Not a timed test: run it by hand or from CI when the walker or the packer changes.
#
#   bench/large-repo.sh [N]            (ONEPASS_BIN=path/to/onepass to pick the binary; default target/release,
#                                        else target/debug)
set -euo pipefail
n=${1:-100000}
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${ONEPASS_BIN:-}
if [ -z "$bin" ]; then
  for b in "$here/target/release/onepass" "$here/target/debug/onepass"; do
    [ -x "$b" ] && bin=$b && break
  done
fi
[ -x "${bin:-}" ] || { echo "build onepass first (cargo build --release)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
git init -q "$repo"
python3 - "$repo" "$n" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "src", f"m{i % 500}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.rs"), "w") as f:
        f.write(f"pub fn f{i}() -> u32 {{ {i} }}\n")
with open(os.path.join(root, "big.sql"), "wb") as f:
    f.truncate(50 * 1024 * 1024)
with open(os.path.join(root, "image.txt"), "wb") as f:
    f.write(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + bytes(64))
with open(os.path.join(root, "latin1.md"), "wb") as f:
    f.write(b"caf\xe9\n")
with open(os.path.join(root, "crlf.rs"), "wb") as f:
    f.write(b"fn a() {}\r\nfn b() {}\r\n")
os.makedirs(os.path.join(root, "vendor", "dep", ".git"), exist_ok=True)
with open(os.path.join(root, "vendor", "dep", "lib.rs"), "w") as f:
    f.write("pub fn dep() {}\n")
with open(os.path.join(root, "deploy.pem"), "w") as f:
    f.write("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n")
with open(os.path.join(root, "config.yml"), "w") as f:
    f.write('password: "Tr0ub4dor&3"\n')
PY
echo "repository: $n files + odd cases, binary: $bin"
out=$work/report.json
/usr/bin/time -f "wall %e s, peak RSS %M KiB" \
  env ONEPASS_ENDPOINT=http://127.0.0.1:9 "$bin" pack -C "$repo" --json "add a flag" >"$out"
python3 - "$out" <<'PY'
import json, sys, collections
r = json.load(open(sys.argv[1]))
kinds = collections.Counter(s["reason"]["kind"] for s in r["skipped"])
print(f"packed {len(r['files'])} files, omitted {len(r['omitted'])}, prompt {r['prompt_tokens']} tokens")
print("skipped:", dict(kinds))
print("secrets withheld:", [f["path"] for f in r["secrets"]["files"]],
      "redactions:", len(r["secrets"]["redactions"]))
print("timings ms:", r["timings_ms"])
PY
