#!/usr/bin/env bash
# Benchmark (not a test): one cleanup run over BENCH_UPLOADS (default 300) stale uploads on moto.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh dev
exec scripts/stack.sh -- cargo run --quiet --locked -p testkit --example bench_cleanup
