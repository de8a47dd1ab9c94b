#!/usr/bin/env bash
# Record raw llama-server HTTP responses as test fixtures (fixtures/streams/).
#
# Usage: scripts/record-llama-fixtures.sh [OUTDIR]
#   Needs a running server: `eval "$(scripts/start-llama-server.sh)"` first, or set
#   ONEPASS_LLAMA_URL (default http://127.0.0.1:${PORT:-18080}). Restart the server
#   before recording so the slot starts empty (the "cold" stream then shows cache 0).
#
# For every exchange NAME it writes:
#   OUTDIR/NAME.<json|sse|txt>      the response body exactly as received (curl -sN)
#   OUTDIR/NAME.headers             the status line and response headers
#   OUTDIR/requests/NAME.json       the request body sent (POST only)
# and finally measures prefill speed on a ~2,000-token prompt (stderr + prefill.txt).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$SCRIPT_DIR")"
URL="${ONEPASS_LLAMA_URL:-http://127.0.0.1:${PORT:-18080}}"
OUT="${1:-$REPO/fixtures/streams}"
PYTHON="${PYTHON:-python3}"
mkdir -p "$OUT/requests"

log() { printf 'record-llama-fixtures.sh: %s\n' "$*" >&2; }

[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] \
    || { log "error: no healthy llama-server at $URL"; exit 1; }

# Deterministic filler text ("one big prompt"): N words of pseudo-English.
words() {
    "$PYTHON" - "$1" "${2:-7}" <<'EOF'
import random, sys
n, seed = int(sys.argv[1]), int(sys.argv[2])
vocab = ("the a of to and in is for on with that by this as from at be are was it an or "
         "prompt model server token cache slot stream context budget file source rust crate "
         "function returns error value module test request response chunk window length "
         "limit count byte line path config option flag build release version compile").split()
rng = random.Random(seed)
out, line = [], []
for i in range(n):
    line.append(rng.choice(vocab))
    if len(line) == 12:
        out.append(" ".join(line).capitalize() + ".")
        line = []
out.append(" ".join(line))
print("\n".join(out).strip())
EOF
}

# body NAME NWORDS PYTHON-EXPR-USING-text [SEED] -> writes OUT/requests/NAME.json
body() {
    local name="$1" nwords="$2" expr="$3" seed="${4:-7}"
    TEXT="$(words "$nwords" "$seed")" "$PYTHON" -c '
import json, os, sys
text = os.environ["TEXT"]
body = eval(sys.argv[1])
json.dump(body, sys.stdout, ensure_ascii=False)
' "$expr" >"$OUT/requests/$name.json"
}

post() { # NAME EXT PATH
    local name="$1" ext="$2" path="$3"
    curl -sN -D "$OUT/$name.headers" -o "$OUT/$name.$ext" -X POST \
        -H 'Content-Type: application/json' --data-binary "@$OUT/requests/$name.json" "$URL$path"
    log "POST $path -> $(head -n1 "$OUT/$name.headers" | tr -d '\r') -> $name.$ext ($(wc -c <"$OUT/$name.$ext") bytes)"
}

get() { # NAME EXT PATH
    local name="$1" ext="$2" path="$3"
    curl -sN -D "$OUT/$name.headers" -o "$OUT/$name.$ext" "$URL$path"
    log "GET $path -> $(head -n1 "$OUT/$name.headers" | tr -d '\r') -> $name.$ext ($(wc -c <"$OUT/$name.$ext") bytes)"
}

# Start from an empty slot 0 (a freshly started server is best: see above).
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{}' "$URL/slots/0?action=erase"

MSGS='[{"role":"system","content":"You are a careful code reviewer."},{"role":"user","content":text}]'
STREAM_OPTS='"stream":True,"stream_options":{"include_usage":True},"return_progress":True,"cache_prompt":True,"id_slot":0'

