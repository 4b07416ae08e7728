#!/usr/bin/env bash
# Boot a small qemu VM (TCG) whose only cgroup hierarchy is cgroup2 with every
# controller enabled, and run corral's cgroup scenario inside it.
#
# The development hosts are hybrid (v1 controllers), while users run pure v2:
# this is where the v2 path of the cgroups stage is exercised for real.
#
# Usage:
#   tests/vm/run-cgroup2.sh [--controllers-only] [--no-install] [CORRAL_BIN]
#
#   --controllers-only  boot and check that cgroup2 offers cpu/cpuset/io/memory/pids;
#                       needs no corral binary (a smoke test of the VM itself)
#   --no-install        never call apt-get; fail if something is missing
#
# Environment:
#   CORRAL_BIN             corral binary (default: target/release/corral, else target/debug/corral)
#   CORRAL_VM_TEST_BIN     optional Rust test binaries (space-separated) to run inside the VM (--test-threads=1)
#   CORRAL_VM_TEST_ARGS    arguments for that test binary (a filter, --skip NAME ...), split on spaces
#   CORRAL_VM_CACHE        cache dir for the kernel (default /var/cache/corral-vm as root)
#   CORRAL_VM_KERNEL       use this vmlinuz instead of the Debian cloud kernel
#   CORRAL_VM_TIMEOUT      seconds before the VM is killed (default 300, 1200 with a test binary)
#   CORRAL_VM_LOG          serial log path (default: a file under the cache dir)
#   CORRAL_VM_STRIP        1 (default) strips debug info from copied binaries; 0 keeps it
#   CORRAL_VM_KEEP         1 keeps the initramfs build dir for inspection
#
# Exit status is 0 only when the VM printed "CORRAL-VM-RESULT: PASS".
set -euo pipefail

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)

die() {
    echo "run-cgroup2: error: $*" >&2
    exit 1
}
log() { echo "run-cgroup2: $*" >&2; }

mode=scenario
allow_install=1
bin_arg=
while [ $# -gt 0 ]; do
    case "$1" in
    --controllers-only) mode=controllers ;;
    --no-install) allow_install=0 ;;
    -h | --help)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    -*) die "unknown option: $1" ;;
    *)
        [ -z "$bin_arg" ] || die "only one corral binary may be given"
        bin_arg=$1
        ;;
    esac
    shift
done

is_root() { [ "$(id -u)" -eq 0 ]; }

if [ -n "${CORRAL_VM_CACHE:-}" ]; then
    cache_dir=$CORRAL_VM_CACHE
elif is_root; then
    cache_dir=/var/cache/corral-vm
else
    cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/corral-vm
fi
mkdir -p "$cache_dir"

# ---------------------------------------------------------------- host packages

pkg_installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

os_codename() {
    # shellcheck disable=SC1091
    (. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# Print "URI<TAB>Signed-By" of the machine's main Debian archive: the source
# whose suites include the release codename itself (not -security/-updates).
# The mirror is taken from the machine so that no host name lives in the repo.
debian_mirror() {
    local codename=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -e "$f" ] || continue
        awk -v want="$codename" '
            function flush() {
                if (uris != "" && has) { split(uris, u, " "); print u[1] "\t" signed; found = 1; exit }
                uris = ""; signed = ""; has = 0
            }
            /^[ \t]*$/ { flush(); next }
            /^[ \t]*#/ { next }
            tolower($1) == "uris:"      { uris = $2; for (i = 3; i <= NF; i++) uris = uris " " $i }
            tolower($1) == "signed-by:" { signed = $2 }
            tolower($1) == "suites:"    { for (i = 2; i <= NF; i++) if ($i == want) has = 1 }
            tolower($1) == "enabled:" && tolower($2) == "no" { uris = "" }
            END { if (!found) flush() }
        ' "$f" | head -n1
    done | head -n1 | grep . && return 0
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -e "$f" ] || continue
        # deb [opts] URI SUITE COMPONENT...
        awk -v want="$codename" '
            $1 != "deb" { next }
            {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == want) { print $i "\t"; exit }
            }
        ' "$f"
    done | head -n1 | grep .
}

