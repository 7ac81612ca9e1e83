#!/usr/bin/env bash
# Builds the bootstraps (x86-64, for this machine) and runs each under AWS's Lambda Runtime
# Interface Emulator against the local stack, posting its events/*.json: `sam local invoke -e`
# without Docker. Prints each binary's size, cold start and peak RSS. Called by scripts/test.sh.
# Built with the dev profile by default: this step checks behaviour (every sample event through the
# real bootstrap and the runtime API), and `make test` has already compiled every dependency in that
# profile, so only the eight small binaries are linked. `make bench` measures the deploy (release)
# profile's size, cold start and memory; PROFILE=emulator (release, incremental) or
# PROFILE=release runs this step on an optimised build.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
[ -x .tools/sam/bin/sam ] || scripts/tools.sh all
rie=$(ls .tools/sam/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-x86_64)
packages=()
for crate in functions/*/; do packages+=(-p "$(basename "$crate")"); done
profile="${PROFILE:-dev}"
cargo build --profile "$profile" --locked "${packages[@]}"
dir=$profile
[ "$profile" = dev ] && dir=debug
cargo build --locked -p local-api
scripts/stack.sh -- bash -c '
  export UPLOADS_BUCKET=rie-uploads UPLOADS_TABLE=rie-uploads
  S3_ENDPOINT_URL="$TEST_MOTO_URL" DYNAMODB_ENDPOINT_URL="$TEST_MOTO_URL" S3_FORCE_PATH_STYLE=true \
    target/debug/local-api --bootstrap-only
  python3 scripts/rie_test.py "$0" "$1"' "$PWD/$rie" "target/$dir"
