#!/usr/bin/env bash
# A whole upload against any deployment of the API, as a phone would make it: initialize (with
# metadata), batch-presigned-urls, a PUT of each part straight to storage, complete, then status.
# It checks that the upload is COMPLETED with the file's size, its metadata, and S3's multipart ETag
# computed here from the bytes sent (so storage holds exactly those bytes). Python 3 stdlib only.
#
#   scripts/smoke.sh API_URL TOKEN          a deployed stack: API_URL is the ApiUrl output, TOKEN a JWT
#                                           (docs/deploy.md shows how to get one from the user pool)
#   scripts/smoke.sh API_URL --user NAME    the local API (`make dev`), whose identity is x-user-id
#
# The file is 5 MiB + 1 KiB of random bytes in two parts (the smallest multipart upload); it stays
# in the bucket under the caller's prefix, and the upload id and key are printed.
set -euo pipefail
if [ $# -lt 2 ] || { [ "$2" = "--user" ] && [ $# -lt 3 ]; }; then
  echo "usage: $0 API_URL TOKEN | $0 API_URL --user NAME" >&2
  exit 2
fi
exec python3 - "$@" <<'EOF'
import hashlib, json, os, sys, urllib.error, urllib.request

api, rest = sys.argv[1], sys.argv[2:]
base = api.rstrip("/")
if not base.endswith("/api/v1/multipart-upload"):
    base += "/api/v1/multipart-upload"
identity = {"x-user-id": rest[1]} if rest[0] == "--user" else {"authorization": f"Bearer {rest[0]}"}
PART = 5 * 1024 * 1024
data = os.urandom(PART + 1024)


def fail(message):
    print(f"smoke: FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def call(method, path, body=None):
    request = urllib.request.Request(base + path, method=method, headers={
        **identity, "accept": "application/json",
        **({"content-type": "application/json"} if body is not None else {}),
    }, data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)
    except urllib.error.HTTPError as err:
        fail(f"{method} {path}: HTTP {err.code} {err.read()[:300].decode(errors='replace')}")
    except urllib.error.URLError as err:
        fail(f"{method} {path}: {err.reason} (is {base} the API?)")


metadata = {"smoke-test": "scripts-smoke-sh"}
init = call("POST", "/initialize", {"fileName": "smoke.bin", "fileType": "application/octet-stream",
                                   "fileSize": len(data), "partSize": PART, "metadata": metadata})
upload_id, total = init["uploadId"], init["totalParts"]
chunk = init["chunkSize"]
print(f"smoke: upload {upload_id}: {total} parts of {chunk} bytes -> {init['key']}")
urls = call("POST", "/batch-presigned-urls", {"uploadId": upload_id, "startPart": 1, "endPart": total})["urls"]
parts, digests = [], []
for url in urls:
    n = url["partNumber"]
    body = data[(n - 1) * chunk:n * chunk]
    # Every signed header verbatim but content-length (urllib sets it from the body); an explicit
    # content type, as apps send (urllib's default would be a form encoding).
    headers = {k: v for k, v in url.get("headers", {}).items() if k.lower() != "content-length"}
    headers.setdefault("content-type", "application/octet-stream")
    request = urllib.request.Request(url["presignedUrl"], data=body, method="PUT", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            etag = response.headers["ETag"]
    except urllib.error.HTTPError as err:
        fail(f"PUT part {n}: HTTP {err.code} {err.read()[:300].decode(errors='replace')}")
    if not etag:
        fail(f"PUT part {n}: no ETag header")
    parts.append({"PartNumber": n, "ETag": etag})
    digests.append(hashlib.md5(body).digest())
    print(f"smoke: part {n} stored ({len(body)} bytes)")
done = call("POST", "/complete", {"uploadId": upload_id, "parts": parts})
status = call("GET", f"/status/{upload_id}")
expected_etag = f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'
checks = [
    ("complete answered COMPLETED", done.get("status") == "COMPLETED"),
    ("status is COMPLETED", status.get("status") == "COMPLETED"),
    (f"size is {len(data)}", done.get("size") == len(data) and status.get("fileSize") == len(data)),
    ("status shows the metadata", status.get("metadata") == metadata),
    ("the object's ETag is that of the bytes sent", done.get("etag") == expected_etag),
]
for what, ok in checks:
    print(f"smoke: {'ok' if ok else 'WRONG'}: {what}")
if not all(ok for _, ok in checks):
    fail(f"complete: {json.dumps(done)}; status: {json.dumps(status)}")
print(f"smoke: passed: {len(data)} bytes stored as {done['key']}")
EOF
