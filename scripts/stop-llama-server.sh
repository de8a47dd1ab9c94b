#!/usr/bin/env bash
# Stop the llama-server that scripts/start-llama-server.sh started (same PORT, default 18080).
set -euo pipefail
exec bash "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/start-llama-server.sh" stop
