//! Interfaces and the default bridge, each test in a network namespace of its own (see
//! `corral_tests::net::Lab`): veths on the bridge, DHCP and DNS from dnsmasq, NAT, macvlan,
//! phys, and configs refused before anything exists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use corral_tests::net::Lab;

/// A veth on the lab's bridge with static IPv4 and IPv6 addresses.
fn static_veth(lab: &Lab, host: u8) -> String {
    format!(
        "[[network.interface]]\ntype = \"veth\"\nipv4 = [\"{}/24\"]\nipv4_gateway = \"auto\"\n\
         ipv6 = [\"fd42:209::{host}/64\"]\n",
        lab.ip(host)
    )
}

/// A busybox system container whose boot asks for an address with udhcpc, giving its name.
fn dhcp_busybox(lab: &Lab, name: &str) {
    lab.busybox(name, "[[network.interface]]\ntype = \"veth\"\n");
    let rootfs = lab.world.root().join(name).join("rootfs");
    let script = "#!/bin/sh\n\
        case \"$1\" in bound|renew)\n\
          ip addr flush dev \"$interface\"\n\
          ip addr add \"$ip/$mask\" dev \"$interface\"\n\
          [ -n \"$router\" ] && ip route add default via ${router%% *} dev \"$interface\"\n\
          : > /etc/resolv.conf\n\
          for d in $dns; do echo \"nameserver $d\" >> /etc/resolv.conf; done;;\n\
        esac\n";
    let network = "#!/bin/sh\n\
        udhcpc -i eth0 -x hostname:$(hostname) -s /etc/udhcpc.script -b -t 20 -T 1\n";
    for (file, text) in [
        ("etc/udhcpc.script", script),
        ("etc/init.d/network", network),
    ] {
        let path = rootfs.join(file);
        std::fs::write(&path, text).unwrap();
        let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, executable).unwrap();
    }
}

/// The container's IPv4 addresses, as `info` reads them from its namespace.
fn ips(lab: &Lab, name: &str) -> Vec<String> {
    lab.corral(&["info", "-n", name])
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("IP:"))
        .map(|ip| ip.trim().to_owned())
        .collect()
}

/// The lab's links that a container could have left behind, once the kernel is done: the
/// host ends of veths go with the container's namespace, which it removes in the background.
fn corral_links(lab: &Lab) -> Vec<String> {
    let left = || -> Vec<String> {
        lab.links()
            .into_iter()
            .filter(|l| l.starts_with("crl") && *l != lab.bridge && !l.starts_with("crlhold"))
            .collect()
    };
    lab.wait_for(5, || left().is_empty());
    left()
}

#[test]
fn containers_on_the_bridge_reach_each_other_and_the_host() {
    let lab = Lab::new();
    lab.busybox("a", &static_veth(&lab, 10));
    lab.busybox("b", &static_veth(&lab, 11));
    lab.corral(&["start", "-n", "b"]).ok();
    let (b, host) = (lab.ip(11), lab.ip(1));
    lab.corral(&[
        "execute",
        "-n",
        "a",
        "--",
        "/bin/sh",
        "-c",
        &format!("ping -c1 -W2 {b} && ping -c1 -W2 {host} && ping -6 -c1 -W2 fd42:209::11"),
    ])
    .ok();
    lab.sh(&format!("busybox ping -c1 -W2 {b}")).ok();
    // A static address is published under the container's name too.
    let lookup = format!("busybox nslookup b.lab {}", lab.ip(1));
    let found = lab.sh(&lookup);
    assert!(found.stdout.contains(&b), "{found:?}");

    let info = lab.corral(&["info", "-n", "b"]);
    assert_eq!(
        ips(&lab, "b"),
        [b.as_str(), "fd42:209::11"],
        "{}",
        info.stdout
    );
    // lxc-info's Link is the host end, with counters seen from the container.
    let host_end = info
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Link:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(host_end.starts_with("crl"), "{}", info.stdout);
    let ports = lab.sh(&format!("ip -o link show master {}", lab.bridge));
    assert!(ports.ok().contains(&host_end), "{}", ports.stdout);
    assert!(lab.corral(&["ls", "-f"]).ok().contains(&b));

    lab.corral(&["stop", "-k", "-n", "b"]).ok();
    assert_eq!(corral_links(&lab), Vec::<String>::new(), "a veth remains");
    let gone = lab.sh(&lookup);
    assert!(!gone.stdout.contains(&b), "b's name outlived it: {gone:?}");
    lab.world.assert_clean("a");
    lab.world.assert_clean("b");
}

