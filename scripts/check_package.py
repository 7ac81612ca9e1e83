#!/usr/bin/env python3
"""Checks what `sam build` produced (scripts/package.sh, `make package`): every rust-cargolambda function
of template.yaml, found there rather than listed here, has its own directory in .aws-sam/build holding
one executable `bootstrap`, an ELF for the function's architecture (aarch64 for arm64), byte for byte the
binary cargo-lambda built for that function's `Binary`; the built template keeps each function's
runtime, handler and architecture, and points its CodeUri at that directory. Prints the sizes.
Usage: check_package.py TEMPLATE BUILD_DIR LAMBDA_DIR
(LAMBDA_DIR: cargo-lambda's output, <target dir>/lambda, one <binary>/bootstrap per function)"""
import hashlib
import sys
from pathlib import Path

import yaml  # the SAM CLI's virtualenv (.tools/sam) has PyYAML

# ELF e_machine per Lambda architecture.
MACHINES = {"arm64": (0xB7, "aarch64 ELF"), "x86_64": (0x3E, "x86-64 ELF")}
RUNTIME, HANDLER = "provided.al2023", "bootstrap"
failures = []


class Template(yaml.SafeLoader):
    """Reads CloudFormation's short-form intrinsics (!Ref, !If, !Sub ...) as plain values."""


Template.add_multi_constructor("!", lambda loader, suffix, node: None)


def check(condition, message):
    if not condition:
        failures.append(message)
        print(f"FAIL  {message}")
    return condition


def functions(template):
    """Logical id -> (effective properties, Binary) of every rust-cargolambda function."""
    defaults = (template.get("Globals") or {}).get("Function") or {}
    found = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        metadata = resource.get("Metadata") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and metadata.get("BuildMethod") == "rust-cargolambda":
            binary = (metadata.get("BuildProperties") or {}).get("Binary")
            found[logical_id] = ({**defaults, **(resource.get("Properties") or {})}, binary)
    return found


def elf_machine(path):
    """(is a 64-bit little-endian ELF, e_machine)."""
    header = path.read_bytes()[:20]
    return header[:6] == b"\x7fELF\x02\x01", int.from_bytes(header[18:20], "little")


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main():
    source_path, build_dir, lambda_dir = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    source = functions(yaml.load(source_path.read_text(), Loader=Template))
    built_path = build_dir / "template.yaml"
    if not check(built_path.is_file(), f"{built_path} exists"):
        sys.exit(1)
    built = functions(yaml.load(built_path.read_text(), Loader=Template))
    check(bool(source), f"{source_path} declares rust-cargolambda functions")
    check(set(built) == set(source), f"the built template has the same functions as {source_path}: "
          f"missing {sorted(set(source) - set(built))}, extra {sorted(set(built) - set(source))}")

    rows = []
    for logical_id, (props, binary) in sorted(source.items()):
        built_props, _ = built.get(logical_id, ({}, None))
        arch = (props.get("Architectures") or ["x86_64"])[0]
        check(binary is not None, f"{logical_id}: Metadata.BuildProperties.Binary is set")
        check(props.get("Runtime") == RUNTIME and props.get("Handler") == HANDLER,
              f"{logical_id}: template runtime {props.get('Runtime')}, handler {props.get('Handler')} "
              f"(expected {RUNTIME}, {HANDLER})")
        for key in ("Runtime", "Handler", "Architectures"):
            check(built_props.get(key) == props.get(key),
                  f"{logical_id}: built template {key} {built_props.get(key)!r} (template: {props.get(key)!r})")
        code_uri = built_props.get("CodeUri")
        check(code_uri == logical_id, f"{logical_id}: built CodeUri {code_uri!r} (expected {logical_id!r})")
        bootstrap = build_dir / str(code_uri) / "bootstrap"
        if not check(bootstrap.is_file(), f"{logical_id}: {bootstrap} exists"):
            continue
        entries = sorted(p.name for p in bootstrap.parent.iterdir())
        check(entries == ["bootstrap"], f"{logical_id}: its directory holds only bootstrap ({entries})")
        check(bootstrap.stat().st_mode & 0o111 != 0, f"{logical_id}: bootstrap is executable")
        is_elf, machine = elf_machine(bootstrap)
        expected_machine, machine_name = MACHINES.get(arch, (None, arch))
        check(is_elf and machine == expected_machine,
              f"{logical_id}: bootstrap is a 64-bit {machine_name} for {arch} (e_machine {machine:#x})")
        built_binary = lambda_dir / str(binary) / "bootstrap"
        check(built_binary.is_file() and digest(built_binary) == digest(bootstrap),
              f"{logical_id}: bootstrap is cargo-lambda's {built_binary}")
        found = next((name for number, name in MACHINES.values() if is_elf and number == machine), "not an ELF we know")
        rows.append((logical_id, binary, found, bootstrap.stat().st_size))

    print(f"\n| function | binary | {built_path.parent}/<function>/bootstrap | size |")
    print("|---|---|---|---:|")
    for logical_id, binary, machine_name, size in rows:
        print(f"| {logical_id} | {binary} | {machine_name} | {size / 1e6:.1f} MB |")
    if failures:
        print(f"\n{len(failures)} package check(s) failed", file=sys.stderr)
        sys.exit(1)
    print(f"\npackage checked: {len(rows)} functions, one {', '.join(sorted({r[2] for r in rows}))} bootstrap each")


if __name__ == "__main__":
    main()
