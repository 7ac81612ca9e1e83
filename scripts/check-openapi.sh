#!/usr/bin/env bash
# Checks the generated contract the way mobile teams consume it, offline: openapi-generator
# validates openapi.yaml and openapi.dev.yaml with no issue, then generates the kotlin and swift6
# clients (enumUnknownDefaultCase=true, as the spec recommends) with no error, and every byte count
# (fileSize, chunkSize, size, uploadedBytes, a listed part's Size) is 64-bit: Long / Int64.
# Output in target/openapi-clients/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/tools.sh openapi
gen=.tools/openapi/bin/openapi-generator-cli
out=target/openapi-clients
rm -rf "$out"
mkdir -p "$out"

for spec in openapi.yaml openapi.dev.yaml; do
  report=$("$gen" validate -i "$spec" 2>&1) || { echo "$report" >&2; echo "[openapi] $spec does not validate" >&2; exit 1; }
  if ! grep -q "No validation issues detected" <<<"$report"; then
    echo "$report" >&2
    echo "[openapi] $spec: openapi-generator reports issues" >&2
    exit 1
  fi
  echo "[openapi] $spec: no validation issues" >&2
done

for lang in kotlin swift6; do
  log="$out/$lang.log"
  if ! "$gen" generate -g "$lang" -i openapi.yaml -o "$out/$lang" \
    --additional-properties=enumUnknownDefaultCase=true >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "[openapi] generating the $lang client failed; its log: $log" >&2
    exit 1
  fi
  if grep -E "\] (ERROR|SEVERE) |Exception" "$log" >&2; then
    echo "[openapi] generating the $lang client printed errors; its log: $log" >&2
    exit 1
  fi
done

python3 - "$out" <<'PY'
import pathlib, re, sys
out = pathlib.Path(sys.argv[1])
# Every byte count in the contract, as each generator names the property.
bytes_fields = {"fileSize", "chunkSize", "size", "propertySize", "uploadedBytes"}
checks = {
    "kotlin": (r"\bva[lr] `?(\w+)`?: ([\w.]+)", "kotlin.Long", "src/main/kotlin"),
    "swift6": (r"public var (\w+): (\w+)", "Int64", "Sources"),
}
failed = False
for lang, (pattern, wanted, root) in checks.items():
    found = []
    for model in sorted((out / lang / root).rglob("models/*.*")) + sorted((out / lang / root).rglob("Models/*.*")):
        for name, kind in re.findall(pattern, model.read_text()):
            if name in bytes_fields:
                found.append((model.stem, name, kind))
    wrong = [f for f in found if f[2] != wanted]
    print(f"[openapi] {lang}: {len(found)} byte counts, all {wanted}" if not wrong and len(found) >= 7
          else f"[openapi] {lang}: byte counts {found} (want {wanted}, at least 7)", file=sys.stderr)
    failed |= bool(wrong) or len(found) < 7
sys.exit(1 if failed else 0)
PY
echo "[openapi] ok: validate clean, kotlin and swift6 generated without errors, 64-bit byte counts" >&2
