//! Debian system containers on corral's bridge: a DHCP lease from dnsmasq at boot (with
//! systemd-networkd) and a name that resolves; and the walkthrough a new user follows:
//! create, start, see the IP in `info`, install openssh-server through `attach`, ssh in.
//!
//! The walkthrough downloads packages from Debian's mirror through the host's network, so
//! it runs on the host's own namespace, with a bridge, a subnet and an nftables table of the
//! test's own, and checks that IP forwarding is put back as it was.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;

use corral_tests::net::Lab;

/// Creates a Debian container with a veth on the lab's bridge, its DNS through dnsmasq.
fn debian(lab: &Lab, name: &str) {
    lab.world
        .corral(&["create", "-t", "debian", "-n", name])
        .ok();
    let dir = lab.world.root().join(name);
    let mut config = fs::read_to_string(dir.join("config.toml")).unwrap();
    config.push_str("\n[[network.interface]]\ntype = \"veth\"\n");
    fs::write(dir.join("config.toml"), config).unwrap();
    // networkd takes the DNS server from DHCP but, without resolved, writes it nowhere.
    fs::write(
        dir.join("rootfs/etc/resolv.conf"),
        format!("nameserver {}\nsearch lab\n", lab.ip(1)),
    )
    .unwrap();
}

/// Waits for `info` to show an address of the lab's subnet; returns it.
fn leased_ip(lab: &Lab, name: &str) -> String {
    let mut ip = None;
    let leased = lab.wait_for(90, || {
        ip = lab
            .corral(&["info", "-n", name])
            .stdout
            .lines()
            .filter_map(|l| l.strip_prefix("IP:"))
            .map(|a| a.trim().to_owned())
            .find(|a| a.starts_with(&lab.subnet));
        ip.is_some()
    });
    let status = lab.corral(&["net", "status"]).stdout;
    assert!(leased, "{name} got no DHCP lease:\n{status}");
    ip.unwrap()
}

#[test]
fn debian_gets_a_dhcp_lease_at_boot_and_its_name_resolves() {
    let lab = Lab::new();
    debian(&lab, "deb");
    lab.corral(&["start", "-n", "deb"]).ok();
    let ip = leased_ip(&lab, "deb");
    let lookup = lab.sh(&format!("busybox nslookup deb.lab {}", lab.ip(1)));
    assert!(lookup.stdout.contains(&ip), "{lookup:?}");
    // And from inside, through the address DHCP gave it.
    let inside = lab.corral(&["attach", "-n", "deb", "--", "getent", "hosts", "deb.lab"]);
    assert!(inside.ok().contains(&ip), "{inside:?}");
    lab.corral(&["stop", "-n", "deb"]).ok();
    lab.world.assert_clean("deb");
}

#[test]
fn walkthrough_create_start_info_install_ssh_and_log_in() {
    let lab = Lab::on_host();
    let forwarding = || fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let forwarding_before = forwarding();
    debian(&lab, "walk");
    let keys = lab.world.root().with_file_name("ssh");
    fs::create_dir_all(&keys).unwrap();
    let key = keys.join("id_ed25519");
    lab.sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -f {}",
        key.display()
    ))
    .ok();
    let ssh_dir = lab.world.root().join("walk/rootfs/root/.ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    fs::copy(keys.join("id_ed25519.pub"), ssh_dir.join("authorized_keys")).unwrap();

    lab.corral(&["start", "-n", "walk"]).ok();
    let ip = leased_ip(&lab, "walk");
    let install = lab.corral(&[
        "attach",
        "-n",
        "walk",
        "--",
        "sh",
        "-c",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q openssh-server",
    ]);
    assert_eq!(
        install.code, 0,
        "installing openssh-server failed (the container reaches Debian's mirror through \
         corral's NAT):\n{}\n{}",
        install.stdout, install.stderr
    );
    let ssh = lab.sh(&format!(
        "ssh -i {} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
         -o ConnectTimeout=10 -o BatchMode=yes root@{ip} hostname",
        key.display()
    ));
    assert_eq!(ssh.stdout.trim(), "walk", "{ssh:?}");

    lab.corral(&["stop", "-n", "walk"]).ok();
    lab.corral(&["net", "down"]).ok();
    assert_eq!(
        forwarding(),
        forwarding_before,
        "IP forwarding was not restored"
    );
    let table = lab.sh(&format!("nft list table inet {}", lab.table));
    assert_ne!(table.code, 0, "the NAT table outlived the bridge");
    lab.world.assert_clean("walk");
}
