#!/usr/bin/env bash
# Validates template.yaml offline: cfn-lint with the serverless rules (cfn-lint-serverless), then
# SAM's own validation with its linter.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/sam/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
[ -x .tools/sam/bin/sam ] || scripts/tools.sh all
.tools/sam/bin/python -c "import cfn_lint_serverless" 2>/dev/null ||
  .tools/sam/bin/python -m pip install --quiet --disable-pip-version-check cfn-lint-serverless
cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
sam validate --lint --template-file template.yaml
