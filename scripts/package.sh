#!/usr/bin/env bash
# `make package` (also run by `make bench`, not by `make test`): the deploy build, `sam build` exactly as
# docs/deploy.md runs it (samconfig.toml's parameters; SAM_ENV=prod for `--config-env prod`), then a
# check of what it produced (scripts/check_package.py): one aarch64 `bootstrap` per function of
# template.yaml, their sizes, the built template's runtimes and handlers.
# Proven offline: `cargo fetch --locked` is the one step allowed to download (the crates Cargo.lock
# names, if missing); `sam build` then runs in a network namespace with no interface where the kernel
# allows one (`unshare -rn`), with cargo offline, SAM's telemetry off and no AWS credentials.
# The cargo profile is the workspace's [profile.release]; CARGO_PROFILE_RELEASE_* variables in the
# environment override it (SAM passes the environment through to cargo-lambda), as BENCHMARKS.md does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/lambda/bin:$PWD/.tools/sam/bin:$HOME/.cargo/bin:$PATH"
[ -x .tools/sam/bin/sam ] || scripts/tools.sh sam
[ -x .tools/lambda/bin/cargo-lambda ] || scripts/tools.sh lambda
sam_env="${SAM_ENV:-default}"

cargo fetch --locked
lock=$(sha256sum Cargo.lock)
# No AWS credentials or config, no telemetry, cargo offline.
offline=(env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN -u AWS_PROFILE
  AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
  SAM_CLI_TELEMETRY=0 CARGO_NET_OFFLINE=true)
if unshare -rn true 2>/dev/null; then
  offline=(unshare -rn "${offline[@]}")
else
  echo "package: no network namespace here (unshare -rn refused); offline by the settings above only" >&2
fi

echo "==> sam build --config-env $sam_env (offline; profile: [profile.release]$(env | grep -o '^CARGO_PROFILE_RELEASE_[A-Z_]*=[^ ]*' | sed 's/^/ /' | tr -d '\n'))" >&2
start=$(date +%s)
"${offline[@]}" sam build --config-env "$sam_env"
elapsed=$(($(date +%s) - start))
[ "$(sha256sum Cargo.lock)" = "$lock" ] || { echo "package: sam build changed Cargo.lock" >&2; exit 1; }

target_dir=$(cargo metadata --no-deps --format-version 1 --locked --offline | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
.tools/sam/bin/python scripts/check_package.py template.yaml .aws-sam/build "$target_dir/lambda"
echo "sam build: ${elapsed}s ($((elapsed / 60))m$((elapsed % 60))s) on $(nproc) cores"
