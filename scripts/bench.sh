#!/usr/bin/env bash
# `make bench`: every performance figure in one table (see BENCHMARKS.md).
#  1. criterion: presign ns/URL (ours, aws-sdk-s3 presigned(), the SigV4 lower bound) and the batch
#     handler for 1,000 parts (shared/benches/presign.rs);
#  2. release binaries: arm64 from `sam build` itself (scripts/package.sh, `make package`: offline, then
#     checks one aarch64 bootstrap per function and the built template), what `sam deploy` ships, and
#     x86-64 (cargo build --release, the same profile, what the emulator runs); their sizes;
#  3. each x86-64 bootstrap under the Lambda Runtime Interface Emulator against the local stack:
#     median cold start over COLD_STARTS fresh processes, and peak RSS after a full upload flow;
#  4. the scale simulation (`make scale`, docs/scale.md): uploads/s, round trips, hot keys, cost.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
COLD_STARTS="${COLD_STARTS:-7}"
scripts/tools.sh all
scripts/tools.sh lambda
out=$(mktemp -d "${TMPDIR:-/tmp}/bench.XXXXXX")
trap 'rm -rf "$out"' EXIT

echo "==> criterion: presigning and the batch handler" >&2
cargo bench --locked -p shared --bench presign

echo "==> the CLI's resume journal: 10,000 parts" >&2
cargo run --release --locked -q -p upload-client --example bench_journal

echo "==> what the default checksum costs: digests, and the CLI against s5cmd" >&2
scripts/bench-integrity.sh

echo "==> the deploy build (sam build, arm64) and its check" >&2
scripts/package.sh

echo "==> release build, x86-64, for the emulator" >&2
packages=()
for crate in functions/*/; do packages+=(-p "$(basename "$crate")"); done
cargo build --release --locked "${packages[@]}"

echo "==> cold starts and memory under the Lambda Runtime Interface Emulator" >&2
cargo build --locked -p local-api
rie=$(ls "$PWD"/.tools/sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64)
scripts/stack.sh -- bash -c '
  export UPLOADS_BUCKET=bench-uploads UPLOADS_TABLE=bench-uploads
  S3_ENDPOINT_URL="$TEST_MOTO_URL" DYNAMODB_ENDPOINT_URL="$TEST_MOTO_URL" S3_FORCE_PATH_STYLE=true \
    target/debug/local-api --bootstrap-only
  python3 scripts/rie_test.py "$0" target/release --cold-starts "$1" --json "$2" >&2' \
  "$rie" "$COLD_STARTS" "$out/rie.json"

python3 scripts/bench_table.py "$out/rie.json" target/lambda

echo "==> the scale simulation (make scale)" >&2
SCALE=full cargo test --release --locked -p shared --test scale
