#!/bin/sh
# corral's cgroup v2 scenario (busybox sh), run by /init inside the test VM on a
# pure cgroup2 hierarchy with every controller enabled at the root.
# Prints "ok - ..." / "not ok - ..." lines; diagnostics start with "# ".
# Failed checks are appended to /run/corral-vm/failures, which /init reads.

export CORRAL_ROOT=/tmp/corral-root CORRAL_RUN_DIR=/run/corral CORRAL_CONFIG=/tmp/global.toml
export RUST_BACKTRACE=1
CG=/sys/fs/cgroup
PARENT=$CG/corral-vm
LEAF=$PARENT/c1
FAILURES=/run/corral-vm/failures
CMD_TIMEOUT=60
errf=/run/corral-vm/stderr

printf '[cgroup]\nparent = "corral-vm"\n' >"$CORRAL_CONFIG"

ok() { echo "ok - $1"; }
not_ok() {
    echo "not ok - $1"
    echo "$1" >>"$FAILURES"
}
diag() { printf '%s\n' "$@" | sed 's/^/#   /'; }

# Run corral with a timeout; sets $out (stdout), $err (stderr) and $rc.
run() {
    last_cmd="corral $*"
    out=$(timeout "$CMD_TIMEOUT" corral "$@" 2>"$errf" </dev/null)
    rc=$?
    err=$(cat "$errf")
}
show_run() {
    diag "command: $last_cmd" "exit status: $rc"
    [ -z "$out" ] || diag "stdout:" "$out"
    [ -z "$err" ] || diag "stderr:" "$err"
}

