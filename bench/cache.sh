#!/usr/bin/env bash
# Benchmark: what a second pass costs against a REAL llama-server (issue 6).
#
#   bench/cache.sh            # builds onepass (release), starts a llama-server on $PORT, prints a table
#
# Over a generated sample repository (~15k prompt tokens), it measures prompt tokens processed (prompt minus
# cached) and time to first token for: a cold request; the same request again; a different request with
# --same-context; `again --note`; a request after `warm`; a request after a server restart with a saved slot.
# Targets: every row after the first processes <= 5% of the prompt and has a TTFT <= 15% of the cold one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
export PORT="${PORT:-18095}" CTX="${CTX:-20480}"
# The scripts find their cache through HOME, which is changed below for onepass: pin it first.
export ONEPASS_CI_CACHE="${ONEPASS_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/onepass-ci}"
cargo build --release --quiet
bin="$here/target/release/onepass"
started="$(scripts/start-llama-server.sh)" || exit 1
eval "$started"
url="$ONEPASS_LLAMA_URL"
trap 'scripts/start-llama-server.sh stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

work="$(mktemp -d)"
repo="$work/repo"
mkdir -p "$repo/src"
python3 - "$repo" <<'PY'
import sys, random
random.seed(7)
root = sys.argv[1]
words = ["config", "greeting", "parse", "render", "cache", "token", "budget", "slot", "prefix", "server"]
for n in range(48):
    lines = [f"//! Module {n}: helpers for {random.choice(words)} handling.", ""]
    for i in range(14):
        a, b = random.choice(words), random.choice(words)
        lines.append(f"pub fn {a}_{b}_{n}_{i}(input: &str, limit: usize) -> Option<String> {{")
        lines.append(f"    let trimmed = input.trim_start_matches('{a[0]}');")
        lines.append(f"    if trimmed.len() > limit {{ return None; }}")
        lines.append(f"    Some(format!(\"{b}:{{}}\", trimmed))")
        lines.append("}")
        lines.append("")
    open(f"{root}/src/module_{n:02}.rs", "w").write("\n".join(lines))
open(f"{root}/src/main.rs", "w").write("fn main() {\n    println!(\"hello\");\n}\n")
PY
git -C "$repo" init -q && git -C "$repo" add -A && git -C "$repo" -c user.name=b -c user.email=b@b commit -qm sample

export HOME="$work/home" ONEPASS_ENDPOINT="$url" ONEPASS_MAX_TOKENS=8
mkdir -p "$HOME"
measure() { # label, args...
    local label="$1"; shift
    local out
    out="$(cd "$repo" && "$bin" "$@" --json 2>"$work/stderr" || true)"
    python3 - "$label" "$out" <<'PY'
import json, sys
label, text = sys.argv[1], sys.argv[2]
r = json.loads(text)
m = r.get("metrics") or {}
p, c, t = m.get("prompt_tokens"), m.get("cached_tokens"), m.get("ttft_ms")
print(f"{label}\t{p}\t{c}\t{(p or 0) - (c or 0)}\t{t}")
PY
}
erase() { curl -s -X POST "$url/slots/0?action=erase" >/dev/null; }

erase
{
measure "cold request" -y --budget 18000 "add a --verbose flag"
measure "same request again" -y --budget 18000 "add a --verbose flag"
measure "--same-context, new request" -y --same-context "make the greeting configurable"
measure "again --note" again -y --note "also handle empty names"
erase
(cd "$repo" && "$bin" warm >/dev/null 2>"$work/warm.err") || { cat "$work/warm.err" >&2; exit 1; }
measure "request after warm" -y --same-context "rename the cache helpers"
scripts/start-llama-server.sh stop >/dev/null 2>&1
for _ in $(seq 1 60); do curl -s -m 1 "$url/health" >/dev/null || break; sleep 0.5; done
if curl -s -m 1 "$url/health" >/dev/null; then echo "the server did not stop; cannot measure a restart" >&2; exit 1; fi
started="$(scripts/start-llama-server.sh)" || { echo "the server did not restart" >&2; exit 1; }
eval "$started"
measure "after restart, saved slot" -y --same-context "document the budget helpers"
grep -h "restored" "$work/stderr" >&2 || { echo "no slot was restored after the restart" >&2; exit 1; }
} >"$work/rows.tsv"

python3 - "$work/rows.tsv" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
cold_ttft = float(rows[0][4])
print("| run | prompt tokens | cached | processed | processed % | TTFT ms | TTFT % of cold | targets |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
ok_all = True
for i, (label, p, c, proc, ttft) in enumerate(rows):
    p, proc, ttft = int(p), int(proc), float(ttft)
    share, ratio = 100.0 * proc / p, 100.0 * ttft / cold_ttft
    ok = i == 0 or (share <= 5.0 and ratio <= 15.0)
    ok_all &= ok
    print(f"| {label} | {p} | {c} | {proc} | {share:.1f}% | {ttft:.0f} | {ratio:.1f}% | {'-' if i == 0 else ('met' if ok else 'MISSED')} |")
print()
print("all targets met" if ok_all else "some targets missed")
PY
