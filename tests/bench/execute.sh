#!/usr/bin/env bash
# Benchmark: run /bin/true in a busybox rootfs with corral and with other
# runtimes, all in one hyperfine run, and compare.
#
#   corral       corral execute -n bench -- /bin/true
#   lxc-execute  lxc-execute -P <private lxcpath> -n <name> -- /bin/true
#   lxc-common   the same with LXC's own common.conf (capability drops, device rules, the
#                cgroup mount, common.seccomp): the work corral's default config does
#   runc         runc --root <private state> run --bundle <bundle> <id>
#   bwrap        bwrap --unshare-all --bind <rootfs> / --proc /proc --dev /dev /bin/true
#   unshare      unshare -fpmiun --mount-proc true          (the floor)
#
# This is a benchmark, not a test: it exits 0 whether or not the targets are
# met, unless --check is given.  Must run as root.  See tests/bench/README.md.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: tests/bench/execute.sh [--quick] [--check] [--without-corral] [--out PREFIX]

  --quick           fewer runs (warmup 3, exactly 30 runs each) for a fast look
  --check           exit 1 if a corral target is missed
  --without-corral  benchmark only lxc-execute, runc, bwrap and unshare, on a
                    busybox rootfs built by this script (no corral binary needed)
  --out PREFIX      write PREFIX.json and PREFIX.md (default: <repo>/target/bench/execute)

environment:
  CORRAL_BIN        corral binary (default: <repo>/target/release/corral, or
                    $CARGO_TARGET_DIR/release/corral); built with
                    `cargo build --release -p corral-engine` if missing
EOF
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=tests/bench/lib.sh
. "$here/lib.sh"

quick=0
check=0
with_corral=1
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--check) check=1 ;;
	--without-corral) with_corral=0 ;;
	--out)
		[ $# -ge 2 ] || { usage >&2; exit 2; }
		out="$2"
		shift
		;;
	--out=*) out="${1#--out=}" ;;
	-h | --help) usage; exit 0 ;;
	*) echo "execute.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out="$repo/target/bench/execute"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'execute.sh: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (containers, cgroups and mounts)"

# ---------------------------------------------------------------- tools ----
# Debian packages; idempotent: nothing is installed when all are present.
pkgs=(hyperfine lxc runc bubblewrap busybox-static)
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
for t in hyperfine lxc-execute lxc-info lxc-stop runc bwrap unshare python3; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found after installing ${pkgs[*]}"
done
busybox_bin=/bin/busybox # from busybox-static: statically linked
[ -x "$busybox_bin" ] || die "$busybox_bin missing (package busybox-static)"

# --------------------------------------------------------------- corral ----
if [ "$with_corral" -eq 1 ]; then
	default_bin="${CARGO_TARGET_DIR:-$repo/target}/release/corral"
	corral="${CORRAL_BIN:-$default_bin}"
	if [ ! -x "$corral" ]; then
		if [ -n "${CORRAL_BIN:-}" ]; then
			die "CORRAL_BIN=$CORRAL_BIN is not an executable file"
		fi
		command -v cargo >/dev/null 2>&1 ||
			die "corral binary $corral not found and cargo is not installed; build it with
    cargo build --release -p corral-engine    (from $repo)"
		say "corral binary $corral not found: building it (cargo build --release -p corral-engine)"
		(cd "$repo" && cargo build --release -p corral-engine) ||
			die "building corral failed; build it with
    cargo build --release -p corral-engine    (from $repo)
or run with --without-corral"
		[ -x "$corral" ] || die "cargo build succeeded but $corral does not exist"
	fi
fi

# -------------------------------------------------------- world & cleanup --
tag="corral-bench-$$"                     # unique per run; every name below derives from it
tmp="$(mktemp -d "${TMPDIR:-/tmp}/$tag.XXXXXX")"
# corral's runtime files on a tmpfs, as on a normal system (see lib.sh).
run_dir="$(bench_run_dir "$tag")"
lxc_name="$tag"
lxc_common="$tag-common"
lxc_path="$tmp/lxc"
lxc_cg="$tag-lxc"                         # LXC's cgroups go under this top-level dir
runc_id="$tag"
runc_state="$tmp/runc-state"
runc_bundle="$tmp/runc-bundle"
runc_cg="/$tag-runc/$runc_id"              # runc's cgroup (removed by runc after each run)
corral_created=0
hf_pid=""

