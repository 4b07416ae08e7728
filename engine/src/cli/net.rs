//! `corral net`: the default bridge, as lxc-net's start, stop and status.

use std::io::Write;

use corral::container::Corral;
use corral::net::bridge;

use super::NetAction;

/// Runs one `corral net` action.
pub fn run(corral: &Corral, action: &NetAction, out: &mut impl Write) -> anyhow::Result<()> {
    let config = &corral.global.network.bridge;
    match action {
        NetAction::Up => {
            bridge::up(config, &corral.paths)?;
            writeln!(out, "bridge {} is up ({})", config.name, config.address)?;
        }
        NetAction::Down { force } => {
            bridge::down(config, &corral.paths, *force)?;
            writeln!(out, "bridge {} is down", config.name)?;
        }
        NetAction::Status { json } => {
            let status = bridge::status(config, &corral.paths)?;
            if *json {
                serde_json::to_writer_pretty(&mut *out, &status)?;
                writeln!(out)?;
                return Ok(());
            }
            let line = |out: &mut dyn Write, key: &str, value: &str| {
                writeln!(out, "{:<15} {value}", format!("{key}:"))
            };
            let yes_no = |b: bool| if b { "yes" } else { "no" };
            line(out, "Bridge", &status.name)?;
            line(out, "State", if status.up { "UP" } else { "DOWN" })?;
            line(out, "Managed", yes_no(status.managed))?;
            line(out, "Address", &status.address)?;
            let dnsmasq = status.dnsmasq.map_or_else(
                || "not running".to_owned(),
                |pid| format!("running ({pid})"),
            );
            line(out, "dnsmasq", &dnsmasq)?;
            line(out, "NAT", yes_no(status.nat))?;
            line(out, "Forwarding", yes_no(status.forwarding))?;
            for port in &status.ports {
                line(out, "Port", port)?;
            }
            for [_, mac, ip, host] in &status.leases {
                line(out, "Lease", &format!("{ip} {mac} {host}"))?;
            }
        }
    }
    Ok(())
}
