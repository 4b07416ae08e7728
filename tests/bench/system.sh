#!/usr/bin/env bash
# Benchmark: system containers, corral against LXC, side by side on the same rootfs and
# the same network type.
#
#   cycle   `start` (daemon) + `stop -k` of a busybox container, one hyperfine run:
#           corral start -n X && corral stop -k -n X
#           lxc-start -n X -d -P P && lxc-stop -k -n X -P P
#           (network empty for both; LXC with a veth as well; both with a veth on a bridge:
#           tests/bench/network.sh)
#   debian  a debootstrapped Debian 12: start, time until `systemctl is-system-running`
#           says `running`, then a clean stop; corral and LXC on copies of one rootfs
#   scale   busybox containers: monitor memory (RSS, PSS, private) at 1, 10 and 100
#           containers for both; `ls -f` at 100 for both; then corral alone up to --count
#           (500), `corral ls -f` over all of them, stop them all and check nothing is left
#
# This is a benchmark, not a test: it exits 0 whether or not the targets are met, unless
# --check is given.  Must run as root.  See tests/bench/README.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/system.sh [--quick] [--only PHASE[,PHASE]] [--count N] [--lxc-count N]
                             [--reps N] [--rounds N] [--jobs N] [--no-settle]
                             [--check]
                             [--out DIR]

  --quick          fewer runs and repetitions, --count 100: a fast look
  --only PHASES    run only these phases: cycle, debian, scale (comma-separated or
                   repeated; default: all three)
  --count N        scale: corral containers running at once (default 500; --quick: 100)
  --lxc-count N    scale: LXC containers for the memory points and lxc-ls (default 100)
  --reps N         debian: timed boot/stop repetitions per tool (default 5; --quick: 2)
  --rounds N       cycle: hyperfine runs, each of every command, pooled (default 3 of 50
                   runs per command; --quick: 1 of 30)
  --jobs N         scale: parallel creates/starts/stops (default 8)
  --no-settle      cycle: no pause between hyperfine runs (see README: corral's stop can
                   return before its monitor lets go of the container)
  --check          exit 1 if a target is missed (or a phase found a problem)
  --out DIR        where results go (default: <repo>/target/bench/system)

environment:
  CORRAL_BIN       corral binary (default: <repo>/target/release/corral, or
                   $CARGO_TARGET_DIR/release/corral); built if missing
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

quick=0
check=0
settle=1
phases=""
count=""
lxc_count=100
reps=""
rounds=""
jobs=8
out=""
need_arg() { [ "$2" -ge 2 ] || { echo "system.sh: $1 needs a value" >&2; usage >&2; exit 2; }; }
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--check) check=1 ;;
	--no-settle) settle=0 ;;
	--only) need_arg "$1" $#; phases+="${phases:+,}$2"; shift ;;
	--only=*) phases+="${phases:+,}${1#--only=}" ;;
	--count) need_arg "$1" $#; count="$2"; shift ;;
	--count=*) count="${1#--count=}" ;;
	--lxc-count) need_arg "$1" $#; lxc_count="$2"; shift ;;
	--lxc-count=*) lxc_count="${1#--lxc-count=}" ;;
	--reps) need_arg "$1" $#; reps="$2"; shift ;;
	--reps=*) reps="${1#--reps=}" ;;
	--rounds) need_arg "$1" $#; rounds="$2"; shift ;;
	--rounds=*) rounds="${1#--rounds=}" ;;
	--jobs) need_arg "$1" $#; jobs="$2"; shift ;;
	--jobs=*) jobs="${1#--jobs=}" ;;
	--out) need_arg "$1" $#; out="$2"; shift ;;
	--out=*) out="${1#--out=}" ;;
	-h | --help) usage; exit 0 ;;
	*) echo "system.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ -n "$phases" ] || phases="cycle,debian,scale"
run_cycle=0 run_debian=0 run_scale=0
IFS=',' read -r -a _p <<<"$phases"
for p in "${_p[@]}"; do
	case "$p" in
	cycle) run_cycle=1 ;;
	debian) run_debian=1 ;;
	scale) run_scale=1 ;;
	*) echo "system.sh: --only: unknown phase \`$p\` (cycle, debian or scale)" >&2; exit 2 ;;
	esac
done
if [ -z "$count" ]; then [ "$quick" -eq 1 ] && count=100 || count=500; fi
if [ -z "$reps" ]; then [ "$quick" -eq 1 ] && reps=2 || reps=5; fi
if [ -z "$rounds" ]; then [ "$quick" -eq 1 ] && rounds=1 || rounds=3; fi
cycle_runs=50 # per round and command, without --quick
for v in count lxc_count reps rounds jobs; do
	[[ "${!v}" =~ ^[1-9][0-9]*$ ]] || { echo "system.sh: --${v/_/-} must be a positive number" >&2; exit 2; }
done
[ -n "$out" ] || out="$repo/target/bench/system"

say() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
warn() { printf 'system.sh: warning: %s\n' "$*" >&2; }
die() { printf 'system.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (containers, cgroups and mounts)"
[ "${BASH_VERSINFO[0]}" -ge 5 ] || die "needs bash 5 (EPOCHREALTIME)"

# A corral monitor keeps every descriptor that its `corral start` inherited (see README):
# close whatever this script was handed beyond stdin, stdout and stderr, so that no
# container holds a pipe of the caller's open until it stops.
for fd in "/proc/$$/fd/"*; do
	fd=${fd##*/}
	{ [ "$fd" -gt 2 ] && [ "$fd" -ne 255 ]; } || continue # 255: bash reads the script there
	eval "exec $fd>&-" 2>/dev/null || true
done

# ---------------------------------------------------------------- tools ----
# Debian packages; idempotent: nothing is installed when all are present.
pkgs=(hyperfine lxc busybox-static util-linux procps)
[ "$run_debian" -eq 1 ] && pkgs+=(debootstrap)
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y "${missing[@]}"; then
		apt-get update
		apt-get install -y "${missing[@]}"
	fi
fi
for t in hyperfine lxc-start lxc-stop lxc-info lxc-attach lxc-ls lxc-wait flock python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found after installing ${pkgs[*]}"
done

# --------------------------------------------------------------- corral ----
default_bin="${CARGO_TARGET_DIR:-$repo/target}/release/corral"
corral="${CORRAL_BIN:-$default_bin}"
if [ ! -x "$corral" ]; then
	[ -z "${CORRAL_BIN:-}" ] || die "CORRAL_BIN=$CORRAL_BIN is not an executable file"
	command -v cargo >/dev/null 2>&1 ||
		die "corral binary $corral not found and cargo is not installed; build it with
    cargo build --release -p corral-engine    (from $repo)"
	say "corral binary $corral not found: building it (cargo build --release -p corral-engine)"
	(cd "$repo" && cargo build --release -p corral-engine) || die "building corral failed"
	[ -x "$corral" ] || die "cargo build succeeded but $corral does not exist"
fi
corral="$(cd "$(dirname "$corral")" && pwd)/$(basename "$corral")"
export CORRAL_BIN="$corral"

# ------------------------------------------------------------- limits -----
# Each container holds a few descriptors in its monitor and `ls -f` talks to every
# monitor; raise this shell's soft limits (inherited by everything it starts) to the hard
# limits. No sysctl is changed.
hard_n="$(ulimit -Hn)"
if [ "$hard_n" = unlimited ] || [ "$hard_n" -gt 1048576 ]; then hard_n=1048576; fi
ulimit -Sn "$hard_n" 2>/dev/null || warn "cannot raise the open-files limit to $hard_n"
ulimit -Su "$(ulimit -Hu)" 2>/dev/null || true

# -------------------------------------------------------- world & cleanup --
tag="corral-bench-$$"   # unique per run; every name below derives from it
tmp="$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")"
lxc_cg="$tag-lxc"       # LXC's monitor and payload cgroups go under this top-level dir
sname="b$$"             # prefix of the scale containers' names (their monitors' titles)
bin="$tmp/bin"
mkdir -p "$bin" "$out"
export CORRAL_CONFIG="$tmp/global.toml"
printf '[cgroup]\nparent = "%s"\n' "$tag" >"$CORRAL_CONFIG"
worlds=()               # corral worlds (dirs holding root/ and run/) to clean up
run_dirs=()             # their run/, on a tmpfs (lib.sh), to remove
lxcpaths=()             # LXC lxcpaths to clean up
bg_pid=""               # hyperfine, run in the background so that signals reach the trap

# A phase's own corral world and lxcpath, so that `ls -f` and `lxc-ls -f` see only its
# containers.
use_world() {
	local w="$tmp/$1" r
	mkdir -p "$w/root" "$w/lxc"
	# corral's runtime files on a tmpfs, as on a normal system (see lib.sh).
	r="$(bench_run_dir "$tag-$1")"
	run_dirs+=("$r")
	ln -s "$r" "$w/run"
	worlds+=("$w")
	lxcpaths+=("$w/lxc")
	export CORRAL_ROOT="$w/root" CORRAL_RUN_DIR="$w/run"
	lxcpath="$w/lxc"
	export LXCPATH="$lxcpath"
}

cleanup() {
	local rc=$? w d n
	set +e
	trap - EXIT INT TERM
	say "cleaning up"
	if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
		kill -TERM "$bg_pid" 2>/dev/null
		wait "$bg_pid" 2>/dev/null
		sleep 0.5
	fi
	# LXC: stop what runs (by its own stop command). Not lxc-destroy: the temp dir goes.
	for d in "${lxcpaths[@]}"; do
		[ -d "$d" ] || continue
		lxc-ls -1 --running -P "$d" 2>/dev/null | while read -r n; do
			[ -n "$n" ] && { lxc-stop -k -n "$n" -P "$d" >/dev/null 2>&1 || warn "lxc-stop -k $n failed"; }
		done
	done
	# corral: stop and destroy every container of every world.
	for w in "${worlds[@]}"; do
		[ -d "$w/root" ] || continue
		CORRAL_ROOT="$w/root" CORRAL_RUN_DIR="$w/run" "$corral" ls --json 2>/dev/null |
			python3 -c 'import json,sys; [print(c["name"], c["state"]) for c in json.load(sys.stdin)]' |
			while read -r n s; do
				if [ "$s" != STOPPED ]; then
					CORRAL_ROOT="$w/root" CORRAL_RUN_DIR="$w/run" "$corral" stop -k -n "$n" \
						</dev/null >/dev/null 2>&1
				fi
				printf '%s\n' "$n"
			done | xargs -r -P 8 -I{} env CORRAL_ROOT="$w/root" CORRAL_RUN_DIR="$w/run" \
			"$corral" destroy -f -n {} >/dev/null 2>"$tmp/destroy.err" ||
			{ warn "corral destroy failed in $w:"; cat "$tmp/destroy.err" >&2; }
	done
	# Mounts left under the temp dir (none expected), innermost first.
	awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r d; do umount -l "$d" || warn "cannot unmount $d"; done
	bench_remove_cgroups "$tag"
	rm -rf --one-file-system "$tmp" "${run_dirs[@]}"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Every cgroup directory of this run: corral's parent and LXC's.
our_cgroup_parents() { bench_cgroups "$tag"; }

# Quote a word for hyperfine command lines (POSIX shell word rules, with or without -N).
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
# Microseconds since the epoch.
us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# Seconds with three decimals from microseconds.
secs() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Helper commands for hyperfine's --prepare (run outside the timing): bring a container to
# a known state. `settle` waits until no corral process holds the container's lock (the
# monitor of the previous run still may, for a moment after `stop` returned).
cat >"$bin/ctl" <<'EOF'
#!/bin/sh
# ctl corral-stopped|corral-running|lxc-stopped|lxc-running NAME
# (-running: stopped first, so that it is a fresh start whatever the state was)
set -u
settle() {
	l="$CORRAL_RUN_DIR/$1.lock"
	i=0
	while [ -e "$l" ] && ! flock -n "$l" true; do
		i=$((i + 1))
		[ "$i" -lt 10000 ] || { echo "ctl: $1: lock still held after 10 s" >&2; exit 1; }
		sleep 0.001
	done
}
case "$1" in
corral-stopped)
	"$CORRAL_BIN" stop -k -n "$2" >/dev/null 2>&1
	settle "$2" ;;
corral-running)
	"$CORRAL_BIN" stop -k -n "$2" >/dev/null 2>&1
	settle "$2"
	"$CORRAL_BIN" start -n "$2" </dev/null >/dev/null ;;
