#!/usr/bin/env bash
# Runs the whole test suite, as root: unit tests, integration tests with real containers on
# this host's cgroups, and the cgroup v2 tests for real in a small VM.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
. tests/setup.sh

echo "== build"
cargo build --workspace --all-targets -q
# Where cargo put what it built (CARGO_TARGET_DIR moves it).
target="${CARGO_TARGET_DIR:-$repo/target}"

echo "== unit and integration tests (this host: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup)"
cargo test --workspace --no-fail-fast

echo "== the Python package: pip install ./python, then pytest against real containers"
# A venv of the chosen interpreter (CORRAL_PYTHON, python3 by default): the same Python
# installs the wheel and runs the tests; its monitors are this build's corral.
venv=target/python-venv
"${CORRAL_PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install -q pytest
"$venv/bin/python" -m pip install -q --force-reinstall ./python
CORRAL_BIN="$target/debug/corral" "$venv/bin/python" -m pytest -q tests/python

echo "== cgroup v2, for real, in a VM"
# The integration tests that touch cgroups run again inside the VM, against pure cgroup2.
bins=$(cargo test -p corral-tests --test execute --test failures --test cgroups --test system --no-run \
    --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])')
# script(1), which the terminal test uses, is not in the VM; fifty containers under TCG
# emulation would take minutes and test nothing cgroup2 adds.
CORRAL_VM_TEST_BIN=$(echo $bins) CORRAL_VM_TEST_ARGS="--skip a_terminal_gets_a_pty --skip fifty_containers" \
    tests/vm/run-cgroup2.sh "$target/debug/corral"

# The device rules are an eBPF program on cgroup v2: the security test that checks them,
# inside the VM too (the others need the probe, which the VM does not carry).
security=$(cargo test -p corral-tests --test security --no-run --message-format=json 2>/dev/null |
    python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])')
CORRAL_VM_TEST_BIN=$security CORRAL_VM_TEST_ARGS="device_rules" \
    tests/vm/run-cgroup2.sh "$target/debug/corral"