# check_run DESCRIPTION WANT_RC [WANT_STDOUT]: judge the last run().
check_run() {
    if [ "$rc" = "$2" ] && { [ $# -lt 3 ] || [ "$out" = "$3" ]; }; then
        ok "$1"
    else
        not_ok "$1"
        if [ $# -ge 3 ]; then diag "expected exit $2 and stdout '$3'"; else diag "expected exit $2"; fi
        show_run
    fi
}

# Every run must tear its cgroup down; the shared parent may stay, but empty.
check_clean() {
    if [ ! -e "$LEAF" ] && [ -z "$(find "$PARENT" -mindepth 1 -type d 2>/dev/null)" ]; then
        ok "no cgroup left after: $1"
    else
        not_ok "no cgroup left after: $1"
        diag "left behind:" "$(find "$PARENT" -type d 2>/dev/null)"
        find "$PARENT" -type d 2>/dev/null | while read -r d; do
            diag "$d/cgroup.procs: $(tr '\n' ' ' <"$d/cgroup.procs" 2>/dev/null)"
        done
        # Leave a clean slate for the next check when possible.
        find "$PARENT" -mindepth 1 -depth -type d -exec rmdir {} \; 2>/dev/null
    fi
}

# execute DESCRIPTION WANT_RC [WANT_STDOUT] -- COMMAND...
execute() {
    desc=$1 want_rc=$2
    shift 2
    if [ "$1" = -- ]; then
        shift
        run execute -n c1 -- "$@"
        check_run "$desc" "$want_rc"
    else
        want_out=$1
        shift 2
        run execute -n c1 -- "$@"
        check_run "$desc" "$want_rc" "$want_out"
    fi
    check_clean "$desc"
}

echo "# corral: $(corral --version 2>&1 | head -n1)"

run create -t busybox -n c1
check_run "corral create -t busybox -n c1" 0
if [ "$rc" != 0 ]; then
    diag "cannot go on without a container"
    exit 1
fi
check_clean "create"

execute "execute /bin/true exits 0" 0 -- /bin/true
execute "execute sh -c 'exit 7' exits 7" 7 -- /bin/sh -c 'exit 7'

conf=$CORRAL_ROOT/c1/config.toml
if [ -f "$conf" ]; then
    ok "container config exists at \$CORRAL_ROOT/c1/config.toml"
else
    not_ok "container config exists at \$CORRAL_ROOT/c1/config.toml"
    diag "$(find "$CORRAL_ROOT" -maxdepth 2 2>&1)"
fi
limits='memory = "32M"
pids = 20
cpu_weight = 50
cpu_quota_us = 50000
cpu_period_us = 100000'
if grep -q '^\[cgroup\]' "$conf" 2>/dev/null; then
    # A second [cgroup] header would be invalid TOML: add the keys to the template's table.
    printf '%s\n' "$limits" >/run/corral-vm/limits
    sed -i '/^\[cgroup\]/r /run/corral-vm/limits' "$conf"
else
    printf '\n[cgroup]\n%s\n' "$limits" >>"$conf"
fi
echo "# config.toml:"
diag "$(cat "$conf" 2>&1)"

execute "memory.max inside is 33554432" 0 33554432 -- /bin/cat /sys/fs/cgroup/memory.max
execute "pids.max inside is 20" 0 20 -- /bin/cat /sys/fs/cgroup/pids.max
execute "cpu.max inside is '50000 100000'" 0 "50000 100000" -- /bin/cat /sys/fs/cgroup/cpu.max
execute "cpu.weight inside is 50" 0 50 -- /bin/cat /sys/fs/cgroup/cpu.weight
execute "/proc/self/cgroup inside is 0::/ (cgroup namespace)" 0 "0::/" -- /bin/cat /proc/self/cgroup

# Seen from the host while the container runs: the cgroup sits under the parent.
timeout "$CMD_TIMEOUT" corral execute -n c1 -- /bin/sleep 4 </dev/null >/run/corral-vm/bg.out 2>&1 &
bg=$!
i=0 seen=
while [ $i -lt 30 ]; do
    # cgroupfs files report size 0: read them (the container may use a sub-cgroup).
    if [ -n "$(find "$LEAF" -name cgroup.procs -exec cat {} + 2>/dev/null)" ]; then
        seen=1
        break
    fi
    sleep 0.1
    i=$((i + 1))
done
host_mem=$(cat "$LEAF/memory.max" 2>/dev/null)
host_pids=$(cat "$LEAF/pids.max" 2>/dev/null)
if [ -n "$seen" ] && [ "$host_mem" = 33554432 ] && [ "$host_pids" = 20 ]; then
    ok "host sees the running container in /sys/fs/cgroup/corral-vm/c1 with its limits"
else
    not_ok "host sees the running container in /sys/fs/cgroup/corral-vm/c1 with its limits"
    diag "processes seen: ${seen:-no}; memory.max: '$host_mem'; pids.max: '$host_pids'"
    diag "cgroups: $(find "$CG" -mindepth 1 -type d | tr '\n' ' ')"
fi
wait "$bg"
rc=$?
if [ $rc = 0 ]; then
    ok "execute /bin/sleep 4 exits 0"
else
    not_ok "execute /bin/sleep 4 exits 0"
    diag "exit status: $rc" "$(cat /run/corral-vm/bg.out)"
fi
check_clean "execute /bin/sleep 4"

# No swap in the VM, so the memory limit ends in the OOM killer: SIGKILL, 128+9.
execute "allocating past memory.max is OOM-killed (exit 137)" 137 -- /bin/sh -c 'tail /dev/zero'

# Fork until pids.max stops us; only builtins run after the bomb, so they need no fork.
# shellcheck disable=SC2016 # expanded by the container's shell
bomb='( i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done; echo "spawned=$i" ) 2>/dev/null
read cur </sys/fs/cgroup/pids.current
m=0
while read k v; do [ "$k" = max ] && m=$v; done </sys/fs/cgroup/pids.events
echo "current=$cur max_events=$m"'
run execute -n c1 -- /bin/sh -c "$bomb"
cur=$(echo "$out" | sed -n 's/^current=\([0-9]*\) .*/\1/p')
events=$(echo "$out" | sed -n 's/.* max_events=\([0-9]*\)$/\1/p')
if [ -n "$cur" ] && [ "$cur" -le 20 ] && [ "${events:-0}" -ge 1 ] &&
    ! echo "$out" | grep -q '^spawned=50$'; then
    ok "fork bomb is stopped by pids.max (pids.current=$cur, fork failures=$events)"
else
    not_ok "fork bomb is stopped by pids.max"
    show_run
fi
check_clean "fork bomb"

run destroy -n c1
check_run "corral destroy -n c1" 0
if [ -e "$CORRAL_ROOT/c1" ]; then
    not_ok "destroy removes \$CORRAL_ROOT/c1"
else
    ok "destroy removes \$CORRAL_ROOT/c1"
fi
check_clean "destroy"

for test_bin in ${CORRAL_VM_TEST_BIN:-}; do
    name=$(basename "$test_bin")
    echo "# running $name --test-threads=1 ${CORRAL_VM_TEST_ARGS:-}"
    # shellcheck disable=SC2086 # the arguments are split on purpose
    set -- --test-threads=1 ${CORRAL_VM_TEST_ARGS:-}
    # As under cargo test: no CORRAL_ROOT & co. CORRAL_BIN for tests that look
    # the binary up at run time.
    env -u CORRAL_ROOT -u CORRAL_RUN_DIR -u CORRAL_CONFIG CORRAL_BIN=/usr/bin/corral \
        timeout 900 "$test_bin" "$@" >/run/corral-vm/test.out 2>&1 </dev/null
    rc=$?
    sed 's/^/#   /' /run/corral-vm/test.out
    if [ $rc = 0 ]; then
        ok "test binary $name passes"
    else
        not_ok "test binary $name passes (exit $rc)"
    fi
    check_clean "test binary $name"
done

[ ! -s "$FAILURES" ]
