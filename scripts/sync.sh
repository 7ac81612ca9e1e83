#!/usr/bin/env bash
# `make sync`: `sam sync --watch` (samconfig.toml's default stack) that also sees changes in shared/.
# SAM watches each function's CodeUri (functions/<name>/, a few lines of wiring) and `sam sync` always
# reuses its cached build of a function whose CodeUri content has not changed. The handlers live in
# shared/, so on its own `sam sync` would neither notice an edit there nor rebuild for it: it would
# deploy the old bootstraps. This script keeps functions/<name>/.source-stamp (gitignored) holding a
# hash of everything the bootstraps are built from (workspace manifest and lock, shared/, contract/,
# the CARGO_PROFILE_RELEASE_* in force), rewritten within a second or two of a change: SAM sees every
# function change, rebuilds (cargo recompiles shared once, then links each binary) and updates them.
# Arguments go to `sam sync` (e.g. --stack-name). Needs AWS credentials for the dev account.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/lambda/bin:$PWD/.tools/sam/bin:$HOME/.cargo/bin:$PATH"
[ -x .tools/sam/bin/sam ] || scripts/tools.sh sam
[ -x .tools/lambda/bin/cargo-lambda ] || scripts/tools.sh lambda

sources_hash() {
  {
    env | grep '^CARGO_PROFILE_RELEASE_' | sort || true
    find Cargo.toml Cargo.lock shared contract -type f -not -path '*/target/*' -print0 | sort -z | xargs -0 sha256sum
  } | sha256sum | cut -d' ' -f1
}

write_stamps() {
  local hash
  hash=$(sources_hash)
  for function in functions/*/; do
    [ "$(cat "$function.source-stamp" 2>/dev/null)" = "$hash" ] || echo "$hash" >"$function.source-stamp"
  done
}

write_stamps
sam sync --watch "$@" &
sam_pid=$!
trap 'kill "$sam_pid" 2>/dev/null || true' EXIT INT TERM
while kill -0 "$sam_pid" 2>/dev/null; do
  sleep 1
  write_stamps
done
wait "$sam_pid"
