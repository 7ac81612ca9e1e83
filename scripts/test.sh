#!/usr/bin/env bash
# `make test`: every check, on a fresh machine too. Installs what is missing, then: formatting,
# clippy, unit and integration tests against the local S3 and DynamoDB servers, template checks, a
# schemathesis fuzz run against the local API.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/sam/bin:$HOME/.cargo/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

step "tools"
scripts/tools.sh all

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny: licenses, bans and sources of the dependency graph (deny.toml); advisories when RustSec's database can be fetched"
cargo deny --locked check --hide-inclusion-graph licenses bans sources
if timeout 60 cargo deny fetch db >/dev/null 2>&1; then
  cargo deny --locked --offline check --hide-inclusion-graph advisories
else
  echo "cargo deny: advisories SKIPPED: RustSec's advisory database (a git repository on GitHub) could not be fetched from here; licenses, bans and sources passed" >&2
fi

step "the contract: openapi.yaml and openapi.dev.yaml are what the wire types generate (utoipa)"
cargo clippy -p upload-contract --features openapi --all-targets --locked -- -D warnings
cargo test -p upload-contract --features openapi --locked

step "the contract as mobile codegen sees it (openapi-generator validate, kotlin and swift6: no errors, 64-bit byte counts)"
scripts/check-openapi.sh

step "tests (unit + integration against moto, s3s-fs and LocalStack, the demo page in headless Chromium)"
TEST_BROWSER=1 scripts/stack.sh --strict --localstack -- cargo test --workspace --locked

step "TypeScript client and Uppy plugin (Node, headless Chromium)" && TEST_BROWSER=1 scripts/test-js.sh

step "benchmarks once, as tests (their assertions: equal URLs, 1,000 URLs from the batch handler)"
cargo test --locked -p shared --bench presign

step "template checks"
scripts/check-template.sh

step "fuzz the local API from openapi.dev.yaml (schemathesis, two users; FUZZ_SEED=N replays)"
scripts/fuzz-api.sh

step "release bootstraps under the Lambda Runtime Interface Emulator"
scripts/test-release.sh

step "all checks passed"
