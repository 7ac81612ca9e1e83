#!/usr/bin/env bash
# Installs what `make dev` and `make test` need and is missing. Safe to run again: it only installs
# what it cannot find. Python tools live in their own virtualenvs under .tools/ (moto and the SAM CLI
# pin conflicting versions of cfn-lint); Rust tools come from rustup and crates.io. Every tool is pinned
# to an exact version (what `make test` last passed with): a new release never changes a run unasked.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[tools] %s\n' "$*" >&2; }

# moto 5.2 answers ListParts with a root element the Rust SDK rejects; 5.1.22 is right.
MOTO_SPEC="moto[server]==5.1.22"
# pip itself, upgraded in each venv (the Debian one is too old for some wheels).
PIP_SPEC="pip==26.3"
SAM_SPEC="aws-sam-cli==1.170.0"
CFN_LINT_SPEC="cfn-lint==1.58.0"
# cfn-lint's serverless rules (scripts/check-template.sh), in the SAM venv.
CFN_LINT_SERVERLESS_SPEC="cfn-lint-serverless==0.3.6"
# The API fuzz run (scripts/fuzz-api.sh); pinned, since its CLI and checks change between releases.
FUZZ_SPEC="schemathesis==4.32.5"
# The IaC scanner scripts/check-template.sh runs; pinned, since new releases add checks.
CHECKOV_SPEC="checkov==3.3.30"
# cargo-lambda links the bootstraps that are deployed, with Zig: cargo-lambda asks for ziglang>=0.10.0,
# pinned here to what that resolved to when these pins were set.
CARGO_LAMBDA_SPECS=("cargo-lambda==1.9.2" "ziglang==0.17.1")
# The contract checks (scripts/check-openapi.sh): openapi-generator's jar ships in this wheel and runs
# on the machine's Java 17; pinned, since its validator and generators change between releases.
OPENAPI_GENERATOR_SPEC="openapi-generator-cli==7.26.0"
S3S_VERSION="0.14.1" # 0.17 needs a newer rustc than 1.95
# Licenses, bans, sources and advisories of the dependency graph (deny.toml); needs rustc 1.88.
CARGO_DENY_VERSION="0.20.2"
# LocalStack in host mode (no Docker): the one local S3 that verifies part checksums. Each pin fixes
# a break seen with Python 3.11: newer cbor2 finds no plugins, pyOpenSSL 26 lacks
# X509.add_extensions, psutil 7 lacks snicaddr; LocalStack releases from 2026 need Python 3.12.
LOCALSTACK_SPECS=("localstack-core[runtime]==4.9.2" "cbor2==5.6.5" "pyOpenSSL==25.1.0"
  "cryptography==45.0.7" "psutil==6.1.1" "service_identity==24.2.0")

# Whether a venv's command runs here: a venv copied or moved from another checkout keeps scripts whose
# shebang names the old path ("cannot execute: required file not found").
runnable() {
  [ -x "$1" ] || return 1
  local shebang
  shebang=$(head -n 1 "$1")
  case $shebang in
    '#!/'*) shebang=${shebang#??}; [ -x "${shebang%% *}" ] ;;
    *) return 0 ;;
  esac
}