lxc-stopped)
	lxc-stop -k -n "$2" -P "$LXCPATH" >/dev/null 2>&1
	lxc-wait -n "$2" -P "$LXCPATH" -s STOPPED -t 10 ;;
lxc-running)
	lxc-stop -k -n "$2" -P "$LXCPATH" >/dev/null 2>&1
	lxc-wait -n "$2" -P "$LXCPATH" -s STOPPED -t 10 &&
	lxc-start -n "$2" -d -P "$LXCPATH" </dev/null >/dev/null ;;
*) echo "ctl: unknown action $1" >&2; exit 2 ;;
esac
EOF
chmod +x "$bin/ctl"

# LXC configs, as close to corral's as LXC allows: the same init, halt and reboot signals,
# proc/sys/cgroup mounts, ttys, ptys, dropped capabilities, shm and mqueue; cgroups under
# our own top-level directory in every hierarchy.
lxc_config() { # NAME ROOTFS NET(empty|veth) KIND(busybox|debian)
	local name=$1 rootfs=$2 net=$3 kind=$4 cgid
	cgid="$(basename "$(dirname "$lxcpath")").$name"
	echo "lxc.uts.name = $name"
	echo "lxc.rootfs.path = dir:$rootfs"
	echo "lxc.net.0.type = $net"
	[ "$net" = veth ] && echo "lxc.net.0.flags = up"
	echo "lxc.init.cmd = /sbin/init"
	if [ "$kind" = busybox ]; then
		echo "lxc.signal.halt = SIGUSR1"
		echo "lxc.signal.reboot = SIGTERM"
		echo "lxc.mount.auto = proc:mixed sys:ro cgroup:ro"
	else
		echo "lxc.signal.halt = SIGRTMIN+3"
		echo "lxc.signal.reboot = SIGINT"
		echo "lxc.mount.auto = proc:mixed sys:ro cgroup:rw"
		echo "lxc.tty.dir ="
	fi
	cat <<EOF
lxc.tty.max = 1
lxc.pty.max = 1024
lxc.cap.drop = mac_admin mac_override sys_time sys_module sys_rawio
lxc.mount.entry = shm dev/shm tmpfs rw,nosuid,nodev,create=dir 0 0
lxc.mount.entry = mqueue dev/mqueue mqueue rw,nosuid,nodev,noexec,create=dir,optional 0 0
lxc.cgroup.dir.monitor = $lxc_cg/$cgid.monitor
lxc.cgroup.dir.container = $lxc_cg/$cgid.payload
lxc.cgroup.dir.monitor.pivot = $lxc_cg/lxc.pivot
EOF
}

# LXC's own config for Debian, as `lxc-create -t debian` would set it up (its seccomp
# policy, device cgroup, cgroup:mixed, 4 ttys, and no halt signal: lxc-stop then sends
# SIGRTMIN+3 to an init that blocks it, as systemd does), for reference.
lxc_config_stock_debian() { # NAME ROOTFS
	local cgid
	cgid="$(basename "$(dirname "$lxcpath")").$1"
	cat <<EOF
lxc.include = /usr/share/lxc/config/debian.common.conf
lxc.apparmor.profile = unconfined
lxc.uts.name = $1
lxc.rootfs.path = dir:$2
lxc.net.0.type = empty
lxc.cgroup.dir.monitor = $lxc_cg/$cgid.monitor
lxc.cgroup.dir.container = $lxc_cg/$cgid.payload
lxc.cgroup.dir.monitor.pivot = $lxc_cg/lxc.pivot
EOF
}

# Starts/stops are run with stdin, stdout from /dev/null and stderr to a file: never in a
# pipe or $(...), since a monitor that kept an inherited pipe open would hold it until the
# container stops.
corral_q() { "$corral" "$@" </dev/null >/dev/null 2>"$tmp/last.err"; }
lxc_q() { "$@" </dev/null >/dev/null 2>"$tmp/last.err"; }
last_err() { sed 's/^/      /' "$tmp/last.err" >&2; }

corral_state() { "$corral" info -n "$1" --json 2>/dev/null </dev/null |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null || echo UNKNOWN; }
lxc_state() { lxc-info -n "$1" -P "$lxcpath" -s 2>/dev/null </dev/null | awk '{print $2}' || echo UNKNOWN; }