export CORRAL_ROOT="$tmp/root" CORRAL_RUN_DIR="$run_dir" CORRAL_CONFIG="$tmp/global.toml"

cleanup() {
	local rc=$? d
	set +e
	trap - EXIT INT TERM
	say "cleaning up"
	if [ -n "$hf_pid" ] && kill -0 "$hf_pid" 2>/dev/null; then
		kill -TERM "$hf_pid" 2>/dev/null
		wait "$hf_pid" 2>/dev/null
		sleep 0.5 # let the command hyperfine was running finish (all take ms)
	fi
	# runc: `runc run` deletes its container when the process exits; delete any leftover.
	if [ -d "$runc_state/$runc_id" ]; then
		runc --root "$runc_state" delete -f "$runc_id" >/dev/null 2>&1 ||
			echo "warning: runc delete -f $runc_id failed" >&2
	fi
	# LXC: lxc-execute containers are gone when the command exits; stop a straggler.
	# (Not lxc-destroy: it would delete the rootfs of a dir: backed container.)
	for d in "$lxc_name" "$lxc_common"; do
		if [ -f "$lxc_path/$d/config" ] &&
			lxc-info -P "$lxc_path" -n "$d" -s 2>/dev/null | grep -q RUNNING; then
			lxc-stop -P "$lxc_path" -n "$d" -k >/dev/null 2>&1 ||
				echo "warning: lxc-stop -k $d failed" >&2
		fi
	done
	# corral
	if [ "$corral_created" -eq 1 ]; then
		"$corral" destroy -n bench >/dev/null 2>"$tmp/destroy.err" || {
			echo "warning: corral destroy -n bench failed:" >&2
			cat "$tmp/destroy.err" >&2
		}
	fi
	# Mounts left under the temp dir (none expected), innermost first.
	awk -v t="$tmp" '$5 == t || index($5, t "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | while read -r d; do umount -l "$d" || echo "warning: cannot unmount $d" >&2; done
	bench_remove_cgroups "$tag"
	rm -rf --one-file-system "$tmp" "$run_dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Quote a word for hyperfine -N, which splits command lines with POSIX shell
# word rules (no shell runs).
q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# -------------------------------------------------------------- rootfs -----
if [ "$with_corral" -eq 1 ]; then
	printf '[cgroup]\nparent = "%s"\n' "$tag" >"$CORRAL_CONFIG"
	say "corral create -t busybox -n bench"
	corral_created=1 # destroy even if create fails half-way
	if ! "$corral" create -t busybox -n bench >"$tmp/create.out" 2>&1; then
		cat "$tmp/create.out" >&2
		die "corral create -t busybox -n bench failed (output above)"
	fi
	rootfs="$CORRAL_ROOT/bench/rootfs"
	[ -x "$rootfs/bin/busybox" ] || die "corral created no busybox rootfs at $rootfs"
else
	# Built the way corral's busybox template builds it.
	rootfs="$tmp/rootfs"
	say "building busybox rootfs at $rootfs"
	mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,etc}
	cp "$busybox_bin" "$rootfs/bin/busybox"
	while read -r a; do
		[ -e "$rootfs/$a" ] || [ -L "$rootfs/$a" ] && continue
		mkdir -p "$rootfs/$(dirname "$a")"
		ln -s /bin/busybox "$rootfs/$a"
	done < <("$busybox_bin" --list-full)
fi

# runc and LXC get their own copies (they may create mount points in it);
# bwrap binds the original, which it does not modify.
mkdir -p "$lxc_path/$lxc_name" "$lxc_path/$lxc_common" "$runc_bundle" "$runc_state"
cp -a "$rootfs" "$lxc_path/$lxc_name/rootfs"
cp -a "$rootfs" "$lxc_path/$lxc_common/rootfs"
cp -a "$rootfs" "$runc_bundle/rootfs"

