"""Schemathesis hooks and checks for scripts/fuzz-api.sh (stdlib and schemathesis's own deps only).

Run as a script it seeds the local API with real uploads for every fuzz user and writes them to a
JSON file:

    python scripts/fuzz_hooks.py seed API_BASE_URL OUT.json alice bob

Loaded by schemathesis (SCHEMATHESIS_HOOKS), with FUZZ_UPLOADS naming that file and FUZZ_USER the
caller of this run, it

- swaps the uploadId of some generated requests for a seeded one, the caller's own or another
  user's, so fuzzed requests reach real uploads in every state and not only the 404 path;
- checks that another user's upload is indistinguishable from a missing one: the same status and
  body as the same request naming a random uploadId;
- checks that a schema-valid request is never refused as malformed (a 400 whose code says the
  request breaks the spec). It replaces schemathesis's positive_data_acceptance, which would also
  count the 400s the spec cannot express (a part number beyond this upload's totalParts, parts not
  in storage yet) as failures;
- checks that the same request without x-user-id gets 401 (replacing ignored_auth, see fuzz.toml).

Every choice is drawn through hypothesis, so schemathesis's --seed replays it.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import re
import sys
import urllib.request
import uuid

# Codes the server answers when a request breaks the spec itself. A request that schemathesis
# generated as valid must never get one: either the spec is too loose or the server too strict.
# Codes for what only the state, the configuration or rules the spec cannot express decide
# (INVALID_PART_NUMBER beyond totalParts, INVALID_PARTS for unsorted parts, INVALID_FILE_NAME for
# a name of only whitespace, MISSING_PARTS, ...) are not listed.
MALFORMED = {
    "INVALID_JSON",
    "MISSING_FIELD",
    "INVALID_FIELD",
    "INVALID_UPLOAD_ID",
    "INVALID_FILE_TYPE",
    "INVALID_FILE_SIZE",
    "INVALID_CHECKSUM_ALGORITHM",
}


def _http(method: str, url: str, user: str | None = None, body: object = None, data: bytes | None = None):
    headers = {}
    if user is not None:
        headers["x-user-id"] = user
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    elif data is not None:
        headers["content-type"] = "application/octet-stream"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.read()


def seed(base: str, out: str, users: list[str]) -> None:
    """A few uploads per user, one in each state the fuzz should reach."""
    api = base.rstrip("/") + "/api/v1/multipart-upload"
    seeded: dict[str, list[dict[str, str]]] = {}
    for user in users:
        uploads = []

        def start(state: str, **extra: object) -> dict:
            file = {"fileName": f"{state}.mp4", "fileType": "video/mp4", "fileSize": 10, **extra}
            _, raw = _http("POST", f"{api}/initialize", user, file)
            init = json.loads(raw)
            uploads.append({"uploadId": init["uploadId"], "key": init["key"], "state": state})
            return init

        def put_part(init: dict) -> None:
            _, raw = _http("POST", f"{api}/presigned-url", user, {"uploadId": init["uploadId"], "partNumber": 1})
            _http("PUT", json.loads(raw)["presignedUrl"], data=b"0123456789")

        # 10,000 parts of 8 MiB: every part number the spec allows is one of this upload's. Kept
        # open all run: the hooks never hand it to its owner's abort or complete.
        start("open", fileSize=10_000 * 8 * 1024 * 1024)
        start("initiated")
        start("checksummed", checksumAlgorithm="SHA256")
        put_part(start("ready"))  # every part stored: a fuzzed complete may succeed
        completed = start("completed")
        put_part(completed)
        _http("POST", f"{api}/complete", user, {"uploadId": completed["uploadId"]})
        aborted = start("aborted")
        _http("POST", f"{api}/abort", user, {"uploadId": aborted["uploadId"]})
        seeded[user] = uploads
    with open(out, "w", encoding="utf-8") as f:
        json.dump(seeded, f, indent=1)
    for user, uploads in seeded.items():
        print(f"[fuzz] seeded {user}: " + ", ".join(f"{u['state']} {u['uploadId']}" for u in uploads), file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 5 or sys.argv[1] != "seed":
        sys.exit("usage: fuzz_hooks.py seed API_BASE_URL OUT.json USER...")
    seed(sys.argv[2], sys.argv[3], sys.argv[4:])
    sys.exit(0)

# ---- loaded by schemathesis from here on ----

import requests  # noqa: E402 (schemathesis's own dependency)
import schemathesis  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

ME = os.environ.get("FUZZ_USER", "")
STATS: collections.Counter = collections.Counter()
_SEEDED: dict[str, list[dict[str, str]]] = {}
if os.environ.get("FUZZ_UPLOADS"):
    with open(os.environ["FUZZ_UPLOADS"], encoding="utf-8") as f:
        _SEEDED = json.load(f)
KEYS = {u["uploadId"]: u["key"] for uploads in _SEEDED.values() for u in uploads}
OWN = {u["uploadId"] for u in _SEEDED.get(ME, [])}
FOREIGN = set(KEYS) - OWN
# In seeding order (user, state), not by id: the same seed then makes the same choices.
IDS = [u["uploadId"] for user in sorted(_SEEDED) for u in _SEEDED[user]]
# Abort and complete are never handed the caller's own "open" upload; the other operations get it
# more often than the rest, since any part number the spec allows is within it.
OPEN = [u["uploadId"] for u in _SEEDED.get(ME, []) if u["state"] == "open"]
IDS_TO_END = [i for i in IDS if i not in OPEN]
IDS_TO_USE = IDS + OPEN * 4


def _ids_for(context) -> list[str]:
    operation = getattr(context, "operation", None)
    path = getattr(operation, "path", "") or ""
    return IDS_TO_END if path.endswith(("/abort", "/complete")) else IDS_TO_USE


_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def _is_uuid(value: object) -> bool:
    """A UUID in the spec's (RFC 4122) text form, as `format: uuid` checks it."""
    return isinstance(value, str) and _UUID.fullmatch(value) is not None


