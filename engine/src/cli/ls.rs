//! `corral ls`: names, or LXC's lxc-ls -f table, or JSON.

use std::io::Write;

use anyhow::bail;
use corral::container::Corral;
use corral::monitor::{Request, Response, State};
use corral::netinfo;
use serde_json::{Map, Value, json};

use super::info::human_size;

/// Which containers to list.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only running ones.
    pub running: bool,
    /// Only stopped ones.
    pub stopped: bool,
    /// Only frozen ones.
    pub frozen: bool,
    /// Only those in one of these groups.
    pub groups: Vec<String>,
}

/// Every column `--fancy-format` knows, LXC's seven first.
const ALL_COLUMNS: [&str; 11] = [
    "NAME",
    "STATE",
    "AUTOSTART",
    "GROUPS",
    "IPV4",
    "IPV6",
    "UNPRIVILEGED",
    "PID",
    "RAM",
    "SWAP",
    "INTERFACE",
];
/// The columns of `ls -f` without `--fancy-format`: LXC's.
const DEFAULT_COLUMNS: &[&str] = ALL_COLUMNS.split_at(7).0;

/// Lists the world's containers.
pub fn run(
    corral: &Corral,
    out: &mut impl Write,
    filter: &Filter,
    fancy: bool,
    columns: &[String],
    json: bool,
) -> anyhow::Result<()> {
    let columns: Vec<String> = if columns.is_empty() {
        DEFAULT_COLUMNS.iter().map(|c| (*c).to_owned()).collect()
    } else {
        columns
            .iter()
            .map(|c| c.trim().to_ascii_uppercase())
            .collect()
    };
    if let Some(bad) = columns.iter().find(|c| !ALL_COLUMNS.contains(&c.as_str())) {
        bail!(
            "unknown column `{bad}` (columns: {})",
            ALL_COLUMNS.join(", ")
        );
    }
    let detailed = fancy || json || !filter.groups.is_empty();
    let usage_wanted = json || columns.iter().any(|c| c == "RAM");
    let mut rows = Vec::new();
    for row in describe_all(corral, &corral.list()?, detailed, usage_wanted)? {
        let state = row["state"].as_str().unwrap_or("STOPPED");
        let running = state != State::Stopped.as_str();
        if (filter.running && !running)
            || (filter.stopped && running)
            || (filter.frozen && state != State::Frozen.as_str())
        {
            continue;
        }
        if !filter.groups.is_empty() {
            let groups = row["groups"].as_array().cloned().unwrap_or_default();
            if !groups.iter().any(|g| {
                g.as_str()
                    .is_some_and(|g| filter.groups.iter().any(|f| f == g))
            }) {
                continue;
            }
        }
        rows.push(row);
    }
    if json {
        serde_json::to_writer_pretty(&mut *out, &rows)?;
        writeln!(out)?;
    } else if fancy {
        print_table(out, &columns, &rows)?;
    } else {
        for row in &rows {
            writeln!(out, "{}", row["name"].as_str().unwrap_or_default())?;
        }
    }
    Ok(())
}

/// Describes every container, asking their monitors side by side: one slow monitor must not
/// make `ls` over hundreds of containers wait for each in turn.
fn describe_all(
    corral: &Corral,
    names: &[String],
    detailed: bool,
    usage_wanted: bool,
) -> anyhow::Result<Vec<Value>> {
    const WORKERS: usize = 8;
    let chunk = names.len().div_ceil(WORKERS).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = names
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|n| describe(corral, n, detailed, usage_wanted))
                        .collect::<anyhow::Result<Vec<_>>>()
                })
            })
            .collect();
        let mut rows = Vec::with_capacity(names.len());
        for worker in workers {
            rows.extend(
                worker
                    .join()
                    .map_err(|_| anyhow::anyhow!("a listing thread failed"))??,
            );
        }
        Ok(rows)
    })
}