#[test]
fn nat_rules_exist_only_while_the_bridge_is_up() {
    let lab = Lab::new();
    let table = || lab.sh(&format!("nft list table inet {}", lab.table)).code == 0;
    let forwarding = || {
        lab.sh("cat /proc/sys/net/ipv4/ip_forward")
            .stdout
            .trim()
            .to_owned()
    };
    assert!(!table());
    assert_eq!(forwarding(), "0");

    lab.corral(&["net", "up"]).ok();
    assert!(table(), "no NAT table while the bridge is up");
    assert_eq!(forwarding(), "1");
    let tables = lab.sh("nft list tables").stdout;
    assert_eq!(tables.trim(), format!("table inet {}", lab.table));
    let rules = lab.sh(&format!("nft list table inet {}", lab.table)).stdout;
    assert!(
        rules.contains(&format!("ip saddr {}.0/24", lab.subnet)) && rules.contains("masquerade"),
        "{rules}"
    );
    let status = lab.corral(&["net", "status"]);
    assert!(
        status.ok().contains("dnsmasq:        running"),
        "{}",
        status.stdout
    );

    lab.corral(&["net", "down"]).ok();
    assert!(!table(), "the NAT table outlived the bridge");
    assert_eq!(forwarding(), "0", "forwarding was not restored");
    assert!(!lab.links().contains(&lab.bridge));
    assert!(lab.corral(&["net", "status"]).ok().contains("not running"));
}

#[test]
fn busybox_gets_a_dhcp_lease_and_its_name_resolves() {
    let lab = Lab::new();
    dhcp_busybox(&lab, "dyn");
    lab.busybox("peer", &static_veth(&lab, 20));
    // The bridge and its dnsmasq come up with the first container that needs them.
    lab.corral(&["start", "-n", "dyn"]).ok();
    let mut leased = Vec::new();
    assert!(
        lab.wait_for(30, || {
            leased = ips(&lab, "dyn");
            !leased.is_empty()
        }),
        "no DHCP lease: {}",
        std::fs::read_to_string(lab.world.run_dir().join("dyn/console.log")).unwrap_or_default()
    );
    let ip = &leased[0];
    assert!(ip.starts_with(&lab.subnet), "{ip}");
    let status = lab.corral(&["net", "status"]);
    assert!(
        status.ok().contains(&format!("Lease:          {ip}")),
        "{}",
        status.stdout
    );

    // From the host, through dnsmasq.
    let lookup = lab.sh(&format!("busybox nslookup dyn.lab {}", lab.ip(1)));
    assert!(lookup.stdout.contains(ip.as_str()), "{lookup:?}");
    // From another container, by its bare name.
    lab.corral(&[
        "execute",
        "-n",
        "peer",
        "--",
        "/bin/sh",
        "-c",
        &format!(
            "echo 'nameserver {}' > /etc/resolv.conf && ping -c1 -W2 dyn",
            lab.ip(1)
        ),
    ])
    .ok();

    lab.corral(&["stop", "-k", "-n", "dyn"]).ok();
    assert_eq!(corral_links(&lab), Vec::<String>::new());
}

#[test]
fn a_bad_network_config_is_refused_before_anything_exists() {
    let lab = Lab::new();
    let veth = "[[network.interface]]\ntype = \"veth\"\n";
    let cases = [
        (
            format!("{veth}link = \"nosuchbr0\"\n"),
            "network.interface[0].link",
            "unknown bridge nosuchbr0",
        ),
        (
            format!("{veth}ipv4 = [\"10.99.0.5/24\"]\n"),
            "network.interface[0].ipv4",
            "out of range",
        ),
        (
            format!("{veth}hwaddr = \"02:00:00:00:00:01\"\n{veth}hwaddr = \"02:00:00:00:00:01\"\n"),
            "network.interface[1].hwaddr",
            "used twice",
        ),
        (
            format!("{veth}name = \"a-very-long-name0\"\n"),
            "network.interface[0].name",
            "1 to 15 bytes",
        ),
        (
            "[[network.interface]]\ntype = \"vxlan\"\n".to_owned(),
            "network.interface[0].type",
            "unknown interface type",
        ),
    ];
    for (i, (config, key, message)) in cases.iter().enumerate() {
        let name = format!("bad{i}");
        lab.busybox(&name, config);
        let out = lab.corral(&["execute", "-n", &name, "--", "/bin/true"]);
        assert_eq!(out.code, 125, "{config}: {out:?}");
        assert!(
            out.stderr.contains(&format!("key `{key}`")) && out.stderr.contains(message),
            "{config}: {}",
            out.stderr
        );
        assert_eq!(lab.links(), ["lo"], "{config}: something was created");
        lab.world.assert_clean(&name);
    }
}

