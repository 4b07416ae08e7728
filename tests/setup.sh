#!/usr/bin/env bash
# Installs what corral's build, tests and demo need on Debian 12, as root. Idempotent.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "setup.sh: run as root (containers need it)" >&2; exit 1; }

# busybox-static: the busybox template; debootstrap: the debian template; util-linux:
# script(1) for terminal tests; procps and iproute2: tools the tests and users reach for;
# libseccomp-dev: the seccomp compiler the engine links; dnsmasq-base and nftables: the
# default bridge's DHCP, DNS and NAT; containernetworking-plugins: the cni driver's plugins in
# /usr/lib/cni; openssh-client: ssh into a container in a test; python3-dev and python3-venv:
# the Python package (PyO3 links libpython in the workspace build; its tests run in a venv);
# lxc: LXC's own seccomp policy, which a test reads as corral's input.
packages=(busybox-static debootstrap util-linux procps iproute2 pkg-config gcc libseccomp-dev
    dnsmasq-base nftables containernetworking-plugins openssh-client python3-dev python3-venv
    lxc)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "${missing[@]}" || { apt-get update -q && apt-get install -y -q "${missing[@]}"; }
fi

# corral is built with Rust 1.88 or newer (edition 2024); Debian 12's own rustc is older.
if ! command -v cargo >/dev/null 2>&1; then
    for dir in "$HOME/.cargo/bin" /usr/local/cargo/bin; do
        [ -x "$dir/cargo" ] && export PATH="$dir:$PATH"
    done
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup.sh: no Rust toolchain: install one with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi
rustc_minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
if [ "$rustc_minor" -lt 88 ]; then
    echo "setup.sh: $(rustc --version) is too old: corral needs Rust 1.88 or newer (rustup update)" >&2
    exit 1
fi
