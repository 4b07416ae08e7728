#!/usr/bin/env bash
# The main job, end to end: set up, build, create a busybox container, show its plan, run a
# command in it, start it, show it, enter it, stop it, destroy it. Run as root from the
# repository.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
. tests/setup.sh

echo "== building corral (release)"
cargo build --release -q -p corral-engine
corral=$repo/target/release/corral
name=demo

if "$corral" ls | grep -qx "$name"; then
    "$corral" destroy -f -n "$name"
fi
trap '"$corral" destroy -f -n "$name" >/dev/null 2>&1 || true' EXIT

echo "== corral create -t busybox -n $name"
"$corral" create -t busybox -n "$name"

echo "== corral plan -n $name (stages, summarised)"
"$corral" plan -n "$name" | python3 -c '
import json, sys
p = json.load(sys.stdin)
ns = [k for k, v in p["namespaces"]["namespaces"].items() if v == "new"]
print("namespaces: new", " ".join(ns), "| hostname", p["namespaces"]["hostname"])
print("mounts:    ", " ".join(m["target"] for m in p["mounts"]["mounts"]), "| root", p["mounts"]["rootfs"]["path"])
print("network:   ", p["network"]["mode"])
print("security:  ", len(p["security"]["capabilities"]["bounding"]), "capabilities, no_new_privs", p["security"]["no_new_privs"])
print("cgroups:   ", p["cgroups"]["path"], p["cgroups"]["limits"])'

echo "== corral execute -n $name -- sh -c '...'"
"$corral" execute -n "$name" -- /bin/sh -c '
    echo "hello from $(hostname), pid $$"
    echo "processes:"; ps -o pid,args
    echo "/ holds: $(ls / | xargs)"; echo "cgroup: $(head -1 /proc/self/cgroup)"
    ip -o link show | cut -d: -f2'

echo "== corral start -n $name   (a system container: busybox init as PID 1, under a monitor)"
"$corral" start -n "$name"
echo "== corral info -n $name"
"$corral" info -n "$name"
echo "== corral ls -f"
"$corral" ls -f
echo "== corral attach -n $name -- ps"
"$corral" attach -n "$name" -- ps -o pid,args
echo "== ps: the monitor on the host"
ps -eo pid,args | grep "\[corral monitor\] $name" | grep -v grep
echo "== corral stop -n $name"
"$corral" stop -n "$name"
"$corral" info -n "$name"
echo "== corral destroy -n $name"
"$corral" destroy -n "$name"
trap - EXIT
