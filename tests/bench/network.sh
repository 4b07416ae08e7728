#!/usr/bin/env bash
# Benchmark: the start+stop cycle of a busybox system container with a veth on a bridge,
# corral against LXC, in one hyperfine run. Both bridges are the benchmark's own (LXC's
# lxc-net is not running here); corral's has no NAT, so forwarding and the host's firewall
# stay as they are. LXC finds bridges through /sys/class/net, which only shows the host's
# namespace: that is why this runs there and not in a namespace of its own.
#
#   corral-veth   corral start -n veth && corral stop -k -n veth   (veth on corral's bridge)
#   lxc-veth      lxc-start -n veth && lxc-stop -k -n veth         (veth on a bridge for LXC)
#   corral-empty  the same with network.type = "empty" (no interface): the difference is
#                 what corral's network setup and teardown cost
#   lxc-empty     the same for LXC, lxc.net.0.type = empty
#
# This is a benchmark, not a test: it exits 0 whether or not the target is met, unless
# --check is given. Must run as root. See tests/bench/README.md.
set -euo pipefail

quick=0
check=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--check) check=1 ;;
	-h | --help)
		echo "usage: tests/bench/network.sh [--quick] [--check]   (CORRAL_BIN: the corral binary)"
		exit 0
		;;
	*) echo "network.sh: unknown argument: $1" >&2; exit 2 ;;
	esac
	shift
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'network.sh: error: %s\n' "$*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || die "must run as root"
for t in hyperfine lxc-start lxc-stop ip; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found (apt-get install hyperfine lxc iproute2)"
done
corral="${CORRAL_BIN:-${CARGO_TARGET_DIR:-$repo/target}/release/corral}"
if [ ! -x "$corral" ]; then
	say "building $corral"
	(cd "$repo" && cargo build --release -p corral-engine)
fi

tag="corral-bench-$$"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")"
lxc_path="$tmp/lxc"
export CORRAL_ROOT="$tmp/root" CORRAL_RUN_DIR="$tmp/run" CORRAL_CONFIG="$tmp/global.toml"

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	say "cleaning up"
	for name in veth empty; do
		lxc-stop -P "$lxc_path" -n "$name" -k >/dev/null 2>&1
		"$corral" destroy -f -n "$name" >/dev/null 2>&1
	done
	"$corral" net down --force >/dev/null 2>&1
	ip link del crlbenchlxc 2>/dev/null
	bench_remove_cgroups "$tag"
	rm -rf --one-file-system "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip link show crlbenchlxc >/dev/null 2>&1 && die "crlbenchlxc exists: another run?"
ip link add crlbenchlxc type bridge
ip link set crlbenchlxc up

cat >"$CORRAL_CONFIG" <<EOF
[cgroup]
parent = "$tag"
[network.bridge]
name = "crlbench0"
address = "10.213.0.1/24"
nft_table = "$tag"
nat = false
EOF
t0=$(date +%s%N)
"$corral" net up >/dev/null
say "corral net up (bridge, NAT, dnsmasq; once, not timed below): $((($(date +%s%N) - t0) / 1000000)) ms"

for name in veth empty; do
	"$corral" create -t busybox -n "$name" >/dev/null 2>&1 || die "corral create failed"
	mkdir -p "$lxc_path/$name"
	cp -a "$CORRAL_ROOT/$name/rootfs" "$lxc_path/$name/rootfs"
done
printf '[[network.interface]]\ntype = "veth"\n' >"$CORRAL_ROOT/veth/config.toml"
: >"$CORRAL_ROOT/empty/config.toml"
lxc_net() {
	case "$1" in
	veth) printf 'lxc.net.0.type = veth\nlxc.net.0.link = crlbenchlxc\nlxc.net.0.flags = up\n' ;;
	empty) printf 'lxc.net.0.type = empty\n' ;;
	esac
}
for name in veth empty; do
	cat >"$lxc_path/$name/config" <<EOF
lxc.uts.name = $name
lxc.rootfs.path = dir:$lxc_path/$name/rootfs
$(lxc_net "$name")
lxc.mount.auto = proc:mixed sys:mixed cgroup:mixed
# LXC 5.0 here cannot set a console up for a daemonized start ("Failed to change console
# mode"): none, which spares LXC work corral does (a console and a tty).
lxc.console.path = none
lxc.cgroup.dir.monitor = $tag-lxc/$name.monitor
lxc.cgroup.dir.container = $tag-lxc/$name.payload
lxc.cgroup.dir.monitor.pivot = $tag-lxc/$name.pivot
EOF
done

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
cycle_corral() { echo "sh -c $(q "$(q "$corral") start -n $1 && $(q "$corral") stop -k -n $1")"; }
cycle_lxc() { echo "sh -c $(q "lxc-start -P $(q "$lxc_path") -n $1 && lxc-stop -P $(q "$lxc_path") -k -n $1")"; }
names=(corral-veth lxc-veth corral-empty lxc-empty)
cmds=("$(cycle_corral veth)" "$(cycle_lxc veth)" "$(cycle_corral empty)" "$(cycle_lxc empty)")

for i in "${!names[@]}"; do
	eval "argv=(${cmds[$i]})"
	"${argv[@]}" </dev/null >"$tmp/check.out" 2>&1 || {
		cat "$tmp/check.out" >&2
		die "${names[$i]} does not run"
	}
done
# A veth that outlived its container would make the next start fail or skew the numbers.
leftover=$(ip -o link show master crlbench0 | wc -l)$(ip -o link show master crlbenchlxc | wc -l)
[ "$leftover" = 00 ] || die "a veth remains after a cycle: $(ip -o link show)"

if [ "$quick" -eq 1 ]; then runs=(--warmup 3 --runs 20); else runs=(--warmup 5 --min-runs 50); fi
out="${CARGO_TARGET_DIR:-$repo/target}/bench/network"
mkdir -p "$(dirname "$out")"
hf=(hyperfine -N "${runs[@]}" --export-json "$out.json" --export-markdown "$out.md")
for i in "${!names[@]}"; do hf+=(--command-name "${names[$i]}" "${cmds[$i]}"); done
say "hyperfine; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"${hf[@]}"

set +e
python3 - "$out.json" "$check" <<'EOF'
import json, sys
path, check = sys.argv[1], sys.argv[2] == "1"
res = {r["command"]: r for r in json.load(open(path))["results"]}
ms = lambda n: res[n]["mean"] * 1e3
print()
for n, r in res.items():
    print(f"{n:<13} {ms(n):8.2f} ± {r['stddev']*1e3:5.2f} ms  median {r['median']*1e3:7.2f}  runs {len(r['times'])}")
ratio = ms("lxc-veth") / ms("corral-veth")
net = ms("corral-veth") - ms("corral-empty")
print(f"\nlxc-veth / corral-veth = {ratio:.2f}x  target >= 2.00x: {'MET' if ratio >= 2 else 'NOT MET'}")
print(f"corral's network setup+teardown: {net:.2f} ms of {ms('corral-veth'):.2f} ms "
      f"({100 * net / ms('corral-veth'):.0f}%); LXC's: {ms('lxc-veth') - ms('lxc-empty'):.2f} ms")
sys.exit(1 if check and ratio < 2 else 0)
EOF
