#!/usr/bin/env bash
# Validates template.yaml offline: cfn-lint with the serverless rules (cfn-lint-serverless), SAM's
# own validation with its linter, then the checkov security scan, which fails on any finding that is
# neither fixed nor waived in the template with a written reason (Metadata: checkov: skip: comment).
# Twice: as written, and with the optional edge on (CloudFront + WAF). `scripts/check-template.sh FILE`
# checks FILE alone.
set -euo pipefail
cd "$(dirname "$0")/.."
template=${1:-template.yaml}
export PATH="$PWD/.tools/sam/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
# The SAM CLI, cfn-lint and cfn-lint-serverless at their pinned versions (installed when missing).
scripts/tools.sh sam
echo "==> $template" >&2
cfn-lint "$template" --append-rules cfn_lint_serverless.rules
sam validate --lint --template-file "$template"
# The operations side: alarms with OKActions, windows, dashboard, saved queries (issue 27).
if [ "$template" = template.yaml ]; then
  .tools/sam/bin/python scripts/test_template.py
  # Both auth modes: by default (JwtIssuer empty) the stack creates its Cognito user pool; with an
  # issuer of one's own it creates none. The second mode is checked on a copy whose defaults name one.
  external=$(mktemp ./.template-external-XXXXXX.yaml)
  sed -e '/^  JwtIssuer:$/,/^  [A-Z]/ s|^    Default: ""$|    Default: https://issuer.example.com/|' \
      -e '/^  JwtAudience:$/,/^  [A-Z]/ s|^    Default: ""$|    Default: example-app-client|' "$template" >"$external"
  grep -q 'Default: https://issuer.example.com/' "$external" && grep -q 'Default: example-app-client' "$external" ||
    { rm -f "$external"; echo "check-template: could not set JwtIssuer/JwtAudience defaults in the copy" >&2; exit 1; }
  status=0
  cfn-lint "$external" --append-rules cfn_lint_serverless.rules || status=$?
  [ "$status" != 0 ] || sam validate --lint --template-file "$external" || status=$?
  rm -f "$external"
  [ "$status" = 0 ] || { echo "check-template: the template with an external JwtIssuer fails" >&2; exit "$status"; }
fi

scripts/tools.sh checkov
report=$(mktemp)
trap 'rm -f "$report"' EXIT
# Offline: no download from the Prisma Cloud platform, no PyPI version check, no id mapping.
status=0
CKV_SKIP_PACKAGE_UPDATE_CHECK=true BC_SKIP_MAPPING=true .tools/checkov/bin/checkov \
  --file "$template" --framework cloudformation --skip-download --compact -o json >"$report" || status=$?
.tools/checkov/bin/python - "$report" "$status" <<'EOF'
import json, sys

path, status = sys.argv[1], int(sys.argv[2])
try:
    with open(path) as f:
        report = json.load(f)
except ValueError:
    sys.exit(f"checkov (exit {status}) wrote no JSON report")
summary, results = report["summary"], report["results"]
problems = []
for check in results.get("failed_checks", []):
    first, last = check["file_line_range"]
    problems.append(f"FAILED {check['check_id']} {check['resource']} (template.yaml:{first}-{last}): {check['check_name']}")
for check in results.get("skipped_checks", []):
    comment = check["check_result"].get("suppress_comment", "").strip()
    if not comment or comment == "No comment provided":
        problems.append(f"SKIPPED WITHOUT A REASON {check['check_id']} {check['resource']}")
if summary["parsing_errors"] or not summary["resource_count"]:
    problems.append(f"checkov could not read template.yaml: {results.get('parsing_errors')}")
if status and not problems:
    problems.append(f"checkov exited with {status}")
unexplained = sum(p.startswith("SKIPPED") for p in problems)
print(f"checkov {summary['checkov_version']}: {summary['passed']} passed, {summary['failed']} failed, "
      f"{summary['skipped']} waived in template.yaml, {unexplained} of them without a written reason")
if problems:
    print("\n".join(problems), file=sys.stderr)
    print("Fix the template, or waive the check on the resource with Metadata: checkov: skip: "
          "- id: ... comment: <why it does not apply and what covers the risk>.", file=sys.stderr)
    sys.exit(1)
EOF

# --- The edge on: the same checks on a copy whose parameters default to EdgeProtection=Enabled, with
# an origin domain, certificate and hosted zone (its Rules require the first two). Line numbers stay
# those of template.yaml.
if [ -z "${1:-}" ]; then
  # The Rules as CloudFormation evaluates them: samconfig.toml's configs pass, prod with "*" origins or
  # no scope is refused, and so is the edge without an origin or outside us-east-1.
  .tools/sam/bin/python scripts/check_rules.py template.yaml samconfig.toml
  edge_dir=$(mktemp -d)
  trap 'rm -f "$report"; rm -rf "$edge_dir"' EXIT
  .tools/checkov/bin/python - template.yaml "$edge_dir/template.yaml" <<'EOF'
import re, sys

source, target = sys.argv[1], sys.argv[2]
text = open(source).read()
defaults = {
    "EdgeProtection": "Enabled",
    "EdgeOriginDomainName": "api-origin.example.com",
    "EdgeOriginCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    "EdgeHostedZoneId": "Z0000000000000000000",
}
for name, value in defaults.items():
    text, n = re.subn(rf"(\n  {name}:\n    Type: \w+\n    Default: )[^\n]*", rf'\g<1>"{value}"', text)
    if n != 1:
        sys.exit(f"template.yaml has no parameter {name} with a Default to turn the edge on")
open(target, "w").write(text)
EOF
  scripts/check-template.sh "$edge_dir/template.yaml"
fi
