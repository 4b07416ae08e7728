#!/usr/bin/env bash
# Benchmark: the security stage's cost in corral's start path, in interleaved rounds.
#
#   corral-bare      no seccomp, no masked paths, no device rules (the floor)
#   corral-none      the default security stage without seccomp
#   corral-seccomp   the default security stage: corral's default seccomp policy
#   corral-landlock  the default seccomp policy and a strict Landlock ruleset
#   lxc-execute      lxc-execute with LXC's default seccomp policy (common.seccomp)
#
# Each runs /bin/true in the same busybox rootfs. The stage's cost is corral-seccomp (or
# corral-landlock) minus corral-bare. A benchmark, not a test: it exits 0 unless --check is
# given and the security stage adds 1 ms or more. Must run as root. See README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"
quick=0
check=0
out="$repo/target/bench/security"
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--check) check=1 ;;
	--out) out="$2"; shift ;;
	-h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "security.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done

die() { printf 'security.sh: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"
for p in lxc busybox-static; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$p" >/dev/null
done
corral="${CORRAL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/corral}"
[ -x "$corral" ] || (cd "$repo" && cargo build --release -q -p corral-engine)
lxc_seccomp=/usr/share/lxc/config/common.seccomp
[ -f "$lxc_seccomp" ] || die "$lxc_seccomp missing (package lxc)"

tag="corral-bench-sec-$$"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")"
# corral's runtime files on a tmpfs, as on a normal system (see lib.sh).
run_dir="$(bench_run_dir "$tag")"
export CORRAL_ROOT="$tmp/root" CORRAL_RUN_DIR="$run_dir" CORRAL_CONFIG="$tmp/global.toml"
printf '[cgroup]\nparent = "%s"\n' "$tag" >"$CORRAL_CONFIG"
variants=(bare none seccomp landlock)

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	for v in "${variants[@]}"; do "$corral" destroy -n "$v" >/dev/null 2>&1; done
	if lxc-info -P "$tmp/lxc" -n "$tag" -s 2>/dev/null | grep -q RUNNING; then
		lxc-stop -P "$tmp/lxc" -n "$tag" -k >/dev/null 2>&1
	fi
	bench_remove_cgroups "$tag"
	rm -rf --one-file-system "$tmp" "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for v in "${variants[@]}"; do
	"$corral" create -t busybox -n "$v" >/dev/null 2>&1 || die "corral create -n $v failed"
done
cat >"$CORRAL_ROOT/bare/config.toml" <<'EOF'
[security]
masked_paths = []
devices = []
[security.seccomp]
profile = "none"
EOF
printf '[security.seccomp]\nprofile = "none"\n' >"$CORRAL_ROOT/none/config.toml"
: >"$CORRAL_ROOT/seccomp/config.toml"
cat >"$CORRAL_ROOT/landlock/config.toml" <<'EOF'
[security.landlock]
mode = "strict"
[[security.landlock.rule]]
path = "/"
access = "ro"
[[security.landlock.rule]]
path = "/tmp"
access = "rw"
[[security.landlock.rule]]
path = "/dev"
access = "rw"
EOF

mkdir -p "$tmp/lxc/$tag"
cp -a "$CORRAL_ROOT/seccomp/rootfs" "$tmp/lxc/$tag/rootfs"
cat >"$tmp/lxc/$tag/config" <<EOF
lxc.uts.name = bench
lxc.rootfs.path = dir:$tmp/lxc/$tag/rootfs
lxc.net.0.type = empty
lxc.mount.auto = proc:mixed sys:mixed
lxc.seccomp.profile = $lxc_seccomp
lxc.console.path = none
lxc.cgroup.dir.monitor = $tag-lxc/lxc.monitor
lxc.cgroup.dir.container = $tag-lxc/lxc.payload
lxc.cgroup.dir.monitor.pivot = $tag-lxc/lxc.pivot
EOF

names=()
cmds=()
for v in "${variants[@]}"; do
	names+=("corral-$v")
	cmds+=("$corral execute -n $v -- /bin/true")
done
names+=(lxc-execute)
cmds+=("lxc-execute -P $tmp/lxc -n $tag -- /bin/true")
for i in "${!names[@]}"; do
	${cmds[$i]} </dev/null >"$tmp/check.out" 2>&1 || {
		cat "$tmp/check.out" >&2
		die "${names[$i]} does not run"
	}
done

rounds=200
[ "$quick" -eq 1 ] && rounds=40
mkdir -p "$(dirname "$out")"
# The stage costs well under the drift of a busy machine between one command's batch and
# the next's, so the commands take turns (lib.sh). lxc-execute fails now and then here
# ("sync_wait: An error occurred in another process"): failures are counted, not timed.
for i in "${!names[@]}"; do printf '%s\t%s\n' "${names[$i]}" "${cmds[$i]}"; done |
	bench_interleaved "$rounds" "$out.json"

python3 - "$out.json" "$check" <<'EOF'
import json, statistics, sys
res = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ms = lambda n: statistics.mean(res[n]["times"]) * 1e3
med = lambda n: statistics.median(res[n]["times"]) * 1e3
print()
for n, r in res.items():
    print(f"{n:<16} mean {ms(n):7.2f} ms ± {statistics.stdev(r['times'])*1e3:5.2f}  median {med(n):7.2f} ms"
          f"  runs {len(r['times'])}, failed {r['failed']}")
print()
worst = 0.0
for v in ("none", "seccomp", "landlock"):
    d, dm = ms(f"corral-{v}") - ms("corral-bare"), med(f"corral-{v}") - med("corral-bare")
    worst = max(worst, dm)
    print(f"security stage, {v:<9} - bare: medians {dm:+6.2f} ms (means {d:+6.2f} ms)")
print(f"lxc-execute / corral-seccomp: {med('lxc-execute') / med('corral-seccomp'):.2f}x (medians)")
print(f"target: the stage adds under 1 ms (medians): {'MET' if worst < 1.0 else 'NOT MET'}")
sys.exit(1 if sys.argv[2] == "1" and worst >= 1.0 else 0)
EOF
