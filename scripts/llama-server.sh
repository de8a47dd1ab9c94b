#!/usr/bin/env bash
# Build (once) and cache llama.cpp's `llama-server` from registry packages only.
#
# llama.cpp's sources come from the llama-cpp-python sdist on PyPI, which
# vendors a pinned llama.cpp checkout under vendor/llama.cpp. Nothing is fetched
# from anywhere but PyPI and Debian's apt repositories.
#
# Usage: scripts/llama-server.sh          # prints the binary's path on the last line of stdout
#
# Environment:
#   ONEPASS_CI_CACHE      cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/onepass-ci)
#   ONEPASS_LLAMA_CPP_PYTHON_VERSION   llama-cpp-python sdist to build from (default 0.3.36)
#   ONEPASS_BUILD_JOBS    parallel compile jobs (default: nproc)
#   ONEPASS_KEEP_BUILD=1  keep the temporary build tree (its path is printed)
#   PYTHON                python interpreter with pip (default python3)
#
# Layout of the cache entry ($CACHE/llama-server-<version>/):
#   bin/llama-server      the server (llama.cpp/ggml linked statically)
#   models/ggml-vocab-*.gguf   vocab-only GGUFs shipped in llama.cpp's models/
#   gguf-py/              the matching gguf python package (fallback for tiny-model.py)
#   BUILD-INFO            what was built, from what, with which flags
#   CPU-FLAGS             /proc/cpuinfo flags of the build machine (-march=native)
set -euo pipefail

LCP_VERSION="${ONEPASS_LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${ONEPASS_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/onepass-ci}"
PREFIX="$CACHE/llama-server-$LCP_VERSION"
BIN="$PREFIX/bin/llama-server"
PYTHON="${PYTHON:-python3}"
JOBS="${ONEPASS_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

log() { printf 'llama-server.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# GGML_NATIVE=ON compiles for this CPU (-march=native): remember which CPU, and
# rebuild if the cache is reused on a machine whose CPU flags differ.
cpu_flags() { grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true; }

is_ready() {
    local ldp="${LD_LIBRARY_PATH:-}"
    [ -d "$PREFIX/lib" ] && ldp="$PREFIX/lib${ldp:+:$ldp}"
    [ -x "$BIN" ] && LD_LIBRARY_PATH="$ldp" "$BIN" --version >/dev/null 2>&1 \
        && compgen -G "$PREFIX/models/ggml-vocab-*.gguf" >/dev/null || return 1
    if [ -f "$PREFIX/CPU-FLAGS" ] && [ "$(cat "$PREFIX/CPU-FLAGS")" != "$(cpu_flags)" ]; then
        log "cached build in $PREFIX was made for another CPU"
        return 1
    fi
}

if is_ready; then
    echo "$BIN"
    exit 0
fi

mkdir -p "$CACHE"
# Serialize concurrent builds into the same cache.
exec 9>"$CACHE/.llama-server-$LCP_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
    if ! flock -n 9; then
        log "another build holds $CACHE/.llama-server-$LCP_VERSION.lock; waiting"
        flock 9
    fi
fi
if is_ready; then
    echo "$BIN"
    exit 0
fi
if [ -e "$PREFIX" ]; then
    log "cache entry $PREFIX is incomplete or its binary does not run; rebuilding"
fi

# --- prerequisites -----------------------------------------------------------
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; fi
fi

APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these by hand: $*"
    log "apt-get install -y $*"
    export DEBIAN_FRONTEND=noninteractive
    if ! $SUDO apt-get install -y -q "$@" >&2; then
        if [ "$APT_UPDATED" = 0 ]; then
            log "apt-get install failed; running apt-get update and retrying"
            $SUDO apt-get update -q >&2
            APT_UPDATED=1
            $SUDO apt-get install -y -q "$@" >&2
        else
            die "apt-get install $* failed"
        fi
    fi
}