#[test]
fn a_failure_halfway_removes_what_was_created() {
    let lab = Lab::new();
    // An interface the test owns, whose name the second veth wants for its host end.
    lab.sh("ip link add crlhold0 address 02:00:00:00:aa:01 type veth peer name crlhold0p")
        .ok();
    lab.busybox(
        "half",
        "[[network.interface]]\ntype = \"veth\"\n\
         [[network.interface]]\ntype = \"veth\"\nhost_name = \"crlhold0\"\n",
    );
    let out = lab.corral(&["execute", "-n", "half", "--", "/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("stage network failed"),
        "{}",
        out.stderr
    );
    assert_eq!(
        corral_links(&lab),
        Vec::<String>::new(),
        "the first veth remains"
    );
    let hold = lab.sh("ip -br link show crlhold0").ok().to_owned();
    assert!(
        hold.contains("02:00:00:00:aa:01"),
        "crlhold0 was touched: {hold}"
    );
    lab.world.assert_clean("half");
}

#[test]
fn macvlan_containers_on_one_parent_reach_each_other() {
    let lab = Lab::new();
    lab.sh("ip link add crlhold1 type veth peer name crlhold1p && ip link set crlhold1p up && ip link set crlhold1 up").ok();
    for (name, host) in [("m1", 10), ("m2", 11)] {
        lab.busybox(
            name,
            &format!(
                "[[network.interface]]\ntype = \"macvlan\"\nlink = \"crlhold1\"\n\
                 macvlan_mode = \"bridge\"\nipv4 = [\"10.210.0.{host}/24\"]\n"
            ),
        );
    }
    lab.corral(&["start", "-n", "m2"]).ok();
    // The host's iproute2 shows the details busybox's ip does not.
    let info = lab.corral(&["info", "-n", "m2"]);
    let pid = info
        .ok()
        .lines()
        .find_map(|l| l.strip_prefix("PID:"))
        .unwrap()
        .trim()
        .to_owned();
    let inside = lab.sh(&format!(
        "nsenter --net=/proc/{pid}/ns/net ip -d link show eth0"
    ));
    assert!(
        inside.ok().contains("macvlan mode bridge"),
        "{}",
        inside.stdout
    );
    lab.corral(&[
        "execute",
        "-n",
        "m1",
        "--",
        "ping",
        "-c1",
        "-W2",
        "10.210.0.11",
    ])
    .ok();
    lab.corral(&["stop", "-k", "-n", "m2"]).ok();
    assert_eq!(lab.links(), ["lo", "crlhold1p", "crlhold1"]);
}

#[test]
fn a_physical_interface_moves_in_and_comes_back() {
    let lab = Lab::new();
    lab.sh("ip link add crlhold2 type veth peer name crlhold3 && \
         ip addr add 10.211.0.1/24 dev crlhold3 && ip link set crlhold3 up")
        .ok();
    lab.busybox(
        "ph",
        "[[network.interface]]\ntype = \"phys\"\nlink = \"crlhold2\"\nname = \"eth1\"\n\
         ipv4 = [\"10.211.0.2/24\"]\n",
    );
    lab.corral(&["start", "-n", "ph"]).ok();
    assert!(
        !lab.links().contains(&"crlhold2".to_owned()),
        "it did not move in"
    );
    lab.corral(&[
        "attach",
        "-n",
        "ph",
        "--",
        "ping",
        "-c1",
        "-W2",
        "10.211.0.1",
    ])
    .ok();
    lab.sh("busybox ping -c1 -W2 10.211.0.2").ok();
    lab.corral(&["stop", "-k", "-n", "ph"]).ok();
    assert!(
        lab.links().contains(&"crlhold2".to_owned()),
        "crlhold2 did not come back: {:?}",
        lab.links()
    );
    lab.world.assert_clean("ph");
}
