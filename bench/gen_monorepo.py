#!/usr/bin/env python3
"""Generate a deterministic synthetic JavaScript monorepo shaped like babel/babel: ~28k files, ~40 MB.

    bench/gen_monorepo.py DIR

Packages with a src/ tree of modules that import each other, and a test/fixtures/ tree of many small
input/output/options files, plus docs and a few large files. Same seed, same bytes: runs are comparable.
"""
import json
import os
import random
import subprocess
import sys

WORDS = ("node path scope binding parse token plugin visitor traverse generate transform module import "
         "export class method property literal template string number boolean identifier expression statement "
         "block function arrow async await yield generator decorator type annotation flow typescript jsx element "
         "attribute comment whitespace location range error message syntax reference helper runtime polyfill "
         "preset config option cache file source map line column offset buffer printer format indent").split()


def ident(rng, parts=2, camel=True):
    ws = [rng.choice(WORDS) for _ in range(parts)]
    return ws[0] + "".join(w.capitalize() for w in ws[1:]) if camel else "_".join(ws)


def module(rng, name, siblings, size):
    out = []
    for s in rng.sample(siblings, min(len(siblings), rng.randint(1, 5))):
        out.append(f'import {{ {ident(rng)} }} from "./{s}";')
    out.append("")
    while sum(len(l) + 1 for l in out) < size:
        fn = ident(rng, rng.randint(2, 3))
        args = ", ".join(ident(rng, 1) for _ in range(rng.randint(0, 3)))
        out.append(f"export function {fn}({args}) {{")
        for _ in range(rng.randint(3, 14)):
            a, b = ident(rng), ident(rng)
            kind = rng.random()
            if kind < 0.3:
                out.append(f"  const {a} = {b}.{ident(rng, 1)}({ident(rng, 1)});")
            elif kind < 0.5:
                out.append(f"  if (!{a}) throw new Error(\"{rng.choice(WORDS)} {rng.choice(WORDS)} is not {rng.choice(WORDS)}\");")
            elif kind < 0.7:
                out.append(f"  for (const {ident(rng, 1)} of {a}.{ident(rng, 1)}) {{ {b}.push({ident(rng, 1)}); }}")
            else:
                out.append(f"  // {' '.join(rng.choice(WORDS) for _ in range(rng.randint(4, 10)))}")
        out.append(f"  return {ident(rng)};")
        out.append("}")
        out.append("")
    return "\n".join(out) + "\n"


def main():
    root = sys.argv[1]
    rng = random.Random(4)
    os.makedirs(root, exist_ok=True)
    total_files = 0
    total_bytes = 0

    def write(rel, text):
        nonlocal total_files, total_bytes
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)
        total_files += 1
        total_bytes += len(text)

    write(".gitignore", "node_modules/\nlib/\n")
    write("package.json", json.dumps({"name": "monorepo", "private": True, "workspaces": ["packages/*"]}, indent=2) + "\n")
    for p in range(172):
        pkg = f"babel-{rng.choice(WORDS)}-{rng.choice(WORDS)}-{p}"
        base = f"packages/{pkg}"
        write(f"{base}/package.json", json.dumps({"name": f"@babel/{pkg}", "version": "7.0.0", "main": "lib/index.js"}, indent=2) + "\n")
        write(f"{base}/README.md", f"# @babel/{pkg}\n\n" + " ".join(rng.choice(WORDS) for _ in range(120)) + "\n")
        names = [f"{ident(rng, 2, False)}" for _ in range(rng.randint(18, 34))]
        names = sorted(set(names))
        for n in names:
            write(f"{base}/src/{n}.js", module(rng, n, names, rng.randint(2500, 9000)))
        write(f"{base}/src/index.js", "".join(f'export * from "./{n}";\n' for n in names))
        for c in range(rng.randint(45, 60)):
            case = f"{base}/test/fixtures/{rng.choice(WORDS)}-{c}"
            src = module(rng, "input", [], rng.randint(150, 700))
            write(f"{case}/input.js", src)
            write(f"{case}/output.js", src.replace("const ", "var "))
            if rng.random() < 0.5:
                write(f"{case}/options.json", json.dumps({"plugins": [rng.choice(WORDS)]}) + "\n")
        write(f"{base}/test/index.js", module(rng, "test", names, 2000))
    for d in range(40):
        write(f"docs/{rng.choice(WORDS)}-{d}.md", "# Doc\n\n" + "\n".join(" ".join(rng.choice(WORDS) for _ in range(14)) for _ in range(60)) + "\n")
    for big in range(6):
        write(f"scripts/big-{big}.js", module(rng, "big", [], 200_000))
    print(f"{total_files} files, {total_bytes / 1e6:.1f} MB in {root}", file=sys.stderr)
    if not os.path.isdir(os.path.join(root, ".git")):
        subprocess.run(["git", "init", "-q", root], check=True)
        subprocess.run(["git", "-C", root, "add", "-A"], check=True)
        subprocess.run(["git", "-C", root, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                        "commit", "-q", "-m", "import"], check=True)


if __name__ == "__main__":
    main()