/// What `ls` knows of one container; cheap when `detailed` is off (a name and a state).
fn describe(
    corral: &Corral,
    name: &str,
    detailed: bool,
    usage_wanted: bool,
) -> anyhow::Result<Value> {
    let container = corral.container(name)?;
    let mut row = Map::new();
    row.insert("name".into(), json!(name));
    // A stopped container holds no lock: it costs no round trip to its (absent) monitor.
    let (state, pid, usage) = if container.state_is_stopped() {
        (State::Stopped, None, None)
    } else {
        let request = if usage_wanted {
            Request::Info
        } else {
            Request::State
        };
        match container.client().and_then(|mut c| c.request(&request)) {
            Ok(Response::Info { state, pid, usage }) => (state, Some(pid), Some(usage)),
            Ok(Response::State { state, pid }) => (state, Some(pid), None),
            _ => (container.state(), None, None),
        }
    };
    row.insert("state".into(), json!(state));
    if !detailed {
        return Ok(Value::Object(row));
    }
    let config = container.config().ok();
    let autostart = config
        .as_ref()
        .map(|c| c.autostart.clone())
        .unwrap_or_default();
    row.insert("autostart".into(), json!(autostart.enabled));
    row.insert("groups".into(), json!(autostart.groups));
    let addresses = pid.map(netinfo::addresses).unwrap_or_default();
    let v4: Vec<String> = addresses
        .iter()
        .filter(|a| a.is_ipv4())
        .map(ToString::to_string)
        .collect();
    let v6: Vec<String> = addresses
        .iter()
        .filter(|a| a.is_ipv6())
        .map(ToString::to_string)
        .collect();
    row.insert("ipv4".into(), json!(v4));
    row.insert("ipv6".into(), json!(v6));
    row.insert("unprivileged".into(), json!(false));
    row.insert("pid".into(), json!(pid));
    row.insert(
        "ram".into(),
        json!(usage.as_ref().and_then(|u| u.memory_bytes)),
    );
    row.insert("swap".into(), json!(Value::Null));
    let interfaces: Vec<String> = pid
        .map(netinfo::interfaces)
        .unwrap_or_default()
        .into_iter()
        .map(|i| i.name)
        .collect();
    row.insert("interfaces".into(), json!(interfaces));
    Ok(Value::Object(row))
}

fn cell(row: &Value, column: &str) -> String {
    let list = |key: &str| {
        let items: Vec<String> = row[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if items.is_empty() {
            "-".to_owned()
        } else {
            items.join(", ")
        }
    };
    match column {
        "NAME" => row["name"].as_str().unwrap_or_default().to_owned(),
        "STATE" => row["state"].as_str().unwrap_or_default().to_owned(),
        "AUTOSTART" => if row["autostart"] == json!(true) {
            "1"
        } else {
            "0"
        }
        .to_owned(),
        "GROUPS" => list("groups"),
        "IPV4" => list("ipv4"),
        "IPV6" => list("ipv6"),
        "UNPRIVILEGED" => "false".to_owned(),
        "PID" => row["pid"]
            .as_i64()
            .map_or_else(|| "-".to_owned(), |p| p.to_string()),
        "RAM" => row["ram"]
            .as_u64()
            .map_or_else(|| "-".to_owned(), |b| human_size(b, true)),
        "INTERFACE" => list("interfaces"),
        _ => "-".to_owned(),
    }
}

fn print_table(out: &mut impl Write, columns: &[String], rows: &[Value]) -> anyhow::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|c| cell(r, c)).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |items: Vec<&str>| {
        let padded: Vec<String> = items
            .iter()
            .zip(&widths)
            .map(|(s, w)| format!("{s:<w$}"))
            .collect();
        padded.join(" ").trim_end().to_owned()
    };
    writeln!(
        out,
        "{}",
        line(columns.iter().map(String::as_str).collect())
    )?;
    for row in &cells {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