def _seeded_body(body: dict, upload_id: str, key_choice: str) -> dict:
    body = {**body, "uploadId": upload_id}
    # Only a valid key (a string, or null) is dropped or put right; an invalid one stays invalid.
    if "key" in body and (body["key"] is None or isinstance(body["key"], str)):
        if key_choice == "drop":
            del body["key"]
        elif key_choice == "real":
            body["key"] = KEYS[upload_id]
    return body


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _ordered(body: dict) -> dict:
    """The same body with what the spec cannot say put right: startPart <= endPart within one
    batch (MAX_PARTS_PER_BATCH, 1,000), parts in PartNumber order. Values are only moved, or brought
    closer inside their valid range, so validity stays as it was."""
    body = dict(body)
    start, end = _number(body.get("startPart")), _number(body.get("endPart"))
    if start is not None and end is not None and start > end:
        body["startPart"], body["endPart"] = body["endPart"], body["startPart"]
        start, end = end, start
    valid = lambda n: isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 10_000  # noqa: E731
    if valid(start) and valid(end) and end - start >= 1000:
        body["endPart"] = start + 999
    parts = body.get("parts")
    if isinstance(parts, list) and parts and all(
        isinstance(p, dict) and _number(p.get("PartNumber")) is not None for p in parts
    ):
        # Sorted, not deduplicated: dropping a repeat could drop the one invalid item.
        body["parts"] = sorted(parts, key=lambda p: p["PartNumber"])
    return body


@schemathesis.hook
def flatmap_body(context, body):
    # Each body is sent as generated, or with its order rules met, or naming a seeded upload. Only
    # an uploadId that already is a UUID is swapped, for another UUID: a valid body stays valid and
    # an invalid one invalid, so the positive and negative checks still judge it rightly.
    if not isinstance(body, dict):
        return st.just(body)
    choices = [st.just(body)]
    ordered = _ordered(body)
    if ordered != body:
        choices.append(st.just(ordered))
    ids = _ids_for(context)
    if ids and _is_uuid(body.get("uploadId")):
        choices.append(
            st.builds(
                _seeded_body,
                st.just(ordered),
                st.sampled_from(ids),
                st.sampled_from(["keep", "drop", "real", "real"]),
            )
        )
    return st.one_of(*choices)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    ids = _ids_for(context)
    if not ids or not _is_uuid((path_parameters or {}).get("uploadId")):
        return st.just(path_parameters)
    seeded = st.sampled_from(ids).map(lambda upload_id: {**path_parameters, "uploadId": upload_id})
    return st.one_of(st.just(path_parameters), seeded)


