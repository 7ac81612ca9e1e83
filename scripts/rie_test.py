#!/usr/bin/env python3
"""Runs every function's optimised bootstrap under AWS's Lambda Runtime Interface Emulator (the one
the SAM CLI ships; no Docker) against the local stack, posts the sample events from events/ to it
and checks each answer: the Docker-free equivalent of `sam local invoke -e events/....json`.

Also prints, per function, the binary size, the cold start (process start to first answer) and the
peak RSS of the bootstrap. Needs TEST_MOTO_URL (scripts/stack.sh) and the binaries in BINARY_DIR:
target/emulator from scripts/test-release.sh (make test), target/release from scripts/bench.sh.
Usage: rie_test.py RIE_BINARY BINARY_DIR [--cold-starts N --json FILE]
With --cold-starts, also starts each function N more times from cold on an event that needs no AWS
call (no identity: 401; the cleanup's scheduled event does its real run) and writes the medians,
with sizes and peak RSS, to FILE for `make bench`.
"""
import statistics
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
PLACEHOLDER = "3f2c9d1e-8a4b-4c6d-9e0f-1a2b3c4d5e6f"
FUNCTIONS = ["initialize", "presigned-url", "batch-presigned-urls", "complete", "abort", "list-parts", "status",
             "list-uploads", "cleanup-stale-uploads"]
failures = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(condition, message):
    print(("ok    " if condition else "FAIL  ") + message, flush=True)
    if not condition:
        failures.append(message)