problems="$out/problems.txt"
: >"$problems"
problem() { printf '%s\n' "$*" >>"$problems"; warn "$*"; }

{
	echo "date: $(date -Is)"
	echo "host: $(uname -srm), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
	echo "cgroups: $(stat -fc %T /sys/fs/cgroup) at /sys/fs/cgroup$([ -d /sys/fs/cgroup/unified ] && echo ' (hybrid: v1 controllers + unified)')"
	echo "corral: $corral ($(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo "lxc: $(lxc-start --version 2>/dev/null)"
	echo "hyperfine: $(hyperfine --version)"
	echo "load average at start: $(loadavg)"
} >"$out/env.txt"
rm -f "$out"/cycle*.json "$out"/cycle*.md "$out"/race.tsv "$out"/debian.tsv "$out"/memory.tsv \
	"$out"/ls-*.json "$out"/ls-*.md "$out"/ls-f-*.txt "$out"/scale.tsv "$out"/leftovers.txt "$out"/summary.txt

# Checks that a busybox container really runs busybox init as PID 1 (or under corral's
# init), has only lo in its network namespace, and stops with `stop -k`.
check_busybox() { # tool NAME NET
	local tool=$1 name=$2 net=$3 ps netdev state
	if [ "$tool" = corral ]; then
		corral_q start -n "$name" || { last_err; die "corral start -n $name failed"; }
		ps=$("$corral" attach -n "$name" -- /bin/ps -o pid,comm 2>&1 </dev/null) || true
		netdev=$("$corral" attach -n "$name" -- /bin/cat /proc/net/dev 2>&1 </dev/null) || true
		corral_q stop -k -n "$name" || { last_err; die "corral stop -k -n $name failed"; }
		"$bin/ctl" corral-stopped "$name"
		state=$(corral_state "$name")
	else
		lxc_q lxc-start -n "$name" -d -P "$lxcpath" || { last_err; die "lxc-start -n $name failed"; }
		ps=$(lxc-attach -n "$name" -P "$lxcpath" -- /bin/ps -o pid,comm 2>&1 </dev/null) || true
		netdev=$(lxc-attach -n "$name" -P "$lxcpath" -- /bin/cat /proc/net/dev 2>&1 </dev/null) || true
		lxc_q lxc-stop -k -n "$name" -P "$lxcpath" || { last_err; die "lxc-stop -k -n $name failed"; }
		state=$(lxc_state "$name")
	fi
	grep -Eq '^ *1 init$' <<<"$ps" || die "$tool $name: PID 1 is not init:
$ps"
	[ "$(grep -c ' init$' <<<"$ps")" -ge 1 ] || die "$tool $name: busybox init is not running:
$ps"
	local ifs
	ifs=$(awk -F: 'NR > 2 { gsub(/ /, "", $1); print $1 }' <<<"$netdev" | sort | tr '\n' ' ')
	case "$net" in
	empty) [ "$ifs" = "lo " ] || die "$tool $name: network empty should leave only lo, found: $ifs" ;;
	veth) [[ "$ifs" == *eth0* ]] || die "$tool $name: network veth should give an eth0, found: $ifs" ;;
	esac
	[ "$state" = STOPPED ] || die "$tool $name: $state after stop -k, not STOPPED"
	note "$tool $name: busybox init runs ($(grep -c ' init$' <<<"$ps") init processes), interfaces: $ifs; stop -k leaves it STOPPED"
}

