//! The `cni` driver with Debian's containernetworking-plugins (`/usr/lib/cni`): the bridge
//! plugin with host-local addresses, in a network namespace of the test's own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers panic to fail the test"
)]

use std::fs;
use std::path::{Path, PathBuf};

use corral_tests::net::Lab;

/// Writes a configuration list of the bridge plugin with host-local addresses in `data`,
/// then `extra` plugins, and returns its path.
fn conflist(lab: &Lab, data: &Path, extra: &str) -> PathBuf {
    let file = lab.world.root().with_file_name("crltest.conflist");
    let text = format!(
        r#"{{"cniVersion": "1.0.0", "name": "crltest", "plugins": [
            {{"type": "bridge", "bridge": "crlcni0", "isGateway": true,
              "ipam": {{"type": "host-local", "dataDir": "{}",
                        "ranges": [[{{"subnet": "10.212.0.0/24"}}]],
                        "routes": [{{"dst": "0.0.0.0/0"}}]}}}}{extra}]}}"#,
        data.display()
    );
    fs::write(&file, text).unwrap();
    file
}

fn cni_container(lab: &Lab, name: &str, conflist: &Path) {
    lab.busybox(
        name,
        &format!(
            "[[network.interface]]\ntype = \"cni\"\nname = \"eth0\"\n\
             options = {{ config = \"{}\" }}\n",
            conflist.display()
        ),
    );
}

/// The addresses host-local has handed out (one file per address).
fn reserved(data: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(data.join("crltest")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("10."))
        .collect()
}

#[test]
fn cni_bridge_and_host_local_give_an_address_and_del_frees_it() {
    assert!(
        Path::new("/usr/lib/cni/bridge").exists(),
        "containernetworking-plugins is missing: run tests/setup.sh"
    );
    let lab = Lab::new();
    let data = lab.world.root().with_file_name("cni-data");
    let list = conflist(&lab, &data, "");
    cni_container(&lab, "c", &list);
    lab.corral(&["start", "-n", "c"]).ok();

    let addresses = reserved(&data);
    assert_eq!(addresses.len(), 1, "{addresses:?}");
    let ip = &addresses[0];
    let inside = lab.corral(&[
        "attach", "-n", "c", "--", "ip", "-4", "addr", "show", "eth0",
    ]);
    assert!(
        inside.ok().contains(&format!("inet {ip}/24")),
        "{}",
        inside.stdout
    );
    lab.sh(&format!("busybox ping -c1 -W2 {ip}")).ok();
    let result = lab.world.run_dir().join("c/cni-eth0.json");
    let saved: serde_json::Value = serde_json::from_slice(&fs::read(&result).unwrap()).unwrap();
    assert_eq!(saved["ips"][0]["address"], format!("{ip}/24"), "{saved}");

    lab.corral(&["stop", "-k", "-n", "c"]).ok();
    assert_eq!(
        reserved(&data),
        Vec::<String>::new(),
        "DEL did not free {ip}"
    );
    let left: Vec<String> = lab
        .links()
        .into_iter()
        .filter(|l| l.starts_with("veth"))
        .collect();
    assert_eq!(left, Vec::<String>::new(), "the plugin's veth remains");
    lab.world.assert_clean("c");
}

#[test]
fn a_failed_cni_add_is_followed_by_del() {
    let lab = Lab::new();
    let data = lab.world.root().with_file_name("cni-data");
    // tuning fails on a sysctl that does not exist, after bridge has made its interface.
    let failing = r#", {"type": "tuning", "sysctl": {"net.corral.no_such_key": "1"}}"#;
    let list = conflist(&lab, &data, failing);
    cni_container(&lab, "f", &list);
    let out = lab.corral(&["execute", "-n", "f", "--", "/bin/true"]);
    assert_eq!(out.code, 125, "{out:?}");
    assert!(
        out.stderr.contains("CNI plugin tuning (ADD)"),
        "{}",
        out.stderr
    );
    assert_eq!(
        reserved(&data),
        Vec::<String>::new(),
        "DEL did not follow the failed ADD"
    );
    let left: Vec<String> = lab
        .links()
        .into_iter()
        .filter(|l| l.starts_with("veth"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
    lab.world.assert_clean("f");
}
