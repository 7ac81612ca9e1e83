#!/usr/bin/env bash
# Fuzzes the local API from its contract: schemathesis generates requests from openapi.dev.yaml
# (the generated openapi.yaml plus the local x-user-id identity), valid
# and invalid, for two users (alice, then bob), and fails on any 5xx, any response the spec does not
# allow (status, content type, headers, body schema), any invalid request accepted, any schema-valid
# request refused as malformed, any sign of another user's upload, or a crash of the server.
#
#   scripts/fuzz-api.sh                  a random seed, printed first and on failure
#   FUZZ_SEED=N scripts/fuzz-api.sh      replays the run with seed N
#   FUZZ_EXAMPLES=N                      schemathesis's --max-examples (default 150)
#
# Before fuzzing, each user gets real uploads in every state (scripts/fuzz_hooks.py seed); the hooks
# swap some generated uploadIds for them, the user's own or the other user's. Everything binds
# 127.0.0.1 and is stopped on exit; reports and replay data stay in target/fuzz-api/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
users=(alice bob)

if [ "${1:-}" != --inside ]; then
  scripts/tools.sh fuzz
  cargo build -p local-api --locked --quiet
  export FUZZ_SEED="${FUZZ_SEED:-$(python3 -c 'import secrets; print(secrets.randbelow(2**31))')}"
  echo "[fuzz] $(.tools/fuzz/bin/schemathesis --version), seed $FUZZ_SEED (replay: FUZZ_SEED=$FUZZ_SEED scripts/fuzz-api.sh)" >&2
  status=0
  scripts/stack.sh -- "$0" --inside || status=$?
  if [ "$status" != 0 ]; then
    echo "[fuzz] FAILED (exit $status); replay with: FUZZ_SEED=$FUZZ_SEED scripts/fuzz-api.sh" >&2
    echo "[fuzz] reports and the API's log: target/fuzz-api/" >&2
  fi
  exit "$status"
fi

# Inside scripts/stack.sh: moto is at $TEST_MOTO_URL.
out="$root/target/fuzz-api"
rm -rf "$out"
mkdir -p "$out"
api_pid=""
stop_api() {
  if [ -n "$api_pid" ]; then
    kill "$api_pid" 2>/dev/null || true
    wait "$api_pid" 2>/dev/null || true
  fi
}
trap stop_api EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Quotas and rate limits high enough that hundreds of fuzzed requests are not all refused with 429
# (both have their own tests); everything else as deployed.
env UPLOADS_BUCKET=fuzz-uploads UPLOADS_TABLE=fuzz-uploads \
  S3_ENDPOINT_URL="$TEST_MOTO_URL" DYNAMODB_ENDPOINT_URL="$TEST_MOTO_URL" S3_FORCE_PATH_STYLE=true \
  MAX_ACTIVE_UPLOADS_PER_USER=1000000 MAX_BYTES_IN_FLIGHT_PER_USER=18000000000000000000 \
  RATE_LIMIT_REQUESTS_PER_MINUTE=0 RATE_LIMIT_URLS_PER_MINUTE=0 \
  PORT="$port" RUST_LOG=info \
  "$root/target/debug/local-api" >"$out/api.log" 2>&1 &
api_pid=$!
py="$root/.tools/fuzz/bin/python"
up() { "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$base/" 2>/dev/null; }
for _ in $(seq 1 150); do
  up && break
  kill -0 "$api_pid" 2>/dev/null || break
  sleep 0.2
done
if ! up; then
  echo "[fuzz] the local API did not start; its log:" >&2
  cat "$out/api.log" >&2
  exit 1
fi
echo "[fuzz] local API on $base" >&2

"$py" "$root/scripts/fuzz_hooks.py" seed "$base" "$out/uploads.json" "${users[@]}"

status=0
for user in "${users[@]}"; do
  echo "[fuzz] schemathesis as $user" >&2
  mkdir -p "$out/$user"
  # In its own directory: schemathesis keeps replay data (`st replay ID`) in the working directory.
  (
    cd "$out/$user"
    FUZZ_USER="$user" FUZZ_UPLOADS="$out/uploads.json" SCHEMATHESIS_HOOKS="$root/scripts/fuzz_hooks.py" \
      "$root/.tools/fuzz/bin/schemathesis" --config-file "$root/scripts/fuzz.toml" \
      run "$root/openapi.dev.yaml" \
      --url "$base" \
      --header "x-user-id: $user" \
      --seed "$FUZZ_SEED" \
      --max-examples "${FUZZ_EXAMPLES:-150}" \
      --report junit --report-dir "$out/$user" \
      --no-color
  ) || status=1
done

# A server that died or panicked fails the run even if every answer it gave was right.
if ! kill -0 "$api_pid" 2>/dev/null; then
  echo "[fuzz] the local API exited during the run; its log: $out/api.log" >&2
  status=1
fi
if grep -nE "^thread '[^']*' panicked at" "$out/api.log" >&2; then
  echo "[fuzz] the local API panicked; its log: $out/api.log" >&2
  status=1
fi
"$py" - "$out/api.log" <<'PY' >&2
import collections, re, sys
counts = collections.Counter()
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    line = re.sub(r"\x1b\[[0-9;]*m", "", line)
    m = re.search(r'endpoint="?([a-z-]+)', line)
    if m and re.search(r" (handled|refused|failed)", line):
        counts[m.group(1)] += 1
print("[fuzz] requests the API answered per endpoint: "
      + ", ".join(f"{name} {n}" for name, n in sorted(counts.items())))
PY
exit "$status"
