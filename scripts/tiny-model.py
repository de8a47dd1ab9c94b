#!/usr/bin/env python3
"""Write a tiny llama-architecture GGUF with random weights, for tests.

The weights are random (fixed seed, so the file is byte-for-byte reproducible)
but the tokenizer is real: its metadata (tokenizer.ggml.*: tokens, merges,
token types, bos/eos, pre-tokenizer) is copied from one of llama.cpp's
vocab-only GGUFs that scripts/llama-server.sh puts in the cache. A simple
ChatML template is set so /v1/chat/completions works.

Usage: scripts/tiny-model.py [--out PATH] [--vocab PATH] [--force] [...]
Prints the model's path on the last line of stdout. Skips the work if the
output exists (unless --force).

The `gguf` package, in the version llama.cpp vendors at that build (0.19.0 for
llama-cpp-python 0.3.36), is installed from PyPI into $CACHE/python-gguf-<ver>
with `pip install --target`, so the system site-packages are left alone; if PyPI
has no such release, the gguf-py copy that llama-server.sh saved from the sdist
is used, with its dependencies from PyPI.

Environment: ONEPASS_CI_CACHE, XDG_CACHE_HOME, ONEPASS_LLAMA_CPP_PYTHON_VERSION
(the same as scripts/llama-server.sh); ONEPASS_GGUF_VERSION overrides the gguf version.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

GGUF_VERSION = "0.19.0"
LCP_VERSION = os.environ.get("ONEPASS_LLAMA_CPP_PYTHON_VERSION", "0.3.36")

# ChatML, as Qwen2 uses it. Kept deliberately simple (no tools, no system default).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def log(msg: str) -> None:
    print(f"tiny-model.py: {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> "None":
    log(f"error: {msg}")
    sys.exit(1)


def cache_dir() -> Path:
    if os.environ.get("ONEPASS_CI_CACHE"):
        return Path(os.environ["ONEPASS_CI_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "onepass-ci"


def pip_target(target: Path, packages: list[str]) -> bool:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-input", "--target", str(target), *packages]
    env = dict(os.environ, PIP_ROOT_USER_ACTION="ignore")
    log("pip install --target " + str(target) + " " + " ".join(packages))
    return subprocess.run(cmd, stdout=sys.stderr, env=env).returncode == 0


def import_gguf(cache: Path):
    """Import gguf from a private `pip install --target` dir, installing it if needed.

    The version is the one llama.cpp vendors (gguf-py/pyproject.toml, copied into the
    cache by llama-server.sh), so the writer matches the server. If PyPI has no such
    gguf release, its dependencies come from PyPI and the package from the vendored copy.
    """
    vendored = cache / f"llama-server-{LCP_VERSION}" / "gguf-py"
    version = os.environ.get("ONEPASS_GGUF_VERSION", "")
    if not version:
        version = GGUF_VERSION
        try:
            m = re.search(r'^version\s*=\s*"([^"]+)"', (vendored / "pyproject.toml").read_text(), re.M)
            if m:
                version = m.group(1)
        except OSError:
            pass
    target = cache / f"python-gguf-{version}"
    if not (target / "gguf" / "__init__.py").exists():
        tmp = target.with_name(target.name + f".tmp.{os.getpid()}")
        ok = pip_target(tmp, [f"gguf=={version}"]) and (tmp / "gguf" / "__init__.py").exists()
        if not ok:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (vendored / "gguf" / "__init__.py").exists():
                die(f"pip install gguf=={version} failed and there is no {vendored} (run scripts/llama-server.sh)")
            log(f"pip install gguf=={version} failed; using the gguf-py vendored in the sdist ({vendored})")
            if not pip_target(tmp, ["numpy", "pyyaml", "tqdm", "requests"]):
                shutil.rmtree(tmp, ignore_errors=True)
                die("pip install of gguf's dependencies (numpy, pyyaml, tqdm, requests) failed")
            shutil.copytree(vendored / "gguf", tmp / "gguf")
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    sys.path.insert(0, str(target))
    try:
        import gguf  # noqa: F401
        import numpy  # noqa: F401
    except ImportError as e:
        die(f"cannot import gguf/numpy from {target}: {e}")
    return gguf


def main() -> None:
    cache = cache_dir()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=cache / "tiny-llama.gguf")
    ap.add_argument("--vocab", type=Path,
                    default=cache / f"llama-server-{LCP_VERSION}" / "models" / "ggml-vocab-qwen2.gguf",
                    help="vocab-only GGUF to take the tokenizer from")
    ap.add_argument("--n-embd", type=int, default=256)
    ap.add_argument("--n-layer", type=int, default=4)
    ap.add_argument("--n-head", type=int, default=4)
    ap.add_argument("--n-head-kv", type=int, default=4)
    ap.add_argument("--n-ff", type=int, default=768)
    ap.add_argument("--ctx", type=int, default=32768, help="llama.context_length (training context)")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--force", action="store_true", help="rewrite even if --out exists")
    args = ap.parse_args()

    out: Path = args.out
    if out.exists() and out.stat().st_size > 0 and not args.force:
        log(f"{out} exists; nothing to do")
        print(out)
        return
    if not args.vocab.exists():
        die(f"vocab file {args.vocab} not found (run scripts/llama-server.sh first, or pass --vocab)")
    if args.n_embd % args.n_head or args.n_head % args.n_head_kv:
        die("n_embd must be a multiple of n_head, and n_head a multiple of n_head_kv")

    gguf = import_gguf(cache)
    import numpy as np

    reader = gguf.GGUFReader(str(args.vocab))
    fields = reader.fields
    if "tokenizer.ggml.tokens" not in fields:
        die(f"{args.vocab} has no tokenizer.ggml.tokens")
    n_vocab = len(fields["tokenizer.ggml.tokens"].data)

    n_embd, n_layer, n_head, n_head_kv, n_ff = args.n_embd, args.n_layer, args.n_head, args.n_head_kv, args.n_ff
    head_dim = n_embd // n_head
    n_embd_kv = head_dim * n_head_kv

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + f".tmp.{os.getpid()}")
    w = gguf.GGUFWriter(str(tmp), "llama")
    w.add_name("onepass tiny random llama")
    w.add_description(
        f"Random weights (seed {args.seed}) for tests; tokenizer from {args.vocab.name}. Produces gibberish."
    )
    w.add_context_length(args.ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head_kv)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(10000.0)
    w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

    # Tokenizer: copy every tokenizer.* key except the chat template, keeping value types.
    copied = []
    for name, field in fields.items():
        if not name.startswith("tokenizer.") or name == "tokenizer.chat_template":
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(name, field.contents(), vtype, sub)
        copied.append(name)
    w.add_chat_template(CHATML_TEMPLATE)
    log(f"tokenizer from {args.vocab.name}: {n_vocab} tokens; keys: {', '.join(copied)}")

    rng = np.random.default_rng(args.seed)

    def mat(rows: int, cols: int, std: float) -> "np.ndarray":
        # numpy shape (rows, cols) == ggml ne [cols, rows]: rows = output features.
        return (rng.standard_normal((rows, cols), dtype=np.float32) * std).astype(np.float16)

    ones = np.ones(n_embd, dtype=np.float32)
    n_params = 0

    def add(name: str, arr) -> None:
        nonlocal n_params
        n_params += arr.size
        w.add_tensor(name, arr)

    # Output projection is tied to token_embd (llama.cpp falls back to it when output.weight is absent).
    add("token_embd.weight", mat(n_vocab, n_embd, 0.02))
    add("output_norm.weight", ones.copy())
    proj_std = 0.02
    for i in range(n_layer):
        add(f"blk.{i}.attn_norm.weight", ones.copy())
        add(f"blk.{i}.attn_q.weight", mat(n_embd, n_embd, proj_std))
        add(f"blk.{i}.attn_k.weight", mat(n_embd_kv, n_embd, proj_std))
        add(f"blk.{i}.attn_v.weight", mat(n_embd_kv, n_embd, proj_std))
        add(f"blk.{i}.attn_output.weight", mat(n_embd, n_embd, proj_std))
        add(f"blk.{i}.ffn_norm.weight", ones.copy())
        add(f"blk.{i}.ffn_gate.weight", mat(n_ff, n_embd, proj_std))
        add(f"blk.{i}.ffn_up.weight", mat(n_ff, n_embd, proj_std))
        add(f"blk.{i}.ffn_down.weight", mat(n_embd, n_ff, proj_std))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(tmp, out)
    log(f"wrote {out}: {n_params:,} parameters ({n_params - n_vocab * n_embd:,} outside the embedding), "
        f"{out.stat().st_size / 1e6:.1f} MB, n_embd={n_embd} n_layer={n_layer} n_head={n_head} "
        f"n_head_kv={n_head_kv} n_ff={n_ff} n_vocab={n_vocab} ctx={args.ctx}")
    print(out)


if __name__ == "__main__":
    main()
