#!/bin/sh
# /init of the cgroup2 test VM (busybox sh). Copied into the initramfs by
# run-cgroup2.sh. Always ends with a CORRAL-VM-RESULT line and a power-off.

# Stage 1: the initramfs root ("rootfs") cannot be pivot_root()ed, and corral's
# mounts stage pivots. Move everything onto a real tmpfs mount first, as a
# distribution's initramfs does before it starts the real init.
if [ "${1:-}" != stage2 ]; then
    mount -t tmpfs -o mode=0755 tmpfs /newroot || {
        echo "CORRAL-VM-RESULT: FAIL cannot mount tmpfs for the new root"
        poweroff -f
    }
    for f in /* /.[!.]*; do
        [ -e "$f" ] || [ -L "$f" ] || continue
        [ "$f" = /newroot ] || cp -a "$f" /newroot/
    done
    # shellcheck disable=SC2093 # the lines below run only if exec fails
    exec switch_root /newroot /init stage2
    echo "CORRAL-VM-RESULT: FAIL switch_root failed"
    poweroff -f
fi

export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
umask 022

finish() {
    echo "CORRAL-VM-RESULT: $*"
    sync
    poweroff -f
    sleep 10
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=0755 tmpfs /run
# Only the unified hierarchy: this VM stands for a pure cgroup v2 host.
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || finish "FAIL cannot mount cgroup2"
hostname corral-vm
ip link set lo up 2>/dev/null
# Start on a fresh line: the firmware leaves the cursor mid-line.
echo
echo "# kernel: $(uname -r)"

# Modules a host would load on demand (overlay, veth, bridge...), dependencies first.
if [ -f /lib/modules/order ]; then
    loaded=
    while read -r m; do
        if insmod "/lib/modules/$m" 2>/dev/null; then loaded="$loaded ${m%.ko}"; else echo "# cannot load $m"; fi
    done </lib/modules/order
    echo "# modules:$loaded"
fi

mkdir -p /run/corral-vm
: >/run/corral-vm/failures
# Settings written by run-cgroup2.sh, exported for the scenario.
set -a
# shellcheck disable=SC1091
. /etc/corral-vm.env
set +a

check() { # check DESCRIPTION COMMAND...
    desc=$1
    shift
    if "$@"; then
        echo "ok - $desc"
    else
        echo "not ok - $desc"
        echo "$desc" >>/run/corral-vm/failures
    fi
}

# Enable every controller the kernel offers for the children of the root.
controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in $controllers; do
    echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null ||
        echo "# cannot enable controller $c"
done
subtree=$(cat /sys/fs/cgroup/cgroup.subtree_control)
echo "# cgroup.controllers: $controllers"
echo "# cgroup.subtree_control: $subtree"

has_all() { # has_all "LIST" WORD...
    list=" $1 "
    shift
    for w in "$@"; do
        case "$list" in *" $w "*) ;; *) return 1 ;; esac
    done
}
only_cgroup2() {
    ! grep -E '^[^ ]+ [^ ]+ cgroup ' /proc/mounts >/dev/null &&
        grep -E '^[^ ]+ /sys/fs/cgroup cgroup2 ' /proc/mounts >/dev/null
}
check "only cgroup2 is mounted, at /sys/fs/cgroup" only_cgroup2
check "cgroup2 root enables cpu cpuset io memory pids" has_all "$subtree" cpu cpuset io memory pids

case "${CORRAL_VM_MODE:-scenario}" in
controllers) ;;
scenario)
    sh /scenario.sh
    rc=$?
    [ $rc -eq 0 ] || [ -s /run/corral-vm/failures ] ||
        echo "scenario exited with status $rc" >>/run/corral-vm/failures
    ;;
*) echo "unknown mode ${CORRAL_VM_MODE}" >>/run/corral-vm/failures ;;
esac

n=$(wc -l </run/corral-vm/failures)
if [ "$n" -eq 0 ]; then
    finish PASS
else
    finish "FAIL $n check(s) failed, first: $(head -n1 /run/corral-vm/failures)"
fi
