#!/usr/bin/env bash
# Starts the local stack on free 127.0.0.1 ports, runs a command with its endpoints in the
# environment, and stops everything it started when the command ends (also on failure or Ctrl-C).
#
#   scripts/stack.sh [--strict] -- COMMAND...
#
# Always: moto (S3 + DynamoDB) -> TEST_MOTO_URL. With --strict also s3s-fs -> TEST_S3S_URL.
set -euo pipefail

strict=0
while [ $# -gt 0 ]; do
  case "$1" in
    --strict) strict=1; shift ;;
    --) shift; break ;;
    *) echo "usage: $0 [--strict] -- COMMAND..." >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "$0")/.." && pwd)
export PATH="$HOME/.cargo/bin:$PATH"
export AWS_ACCESS_KEY_ID=local-access-key AWS_SECRET_ACCESS_KEY=local-secret-key
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_SESSION_TOKEN AWS_PROFILE

work=$(mktemp -d "${TMPDIR:-/tmp}/upload-stack.XXXXXX")
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
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

status=0
"$@" || status=$?
exit "$status"
