#!/usr/bin/env bash
# The TypeScript client (clients/js): type-checks it against openapi.yaml, then drives it with
# Node's test runner against the local API on moto: in Node, and in headless Chromium with Uppy's
# Dashboard. npm packages come from the committed lockfile, installed only when it changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

# moto (no-op when installed; `make test` has run `scripts/tools.sh all`, which brings Chromium too).
scripts/tools.sh dev

js=clients/js
lock_sum=$(sha256sum "$js/package-lock.json" | cut -d' ' -f1)
if [ "$(cat "$js/node_modules/.lock-sha256" 2>/dev/null)" != "$lock_sum" ]; then
  echo "[test-js] npm ci (clients/js/package-lock.json)" >&2
  (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock_sum" >"$js/node_modules/.lock-sha256"
fi

# From here on nothing needs the network.
echo "[test-js] openapi-typescript, tsc --strict, esbuild" >&2
(cd "$js" && npm run --silent build)

# The local API binary, built as `make test`'s `cargo test --workspace` builds it (a no-op there;
# `cargo build -p local-api` would rebuild dependencies with other features).
cargo test --workspace --locked --no-run --quiet 2>/dev/null || cargo test --workspace --locked --no-run
export LOCAL_API_BIN="$PWD/target/debug/local-api"
exec scripts/stack.sh -- bash -c "cd '$js' && node --test --test-concurrency=1 test/unit.test.mjs test/node.test.mjs test/browser.test.mjs"
