#!/usr/bin/env bash
# Starts the local stack on free 127.0.0.1 ports, runs a command with its endpoints in the
# environment, and stops everything it started when the command ends (also on failure or Ctrl-C).
#
#   scripts/stack.sh [--strict] [--localstack] -- COMMAND...
#
# Always: moto (S3 + DynamoDB) -> TEST_MOTO_URL. With --strict also s3s-fs -> TEST_S3S_URL.
# With --localstack also LocalStack's S3 (host mode, no Docker; it verifies part checksums)
# -> TEST_LOCALSTACK_URL. See docs/local-stack.md for what each server proves.
set -euo pipefail

strict=0
localstack=0
while [ $# -gt 0 ]; do
  case "$1" in
    --strict) strict=1; shift ;;
    --localstack) localstack=1; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--strict] [--localstack] -- COMMAND..." >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export AWS_ACCESS_KEY_ID=local-access-key AWS_SECRET_ACCESS_KEY=local-secret-key
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE

work=$(mktemp -d "${TMPDIR:-/tmp}/upload-stack.XXXXXX")
pids=()
localstack_pid=""
stop() {
  # LocalStack shuts down on SIGINT in a few seconds (scripts/localstack_server.py); should it not
  # within 30 s, it is killed: its folder is this run's and goes anyway.
  [ -z "$localstack_pid" ] || kill -INT "$localstack_pid" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$localstack_pid" ]; then
    for _ in $(seq 1 150); do kill -0 "$localstack_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$localstack_pid" 2>/dev/null || true
    wait "$localstack_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # url name log
  for _ in $(seq 1 150); do
    if curl -s -o /dev/null "$1" 2>/dev/null || python3 - "$1" <<'PY' 2>/dev/null
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
    then return 0; fi
    sleep 0.2
  done
  echo "[stack] $2 did not start; its log:" >&2
  cat "$3" >&2
  exit 1
}

moto_port=$(free_port)
"$root/.tools/moto/bin/python" "$root/scripts/moto_server.py" 127.0.0.1 "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
export TEST_MOTO_URL="http://127.0.0.1:$moto_port"
wait_http "$TEST_MOTO_URL/moto-api/" moto "$work/moto.log"
echo "[stack] moto (S3 + DynamoDB) on $TEST_MOTO_URL" >&2

if [ "$strict" = 1 ]; then
  s3s_port=$(free_port)
  mkdir -p "$work/s3s"
  s3s-fs --host 127.0.0.1 --port "$s3s_port" \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" "$work/s3s" >"$work/s3s.log" 2>&1 &
  pids+=($!)
  export TEST_S3S_URL="http://127.0.0.1:$s3s_port"
  wait_http "$TEST_S3S_URL/" s3s-fs "$work/s3s.log"
  echo "[stack] s3s-fs (strict SigV4 S3) on $TEST_S3S_URL" >&2
fi

if [ "$localstack" = 1 ]; then
  [ -x "$root/.tools/localstack/bin/python" ] || "$root/scripts/tools.sh" localstack
  ls_port=$(free_port)
  ls_root="$work/localstack"
  mkdir -p "$ls_root/tmp" "$root/.tools/localstack-cache"
  # Host mode, S3 only, loopback only, no DNS server. It writes only to this run's FILESYSTEM_ROOT
  # and TEMP (objects and parts; TEMP, not TMPDIR, which LocalStack reads as a deprecated setting)
  # and to the plugin index cache under .tools (XDG_CACHE_HOME), reused from run to run.
  # OVERRIDE_IN_DOCKER=0: otherwise it believes it runs in a container, writes under /var/lib, /etc
  # and /usr/lib and may start a DNS server. GATEWAY_SERVER=hypercorn: the default server binds
  # 0.0.0.0. S3 is loaded before it reports healthy. Presigned URLs are verified (signature, expiry)
  # against its fixed secret key `test`; header-signed SDK calls are not checked.
  env -i PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 \
    TEMP="$ls_root/tmp" XDG_CACHE_HOME="$root/.tools/localstack-cache" \
    OVERRIDE_IN_DOCKER=0 FILESYSTEM_ROOT="$ls_root" GATEWAY_SERVER=hypercorn \
    GATEWAY_LISTEN="127.0.0.1:$ls_port" LOCALSTACK_HOST="127.0.0.1:$ls_port" DNS_ADDRESS=0 \
    SERVICES=s3 EAGER_SERVICE_LOADING=1 S3_SKIP_SIGNATURE_VALIDATION=0 DISABLE_EVENTS=1 \
    SKIP_SSL_CERT_DOWNLOAD=1 PERSISTENCE=0 \
    "$root/.tools/localstack/bin/python" "$root/scripts/localstack_server.py" >"$work/localstack.log" 2>&1 &
  localstack_pid=$!
  export TEST_LOCALSTACK_URL="http://127.0.0.1:$ls_port"
  healthy() { # 2xx from /_localstack/health
    python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "$TEST_LOCALSTACK_URL/_localstack/health" 2>/dev/null
  }
  for _ in $(seq 1 600); do
    if healthy || ! kill -0 "$localstack_pid" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if ! healthy; then
    echo "[stack] LocalStack did not start; its log:" >&2
    cat "$work/localstack.log" >&2
    exit 1
  fi
  echo "[stack] LocalStack S3 (checks checksums and presigned URLs) on $TEST_LOCALSTACK_URL" >&2
fi

status=0
"$@" || status=$?
exit "$status"
