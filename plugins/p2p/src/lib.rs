//! The `p2p` network driver: a veth pair with one end in the container and the other on the
//! host, addressed statically, with no bridge, no NAT and no DHCP. The host reaches the
//! container over the link's own subnet; nothing else does unless the host routes it.
//!
//! ```toml
//! plugins = ["p2p"]
//! [[network.interface]]
//! type = "p2p"
//! ipv4 = ["10.99.0.2/30"]              # the container's end
//! ipv4_gateway = "10.99.0.1"           # optional: route everything through the host
//! options = { host_address = "10.99.0.1/30" }  # the host's end
//! host_name = "p2p-web"                # default: p2p- and the container's name
//! ```
//!
//! It drives iproute2 (`ip`), which takes the container's namespace by path.

use std::process::Command;

use corral_plugin::hooks::InterfacePlan;
use corral_plugin::{DriverRequest, Info, Plugin, export_plugin};

#[derive(Default)]
struct P2p;

/// The most bytes in an interface name.
const IFNAMSIZ: usize = 15;

fn host_address(iface: &InterfacePlan) -> Result<String, String> {
    iface
        .options
        .get("host_address")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .ok_or_else(|| {
            "p2p needs options.host_address, the host end's address (10.99.0.1/30)".into()
        })
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Plugin for P2p {
    fn info(&self) -> Info {
        Info {
            name: "p2p".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "point-to-point veth with static addresses, no bridge".into(),
            drivers: vec!["p2p".into()],
            ..Info::default()
        }
    }

    fn driver_plan(&self, req: &DriverRequest) -> Result<InterfacePlan, String> {
        let mut iface = req.interface.clone();
        host_address(&iface)?;
        if iface.addresses.is_empty() {
            return Err("p2p needs a static address (ipv4 or ipv6)".into());
        }
        let host = iface.host_name.get_or_insert_with(|| {
            let mut name = format!("p2p-{}", req.container);
            name.truncate(IFNAMSIZ);
            name
        });
        if host.len() > IFNAMSIZ {
            return Err(format!("host_name {host} is longer than {IFNAMSIZ} bytes"));
        }
        Ok(iface)
    }

    fn driver_attach(&self, req: &DriverRequest) -> Result<serde_json::Value, String> {
        let iface = &req.interface;
        let host = iface.host_name.as_deref().unwrap_or_default();
        let netns = req.netns.to_string_lossy();
        ip(&[
            "link",
            "add",
            host,
            "type",
            "veth",
            "peer",
            "name",
            &iface.name,
            "netns",
            &netns,
        ])?;
        let address = host_address(iface)?;
        ip(&["address", "add", &address, "dev", host])?;
        ip(&["link", "set", host, "up"])?;
        Ok(serde_json::json!({ "host": host }))
    }

    fn driver_detach(&self, req: &DriverRequest) -> Result<(), String> {
        // The host end usually went with the container's namespace; one left is removed.
        let host = req.interface.host_name.as_deref().unwrap_or_default();
        let exists = Command::new("ip")
            .args(["link", "show", host])
            .output()
            .is_ok_and(|o| o.status.success());
        if exists {
            ip(&["link", "del", host])
        } else {
            Ok(())
        }
    }
}

export_plugin!(P2p);
