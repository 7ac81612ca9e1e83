#!/usr/bin/env bash
# The TypeScript client (clients/js): checks its committed API types are what openapi.yaml generates,
# type-checks it, then drives it with Node's test runner against the local API on moto: in Node, in
# headless Chromium with Uppy's Dashboard, and packed (`npm pack`) and installed into a fresh project.
# npm packages come from the committed lockfile, installed only when it changed.
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

# The package ships src/generated/openapi.ts (so it packs outside this repository): it must be what
# openapi.yaml generates. From here on only the packed-install test reaches the registry (its
# packages are in npm's cache already, from the npm ci above).
echo "[test-js] openapi-typescript (committed types match openapi.yaml), tsc --strict, esbuild" >&2
generated=$(mktemp --suffix=.ts)
(cd "$js" && npx --no-install openapi-typescript ../../openapi.yaml -o "$generated" --silent >/dev/null)
same=1
cmp -s "$generated" "$js/src/generated/openapi.ts" || same=0
if [ "$same" = 0 ]; then diff "$js/src/generated/openapi.ts" "$generated" | head -20 >&2 || true; fi
rm -f "$generated"
if [ "$same" = 0 ]; then
  echo "[test-js] clients/js/src/generated/openapi.ts is stale: run \`npm run generate\` in clients/js and commit it" >&2
  exit 1
fi
(cd "$js" && npm run --silent build:test)

# The local API binary, built as `make test`'s `cargo test --workspace` builds it (a no-op there;
# `cargo build -p local-api` would rebuild dependencies with other features).
cargo test --workspace --locked --no-run --quiet 2>/dev/null || cargo test --workspace --locked --no-run
export LOCAL_API_BIN="$PWD/target/debug/local-api"
exec scripts/stack.sh -- bash -c "cd '$js' && node --test --test-concurrency=1 test/unit.test.mjs test/node.test.mjs test/browser.test.mjs test/package.test.mjs test/smoke.test.mjs"
