#!/usr/bin/env python3
"""Ranking quality: for every case of fixtures/rank/cases.json, are all the files the change needs included
whole by `onepass pack` at a given budget?

    bench/quality.py [--budget 16000] [--cases fixtures/rank/heldout.json] [--strip-quotes]
                     [--onepass target/release/onepass] [--work DIR] [-v]

Repositories are assembled once under --work (default target/rank-repos) from the source trees the cases
file names, committed to git, then packed for each request. Prints one line per case and the totals; with -v
the rank of every needed file that was missed. Exit status 0 whatever the score: this is a measurement.
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIP_DIRS = {"__pycache__", "target", ".git", "node_modules", "tests", "benches", "test", "examples"}


def build(name, spec, work):
    # A repository may keep some of the folders left out by default ("keep": ["tests"]): real projects
    # have their tests beside the code, and those compete for the budget.
    skip = SKIP_DIRS - set(spec.get("keep", []))
    dest = os.path.join(work, name)
    if os.path.isdir(os.path.join(dest, ".git")):
        return dest
    os.makedirs(dest, exist_ok=True)
    for src, dst in spec["sources"]:
        if "!" in src:
            # A folder inside a zip archive (the JDK ships its sources as lib/src.zip): "ARCHIVE!prefix/".
            archive, prefix = src.split("!", 1)
            found = glob.glob(os.path.expanduser(archive))
            if not found:
                raise SystemExit(f"{name}: archive {archive} not found on this machine")
            with zipfile.ZipFile(found[0]) as z:
                for member in z.namelist():
                    rel = member[len(prefix):].lstrip("/")
                    if not member.startswith(prefix) or member.endswith("/") or not rel:
                        continue
                    if any(part in skip for part in rel.split("/")):
                        continue
                    out = os.path.join(dest, dst, rel)
                    os.makedirs(os.path.dirname(out), exist_ok=True)
                    with open(out, "wb") as f:
                        f.write(z.read(member))
            continue
        found = glob.glob(os.path.expanduser(src))
        if not found:
            raise SystemExit(f"{name}: source {src} not found on this machine")
        shutil.copytree(found[0], os.path.join(dest, dst), dirs_exist_ok=True,
                        ignore=lambda d, names: [n for n in names if n in skip or n.endswith(".pyc")])
    env = dict(os.environ, GIT_AUTHOR_NAME="q", GIT_AUTHOR_EMAIL="q@example.com",
               GIT_COMMITTER_NAME="q", GIT_COMMITTER_EMAIL="q@example.com")
    subprocess.run(["git", "init", "-q", dest], check=True)
    subprocess.run(["git", "-C", dest, "add", "-A", "-f"], check=True)
    subprocess.run(["git", "-C", dest, "commit", "-q", "-m", "import"], check=True, env=env)
    return dest


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=16000)
    ap.add_argument("--onepass", default=os.path.join(ROOT, "target", "release", "onepass"))
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "rank-repos"))
    ap.add_argument("--cases", default=os.path.join(ROOT, "fixtures", "rank", "cases.json"))
    ap.add_argument("--strip-quotes", action="store_true",
                    help="only the cases that quote something, with the double quotes taken out: an error "
                         "message pasted as it is")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    spec = json.load(open(args.cases))
    if args.strip_quotes:
        spec["cases"] = [dict(c, request=c["request"].replace('"', "")) for c in spec["cases"]
                         if '"' in c["request"]]
    repos = {name: build(name, r, args.work) for name, r in spec["repos"].items()}
    env = dict(os.environ, ONEPASS_ENDPOINT="http://127.0.0.1:9", NO_COLOR="1")
    per_repo = {}
    per_kind = {}
    hits = 0
    feasible_total = 0
    feasible_hits = 0
    for n, case in enumerate(spec["cases"]):
        # Cold every time: an index cached by an earlier build (same cache version, other ranking data) would
        # measure that build's index, not this one's.
        shutil.rmtree(os.path.join(repos[case["repo"]], ".git", "onepass"), ignore_errors=True)
        out = subprocess.run([args.onepass, "pack", "--json", "--budget", str(args.budget), case["request"]],
                             cwd=repos[case["repo"]], env=env, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"case {n}: onepass failed: {out.stderr.strip()}")
            continue
        report = json.loads(out.stdout)
        whole = {f["path"] for f in report["files"]}
        ranking = [r["path"] for r in report["ranking"]]
        missed = [p for p in case["needed"] if p not in whole]
        ok = not missed
        hits += ok
        tokens = {r["path"]: r["tokens"] for r in report["ranking"]}
        tokens.update({f["path"]: f["tokens"] for f in report["files"]})
        tokens.update({f["path"]: f["file_tokens"] for f in report["outlined"]})
        tokens.update({f["path"]: f["tokens"] for f in report["omitted"]})
        need = sum(tokens.get(p, 0) for p in case["needed"])
        feasible = need <= report["budget"] - report["template_tokens"]
        feasible_total += feasible
        feasible_hits += ok and feasible
        for key, table in ((case["repo"], per_repo), (case["kind"], per_kind)):
            t = table.setdefault(key, [0, 0])
            t[0] += ok
            t[1] += 1
        files = len(report["files"])
        flag = "ok  " if ok else ("MISS" if feasible else "MISS (needs " + str(need) + " tokens)")
        line = f"{flag} {case['repo']:<14} {case['kind']:<9} whole={files:<3} {case['request'][:70]}"
        print(line)
        if missed and args.verbose:
            for p in missed:
                rank = ranking.index(p) + 1 if p in ranking else None
                print(f"       missed {p} (rank {rank}, {tokens.get(p)} tokens)")
    total = len(spec["cases"])
    print()
    for name, (ok, n) in sorted(per_repo.items()):
        print(f"{name:<16} {ok}/{n}")
    for name, (ok, n) in sorted(per_kind.items()):
        print(f"{name:<16} {ok}/{n}")
    print(f"recall@{args.budget} (all needed files whole): {hits}/{total} = {100.0 * hits / total:.1f}%")
    if feasible_total:
        print(f"  on the {feasible_total} cases whose needed files fit the budget at all: "
              f"{feasible_hits}/{feasible_total} = {100.0 * feasible_hits / feasible_total:.1f}%")


if __name__ == "__main__":
    main()
