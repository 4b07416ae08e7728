#!/usr/bin/env bash
# Runs the whole test suite, as root: unit tests, integration tests with real containers on
# this host's cgroups, and the cgroup v2 tests for real in a small VM.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
. tests/setup.sh

echo "== build"
cargo build --workspace --all-targets -q

echo "== unit and integration tests (this host: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup)"
cargo test --workspace --no-fail-fast

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
    tests/vm/run-cgroup2.sh target/debug/corral

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
    tests/vm/run-cgroup2.sh target/debug/corral