# ================================================================ cycle ====
phase_cycle() {
	use_world cycle
	say "cycle: busybox start -d + stop -k (corral world $CORRAL_ROOT, lxcpath $lxcpath)"
	corral_q create -t busybox -n cycle || { last_err; die "corral create -t busybox -n cycle failed"; }
	local rootfs="$CORRAL_ROOT/cycle/rootfs"
	[ -x "$rootfs/bin/busybox" ] && [ -e "$rootfs/sbin/init" ] || die "corral made no busybox rootfs at $rootfs"
	# LXC gets a copy of the same rootfs (it may create mount points in it).
	cp -a "$rootfs" "$lxcpath/rootfs-busybox"
	local n
	for n in cycle cycle-veth; do
		mkdir -p "$lxcpath/$n"
		lxc_config "$n" "$lxcpath/rootfs-busybox" "$([ $n = cycle ] && echo empty || echo veth)" busybox >"$lxcpath/$n/config"
	done

	say "cycle: checking that each container boots busybox init and stops with stop -k"
	check_busybox corral cycle empty
	check_busybox lxc cycle empty
	check_busybox lxc cycle-veth veth

	# Back to back, without waiting for anything between a stop and the next start: does
	# the next start always work?
	local k=100 i f first
	[ "$quick" -eq 1 ] && k=30
	say "cycle: $k back-to-back start/stop -k cycles per tool, nothing in between"
	for tool in corral lxc; do
		f=0 first=""
		for i in $(seq 1 "$k"); do
			if [ "$tool" = corral ]; then
				if corral_q start -n cycle; then corral_q stop -k -n cycle || true; else
					f=$((f + 1)); [ -n "$first" ] || first="run $i: $(head -1 "$tmp/last.err")"
				fi
			else
				if lxc_q lxc-start -n cycle -d -P "$lxcpath"; then lxc_q lxc-stop -k -n cycle -P "$lxcpath" || true; else
					f=$((f + 1)); [ -n "$first" ] || first="run $i: $(head -1 "$tmp/last.err")"
				fi
			fi
		done
		printf '%s\t%d\t%d\t%s\n' "$tool" "$k" "$f" "$first" >>"$out/race.tsv"
		note "$tool: $f of $k starts failed${first:+ (first: $first)}"
		[ "$f" -eq 0 ] || problem "cycle: $tool: $f of $k back-to-back starts failed right after stop -k returned (first: $first)"
	done
	"$bin/ctl" corral-stopped cycle
	"$bin/ctl" lxc-stopped cycle >/dev/null

	# hyperfine runs all of one command's runs before the next command's, so a change in
	# the machine's other load lands on one tool only: the cycle is timed in --rounds
	# hyperfine runs (each with every command), pooled by the summary, which also shows
	# each round's ratio.
	local runs
	if [ "$quick" -eq 1 ]; then runs=(--warmup 3 --runs 30); else runs=(--warmup 5 --runs "$cycle_runs"); fi
	local c p ctl r
	c="$(q "$corral")" p="$(q "$lxcpath")" ctl="$(q "$bin/ctl")"
	local hf
	add_cmd() { # name command prepare
		[ "$settle" -eq 1 ] && hf+=(--prepare "$3")
		hf+=(--command-name "$1" "$2")
	}
	for r in $(seq 1 "$rounds"); do
		hf=(hyperfine --shell=sh "${runs[@]}" --export-json "$out/cycle-r$r.json" --export-markdown "$out/cycle-r$r.md")
		add_cmd corral "$c start -n cycle && $c stop -k -n cycle" "$ctl corral-stopped cycle"
		add_cmd lxc "lxc-start -n cycle -d -P $p && lxc-stop -k -n cycle -P $p" "$ctl lxc-stopped cycle"
		add_cmd lxc-veth "lxc-start -n cycle-veth -d -P $p && lxc-stop -k -n cycle-veth -P $p" "$ctl lxc-stopped cycle-veth"
		say "cycle: round $r of $rounds: hyperfine through sh (it subtracts the shell's own start-up); load average: $(loadavg)"
		"${hf[@]}" &
		bg_pid=$!
		wait "$bg_pid" || { bg_pid=""; problem "cycle: hyperfine failed in round $r (a start or stop exited non-zero)"; return 0; }
		bg_pid=""
	done

	# The two halves apart, each with the other one as hyperfine's untimed --prepare.
	hf=(hyperfine -N "${runs[@]}" --export-json "$out/cycle-parts.json" --export-markdown "$out/cycle-parts.md"
		--prepare "$ctl corral-stopped cycle" --command-name "corral start" "$c start -n cycle"
		--prepare "$ctl lxc-stopped cycle" --command-name "lxc-start -d" "lxc-start -n cycle -d -P $p"
		--prepare "$ctl corral-running cycle" --command-name "corral stop -k" "$c stop -k -n cycle"
		--prepare "$ctl lxc-running cycle" --command-name "lxc-stop -k" "lxc-stop -k -n cycle -P $p")
	say "cycle: start and stop -k apart (hyperfine -N); load average: $(loadavg)"
	"${hf[@]}" &
	bg_pid=$!
	wait "$bg_pid" || { bg_pid=""; problem "cycle: hyperfine (start and stop apart) failed"; }
	bg_pid=""
	"$bin/ctl" corral-stopped cycle
	"$bin/ctl" lxc-stopped cycle >/dev/null
}

# =============================================================== debian ====
# Polls `systemctl is-system-running --wait` in the container until systemd answers with a
# final state; prints it. Returns 1 if none came within 120 s.
boot_wait() { # tool NAME
	local deadline=$(($(us) + 120000000)) s
	while :; do
		if [ "$1" = corral ]; then
			s=$("$corral" attach -n "$2" -- timeout 120 systemctl is-system-running --wait 2>/dev/null </dev/null) || true
		else
			s=$(lxc-attach -n "$2" -P "$lxcpath" -- timeout 120 systemctl is-system-running --wait 2>/dev/null </dev/null) || true
		fi
		case "$s" in running | degraded | maintenance | stopping) echo "$s"; return 0 ;; esac
		[ "$(us)" -lt "$deadline" ] || { echo "${s:-no answer}"; return 1; }
		sleep 0.01
	done
}

# One boot and clean stop; appends a line to debian.tsv unless REP is 0 (the check).
debian_once() { # tool(corral|lxc|lxc-stock) REP
	local tool=$1 rep=$2 name t0 t1 t2 t3 t4 state clean="no" rootfs after
	case "$tool" in
	corral) name=deb rootfs="$CORRAL_ROOT/deb/rootfs" ;;
	lxc) name=deb rootfs="$lxcpath/rootfs-debian" ;;
	lxc-stock) name=deb-stock rootfs="$lxcpath/rootfs-debian" ;;
	esac
	rm -f "$rootfs/var/tmp/bench-stopped"
	t0=$(us)
	if [ "$tool" = corral ]; then
		corral_q start -n "$name" || { last_err; problem "debian: corral start failed (rep $rep)"; return 1; }
	else
		lxc_q lxc-start -n "$name" -d -P "$lxcpath" || { last_err; problem "debian: $tool lxc-start failed (rep $rep)"; return 1; }
	fi
	t1=$(us)
	local ok=1
	state=$(boot_wait "${tool%-stock}" "$name") || ok=0
	t2=$(us)
	if [ "$ok" -eq 0 ] || [ "$state" != running ]; then
		if [ "$tool" = corral ]; then
			"$corral" attach -n "$name" -- systemctl --failed --no-pager </dev/null >&2 2>&1 || true
		else
			lxc-attach -n "$name" -P "$lxcpath" -- systemctl --failed --no-pager </dev/null >&2 2>&1 || true
		fi
		problem "debian: $tool: systemd is \`$state\`, not running (rep $rep)"
	fi
	sleep 1 # the same quiet second after `running` for both, before the stop
	t3=$(us)
	if [ "$tool" = corral ]; then
		corral_q stop -n "$name" || { last_err; problem "debian: corral stop failed (rep $rep)"; }
		t4=$(us)
		"$bin/ctl" corral-stopped "$name"
		after=$(corral_state "$name")
	else
		lxc_q lxc-stop -n "$name" -P "$lxcpath" || { last_err; problem "debian: $tool lxc-stop failed (rep $rep)"; }
		t4=$(us)
		after=$(lxc_state "$name")
	fi
	[ "$(cat "$rootfs/var/tmp/bench-stopped" 2>/dev/null)" = clean ] && clean=yes
	[ "$clean" = yes ] || problem "debian: $tool: the stop was not an orderly shutdown (the marker unit's ExecStop did not run; rep $rep)"
	[ "$after" = STOPPED ] || problem "debian: $tool: $after after stop, not STOPPED (rep $rep)"
	if [ "$rep" -gt 0 ]; then
		printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$rep" "$(secs $((t1 - t0)))" \
			"$(secs $((t2 - t0)))" "$(secs $((t4 - t3)))" "$state" "$clean" >>"$out/debian.tsv"
	fi
	note "$tool $([ "$rep" -gt 0 ] && echo "rep $rep" || echo check): start returned $(secs $((t1 - t0))) s, systemd $state at $(secs $((t2 - t0))) s, stop $(secs $((t4 - t3))) s, orderly: $clean"
}