# LXC: network type empty (a new netns with only lo), proc and sys mounted like the
# others, cgroups under our own top-level directory. No console: this host's /dev/pts is a
# read-only devpts that LXC cannot set a console pty's mode on.
cat >"$lxc_path/$lxc_name/config" <<EOF
lxc.uts.name = bench
lxc.rootfs.path = dir:$lxc_path/$lxc_name/rootfs
lxc.net.0.type = empty
lxc.console.path = none
lxc.mount.auto = proc:mixed sys:mixed
lxc.cgroup.dir.monitor = $lxc_cg/lxc.monitor
lxc.cgroup.dir.container = $lxc_cg/lxc.payload
lxc.cgroup.dir.monitor.pivot = $lxc_cg/lxc.pivot
EOF

# LXC with the security its own templates give a container: common.conf's settings
# (without its includes and hooks: the lxcfs hooks of common.conf.d run a script at every
# stop), then the same settings as above; no ttys (this host's devpts again).
{
	grep -vE '^lxc\.(include|hook)' /usr/share/lxc/config/common.conf
	sed -e "s|$lxc_path/$lxc_name/rootfs|$lxc_path/$lxc_common/rootfs|" \
		-e "s|$lxc_cg/|$lxc_cg-common/|" "$lxc_path/$lxc_name/config" |
		grep -v '^lxc\.mount\.auto'
	echo "lxc.tty.max = 0"
} >"$lxc_path/$lxc_common/config"

# runc: the stock `runc spec` (pid, net, ipc, uts, mnt namespaces), with our
# args, no terminal, and a cgroup of our own.
(cd "$runc_bundle" && runc spec)
python3 - "$runc_bundle/config.json" "$runc_cg" <<'EOF'
import json, sys
path, cg = sys.argv[1], sys.argv[2]
with open(path) as f:
    spec = json.load(f)
spec["process"]["args"] = ["/bin/true"]
spec["process"]["terminal"] = False
spec["root"]["path"] = "rootfs"
spec["linux"]["cgroupsPath"] = cg
with open(path, "w") as f:
    json.dump(spec, f, indent=2)
EOF

# ------------------------------------------------------------- commands ----
names=()
cmds=()
if [ "$with_corral" -eq 1 ]; then
	names+=(corral)
	cmds+=("$(q "$corral") execute -n bench -- /bin/true")
fi
names+=(lxc-execute lxc-common runc bwrap unshare)
cmds+=(
	"lxc-execute -P $(q "$lxc_path") -n $(q "$lxc_name") -- /bin/true"
	"lxc-execute -P $(q "$lxc_path") -n $(q "$lxc_common") -- /bin/true"
	"runc --root $(q "$runc_state") run --bundle $(q "$runc_bundle") $(q "$runc_id")"
	"bwrap --unshare-all --bind $(q "$rootfs") / --proc /proc --dev /dev /bin/true"
	"unshare -fpmiun --mount-proc true"
)

# Verify each command once, with the same word splitting hyperfine -N uses.
for i in "${!names[@]}"; do
	eval "argv=(${cmds[$i]})"
	say "check ${names[$i]}: ${argv[*]}"
	rc=0
	"${argv[@]}" </dev/null >"$tmp/check.out" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "--- ${names[$i]} exited $rc; its output:" >&2
		cat "$tmp/check.out" >&2
		die "${names[$i]} does not run; not benchmarking"
	fi
done
# A runtime that returned 0 without running anything would look fast: check that
# the command's exit status comes back through corral and lxc-execute.
for i in "${!names[@]}"; do
	case "${names[$i]}" in corral | lxc-*) ;; *) continue ;; esac
	eval "argv=(${cmds[$i]% /bin/true} /bin/sh -c 'exit 7')"
	rc=0
	"${argv[@]}" </dev/null >"$tmp/check.out" 2>&1 || rc=$?
	if [ "$rc" -ne 7 ]; then
		cat "$tmp/check.out" >&2
		die "${names[$i]}: \`sh -c 'exit 7'\` exited $rc, not 7 (output above)"
	fi