ensure_backports_source() {
    local codename=$1 file=/etc/apt/sources.list.d/corral-backports.sources
    if grep -qsE "^[^#]*${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources; then
        return 1 # already configured (by us or by the machine)
    fi
    local line uri signed
    line=$(debian_mirror "$codename") || die "no Debian archive for '$codename' found in the apt sources"
    uri=${line%%$'\t'*}
    signed=${line#*$'\t'}
    [ -n "$signed" ] || signed=/usr/share/keyrings/debian-archive-keyring.gpg
    log "adding ${codename}-backports from the machine's Debian mirror to $file"
    cat >"$file" <<EOF
# Written by corral tests/vm/run-cgroup2.sh: qemu-system-x86 matching qemu-utils.
Types: deb
URIs: $uri
Suites: ${codename}-backports
Components: main
Signed-By: $signed
EOF
    return 0
}

ensure_packages() {
    local missing=() need_qemu=0
    pkg_installed qemu-system-x86 || need_qemu=1
    pkg_installed busybox-static || missing+=(busybox-static)
    pkg_installed cpio || missing+=(cpio)
    if [ $need_qemu -eq 0 ] && [ ${#missing[@]} -eq 0 ]; then
        return 0
    fi
    [ $need_qemu -eq 0 ] || missing+=(qemu-system-x86)
    [ $allow_install -eq 1 ] || die "missing packages: ${missing[*]} (and --no-install given)"
    is_root || die "missing packages: ${missing[*]}; run once as root to install them"
    command -v apt-get >/dev/null || die "missing packages: ${missing[*]}; apt-get not available"

    export DEBIAN_FRONTEND=noninteractive
    local codename
    codename=$(os_codename)
    [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
    if [ $need_qemu -eq 1 ]; then
        ensure_backports_source "$codename" || true
    fi
    log "installing: ${missing[*]}"
    apt-get update -q >&2 || die "apt-get update failed"
    if [ $need_qemu -eq 1 ]; then
        # The preinstalled qemu-utils comes from backports: take qemu from there too.
        apt-get install -y -q --no-install-recommends -t "${codename}-backports" qemu-system-x86 >&2 ||
            die "cannot install qemu-system-x86 from ${codename}-backports"
    fi
    local rest=()
    for p in busybox-static cpio; do pkg_installed "$p" || rest+=("$p"); done
    if [ ${#rest[@]} -gt 0 ]; then
        apt-get install -y -q --no-install-recommends "${rest[@]}" >&2 || die "cannot install ${rest[*]}"
    fi
}

# ---------------------------------------------------------------- kernel

# Modules a real host would have loaded on demand; the cloud kernel builds them
# as modules (cgroups, namespaces, seccomp and landlock are built in).
vm_modules="overlay veth bridge macvlan"

# Print a module's dependencies (from its .modinfo section; no kmod needed).
module_deps() {
    objcopy -O binary --only-section=.modinfo "$1" /dev/stdout 2>/dev/null |
        tr '\0' '\n' | sed -n 's/^depends=//p' | tr ',' ' '
}

# Copy the wanted modules and their dependencies from an unpacked kernel
# package into $2, with "order" listing them dependencies first.
extract_modules() {
    local tree=$1 dest=$2 m
    mkdir -p "$dest"
    : >"$dest/order"
    add_module() {
        local name=$1 ko dep
        grep -qx "$name.ko" "$dest/order" && return 0
        ko=$(find "$tree" -name "$name.ko" -o -name "${name//_/-}.ko" | head -n1)
        [ -n "$ko" ] || die "module $name not found in the kernel package"
        for dep in $(module_deps "$ko"); do add_module "$dep"; done
        cp "$ko" "$dest/$name.ko"
        echo "$name.ko" >>"$dest/order"
    }
    for m in $vm_modules; do add_module "$m"; done
}

# The versioned package that linux-image-cloud-amd64 points at.
resolve_kernel_pkg() {
    apt-cache depends linux-image-cloud-amd64 2>/dev/null |
        sed -n 's/^ *Depends: \(linux-image-[^ ]*-cloud-amd64\)$/\1/p' | grep -v unsigned | head -n1
}

# Print the path of a cached vmlinuz of the Debian cloud kernel, downloading the
# versioned package on first use. Its modules are cached beside it in
# modules-ABI/ (see extract_modules).
ensure_kernel() {
    if [ -n "${CORRAL_VM_KERNEL:-}" ]; then
        [ -r "$CORRAL_VM_KERNEL" ] || die "CORRAL_VM_KERNEL=$CORRAL_VM_KERNEL is not readable"
        echo "$CORRAL_VM_KERNEL"
        return
    fi
    # Skip apt (about 2s) while the apt lists are older than the cached kernel.
    local cached
    cached=$(find "$cache_dir" -maxdepth 1 -name 'vmlinuz-*-cloud-amd64' 2>/dev/null | sort -V | tail -n1)
    if [ -n "$cached" ] && [ ! -s "$cache_dir/modules-${cached##*/vmlinuz-}/order" ]; then
        cached=
    fi
    if [ -n "$cached" ] && [ "$cached.version" -nt /var/lib/apt/lists ]; then
        echo "$cached"
        return
    fi
    local pkg
    pkg=$(resolve_kernel_pkg) || true
    if [ -z "$pkg" ]; then
        # No apt lists: reuse the cached kernel if there is one, else fetch the lists.
        if [ -n "$cached" ]; then
            echo "$cached"
            return
        fi
        { [ $allow_install -eq 1 ] && is_root; } || die "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
        apt-get update -q >&2 || die "apt-get update failed"
        pkg=$(resolve_kernel_pkg) || true
        [ -n "$pkg" ] || die "linux-image-cloud-amd64 does not name a versioned kernel package"
    fi
    local abi=${pkg#linux-image-} ver
    ver=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
    local vmlinuz=$cache_dir/vmlinuz-$abi stamp=$cache_dir/vmlinuz-$abi.version mods=$cache_dir/modules-$abi
    if [ -s "$vmlinuz" ] && [ -s "$mods/order" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$ver" ]; then
        touch "$stamp"
        echo "$vmlinuz"
        return
    fi
    log "downloading kernel package $pkg ($ver)"
    local work
    work=$(mktemp -d "$cache_dir/kernel.XXXXXX")
    # apt drops privileges to _apt for downloads: let it write here.
    if is_root && id _apt >/dev/null 2>&1; then chown _apt "$work"; fi
    (cd "$work" && apt-get download -q "$pkg" >&2) || {
        rm -rf "$work"
        die "apt-get download $pkg failed"
    }
    dpkg-deb -x "$work"/"$pkg"_*.deb "$work/x" || die "cannot unpack $pkg"
    local img
    img=$(find "$work/x/boot" -name "vmlinuz-*" | head -n1)
    [ -n "$img" ] || die "$pkg has no /boot/vmlinuz-*"
    rm -rf "$mods"
    extract_modules "$work/x/lib/modules" "$mods"
    mv "$img" "$vmlinuz"
    # Keep the config: it tells what is built in.
    find "$work/x/boot" -name "config-*" -exec mv {} "$cache_dir/config-$abi" \;
    echo "$ver" >"$stamp"
    rm -rf "$work"
    echo "$vmlinuz"
}

# ---------------------------------------------------------------- initramfs

strip_copies=${CORRAL_VM_STRIP:-1}

# Copy an ELF file to the same absolute path inside $root.
copy_file() {
    local src=$1 root=$2 dst=${3:-$1}
    mkdir -p "$root$(dirname "$dst")"
    cp -L "$src" "$root$dst"
}

# Copy a dynamically linked program's libraries (and the loader) as ldd reports them.
copy_libs() {
    local bin=$1 root=$2 lib
    # "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" and "/lib64/ld-linux-x86-64.so.2 (0x...)"
    local out
    out=$(ldd "$bin" 2>&1) || true
    if grep -qE 'not a dynamic executable|statically linked' <<<"$out"; then
        return 0
    fi
    while read -r lib; do
        [ -n "$lib" ] || continue
        [ -e "$root$lib" ] || copy_file "$lib" "$root"
    done < <(awk '
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $1 ~ /^\// { print $1 }
    ' <<<"$out")
    if grep -q 'not found' <<<"$out"; then
        die "ldd cannot resolve every library of $bin:"$'\n'"$out"
    fi
}

install_program() {
    local src=$1 root=$2 dst=$3
    copy_file "$src" "$root" "$dst"
    chmod 0755 "$root$dst"
    if [ "$strip_copies" = 1 ] && command -v strip >/dev/null; then
        # Debug info can be hundreds of MB: it would slow every boot (gzip, unpack, copy).
        strip --strip-debug "$root$dst" 2>/dev/null || true
    fi
    copy_libs "$src" "$root"
}

build_initramfs() {
    local out=$1 root=$2
    local busybox
    busybox=$(dpkg-query -L busybox-static 2>/dev/null | grep -E '/bin/busybox$' | head -n1)
    [ -n "$busybox" ] || busybox=/bin/busybox
    file_is_static "$busybox" || die "$busybox is not statically linked (is busybox-static installed?)"

    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,newroot}
    cp "$busybox" "$root/bin/busybox"
    local applet
    while read -r applet; do
        if [ -n "$applet" ] && [ ! -e "$root/$applet" ]; then
            [ -d "$root/${applet%/*}" ] || mkdir -p "$root/${applet%/*}"
            ln -s /bin/busybox "$root/$applet"
        fi
    done < <("$root/bin/busybox" --list-full)
    # The kernel needs a console before /init opens one.
    if is_root; then
        mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
        mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
    fi

    local mods=$cache_dir/modules-${kernel##*/vmlinuz-}
    if [ -s "$mods/order" ]; then
        mkdir -p "$root/lib/modules"
        cp "$mods"/* "$root/lib/modules/"
    fi

    cp "$script_dir/init.sh" "$root/init"
    chmod 0755 "$root/init"
    cp "$script_dir/scenario.sh" "$root/scenario.sh"
    chmod 0755 "$root/scenario.sh"

    # Settings for the VM side, quoted for sh.
    {
        printf 'CORRAL_VM_MODE=%q\n' "$mode"
        if [ -n "${CORRAL_VM_TEST_BIN:-}" ]; then
            local t inside=""
            for t in $CORRAL_VM_TEST_BIN; do inside="$inside /corral-tests/$(basename "$t")"; done
            printf 'CORRAL_VM_TEST_BIN=%q\n' "${inside# }"
            printf 'CORRAL_VM_TEST_ARGS=%q\n' "${CORRAL_VM_TEST_ARGS:-}"
        fi
    } >"$root/etc/corral-vm.env"
    echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
    echo "root:x:0:" >"$root/etc/group"

    if [ -n "$corral_bin" ]; then
        install_program "$corral_bin" "$root" /usr/bin/corral
        # Test binaries built by cargo find corral at its host path (CARGO_BIN_EXE_corral).
        local p
        for p in "$corral_bin_abs" "$corral_bin"; do
            [ "$p" != /usr/bin/corral ] || continue
            mkdir -p "$root$(dirname "$p")"
            ln -sfn /usr/bin/corral "$root$p"
        done
    fi
    local test_bin
    for test_bin in ${CORRAL_VM_TEST_BIN:-}; do
        install_program "$test_bin" "$root" "/corral-tests/$(basename "$test_bin")"
    done

    (cd "$root" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --quiet) | gzip -1 >"$out" ||
        die "cannot build the initramfs"
}

file_is_static() {
    ! ldd "$1" >/dev/null 2>&1 || ldd "$1" 2>&1 | grep -qE 'not a dynamic executable|statically linked'
}

# ---------------------------------------------------------------- main

corral_bin=''
corral_bin_abs=''
if [ "$mode" = scenario ]; then
    corral_bin=${bin_arg:-${CORRAL_BIN:-}}
    if [ -z "$corral_bin" ]; then
        if [ -x "$repo_root/target/release/corral" ]; then
            corral_bin=$repo_root/target/release/corral
        else
            corral_bin=$repo_root/target/debug/corral
        fi
    fi
    [ -x "$corral_bin" ] || die "corral binary not found at $corral_bin (build it, or pass its path / set CORRAL_BIN)"
    corral_bin_abs=$(cd "$(dirname "$corral_bin")" && pwd)/$(basename "$corral_bin")
    corral_bin=$(realpath "$corral_bin")
    for test_bin in ${CORRAL_VM_TEST_BIN:-}; do
        [ -x "$test_bin" ] || die "test binary $test_bin (CORRAL_VM_TEST_BIN) is not executable"
    done
elif [ -n "$bin_arg" ]; then
    die "--controllers-only takes no corral binary"
fi

ensure_packages
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found"
kernel=$(ensure_kernel)

build_dir=$(mktemp -d "${TMPDIR:-/tmp}/corral-vm.XXXXXX")
cleanup() {
    if [ "${CORRAL_VM_KEEP:-0}" = 1 ]; then
        log "kept $build_dir"
    else
        rm -rf "$build_dir"
    fi
}
trap cleanup EXIT

initrd=$build_dir/initramfs.gz
t0=$(date +%s.%N)
build_initramfs "$initrd" "$build_dir/root"
t1=$(date +%s.%N)
log "initramfs $(du -h "$initrd" | cut -f1) built in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')s; kernel $kernel"

vm_log=${CORRAL_VM_LOG:-$cache_dir/last-run.log}
default_timeout=300
[ -z "${CORRAL_VM_TEST_BIN:-}" ] || default_timeout=1200 # the test binary gets 900s inside
timeout_s=${CORRAL_VM_TIMEOUT:-$default_timeout}
log "booting the VM (TCG, timeout ${timeout_s}s); serial log: $vm_log"

qemu_rc=0
t0=$(date +%s.%N)
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 \
    -accel tcg -m 1024 -smp 2 \
    -nographic -no-reboot -vga none -nic none \
    -kernel "$kernel" -initrd "$initrd" \
    -append 'console=ttyS0 quiet panic=-1 oops=panic' \
    </dev/null >"$vm_log" 2>&1 || qemu_rc=$?
t1=$(date +%s.%N)
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')

# Serial output has CRLF line ends and the firmware's terminal escapes.
sed -i 's/\r$//; s/\x1b\[[0-9;?]*[A-Za-z]//g; s/\x1b[a-z]//g' "$vm_log"
grep -E '^(ok|not ok) |^# ' "$vm_log" || true
result=$(grep -E '^CORRAL-VM-RESULT: ' "$vm_log" | tail -n1 || true)

if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
    tail -n 40 "$vm_log" >&2
    die "the VM did not finish within ${timeout_s}s (log: $vm_log)"
fi
if [ -z "$result" ]; then
    tail -n 40 "$vm_log" >&2
    die "the VM printed no CORRAL-VM-RESULT line (qemu exit status $qemu_rc; log: $vm_log)"
fi
echo "$result"
log "VM ran for ${elapsed}s"
if [ "$result" != "CORRAL-VM-RESULT: PASS" ]; then
    exit 1
fi
[ "$qemu_rc" -eq 0 ] || die "qemu exited with status $qemu_rc after PASS (log: $vm_log)"
