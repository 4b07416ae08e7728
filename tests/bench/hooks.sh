#!/usr/bin/env bash
# Benchmark: what hooks cost a start. `corral execute -- /bin/true` in a busybox rootfs,
# the three taking turns (see lib.sh), with
#
#   none     no hooks
#   rust     the test plugin (tests/plugin) at every point of the start and stop (15 calls)
#   python   a Python script with a function at every point (15 calls), the interpreter's
#            start included (each run is a new process)
#
# Targets: no hooks costs nothing (compare with tests/bench/execute.sh); Rust hooks at all
# points under 1 ms in total; Python hooks at all points under 30 ms in total.
# This is a benchmark, not a test: it exits 0 unless --check is given and a target is
# missed. Must run as root.
set -euo pipefail

usage() {
	cat <<'USAGE'
usage: tests/bench/hooks.sh [--quick] [--check] [--out PREFIX]

  --quick       fewer runs (warmup 3, 30 runs each)
  --check       exit 1 if a target is missed
  --out PREFIX  write PREFIX.json and PREFIX.md (default: <repo>/target/bench/hooks)

Builds the release binary and plugins (cargo build --release) first.
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"
quick=0
check=0
out="$repo/target/bench/hooks"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--check) check=1 ;;
	--out) out="$2"; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || { echo "hooks.sh: run as root" >&2; exit 2; }

(cd "$repo" && cargo build --release -q)
target="${CARGO_TARGET_DIR:-$repo/target}/release"
bin="$target/corral"
tag="corral-bench-hooks-$$" # unique per run: the cgroup parent
world="$(mktemp -d /tmp/corral-bench-hooks.XXXXXX)"
# corral's runtime files on a tmpfs, as on a normal system (see lib.sh).
run_dir="$(bench_run_dir corral-bench-hooks)"
cleanup() {
	for c in none rust python; do "$bin" destroy -f -n "$c" >/dev/null 2>&1 || true; done
	bench_remove_cgroups "$tag"
	rm -rf "$world" "$run_dir"
}
trap cleanup EXIT
export CORRAL_ROOT="$world/root" CORRAL_RUN_DIR="$run_dir" CORRAL_CONFIG="$world/global.toml"
export CORRAL_PLUGIN_PATH="$target"
printf '[cgroup]\nparent = "%s"\n' "$tag" >"$CORRAL_CONFIG"

points="pre-start before-namespaces after-namespaces before-mounts after-mounts before-network
after-network before-security after-security before-cgroups after-cgroups start-host start
stop post-stop"
script="$world/hooks.py"
: >"$script"
for p in $points; do printf 'def %s(ctx):\n    pass\n' "${p//-/_}" >>"$script"; done

make() { # name, config text put before the template's
	"$bin" create -t busybox -n "$1" >/dev/null 2>&1
	{ printf '%s' "$2"; cat "$CORRAL_ROOT/$1/config.toml"; } >"$world/c" && mv "$world/c" "$CORRAL_ROOT/$1/config.toml"
}
make none ""
rust='plugins = ["testhooks"]
'
for p in $points; do rust+="[[hooks]]
point = \"$p\"
plugin = \"testhooks\"
"; done
make rust "$rust"
make python "[[hooks]]
python = \"$script\"
"
# Tables must follow the top-level keys: move the template's hostname above them.
for c in rust python; do
	f="$CORRAL_ROOT/$c/config.toml"
	{ grep -v '^\[' "$f" | grep '^hostname'; grep -v '^hostname' "$f"; } >"$world/c" && mv "$world/c" "$f"
done
for c in none rust python; do "$bin" execute -n "$c" -- /bin/true; done

rounds=150
[ "$quick" = 1 ] && rounds=30
mkdir -p "$(dirname "$out")"
# Hooks cost about as much as a busy machine drifts between one command's batch and the
# next's: the three take turns instead (lib.sh), and medians are compared.
printf '%s\t%s\n' \
	none "$bin execute -n none -- /bin/true" \
	rust "$bin execute -n rust -- /bin/true" \
	python "$bin execute -n python -- /bin/true" |
	bench_interleaved "$rounds" "$out.json"

python3 - "$out.json" "$check" <<'PY'
import json, statistics, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
med = lambda n: statistics.median(results[n]["times"]) * 1e3
mean = lambda n: statistics.mean(results[n]["times"]) * 1e3
cpu = lambda n: statistics.median(results[n]["cpu"]) * 1e3
ok = True
print(f"\nno hooks: {med('none'):.2f} ms per start (median; mean {mean('none'):.2f} ms)")
for name, target in (("rust", 1.0), ("python", 30.0)):
    extra = med(name) - med("none")
    met = extra < target
    ok &= met
    print(f"{name} hooks at 15 points: +{extra:.2f} ms (medians; means +{mean(name) - mean('none'):.2f} ms)"
          f" (target < {target:g} ms): {'met' if met else 'MISSED'}")
    print(f"  CPU time of it (user + system, medians): +{cpu(name) - cpu('none'):.2f} ms")
sys.exit(0 if ok or sys.argv[2] == "0" else 1)
PY