phase_debian() {
	use_world debian
	say "debian: corral create -t debian -n deb (the first on a machine runs debootstrap: minutes)"
	"$corral" create -t debian -n deb </dev/null >"$tmp/create-debian.out" 2>&1 ||
		{ cat "$tmp/create-debian.out" >&2; die "corral create -t debian -n deb failed"; }
	local rootfs="$CORRAL_ROOT/deb/rootfs"
	[ -x "$rootfs/lib/systemd/systemd" ] || die "no systemd in $rootfs"
	# A unit whose ExecStop leaves a mark: it runs only in an orderly shutdown.
	cat >"$rootfs/etc/systemd/system/bench-stop.service" <<'EOF'
[Unit]
Description=corral bench: marks an orderly shutdown
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/true
ExecStop=/bin/sh -c 'echo clean > /var/tmp/bench-stopped'
[Install]
WantedBy=multi-user.target
EOF
	ln -s ../bench-stop.service "$rootfs/etc/systemd/system/multi-user.target.wants/bench-stop.service"
	# LXC boots a copy of the same rootfs, taken before corral ever booted it.
	cp -a "$rootfs" "$lxcpath/rootfs-debian"
	mkdir -p "$lxcpath/deb" "$lxcpath/deb-stock"
	lxc_config deb "$lxcpath/rootfs-debian" empty debian >"$lxcpath/deb/config"
	lxc_config_stock_debian deb-stock "$lxcpath/rootfs-debian" >"$lxcpath/deb-stock/config"

	local tools=(corral lxc lxc-stock) t r
	say "debian: a first boot and stop of each, untimed (first-boot work, and a check)"
	for t in "${tools[@]}"; do debian_once "$t" 0 || die "debian: $t does not boot"; done
	say "debian: $reps timed boots and stops per tool, interleaved; load average: $(loadavg)"
	for r in $(seq 1 "$reps"); do
		for t in "${tools[@]}"; do debian_once "$t" "$r" || true; done
	done
}

# ================================================================ scale ====
# Memory of the monitors: per tool, how many were found, and summed RSS, PSS and private
# (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup, in KiB.
measure_monitors() { # tool N (corral: names $sname-0001..; lxc: lxcpath $lxcpath)
	python3 - "$1" "$2" "$sname" "$lxcpath" <<'EOF'
import os, sys
tool, n, sname, lxcpath = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if tool == "corral":
    want = {f"[corral monitor] {sname}-{i:04d}" for i in range(1, n + 1)}
    mine = lambda t: t.startswith(f"[corral monitor] {sname}-")
else:
    want = {f"[lxc monitor] {lxcpath} l-{i:04d}" for i in range(1, n + 1)}
    mine = lambda t: t.startswith(f"[lxc monitor] {lxcpath} ")
found, extra, tot = 0, 0, {"Rss": 0, "Pss": 0, "Private": 0, "Anonymous": 0}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        title = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
        if not mine(title):
            continue
        if title not in want:
            extra += 1
            continue
        roll = {}
        for line in open(f"/proc/{pid}/smaps_rollup"):
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                roll[parts[0].rstrip(":")] = int(parts[1])
    except OSError:
        continue
    found += 1
    tot["Rss"] += roll.get("Rss", 0)
    tot["Pss"] += roll.get("Pss", 0)
    tot["Private"] += roll.get("Private_Clean", 0) + roll.get("Private_Dirty", 0)
    tot["Anonymous"] += roll.get("Anonymous", 0)
print(tool, n, found, extra, tot["Rss"], tot["Pss"], tot["Private"], tot["Anonymous"], sep="\t")
EOF
}