missing=()
command -v cmake >/dev/null 2>&1 || missing+=(cmake)
command -v make >/dev/null 2>&1 || missing+=(make)
{ command -v cc >/dev/null 2>&1 && command -v c++ >/dev/null 2>&1; } || missing+=(g++)
if [ ${#missing[@]} -gt 0 ]; then
    apt_install "${missing[@]}"
fi

command -v "$PYTHON" >/dev/null 2>&1 || die "$PYTHON not found (set PYTHON=...)"
PIP=("$PYTHON" -m pip --disable-pip-version-check --no-input)
export PIP_ROOT_USER_ACTION=ignore
if ! "$PYTHON" -c 'import scikit_build_core' >/dev/null 2>&1; then
    log "pip install scikit-build-core"
    "${PIP[@]}" install -q scikit-build-core >&2
fi

# --- sources -----------------------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/onepass-llama-build.XXXXXX")"
cleanup() {
    if [ "${ONEPASS_KEEP_BUILD:-0}" = 1 ]; then
        log "keeping build tree $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

log "pip download llama-cpp-python==$LCP_VERSION (sdist)"
"${PIP[@]}" download -q --no-binary :all: --no-deps --no-build-isolation \
    "llama-cpp-python==$LCP_VERSION" -d "$WORK/dl" >&2
shopt -s nullglob
sdists=("$WORK"/dl/llama_cpp_python-*.tar.gz)
shopt -u nullglob
SDIST="${sdists[0]:-}"
[ -n "$SDIST" ] || die "pip download produced no llama_cpp_python sdist in $WORK/dl"
tar -xzf "$SDIST" -C "$WORK"
SRCROOT="$WORK/llama_cpp_python-$LCP_VERSION"
SRC="$SRCROOT/vendor/llama.cpp"
[ -f "$SRC/CMakeLists.txt" ] || die "no vendor/llama.cpp/CMakeLists.txt in $SDIST"
[ -d "$SRC/tools/server" ] || die "vendored llama.cpp has no tools/server"

# The sdist carries no git metadata; take the vendored commit from the changelog
# ("feat: update llama.cpp to ggml-org/llama.cpp@<hash>") so --version shows it.
COMMIT="$(awk -v v="## [$LCP_VERSION]" '
    index($0, v) == 1 { inside = 1; next }
    inside && /^## \[/ { exit }
    inside && match($0, /llama\.cpp@[0-9a-f]+/) { print substr($0, RSTART + 10, RLENGTH - 10); exit }
' "$SRCROOT/CHANGELOG.md" 2>/dev/null || true)"
COMMIT="${COMMIT:-unknown}"
log "vendored llama.cpp commit: $COMMIT"

# --- configure & build -------------------------------------------------------
CMAKE_FLAGS=(
    -DCMAKE_BUILD_TYPE=Release
    -DBUILD_SHARED_LIBS=OFF
    -DGGML_NATIVE=ON
    -DGGML_CCACHE=OFF
    -DLLAMA_OPENSSL=OFF
    -DLLAMA_BUILD_UI=OFF
    -DLLAMA_USE_PREBUILT_UI=OFF
    -DLLAMA_BUILD_TESTS=OFF
    -DLLAMA_BUILD_EXAMPLES=OFF
    -DLLAMA_BUILD_TOOLS=ON
    -DLLAMA_BUILD_SERVER=ON
    "-DLLAMA_BUILD_COMMIT=$COMMIT"
)
BUILD="$WORK/build"
LOGFILE="$CACHE/llama-server-$LCP_VERSION.build.log"
: >"$LOGFILE"
log "cmake configure (log: $LOGFILE)"
if ! cmake -S "$SRC" -B "$BUILD" "${CMAKE_FLAGS[@]}" >>"$LOGFILE" 2>&1; then
    tail -n 40 "$LOGFILE" >&2
    die "cmake configure failed"
fi

log "cmake --build --target llama-server -j$JOBS (about 5 min on 2 idle cores, 15 under load)"
start=$(date +%s)
if ! nice -n 10 cmake --build "$BUILD" --target llama-server -j"$JOBS" 2>&1 \
    | tee -a "$LOGFILE" \
    | awk '/^\[ *[0-9]+%\]/ { p = $0; sub(/\].*/, "]", p); if (p != last) { print "llama-server.sh:   build " p; fflush(); last = p } }' >&2
then
    tail -n 40 "$LOGFILE" >&2
    die "build failed (full log: $LOGFILE)"
fi
elapsed=$(( $(date +%s) - start ))
log "build finished in ${elapsed}s"

BUILT="$BUILD/bin/llama-server"
[ -x "$BUILT" ] || die "build produced no $BUILT"

# --- install into the cache --------------------------------------------------
STAGE="$PREFIX.tmp.$$"
rm -rf "$STAGE"
mkdir -p "$STAGE/bin" "$STAGE/models"
cp "$BUILT" "$STAGE/bin/llama-server"
# With BUILD_SHARED_LIBS=OFF llama/ggml are static; if some libs still came out
# shared (a future version may force it), ship them beside the binary.
if command -v ldd >/dev/null 2>&1; then
    if ldd "$BUILT" | grep -q "=> $BUILD/"; then
        mkdir -p "$STAGE/lib"
        ldd "$BUILT" | awk -v b="$BUILD/" '$3 ~ "^" b { print $3 }' | while read -r so; do
            cp -L "$so" "$STAGE/lib/"
        done
        log "binary needs shared libs from the build tree; copied to $PREFIX/lib (run with LD_LIBRARY_PATH=$PREFIX/lib)"
    fi
fi
for f in "$SRC"/models/ggml-vocab-*.gguf; do
    [ -e "$f" ] && cp "$f" "$STAGE/models/"
done
compgen -G "$STAGE/models/ggml-vocab-*.gguf" >/dev/null || die "no models/ggml-vocab-*.gguf in the vendored sources"
if [ -d "$SRC/gguf-py/gguf" ]; then
    mkdir -p "$STAGE/gguf-py"
    cp -r "$SRC/gguf-py/gguf" "$STAGE/gguf-py/"
    [ -f "$SRC/gguf-py/pyproject.toml" ] && cp "$SRC/gguf-py/pyproject.toml" "$STAGE/gguf-py/"
fi

if [ -d "$STAGE/lib" ]; then
    VERSION_OUT="$(LD_LIBRARY_PATH="$STAGE/lib" "$STAGE/bin/llama-server" --version 2>&1)" \
        || die "built binary does not run: $VERSION_OUT"
else
    VERSION_OUT="$("$STAGE/bin/llama-server" --version 2>&1)" \
        || die "built binary does not run: $VERSION_OUT"
fi

{
    echo "llama-cpp-python sdist: $LCP_VERSION ($(basename "$SDIST"))"
    echo "vendored llama.cpp commit: $COMMIT"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -srm), ${elapsed}s with -j$JOBS"
    echo "compiler: $(c++ --version | head -n1)"
    echo "cmake: $(cmake --version | head -n1)"
    echo "cmake flags: ${CMAKE_FLAGS[*]}"
    echo "--version:"
    printf '%s\n' "$VERSION_OUT"
    echo "ldd:"
    ldd "$STAGE/bin/llama-server" 2>&1 || true
    echo "vocab files:"
    (cd "$STAGE/models" && ls -1)
} >"$STAGE/BUILD-INFO"
cpu_flags >"$STAGE/CPU-FLAGS"

rm -rf "$PREFIX"
mv "$STAGE" "$PREFIX"
log "installed $BIN ($(du -h "$BIN" | cut -f1)); vocab files: $(cd "$PREFIX/models" && printf '%s ' ggml-vocab-*.gguf)"
is_ready || die "installed binary at $BIN does not run"
echo "$BIN"