@atexit.register
def _report() -> None:
    foreign = {k.split()[1]: n for k, n in STATS.items() if k.startswith("foreign ")}
    print(
        f"[fuzz] hooks as {ME}: {sum(foreign.values())} requests named another user's upload and were "
        f"compared with a random id (answers: {dict(sorted(foreign.items()))}); "
        f"{STATS['anonymous']} were repeated without x-user-id",
        file=sys.stderr,
    )


def _named_upload_id(case) -> str | None:
    if isinstance(case.body, dict) and isinstance(case.body.get("uploadId"), str):
        return case.body["uploadId"]
    return (case.path_parameters or {}).get("uploadId")


def _error_code(response) -> str | None:
    try:
        return response.json()["error"]["code"]
    except Exception:
        return None


@schemathesis.check
def foreign_upload_looks_missing(ctx, response, case):
    """Another user's upload gets exactly what a random uploadId gets: ids cannot be probed."""
    upload_id = _named_upload_id(case)
    if upload_id not in FOREIGN:
        return None
    prepared = response.request
    fresh = str(uuid.uuid4())
    body = prepared.body
    if isinstance(body, bytes):
        body = body.replace(upload_id.encode(), fresh.encode())
    elif isinstance(body, str):
        body = body.replace(upload_id, fresh)
    probe = requests.request(
        prepared.method,
        prepared.url.replace(upload_id, fresh),
        headers=dict(prepared.headers),
        data=body,
        timeout=30,
    )
    got = (response.status_code, response.content)
    missing = (probe.status_code, probe.content)
    STATS[f"foreign {got[0]}"] += 1
    if got != missing:
        raise AssertionError(
            f"another user's upload {upload_id} answers {got[0]} {got[1][:300]!r}, "
            f"but a random uploadId answers {missing[0]} {missing[1][:300]!r}"
        )
    return True


@schemathesis.check
def valid_request_not_refused_as_malformed(ctx, response, case):
    """A request generated from the spec as valid must not get a 400 that says it breaks the spec."""
    meta = case.meta
    if meta is None or meta.generation.mode.is_negative or response.status_code != 400:
        return None
    if any(info.mode.is_negative for info in meta.components.values()):
        return None
    code = _error_code(response)
    if code in MALFORMED:
        raise AssertionError(
            f"a schema-valid request was refused with 400 {code}: the spec and the server disagree "
            f"about what is valid ({response.content[:300]!r})"
        )
    return True


_ANONYMOUS_PROBES: dict[str, int] = {}


@schemathesis.check
def no_identity_is_unauthenticated(ctx, response, case):
    """The same request without x-user-id gets 401 UNAUTHENTICATED (sampled: 25 per operation).

    Stands in for schemathesis's ignored_auth, which cannot apply here: locally any non-empty
    x-user-id is a user, so there is no invalid identity to be refused, only a missing one.
    """
    label = case.operation.label
    prepared = response.request
    # Only the operation's own method (not the coverage phase's probes with other methods), and
    # not an oversized body: the body limit is checked first, as API Gateway's payload limit is.
    if (
        _ANONYMOUS_PROBES.get(label, 0) >= 25
        or prepared.method.upper() != case.operation.method.upper()
        or response.status_code == 413
    ):
        return None
    _ANONYMOUS_PROBES[label] = _ANONYMOUS_PROBES.get(label, 0) + 1
    headers = {k: v for k, v in prepared.headers.items() if k.lower() != "x-user-id"}
    probe = requests.request(prepared.method, prepared.url, headers=headers, data=prepared.body, timeout=30)
    STATS["anonymous"] += 1
    if (probe.status_code, _error_code(probe)) != (401, "UNAUTHENTICATED"):
        raise AssertionError(
            f"without x-user-id the request got {probe.status_code} {probe.content[:300]!r}, "
            "expected 401 UNAUTHENTICATED"
        )
    return True
