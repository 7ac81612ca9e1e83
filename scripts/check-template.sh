#!/usr/bin/env bash
# Validates template.yaml offline: cfn-lint, then SAM's own validation with its linter.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/sam/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
command -v cfn-lint >/dev/null 2>&1 && command -v sam >/dev/null 2>&1 || scripts/tools.sh all
cfn-lint template.yaml
sam validate --lint --template-file template.yaml