# Runs `ACTION NAME` for NAMES in parallel; failures go to $tmp/scale/ACTION.failed with
# the first line of each error. Sets par_wall to the wall time in seconds. (Not run in
# $(...): see corral_q.)
parallel() { # corral-create|corral-start|corral-stop|lxc-start|lxc-stop NAME...
	local action=$1 t0 t1
	shift
	: >"$tmp/scale/$action.failed"
	t0=$(us)
	printf '%s\n' "$@" | xargs -r -P "$jobs" -I{} sh -c '
		a=$1 n=$2 log=$3
		case "$a" in
		corral-create) "$CORRAL_BIN" create -t busybox -n "$n" ;;
		corral-start) "$CORRAL_BIN" start -n "$n" ;;
		corral-stop) "$CORRAL_BIN" stop -k -n "$n" ;;
		lxc-start) lxc-start -n "$n" -d -P "$LXCPATH" ;;
		lxc-stop) lxc-stop -k -n "$n" -P "$LXCPATH" ;;
		esac </dev/null >/dev/null 2>"$log/$n.$a.err" ||
			echo "$n: $(head -1 "$log/$n.$a.err")" >>"$log/$a.failed"
	' sh "$action" {} "$tmp/scale"
	t1=$(us)
	par_wall=$(secs $((t1 - t0)))
}

names_range() { # PREFIX FROM TO
	local i
	for ((i = $2; i <= $3; i++)); do printf '%s-%04d\n' "$1" "$i"; done
}

scale_fact() { printf '%s\t%s\n' "$1" "$2" >>"$out/scale.tsv"; note "$1: $2"; }

corral_running_count() {
	"$corral" ls --json --running </dev/null 2>/dev/null |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null || echo 0
}

