//! `corral info`: LXC's lxc-info, from the monitor and the container's own namespace.

use std::io::Write;

use corral::container::Container;
use corral::monitor::{ClientError, Request, Response, State};
use corral::netinfo;
use serde_json::json;

/// Prints what LXC's lxc-info prints, or JSON.
pub fn run(
    container: &Container<'_>,
    out: &mut impl Write,
    humanize: bool,
    json: bool,
) -> anyhow::Result<()> {
    if !container.exists() {
        anyhow::bail!("container {} does not exist", container.name());
    }
    let answer = container
        .client()
        .and_then(|mut c| c.request(&Request::Info));
    let (state, pid, usage) = match answer {
        Ok(Response::Info { state, pid, usage }) => (state, Some(pid), Some(usage)),
        Ok(_) | Err(ClientError::NotRunning(_)) => (container.state(), None, None),
        Err(e) => return Err(e.into()),
    };
    let addresses = pid.map(netinfo::addresses).unwrap_or_default();
    let runtime = corral::runtime::load(&container.runtime_dir());
    let plan = runtime.as_ref().map(|r| &r.plan.network);
    let interfaces = pid.map(|p| netinfo::links(p, plan)).unwrap_or_default();
    if json {
        let value = json!({
            "name": container.name(),
            "state": state,
            "pid": pid,
            "ips": addresses,
            "usage": usage,
            "interfaces": interfaces,
        });
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        return Ok(());
    }
    let line = |out: &mut dyn Write, key: &str, value: &str| {
        writeln!(out, "{:<15} {value}", format!("{key}:"))
    };
    line(out, "Name", container.name())?;
    line(out, "State", state.as_str())?;
    let (Some(pid), Some(usage)) = (pid, usage) else {
        return Ok(());
    };
    if state == State::Stopped {
        return Ok(());
    }
    line(out, "PID", &pid.to_string())?;
    for addr in &addresses {
        line(out, "IP", &addr.to_string())?;
    }
    let size =
        |bytes: Option<u64>| bytes.map_or_else(|| "-".to_owned(), |b| human_size(b, humanize));
    let cpu = usage.cpu_ns.map_or_else(
        || "-".to_owned(),
        |ns| {
            if humanize {
                format!("{:.2} seconds", ns as f64 / 1e9)
            } else {
                ns.to_string()
            }
        },
    );
    line(out, "CPU use", &cpu)?;
    line(out, "BlkIO use", &size(usage.blkio_bytes))?;
    line(out, "Memory use", &size(usage.memory_bytes))?;
    line(out, "KMem use", &size(usage.kmem_bytes))?;
    for iface in &interfaces {
        line(out, "Link", &iface.name)?;
        line(out, " TX bytes", &human_size(iface.tx_bytes, humanize))?;
        line(out, " RX bytes", &human_size(iface.rx_bytes, humanize))?;
        line(
            out,
            " Total bytes",
            &human_size(iface.tx_bytes + iface.rx_bytes, humanize),
        )?;
    }
    Ok(())
}

/// A size as lxc-info prints it: `0 bytes`, `16.80 MiB`; or the raw number.
pub fn human_size(bytes: u64, humanize: bool) -> String {
    if !humanize {
        return bytes.to_string();
    }
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} bytes");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.2} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_like_lxc_info() {
        assert_eq!(human_size(0, true), "0 bytes");
        assert_eq!(human_size(1372, true), "1.34 KiB");
        assert_eq!(human_size(30_430_000, true), "29.02 MiB");
        assert_eq!(human_size(30_430_000, false), "30430000");
    }
}