# Whether the venv has every `name==version` of the specs (names and versions compared as pip
# normalizes them: case, `_` and `.` aside).
pinned() { # dir pip-specs...
  local dir=$1 spec name have
  shift
  have=$("$dir/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null | tr 'A-Z_.' 'a-z--')
  for spec in "$@"; do
    case $spec in *==*) ;; *) continue ;; esac
    name=${spec%%==*}
    name=${name%%\[*}
    grep -qx -- "$(printf '%s==%s' "$name" "${spec#*==}" | tr 'A-Z_.' 'a-z--')" <<<"$have" || return 1
  done
}

venv() { # dir marker-command pip-specs...
  local dir=$1 marker=$2; shift 2
  if ! runnable "$dir/bin/$marker"; then
    log "installing $* into $dir"
    rm -rf "$dir"
    python3 -m venv "$dir"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$PIP_SPEC"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  elif ! pinned "$dir" "$@"; then
    log "bringing $dir to the pinned $*"
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  fi
}

ensure_rust() {
  command -v cargo >/dev/null 2>&1 || { log "cargo is required"; exit 1; }
  # rust-toolchain.toml names an exact release. A machine whose `stable` is that release but that has
  # no toolchain by that name gets the name as a link to it, rather than rustup downloading it.
  local pinned toolchains host stable
  pinned=$(sed -n 's/^channel = "\(.*\)"$/\1/p' rust-toolchain.toml)
  toolchains="${RUSTUP_HOME:-$HOME/.rustup}/toolchains"
  host=$(RUSTUP_TOOLCHAIN=stable rustc -vV 2>/dev/null | sed -n 's/^host: //p')
  stable=$(RUSTUP_TOOLCHAIN=stable rustc --version 2>/dev/null | cut -d' ' -f2)
  if [ -n "$pinned" ] && [ -n "$host" ] && [ ! -e "$toolchains/$pinned-$host" ] && [ "$stable" = "$pinned" ]; then
    log "linking toolchain $pinned (rust-toolchain.toml) to the installed stable $stable"
    ln -s "stable-$host" "$toolchains/$pinned-$host"
  fi
  for component in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
  done
}

ensure_s3s() {
  if [ ! -x "$HOME/.cargo/bin/s3s-fs" ] && ! command -v s3s-fs >/dev/null 2>&1; then
    log "cargo install s3s-fs $S3S_VERSION (a few minutes, once per machine)"
    cargo install "s3s-fs@$S3S_VERSION" --locked --features binary --quiet
  fi
}

ensure_cargo_deny() {
  local have
  have=$(cargo deny --version 2>/dev/null || true)
  if [ "$have" != "cargo-deny $CARGO_DENY_VERSION" ]; then
    log "cargo install cargo-deny $CARGO_DENY_VERSION (a few minutes, once per machine)"
    cargo install "cargo-deny@$CARGO_DENY_VERSION" --locked --quiet
  fi
}

# Headless Chromium and its WebDriver for the demo page's browser test (Debian packages).
ensure_browser() {
  if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then return; fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  log "apt-get install chromium chromium-driver (the demo page's browser test)"
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
}

case "${1:-all}" in
  dev)
    ensure_rust
    venv .tools/moto moto_server "$MOTO_SPEC"
    ;;
  fuzz)
    ensure_rust
    venv .tools/moto moto_server "$MOTO_SPEC"
    venv .tools/fuzz schemathesis "$FUZZ_SPEC"
    ;;
  all)
    ensure_rust
    venv .tools/moto moto_server "$MOTO_SPEC"
    venv .tools/sam sam "$SAM_SPEC" "$CFN_LINT_SPEC" "$CFN_LINT_SERVERLESS_SPEC"
    venv .tools/fuzz schemathesis "$FUZZ_SPEC"
    venv .tools/checkov checkov "$CHECKOV_SPEC"
    venv .tools/openapi openapi-generator-cli "$OPENAPI_GENERATOR_SPEC"
    ensure_s3s
    ensure_cargo_deny
    ensure_browser
    venv .tools/localstack localstack "${LOCALSTACK_SPECS[@]}"
    ;;
  sam)
    # The SAM CLI alone, for `make package` (sam build).
    venv .tools/sam sam "$SAM_SPEC" "$CFN_LINT_SPEC" "$CFN_LINT_SERVERLESS_SPEC"
    ;;
  deny)
    ensure_cargo_deny
    ;;
  localstack)
    venv .tools/localstack localstack "${LOCALSTACK_SPECS[@]}"
    ;;
  openapi)
    venv .tools/openapi openapi-generator-cli "$OPENAPI_GENERATOR_SPEC"
    ;;
  checkov)
    venv .tools/checkov checkov "$CHECKOV_SPEC"
    ;;
  lambda)
    # cargo-lambda with its Zig linker, for the arm64 builds `make bench` and deploys use.
    venv .tools/lambda cargo-lambda "${CARGO_LAMBDA_SPECS[@]}"
    rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu
    ;;
  *) echo "usage: $0 [dev|fuzz|all|sam|checkov|localstack|openapi|lambda|deny]" >&2; exit 2 ;;
esac