phase_scale() {
	use_world scale
	mkdir -p "$tmp/scale"
	local lxc_n=$((lxc_count < count ? lxc_count : count))
	say "scale: corral up to $count busybox containers, LXC up to $lxc_n (corral world $CORRAL_ROOT)"
	note "limits: open files $(ulimit -n), processes $(ulimit -u), kernel.pid_max $(cat /proc/sys/kernel/pid_max), ptys in use $(cat /proc/sys/kernel/pty/nr) of $(cat /proc/sys/kernel/pty/max)"
	scale_fact "ptys in use before (kernel.pty.nr)" "$(cat /proc/sys/kernel/pty/nr)"
	# LXC's containers share one copy of a corral-made busybox rootfs.
	corral_q create -t busybox -n "$sname-rootfs" || { last_err; die "corral create failed"; }
	cp -a "$CORRAL_ROOT/$sname-rootfs/rootfs" "$lxcpath/rootfs-busybox"
	corral_q destroy -n "$sname-rootfs" || true
	local i
	for ((i = 1; i <= lxc_n; i++)); do
		local n
		n=$(printf 'l-%04d' "$i")
		mkdir -p "$lxcpath/$n"
		lxc_config "$n" "$lxcpath/rootfs-busybox" empty busybox >"$lxcpath/$n/config"
	done

	# Memory points: 1, 10, 100 for both, with both sets running; then corral alone at
	# --count.
	local points=() have_c=0 have_l=0 p f w
	for p in 1 10 100; do [ "$p" -le "$count" ] && points+=("$p"); done
	for p in "${points[@]}"; do
		if [ "$p" -gt "$have_c" ]; then
			mapfile -t new < <(names_range "$sname" $((have_c + 1)) "$p")
			parallel corral-create "${new[@]}"
			[ -s "$tmp/scale/corral-create.failed" ] && { cat "$tmp/scale/corral-create.failed" >&2; die "scale: corral create failed"; }
			parallel corral-start "${new[@]}"; w=$par_wall
			f=$(wc -l <"$tmp/scale/corral-start.failed")
			[ "$f" -eq 0 ] || problem "scale: corral: $f of ${#new[@]} starts failed on the way to $p: $(head -3 "$tmp/scale/corral-start.failed" | tr '\n' ';')"
			note "corral: started $((have_c + 1))..$p in $w s"
			have_c=$p
		fi
		if [ "$p" -le "$lxc_n" ] && [ "$p" -gt "$have_l" ]; then
			mapfile -t new < <(names_range l $((have_l + 1)) "$p")
			parallel lxc-start "${new[@]}"; w=$par_wall
			f=$(wc -l <"$tmp/scale/lxc-start.failed")
			[ "$f" -eq 0 ] || problem "scale: lxc: $f of ${#new[@]} starts failed on the way to $p: $(head -3 "$tmp/scale/lxc-start.failed" | tr '\n' ';')"
			note "lxc: started $((have_l + 1))..$p in $w s"
			have_l=$p
		fi
		sleep 1
		measure_monitors corral "$p" >>"$out/memory.tsv"
		[ "$p" -le "$lxc_n" ] && measure_monitors lxc "$p" >>"$out/memory.tsv"
		note "memory at $p: $(tail -n "$([ "$p" -le "$lxc_n" ] && echo 2 || echo 1)" "$out/memory.tsv" | awk -F'\t' '{printf "%s %d monitors, RSS %.0f KiB, private %.0f KiB each; ", $1, $3, $5/($3?$3:1), $7/($3?$3:1)}')"
	done

	local runs
	if [ "$quick" -eq 1 ]; then runs=(--warmup 2 --runs 10); else runs=(--warmup 3 --runs 20); fi
	# ls -f with the same number of containers for both.
	if [ "$have_l" -gt 0 ] && [ "$have_l" -eq "$have_c" ]; then
		say "scale: ls -f over $have_l running containers each (hyperfine -N); load average: $(loadavg)"
		hyperfine -N "${runs[@]}" --export-json "$out/ls-both.json" --export-markdown "$out/ls-both.md" \
			--command-name "corral ls -f ($have_c)" "$(q "$corral") ls -f" \
			--command-name "lxc-ls -f ($have_l)" "lxc-ls -f -P $(q "$lxcpath")" &
		bg_pid=$!
		wait "$bg_pid" || problem "scale: hyperfine of ls -f failed"
		bg_pid=""
	fi
	if [ "$have_l" -gt 0 ]; then
		mapfile -t new < <(names_range l 1 "$have_l")
		parallel lxc-stop "${new[@]}"; w=$par_wall
		note "lxc: stopped $have_l with lxc-stop -k in $w s"
		sleep 0.5
		local left
		left=$(measure_monitors lxc "$have_l" | cut -f3-4 | tr '\t' '+')
		[ "$left" = "0+0" ] || problem "scale: lxc: monitors left after lxc-stop -k: $left"
	fi

	# corral alone, up to --count.
	if [ "$count" -gt "$have_c" ]; then
		mapfile -t new < <(names_range "$sname" $((have_c + 1)) "$count")
		parallel corral-create "${new[@]}"; w=$par_wall
		[ -s "$tmp/scale/corral-create.failed" ] && { cat "$tmp/scale/corral-create.failed" >&2; die "scale: corral create failed"; }
		note "corral: created $((have_c + 1))..$count in $w s"
		parallel corral-start "${new[@]}"; w=$par_wall
		f=$(wc -l <"$tmp/scale/corral-start.failed")
		[ "$f" -eq 0 ] || problem "scale: corral: $f of ${#new[@]} starts failed on the way to $count: $(head -3 "$tmp/scale/corral-start.failed" | tr '\n' ';')"
		scale_fact "corral start $((have_c + 1))..$count ($jobs in parallel), wall s" "$w"
		have_c=$count
		sleep 1
		measure_monitors corral "$count" >>"$out/memory.tsv"
	fi
	local running monitors
	running=$(corral_running_count)
	monitors=$(measure_monitors corral "$count" | cut -f3)
	scale_fact "corral containers running (ls --running)" "$running of $count"
	scale_fact "corral monitors found" "$monitors"
	scale_fact "ptys in use (kernel.pty.nr)" "$(cat /proc/sys/kernel/pty/nr)"
	[ "$running" -eq "$count" ] || problem "scale: only $running of $count corral containers are RUNNING"

	say "scale: corral ls -f (and plain ls) over $count containers (hyperfine -N); load average: $(loadavg)"
	"$corral" ls -f </dev/null >"$out/ls-f-$count.txt" 2>&1 || problem "scale: corral ls -f failed: $(head -1 "$out/ls-f-$count.txt")"
	scale_fact "corral ls -f lines (header + containers)" "$(wc -l <"$out/ls-f-$count.txt")"
	hyperfine -N "${runs[@]}" --export-json "$out/ls-corral.json" --export-markdown "$out/ls-corral.md" \
		--command-name "corral ls -f ($count)" "$(q "$corral") ls -f" \
		--command-name "corral ls ($count)" "$(q "$corral") ls" &
	bg_pid=$!
	wait "$bg_pid" || problem "scale: hyperfine of corral ls -f failed"
	bg_pid=""

	say "scale: stopping all $count (stop -k, $jobs in parallel)"
	mapfile -t new < <(names_range "$sname" 1 "$count")
	parallel corral-stop "${new[@]}"; w=$par_wall
	f=$(wc -l <"$tmp/scale/corral-stop.failed")
	[ "$f" -eq 0 ] || problem "scale: corral: $f of $count stop -k failed: $(head -3 "$tmp/scale/corral-stop.failed" | tr '\n' ';')"
	scale_fact "corral stop -k of all $count ($jobs in parallel), wall s" "$w"
	sleep 1
	# Nothing may be left: monitors, container processes (cgroups), mounts, runtime state.
	{
		echo "monitors: $(measure_monitors corral "$count" | awk -F'\t' '{print $3 + $4}')"
		echo "running per ls: $(corral_running_count)"
		echo "cgroups under $tag: $(while read -r d; do case "$d" in */"$tag") find "$d" -mindepth 1 -type d ;; esac; done < <(our_cgroup_parents) | wc -l)"
		echo "mounts under $tmp: $(awk -v t="$tmp" 'index($5, t "/") == 1' /proc/self/mountinfo | wc -l)"
		echo "runtime dirs in $CORRAL_RUN_DIR: $(find -H "$CORRAL_RUN_DIR" -mindepth 1 -maxdepth 1 -type d ! -name ".*" | wc -l)"
		echo "ptys in use: $(cat /proc/sys/kernel/pty/nr)"
	} >"$out/leftovers.txt"
	# An LXC leftover is not corral's: list it apart.
	echo "LXC payload/monitor cgroups under $lxc_cg: $(while read -r d; do case "$d" in */"$lxc_cg") find "$d" -mindepth 1 -type d ! -name lxc.pivot ;; esac; done < <(our_cgroup_parents) | wc -l)" >>"$out/leftovers.txt"
	sed 's/^/    /' "$out/leftovers.txt" >&2
	local v
	while IFS=: read -r k v; do
		v=${v# }
		case "$k" in
		"ptys in use" | "LXC payload"*) ;;
		*) [ "$v" = 0 ] || problem "scale: after stopping all, $k: $v" ;;
		esac
	done <"$out/leftovers.txt"
	while read -r d; do
		case "$d" in */"$tag") find "$d" -mindepth 1 -type d | head -5 | sed 's/^/    left: /' >&2 ;; esac
	done < <(our_cgroup_parents)
}

# ============================================================== run it ====
say "results go to $out; load average: $(loadavg)"
[ "$run_cycle" -eq 1 ] && phase_cycle
[ "$run_debian" -eq 1 ] && phase_debian
[ "$run_scale" -eq 1 ] && phase_scale
echo "load average at end: $(loadavg)" >>"$out/env.txt"

# ============================================================== summary ===
set +e
python3 "$here/system_summary.py" "$out" "$count" "$check" | tee "$out/summary.txt"
status=${PIPESTATUS[0]}
set -e
exit "$status"
