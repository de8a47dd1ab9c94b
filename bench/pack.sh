#!/usr/bin/env bash
# Packing speed on a synthetic monorepo shaped like babel/babel (~28k files, ~43 MB), against the floor of a
# plain parallel walk + read of the same files measured in the same run.
#
#   bench/pack.sh [REPO_DIR]      (default: target/bench-monorepo, generated once by bench/gen_monorepo.py)
#
# Needs hyperfine and GNU time. Reports medians (hyperfine) and peak RSS (/usr/bin/time -v). Run it niced on
# a shared machine; it is a measurement, never a test.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
repo=${1:-$here/target/bench-monorepo}
request=${REQUEST:-"fix the plugin visitor scope binding error when a decorator is on a class method"}
runs=${RUNS:-7}

[ -d "$repo/.git" ] || nice python3 "$here/bench/gen_monorepo.py" "$repo"
(cd "$here" && nice cargo build --release --bin onepass --example walk-floor >/dev/null 2>&1)
onepass=$here/target/release/onepass
floor=$here/target/release/examples/walk-floor
export ONEPASS_ENDPOINT=http://127.0.0.1:9   # no server: the budget comes from --budget
cd "$repo"

# One --prepare per command, in order (a single --prepare would apply to every command and make "warm" cold).
nice hyperfine --warmup 2 --runs "$runs" -N --export-json /tmp/onepass-bench.json \
  --prepare "true" --prepare "rm -rf .git/onepass" --prepare "true" \
  -n floor "$floor ." \
  -n cold "$onepass pack --budget 128000 '$request'" \
  -n warm "$onepass pack --budget 128000 '$request'" >/dev/null

python3 - <<'PY'
import json
r = json.load(open("/tmp/onepass-bench.json"))["results"]
m = {x["command"]: x["median"] for x in r}
print(f"{'':6} {'median':>8} {'min':>8} {'max':>8}")
for x in r:
    print(f"{x['command']:6} {x['median']:8.3f} {x['min']:8.3f} {x['max']:8.3f}")
print(f"cold / floor = {m['cold'] / m['floor']:.2f}   warm / floor = {m['warm'] / m['floor']:.2f}")
PY

# The floor and a warm run alternated: a drift of the machine then moves both alike (hyperfine runs each
# command's runs in one block).
python3 - "$onepass" "$floor" "$request" <<'PY'
import statistics, subprocess, sys, time
onepass, floor, request = sys.argv[1:4]
def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t
warm_cmd = [onepass, "pack", "--budget", "128000", request]
timed(warm_cmd)
pairs = [(timed([floor, "."]), timed(warm_cmd)) for _ in range(21)]
f = statistics.median(p[0] for p in pairs)
w = statistics.median(p[1] for p in pairs)
print(f"alternated, 21 pairs: floor {f:.3f} s, warm {w:.3f} s, warm / floor = {w / f:.2f}")
PY

# A warm tree with a request never seen before (its candidates are counted, its outlines made): each request
# once, the median of five.
python3 - "$onepass" <<'PY'
import statistics, subprocess, sys, time
requests = [
    "make the jsx runtime handle fragments with keys",
    "the generator transform loses the comment before a yield",
    "add an option to the module path resolver for symlinked packages",
    "template literal printing escapes backticks twice",
    "arrow functions in class properties lose their binding",
]
times = []
for r in requests:
    t = time.perf_counter()
    subprocess.run([sys.argv[1], "pack", "--budget", "128000", r], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    times.append(time.perf_counter() - t)
print(f"warm, new request: median {statistics.median(times):.3f} s over {len(times)} requests "
      f"(min {min(times):.3f}, max {max(times):.3f})")
PY

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
rm -rf .git/onepass
echo "peak RSS cold: $(rss "$onepass" pack --budget 128000 "$request") KB"
echo "peak RSS warm: $(rss "$onepass" pack --budget 128000 "$request") KB"
echo "peak RSS floor: $(rss "$floor" .) KB"
"$onepass" pack --json --budget 128000 "$request" | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("stages (warm, ms):", {k: round(v) for k, v in r["timings_ms"]["stages"].items()}, "walk", round(r["timings_ms"]["walk"]))
print("walk: relisted", r["totals"]["walk_relisted"], "read", r["totals"]["walk_read"], "known", r["totals"]["walk_reused"])
print("totals:", r["totals"])'
