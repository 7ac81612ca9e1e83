#!/usr/bin/env bash
# `make dev`: the local stack and the whole API on http://127.0.0.1:${PORT:-3000}, in the
# foreground. Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/tools.sh dev
cargo build -p local-api --locked
export PORT="${PORT:-3000}"
exec scripts/stack.sh -- bash -c '
  export UPLOADS_BUCKET="${UPLOADS_BUCKET:-uploads-local}" UPLOADS_TABLE="${UPLOADS_TABLE:-uploads-local}"
  export S3_ENDPOINT_URL="$TEST_MOTO_URL" DYNAMODB_ENDPOINT_URL="$TEST_MOTO_URL" S3_FORCE_PATH_STYLE=true
  exec target/debug/local-api'
