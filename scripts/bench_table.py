#!/usr/bin/env python3
"""Prints `make bench`'s table from criterion's estimates, the binaries and the emulator's figures.
Usage: bench_table.py RIE_JSON ARM64_LAMBDA_DIR"""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"


def median_ns(group, name):
    estimates = json.loads((CRITERION / group / name / "new" / "estimates.json").read_text())
    return estimates["median"]["point_estimate"]


def machine():
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
               if line.startswith("MemTotal"))
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {os.cpu_count()} cores, {mem / 1024 / 1024:.0f} GiB, {platform.system()} {platform.release()}, {rustc}"


def main():
    rie = json.loads(Path(sys.argv[1]).read_text())
    arm64 = Path(sys.argv[2])
    ours, single = median_ns("presign_url", "ours"), median_ns("presign_url", "ours_single")
    sdk, bound = median_ns("presign_url", "sdk"), median_ns("presign_url", "lower_bound")
    batch = median_ns("batch_handler", "1000_parts")

    print(f"\nmachine: {machine()}\n")
    print("| presign one UploadPart URL (criterion median) | ns/URL | vs SDK | vs lower bound |")
    print("|---|---:|---:|---:|")
    for label, ns in [("ours, per URL of a batch (`PartSigner::url`)", ours),
                      ("ours, a single URL including the signer's setup", single),
                      ("aws-sdk-s3 `presigned()`", sdk),
                      ("lower bound: 1 SHA-256 + 1 cached-key HMAC", bound)]:
        print(f"| {label} | {ns:,.0f} | {sdk / ns:.1f}x faster | {ns / bound:.2f}x |")
    print(f"\nbatch handler, 1,000 part URLs, JSON in to JSON out (record in memory): {batch / 1e6:.2f} ms "
          f"({batch / 1000:,.0f} ns/part)\n")
    print("| function | x86-64 binary | arm64 binary | cold start (median of "
          f"{next(iter(rie.values()))['cold_start_runs']}) | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for name, f in rie.items():
        arm = arm64 / name / "bootstrap"
        arm_size = f"{arm.stat().st_size / 1e6:.1f} MB" if arm.exists() else "n/a"
        rss = f"{f['peak_rss_kib'] / 1024:.1f} MiB" if f["peak_rss_kib"] else "n/a"
        print(f"| {name} | {f['binary_bytes'] / 1e6:.1f} MB | {arm_size} | {f['cold_start_ms_median']:.0f} ms | {rss} |")


if __name__ == "__main__":
    main()