done
if [ -n "$(runc --root "$runc_state" list -q 2>/dev/null)" ]; then
	die "runc left a container behind after run: $(runc --root "$runc_state" list -q)"
fi

# ------------------------------------------------------------- hyperfine ---
if [ "$quick" -eq 1 ]; then
	runs=(--warmup 3 --runs 30)
else
	runs=(--warmup 10 --min-runs 100)
fi
mkdir -p "$(dirname "$out")"
hf=(hyperfine -N "${runs[@]}" --export-json "$out.json" --export-markdown "$out.md")
for i in "${!names[@]}"; do
	hf+=(--command-name "${names[$i]}" "${cmds[$i]}")
done
say "hyperfine (-N: no shell; none of these commands needs one); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# In the background so that INT/TERM reach the script's trap at once; the
# trap ends hyperfine (a PID this script started) before cleaning up.
"${hf[@]}" &
hf_pid=$!
wait "$hf_pid"
hf_pid=""

# -------------------------------------------------------------- summary ----
set +e
python3 - "$out.json" "$check" <<'EOF'
import json, os, sys

path, check = sys.argv[1], sys.argv[2] == "1"
res = {r["command"]: r for r in json.load(open(path))["results"]}
ms = lambda name: res[name]["mean"] * 1e3
med = lambda name: res[name]["median"] * 1e3

print()
print(f"{'runtime':<12} {'mean ± stddev (ms)':>19}  {'median':>7}  {'min':>7}  {'max':>7}"
      f"  {'user':>6}  {'sys':>6}  runs")
for name, r in res.items():
    print(f"{name:<12} {r['mean']*1e3:>9.2f} ± {r['stddev']*1e3:>6.2f}  {r['median']*1e3:>7.2f}  "
          f"{r['min']*1e3:>7.2f}  {r['max']*1e3:>7.2f}  {r['user']*1e3:>6.2f}  {r['system']*1e3:>6.2f}"
          f"  {len(r['times'])}")
print()
print("crun: not included (refuses hybrid cgroup v1/v2 hosts such as this one)")
print("targets are judged on means; ratios of medians in brackets")
ratio = lambda a, b: (ms(a) / ms(b), med(a) / med(b))
missed = []
if "corral" in res:
    a, am = ratio("corral", "bwrap")
    b, bm = ratio("lxc-execute", "corral")
    c, cm = ratio("lxc-common", "corral")
    ok_a, ok_b, ok_c = a <= 1.5, b >= 2.0, c >= 2.0
    met = lambda ok: "MET" if ok else "NOT MET"
    print(f"corral / bwrap       = {a:6.3f}x [{am:6.3f}x]  target <= 1.50x: {met(ok_a)}")
    print(f"lxc-execute / corral = {b:6.3f}x [{bm:6.3f}x]  target >= 2.00x: {met(ok_b)}")
    print(f"lxc-common / corral  = {c:6.3f}x [{cm:6.3f}x]  target >= 2.00x: {met(ok_c)}"
          "  (LXC doing the security work corral does by default)")
    missed = [t for t, ok in (("corral/bwrap", ok_a), ("lxc-execute/corral", ok_b)) if not ok]
else:
    print("corral: not run (--without-corral)")
for x, y in (("lxc-execute", "bwrap"), ("runc", "bwrap"), ("bwrap", "unshare")):
    r, rm = ratio(x, y)
    print(f"{x + ' / ' + y:<20} = {r:6.3f}x [{rm:6.3f}x]")
load = open("/proc/loadavg").read().split()[:3]
print(f"\nload average after the run: {' '.join(load)} (on {os.cpu_count()} CPUs; other work skews all of these)")
print(f"results: {path} and {path[:-5]}.md")
sys.exit(1 if check and missed else 0)
EOF
status=$?
set -e
exit "$status"