get  llamacpp-health        json /health
get  llamacpp-props         json /props
get  llamacpp-models        json /v1/models
body llamacpp-tokenize 40 '{"content":"Hello world! onepass sends <|im_start|>one big prompt. " + text[:120],"add_special":False,"with_pieces":True}'
post llamacpp-tokenize      json /tokenize
body llamacpp-detokenize 0 '{"tokens":[9707,1879,0,151644,151645]}'
post llamacpp-detokenize    json /detokenize
body llamacpp-apply-template 30 '{"messages":'"$MSGS"'}'
post llamacpp-apply-template json /apply-template
body llamacpp-count-tokens 30 '{"model":"tiny","system":"You are a careful code reviewer.","messages":[{"role":"user","content":text}]}'
post llamacpp-count-tokens  json /v1/messages/count_tokens
body llamacpp-chat-input-tokens 30 '{"messages":'"$MSGS"'}'
post llamacpp-chat-input-tokens json /v1/chat/completions/input_tokens

# The main exchange: a ~3,000-token prompt (more than one 2048-token batch, so
# prompt_progress reports intermediate steps), streamed; then the same again.
body llamacpp-chat-stream 2300 '{"messages":'"$MSGS"','"$STREAM_OPTS"',"max_tokens":24,"seed":42}'
post llamacpp-chat-stream        sse /v1/chat/completions
cp "$OUT/requests/llamacpp-chat-stream.json" "$OUT/requests/llamacpp-chat-stream-cached.json"
post llamacpp-chat-stream-cached sse /v1/chat/completions
get  llamacpp-slots         json /slots

# Non-streaming chat on the same (cached) prompt.
body llamacpp-chat 2300 '{"messages":'"$MSGS"',"cache_prompt":True,"id_slot":0,"max_tokens":8,"seed":42}'
post llamacpp-chat          json /v1/chat/completions

# Warm-up: max_tokens 0 (prefill only) on a new prompt, streaming and not; the
# streaming one repeats the plain one's prompt, so it shows it cached.
body llamacpp-warmup 2300 '{"messages":'"$MSGS"',"cache_prompt":True,"id_slot":0,"max_tokens":0}' 8
post llamacpp-warmup        json /v1/chat/completions
body llamacpp-warmup-stream 2300 '{"messages":'"$MSGS"','"$STREAM_OPTS"',"max_tokens":0}' 8
post llamacpp-warmup-stream sse /v1/chat/completions

# Slot save / restore / erase (server started with --slot-save-path).
body llamacpp-slot-save 0 '{"filename":"onepass-fixture.bin"}'
post llamacpp-slot-save     json '/slots/0?action=save'
body llamacpp-slot-erase 0 '{}'
post llamacpp-slot-erase    json '/slots/0?action=erase'
body llamacpp-slot-restore 0 '{"filename":"onepass-fixture.bin"}'
post llamacpp-slot-restore  json '/slots/0?action=restore'
body llamacpp-slot-restore-missing 0 '{"filename":"no-such-file.bin"}'
post llamacpp-slot-restore-missing json '/slots/0?action=restore'

# Over-long prompts (> n_ctx 8192): plain and streaming.
body llamacpp-overflow 9000 '{"messages":'"$MSGS"',"cache_prompt":True,"id_slot":0,"max_tokens":24}'
post llamacpp-overflow      json /v1/chat/completions
body llamacpp-overflow-stream 9000 '{"messages":'"$MSGS"','"$STREAM_OPTS"',"max_tokens":24}'
post llamacpp-overflow-stream sse /v1/chat/completions

get  llamacpp-metrics       txt /metrics

# Prefill speed on a ~2,000-token prompt, prompt cache off (so every run prefills all of it).
log "prefill speed, ~2,000-token prompt, cache_prompt=false:"
PREQ="$(mktemp)"
trap 'rm -f "$PREQ"' EXIT
{
    for seed in 11 12 13 14 15; do
        TEXT="$(words 1800 "$seed")" "$PYTHON" -c '
import json, os, sys
print(json.dumps({"messages":[{"role":"user","content":os.environ["TEXT"]}],"cache_prompt":False,"max_tokens":1}))' >"$PREQ"
        curl -s -H 'Content-Type: application/json' --data-binary "@$PREQ" "$URL/v1/chat/completions" \
            | "$PYTHON" -c '
import json, sys
t = json.load(sys.stdin)["timings"]
print("prompt_n=%d prompt_ms=%.1f prompt_per_second=%.0f" % (t["prompt_n"], t["prompt_ms"], t["prompt_per_second"]))'
    done
} | tee "$OUT/prefill.txt" >&2
log "done: $OUT"