class Function:
    def __init__(self, rie, release, name, env):
        self.name = name
        self.binary = release / name
        self.rie = rie
        self.env = env
        self.process = None
        self.cold_start_ms = None

    def start(self):
        """Started on first use, so the cold start measured is this function's own."""
        self.port = free_port()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [self.rie, "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{free_port()}", "--log-level", "error", str(self.binary)],
            env={**self.env, "AWS_LAMBDA_FUNCTION_NAME": self.name},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def invoke(self, event, timeout=30):
        if self.process is None:
            self.start()
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        data = json.dumps(event).encode()
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=timeout) as r:
                    answer = json.loads(r.read())
                    break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        if self.cold_start_ms is None:
            self.cold_start_ms = (time.monotonic() - self.started) * 1000
        return answer

    def peak_rss_kib(self):
        """VmHWM of the bootstrap, a child of the emulator."""
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if (proc / "exe").resolve() == self.binary.resolve():
                    for line in (proc / "status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            return int(line.split()[1])
            except (OSError, ValueError):
                continue
        return None

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def load(name, upload_id=None, body=None):
    event = json.loads((EVENTS / f"{name}.json").read_text())
    text = json.dumps(event)
    if upload_id:
        text = text.replace(PLACEHOLDER, upload_id)
    event = json.loads(text)
    if body is not None:
        event["body"] = json.dumps(body)
    return event


def call(functions, function, event_name, expected, upload_id=None, body=None):
    answer = functions[function].invoke(load(event_name, upload_id, body))
    status = answer.get("statusCode")
    check(status == expected, f"{event_name}: {function} answered {status} (expected {expected})")
    try:
        return json.loads(answer.get("body") or "{}")
    except ValueError:
        return {}


def without_identity(name):
    """The function's sample event with the authorizer removed: answered 401 before any AWS call."""
    event = load(f"{name}-ok")
    event.get("requestContext", {}).pop("authorizer", None)
    return event


def cold_starts(rie, release, env, runs):
    """Median exec-to-first-answer over `runs` fresh emulator + bootstrap processes per function."""
    medians = {}
    for name in FUNCTIONS:
        times = []
        for _ in range(runs):
            f = Function(rie, release, name, env)
            try:
                if name == "cleanup-stale-uploads":
                    f.invoke(load("cleanup-stale-uploads-scheduled"))
                else:
                    answer = f.invoke(without_identity(name))
                    check(answer.get("statusCode") == 401, f"{name} without identity answered 401")
                times.append(f.cold_start_ms)
            finally:
                f.stop()
        medians[name] = statistics.median(times)
    return medians


def main():
    rie, release = sys.argv[1], Path(sys.argv[2])
    args = sys.argv[3:]
    runs = int(args[args.index("--cold-starts") + 1]) if "--cold-starts" in args else 0
    json_out = args[args.index("--json") + 1] if "--json" in args else None
    moto = os.environ["TEST_MOTO_URL"]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": os.environ["AWS_ACCESS_KEY_ID"],
        "AWS_SECRET_ACCESS_KEY": os.environ["AWS_SECRET_ACCESS_KEY"],
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "UPLOADS_BUCKET": os.environ["UPLOADS_BUCKET"],
        "UPLOADS_TABLE": os.environ["UPLOADS_TABLE"],
        "S3_ENDPOINT_URL": moto,
        "DYNAMODB_ENDPOINT_URL": moto,
        "S3_FORCE_PATH_STYLE": "true",
        "RUST_LOG": "warn",
    }
    functions = {name: Function(rie, release, name, env) for name in FUNCTIONS}
    try:
        created = call(functions, "initialize", "initialize-ok", 201)
        upload_id = created.get("uploadId", "missing")
        check(created.get("totalParts") == 63, f"initialize-ok planned {created.get('totalParts')} parts of a 500 MB file")
        call(functions, "initialize", "initialize-invalid", 400)
        one = call(functions, "presigned-url", "presigned-url-ok", 200, upload_id)
        check("X-Amz-Signature=" in one.get("presignedUrl", ""), "presigned-url-ok returned a signed URL")
        batch = call(functions, "batch-presigned-urls", "batch-presigned-urls-ok", 200, upload_id)
        check(len(batch.get("urls", [])) == 10, "batch-presigned-urls-ok returned 10 URLs")
        call(functions, "list-parts", "list-parts-ok", 200, upload_id)
        status = call(functions, "status", "status-ok", 200, upload_id)
        check(status.get("status") == "INITIATED", f"status-ok reports {status.get('status')}")
        call(functions, "status", "status-unauthenticated", 401, upload_id)
        listed = call(functions, "list-uploads", "list-uploads-ok", 200)
        check([u.get("uploadId") for u in listed.get("uploads", [])] == [upload_id],
              f"list-uploads-ok lists the caller's one INITIATED upload: {listed}")
        call(functions, "list-uploads", "list-uploads-invalid", 400)
        call(functions, "abort", "abort-ok", 200, upload_id)

        # complete-ok needs every part in storage: a one-part upload, its bytes PUT as a phone would.
        small = call(functions, "initialize", "initialize-ok", 201,
                     body={"fileName": "clip.mp4", "fileType": "video/mp4", "fileSize": 100})
        small_id = small.get("uploadId", "missing")
        url = call(functions, "presigned-url", "presigned-url-ok", 200, small_id).get("presignedUrl", "")
        put = urllib.request.Request(url, data=b"x" * 100, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        with urllib.request.urlopen(put, timeout=30) as r:
            check(r.status == 200, "PUT of the part to its presigned URL")
        done = call(functions, "complete", "complete-ok", 200, small_id)
        check(done.get("size") == 100, f"complete-ok completed {done.get('size')} bytes")

        # The scheduled cleanup (lambda_runtime, not HTTP): its answer is the run's summary.
        summary = functions["cleanup-stale-uploads"].invoke(load("cleanup-stale-uploads-scheduled"))
        check(isinstance(summary, dict) and summary.get("errors") == 0 and "found" in summary,
              f"cleanup-stale-uploads-scheduled: summary {summary}")

        if json_out:
            medians = cold_starts(rie, release, env, runs)
            Path(json_out).write_text(json.dumps({
                name: {"binary_bytes": f.binary.stat().st_size, "peak_rss_kib": f.peak_rss_kib(),
                       "cold_start_ms_median": medians[name], "cold_start_runs": runs}
                for name, f in functions.items()}, indent=2))
        print()
        print("cold start: emulator and bootstrap exec to the first answer; peak RSS: the bootstrap's VmHWM")
        print(f"{'function':<22} {'binary':>10} {'cold start':>11} {'peak RSS':>10}")
        for name, f in functions.items():
            size = f.binary.stat().st_size / 1e6
            rss = f.peak_rss_kib()
            rss_text = f"{rss / 1024:.1f} MiB" if rss else "n/a"
            cold = f"{f.cold_start_ms:.0f} ms" if f.cold_start_ms else "n/a"
            print(f"{name:<22} {size:>8.1f}MB {cold:>11} {rss_text:>10}")
    finally:
        for f in functions.values():
            f.stop()
    if failures:
        print(f"\n{len(failures)} check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("\nall emulator checks passed")


if __name__ == "__main__":
    main()
