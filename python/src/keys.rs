//! LXC's config keys (`lxc.uts.name`, `lxc.cap.drop`, `lxc.net.0.link`...) mapped onto
//! corral's TOML config, as python3-lxc's `get_config_item` and friends see them.
//!
//! Each supported key is a row of a table: the LXC name, where its value lives in corral's
//! config, and the shape of that value (text, a number, a flag, a list...). A key the table
//! does not have is refused by name.

use corral::config::ContainerConfig;
use toml::Value;

/// An error about an LXC key or its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// corral has no equivalent of this key.
    #[error("config key `{0}` is not supported by corral")]
    Unsupported(String),
    /// The value does not fit the key.
    #[error("config key `{key}`: {message}")]
    BadValue {
        /// The LXC key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

/// What an LXC key holds, as Python sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One value, as text (empty when unset).
    Text(String),
    /// A list-valued key's values.
    List(Vec<String>),
}

/// How a single value is stored in corral's config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conv {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// A boolean, `1`/`0` in LXC.
    Bool,
    /// A command line: words in LXC, a list in corral.
    Words,
    /// `flags = up`: a boolean.
    Up,
    /// A rootfs path, with LXC's optional `dir:` prefix.
    Rootfs,
    /// A size or a count where `max` and `-1` mean no limit (the key is removed).
    Limit,
}

/// The shape of an LXC key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// One value.
    One(Conv),
    /// A list of strings; an LXC value with spaces is several items.
    Words,
    /// A list of strings, one item per value.
    Lines,
    /// `KEY=VALUE` items, a table of strings in corral.
    Env,
    /// fstab lines, `[[mounts.entry]]` tables in corral.
    MountEntries,
    /// `proc:mixed sys:ro cgroup:ro`, the `[mounts.auto]` table in corral.
    AutoMounts,
    /// `lxc.cgroup.devices.allow`/`deny`: the rules in `security.devices` of that kind.
    Devices(&'static str),
    /// cgroup v2's `cpu.max`, `QUOTA PERIOD`: two keys in corral.
    CpuMax,
}

/// A step in a path into corral's config.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// Where an LXC key's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    path: Vec<Seg>,
    shape: Shape,
}

/// Keys with a fixed name: LXC's key, corral's dotted path, the shape.
const FIXED: &[(&str, &str, Shape)] = &[
    ("lxc.uts.name", "hostname", Shape::One(Conv::Str)),
    ("lxc.rootfs.path", "rootfs.path", Shape::One(Conv::Rootfs)),
    ("lxc.init.cmd", "init.cmd", Shape::One(Conv::Words)),
    ("lxc.execute.cmd", "init.cmd", Shape::One(Conv::Words)),
    ("lxc.init.cwd", "init.cwd", Shape::One(Conv::Str)),
    ("lxc.init.uid", "init.uid", Shape::One(Conv::Int)),
    ("lxc.init.gid", "init.gid", Shape::One(Conv::Int)),
    ("lxc.init.groups", "init.groups", Shape::Words),
    ("lxc.environment", "init.env", Shape::Env),
    ("lxc.cap.drop", "security.cap_drop", Shape::Words),
    ("lxc.cap.keep", "security.cap_keep", Shape::Words),
    (
        "lxc.no_new_privs",
        "security.no_new_privs",
        Shape::One(Conv::Bool),
    ),
    (
        "lxc.seccomp.profile",
        "security.seccomp.profile",
        Shape::One(Conv::Str),
    ),
    (
        "lxc.apparmor.profile",
        "security.lsm.apparmor",
        Shape::One(Conv::Str),
    ),
    (
        "lxc.selinux.context",
        "security.lsm.selinux",
        Shape::One(Conv::Str),
    ),
    ("lxc.mount.entry", "mounts.entry", Shape::MountEntries),
    ("lxc.mount.auto", "mounts.auto", Shape::AutoMounts),
    ("lxc.tty.max", "console.ttys", Shape::One(Conv::Int)),
    ("lxc.pty.max", "console.ptys", Shape::One(Conv::Int)),
    (
        "lxc.console.size",
        "console.log_size",
        Shape::One(Conv::Str),
    ),
    ("lxc.signal.halt", "signals.halt", Shape::One(Conv::Str)),
    ("lxc.signal.reboot", "signals.reboot", Shape::One(Conv::Str)),
    ("lxc.signal.stop", "signals.stop", Shape::One(Conv::Str)),
    (
        "lxc.start.auto",
        "autostart.enabled",
        Shape::One(Conv::Bool),
    ),
    ("lxc.start.delay", "autostart.delay", Shape::One(Conv::Int)),
    ("lxc.start.order", "autostart.order", Shape::One(Conv::Int)),
    ("lxc.group", "autostart.groups", Shape::Lines),
];

/// `lxc.net.N.*`: the part after `N.`, the key of `[[network.interface]]`, the shape.
const NET: &[(&str, &str, Shape)] = &[
    ("type", "type", Shape::One(Conv::Str)),
    ("name", "name", Shape::One(Conv::Str)),
    ("link", "link", Shape::One(Conv::Str)),
    ("flags", "up", Shape::One(Conv::Up)),
    ("mtu", "mtu", Shape::One(Conv::Int)),
    ("hwaddr", "hwaddr", Shape::One(Conv::Str)),
    ("veth.pair", "host_name", Shape::One(Conv::Str)),
    ("macvlan.mode", "macvlan_mode", Shape::One(Conv::Str)),
    ("ipv4.address", "ipv4", Shape::Words),
    ("ipv4.gateway", "ipv4_gateway", Shape::One(Conv::Str)),
    ("ipv6.address", "ipv6", Shape::Words),
    ("ipv6.gateway", "ipv6_gateway", Shape::One(Conv::Str)),
];

/// `lxc.cgroup.*` and `lxc.cgroup2.*`: the controller file, the key of `[cgroup]`, the shape.
const CGROUP: &[(&str, &str, Shape)] = &[
    ("memory.limit_in_bytes", "memory", Shape::One(Conv::Limit)),
    ("memory.max", "memory", Shape::One(Conv::Limit)),
    (
        "memory.memsw.limit_in_bytes",
        "memory_swap",
        Shape::One(Conv::Limit),
    ),
    ("cpu.shares", "cpu_weight", Shape::One(Conv::Int)),
    ("cpu.weight", "cpu_weight", Shape::One(Conv::Int)),
    ("cpu.cfs_quota_us", "cpu_quota_us", Shape::One(Conv::Limit)),
    ("cpu.cfs_period_us", "cpu_period_us", Shape::One(Conv::Int)),
    ("cpu.max", "", Shape::CpuMax),
    ("cpuset.cpus", "cpuset_cpus", Shape::One(Conv::Str)),
    ("cpuset.mems", "cpuset_mems", Shape::One(Conv::Str)),
    ("pids.max", "pids", Shape::One(Conv::Limit)),
    ("devices.allow", "", Shape::Devices("allow")),
    ("devices.deny", "", Shape::Devices("deny")),
];

fn dotted(path: &str) -> Vec<Seg> {
    path.split('.').map(|k| Seg::Key(k.to_owned())).collect()
}

/// Finds where `key` lives, or refuses it.
fn resolve(key: &str) -> Result<Target, KeyError> {
    let unsupported = || KeyError::Unsupported(key.to_owned());
    if let Some((_, path, shape)) = FIXED.iter().find(|(k, _, _)| *k == key) {
        return Ok(Target {
            path: dotted(path),
            shape: *shape,
        });
    }
    if let Some(name) = key.strip_prefix("lxc.sysctl.").filter(|n| !n.is_empty()) {
        return Ok(Target {
            path: vec![
                Seg::Key("security".into()),
                Seg::Key("sysctls".into()),
                Seg::Key(name.to_owned()),
            ],
            shape: Shape::One(Conv::Str),
        });
    }
    if let Some(name) = key.strip_prefix("lxc.prlimit.").filter(|n| !n.is_empty()) {
        return Ok(Target {
            path: vec![
                Seg::Key("security".into()),
                Seg::Key("rlimits".into()),
                Seg::Key(name.to_owned()),
            ],
            shape: Shape::One(Conv::Str),
        });
    }
    let cgroup = key
        .strip_prefix("lxc.cgroup2.")
        .or_else(|| key.strip_prefix("lxc.cgroup."));
    if let Some(file) = cgroup {
        let (_, field, shape) = CGROUP
            .iter()
            .find(|(f, _, _)| *f == file)
            .ok_or_else(unsupported)?;
        let mut path = vec![Seg::Key("cgroup".into())];
        match shape {
            Shape::Devices(_) => path = dotted("security.devices"),
            Shape::CpuMax => {}
            _ => path.push(Seg::Key((*field).to_owned())),
        }
        return Ok(Target {
            path,
            shape: *shape,
        });
    }
    if let Some(rest) = key.strip_prefix("lxc.net.") {
        let (index, sub) = rest.split_once('.').ok_or_else(unsupported)?;
        let index: usize = index.parse().map_err(|_| unsupported())?;
        let (_, field, shape) = NET
            .iter()
            .find(|(s, _, _)| *s == sub)
            .ok_or_else(unsupported)?;
        return Ok(Target {
            path: vec![
                Seg::Key("network".into()),
                Seg::Key("interface".into()),
                Seg::Index(index),
                Seg::Key((*field).to_owned()),
            ],
            shape: *shape,
        });
    }
    Err(unsupported())
}

/// The supported keys: every fixed key, and the patterns of the others. With `prefix`
/// (`lxc.net.0`), the keys under it, without the prefix (`type`, `link`...), as LXC's
/// `get_keys` gives them.
pub fn keys(prefix: Option<&str>) -> Result<Vec<String>, KeyError> {
    let mut all: Vec<String> = FIXED.iter().map(|(k, _, _)| (*k).to_owned()).collect();
    all.extend(NET.iter().map(|(s, _, _)| format!("lxc.net.N.{s}")));
    for version in ["cgroup", "cgroup2"] {
        all.extend(CGROUP.iter().map(|(f, _, _)| format!("lxc.{version}.{f}")));
    }
    all.push("lxc.sysctl.NAME".to_owned());
    all.push("lxc.prlimit.NAME".to_owned());
    let Some(prefix) = prefix.map(|p| p.trim_end_matches('.')) else {
        return Ok(all);
    };
    if let Some(index) = prefix.strip_prefix("lxc.net.")
        && index.parse::<usize>().is_ok()
    {
        return Ok(NET.iter().map(|(s, _, _)| (*s).to_owned()).collect());
    }
    let under: Vec<String> = all
        .iter()
        .filter_map(|k| k.strip_prefix(prefix)?.strip_prefix('.'))
        .map(str::to_owned)
        .collect();
    if under.is_empty() {
        return Err(KeyError::Unsupported(prefix.to_owned()));
    }
    Ok(under)
}

/// A container's config as LXC keys see it: the TOML table of its file, edited in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LxcConfig {
    table: toml::Table,
}

impl LxcConfig {
    /// Wraps the table of a config file.
    pub fn new(table: toml::Table) -> LxcConfig {
        LxcConfig { table }
    }

    /// The table, to save.
    pub fn table(&self) -> &toml::Table {
        &self.table
    }

    /// The value of `key`: what the file sets, or else corral's default.
    pub fn get(&self, key: &str) -> Result<Item, KeyError> {
        let target = resolve(key)?;
        let effective = self.effective(key)?;
        let value = |path: &[Seg]| {
            lookup(&self.table, path)
                .or_else(|| lookup(&effective, path))
                .cloned()
        };
        if let [.., Seg::Index(n), Seg::Key(field)] = target.path.as_slice()
            && *n == 0
            && field == "type"
            && value(&target.path).is_none()
        {
            // No interface: LXC's `empty` or `none`, corral's `network.type`.
            let mode = value(&dotted("network.type"));
            return Ok(Item::Text(mode.as_ref().map(show).unwrap_or_default()));
        }
        Ok(match target.shape {
            Shape::One(conv) => Item::Text(
                value(&target.path)
                    .map(|v| show_one(conv, &v))
                    .unwrap_or_default(),
            ),
            Shape::Words | Shape::Lines => Item::List(strings(value(&target.path).as_ref())),
            Shape::Env => Item::List(match value(&target.path) {
                Some(Value::Table(t)) => {
                    t.iter().map(|(k, v)| format!("{k}={}", show(v))).collect()
                }
                _ => Vec::new(),
            }),
            Shape::MountEntries => Item::List(match value(&target.path) {
                Some(Value::Array(entries)) => entries.iter().map(fstab_line).collect(),
                _ => Vec::new(),
            }),
            Shape::AutoMounts => Item::List(match value(&target.path) {
                Some(Value::Table(t)) => t
                    .iter()
                    .filter(|(_, v)| v.as_str() != Some("off"))
                    .map(|(k, v)| format!("{k}:{}", show(v)))
                    .collect(),
                _ => Vec::new(),
            }),
            Shape::Devices(kind) => Item::List(
                strings(value(&target.path).as_ref())
                    .iter()
                    .filter_map(|rule| rule.strip_prefix(kind)?.strip_prefix(' '))
                    .map(str::to_owned)
                    .collect(),
            ),
            Shape::CpuMax => {
                let quota = value(&dotted("cgroup.cpu_quota_us"));
                let period = value(&dotted("cgroup.cpu_period_us"));
                Item::Text(match (quota, period) {
                    (None, None) => String::new(),
                    (q, p) => format!(
                        "{} {}",
                        q.as_ref().map_or("max".to_owned(), show),
                        p.as_ref().map_or("100000".to_owned(), show)
                    ),
                })
            }
        })
    }

    /// Sets `key` to `values`: one value for a single-valued key, the whole list for a list.
    pub fn set(&mut self, key: &str, values: &[String]) -> Result<(), KeyError> {
        self.edit(key, |config, target| {
            clear_target(config, key, target)?;
            values
                .iter()
                .try_for_each(|v| append_target(config, key, target, v))
        })
    }

    /// Adds `value` to a list-valued key; sets a single-valued one.
    pub fn append(&mut self, key: &str, value: &str) -> Result<(), KeyError> {
        self.edit(key, |config, target| {
            append_target(config, key, target, value)
        })
    }

    /// Clears `key`: a list becomes empty, a single value goes back to its default.
    pub fn clear(&mut self, key: &str) -> Result<(), KeyError> {
        self.edit(key, |config, target| clear_target(config, key, target))
    }

    /// Applies `change`, keeping it only if the result is a valid config.
    fn edit(
        &mut self,
        key: &str,
        change: impl FnOnce(&mut toml::Table, &Target) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        let target = resolve(key)?;
        let mut table = self.table.clone();
        if !matches!(target.shape, Shape::One(_) | Shape::CpuMax)
            && lookup(&table, &target.path).is_none()
            && let Some(current) = lookup(&self.effective(key)?, &target.path)
        {
            // A list the file does not set starts from its default, as LXC's lists start
            // from what the included configs set.
            *slot(&mut table, &target.path, key)? = current.clone();
        }
        change(&mut table, &target)?;
        let candidate = LxcConfig { table };
        candidate.effective(key)?;
        *self = candidate;
        Ok(())
    }

    /// The whole config, defaults filled in, as a table; an error names `key`.
    fn effective(&self, key: &str) -> Result<toml::Table, KeyError> {
        let config: ContainerConfig = Value::Table(self.table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| bad(key, e.message()))?;
        toml::Table::try_from(&config).map_err(|e| bad(key, &e.to_string()))
    }
}

fn bad(key: &str, message: &str) -> KeyError {
    KeyError::BadValue {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

fn lookup<'a>(table: &'a toml::Table, path: &[Seg]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let Seg::Key(first) = first else { return None };
    let mut value = table.get(first)?;
    for seg in rest {
        value = match seg {
            Seg::Key(k) => value.as_table()?.get(k)?,
            Seg::Index(i) => value.as_array()?.get(*i)?,
        };
    }
    Some(value)
}

/// The slot at `path`, creating tables on the way; a new interface needs its type first.
fn slot<'a>(
    table: &'a mut toml::Table,
    path: &[Seg],
    key: &str,
) -> Result<&'a mut Value, KeyError> {
    let (last, parents) = path
        .split_last()
        .ok_or_else(|| KeyError::Unsupported(key.to_owned()))?;
    let mut current = table;
    let mut iter = parents.iter().peekable();
    while let Some(seg) = iter.next() {
        let next_is_index = matches!(iter.peek(), Some(Seg::Index(_)));
        let Seg::Key(k) = seg else {
            return Err(KeyError::Unsupported(key.to_owned()));
        };
        let value = current.entry(k.clone()).or_insert_with(|| {
            if next_is_index {
                Value::Array(Vec::new())
            } else {
                Value::Table(toml::Table::new())
            }
        });
        current = match (value, iter.peek()) {
            (Value::Array(list), Some(Seg::Index(i))) => {
                let i = *i;
                iter.next();
                if i > list.len() {
                    return Err(bad(
                        key,
                        &format!("interface {} is not set yet", list.len()),
                    ));
                }
                if i == list.len() {
                    if !key.ends_with(".type") {
                        return Err(bad(key, &format!("set lxc.net.{i}.type first")));
                    }
                    list.push(Value::Table(toml::Table::new()));
                }
                list.get_mut(i)
                    .and_then(Value::as_table_mut)
                    .ok_or_else(|| bad(key, "not a table in the config"))?
            }
            (Value::Table(t), _) => t,
            _ => return Err(bad(key, "not a table in the config")),
        };
    }
    let Seg::Key(last) = last else {
        return Err(KeyError::Unsupported(key.to_owned()));
    };
    Ok(current
        .entry(last.clone())
        .or_insert_with(|| Value::Array(Vec::new())))
}

fn remove(table: &mut toml::Table, path: &[Seg]) {
    let Some((Seg::Key(last), parents)) = path.split_last() else {
        return;
    };
    let mut current = table;
    for seg in parents {
        let Seg::Key(k) = seg else { return };
        match current.get_mut(k) {
            Some(Value::Table(t)) => current = t,
            _ => return,
        }
    }
    current.remove(last);
}

fn remove_path(table: &mut toml::Table, path: &[Seg]) {
    // Paths through an interface: walk to it explicitly.
    if let [Seg::Key(a), Seg::Key(b), Seg::Index(i), rest @ ..] = path {
        if let Some(Value::Table(t)) = table
            .get_mut(a)
            .and_then(Value::as_table_mut)
            .and_then(|t| t.get_mut(b))
            .and_then(Value::as_array_mut)
            .and_then(|l| l.get_mut(*i))
        {
            remove(t, rest);
        }
        return;
    }
    remove(table, path);
}

fn clear_target(table: &mut toml::Table, key: &str, target: &Target) -> Result<(), KeyError> {
    match target.shape {
        Shape::One(_) => remove_path(table, &target.path),
        Shape::CpuMax => {
            remove_path(table, &dotted("cgroup.cpu_quota_us"));
            remove_path(table, &dotted("cgroup.cpu_period_us"));
        }
        Shape::Devices(kind) => {
            let Value::Array(rules) = slot(table, &target.path, key)? else {
                return Err(bad(key, "not a list in the config"));
            };
            rules.retain(|r| {
                r.as_str()
                    .is_none_or(|r| r.split_whitespace().next() != Some(kind))
            });
        }
        Shape::AutoMounts => {
            let mut off = toml::Table::new();
            for name in ["proc", "sys", "cgroup"] {
                off.insert(name.into(), Value::String("off".into()));
            }
            *slot(table, &target.path, key)? = Value::Table(off);
        }
        Shape::Env => *slot(table, &target.path, key)? = Value::Table(toml::Table::new()),
        Shape::Words | Shape::Lines | Shape::MountEntries => {
            *slot(table, &target.path, key)? = Value::Array(Vec::new());
        }
    }
    Ok(())
}

fn append_target(
    table: &mut toml::Table,
    key: &str,
    target: &Target,
    text: &str,
) -> Result<(), KeyError> {
    if let [.., Seg::Index(0), Seg::Key(field)] = target.path.as_slice()
        && field == "type"
        && matches!(text, "empty" | "none")
    {
        // LXC's `lxc.net.0.type = empty|none` is corral's network mode, without interfaces.
        remove(table, &dotted("network.interface"));
        *slot(table, &dotted("network.type"), key)? = Value::String(text.to_owned());
        return Ok(());
    }
    match target.shape {
        Shape::One(conv) => {
            let value = parse_one(key, conv, text)?;
            match value {
                Some(value) => *slot(table, &target.path, key)? = value,
                None => remove_path(table, &target.path),
            }
        }
        Shape::CpuMax => {
            let mut words = text.split_whitespace();
            let quota = words
                .next()
                .ok_or_else(|| bad(key, "expected `QUOTA PERIOD`"))?;
            if let Some(quota) = parse_one(key, Conv::Limit, quota)? {
                *slot(table, &dotted("cgroup.cpu_quota_us"), key)? = quota;
            } else {
                remove(table, &dotted("cgroup.cpu_quota_us"));
            }
            if let Some(period) = words.next()
                && let Some(period) = parse_one(key, Conv::Int, period)?
            {
                *slot(table, &dotted("cgroup.cpu_period_us"), key)? = period;
            }
        }
        Shape::Words => push(table, key, target, text.split_whitespace().map(Value::from))?,
        Shape::Lines => push(table, key, target, [Value::from(text.trim())])?,
        Shape::Devices(kind) => push(table, key, target, [Value::from(format!("{kind} {text}"))])?,
        Shape::MountEntries => push(table, key, target, [mount_entry(key, text)?])?,
        Shape::Env => {
            let (name, value) = text
                .split_once('=')
                .ok_or_else(|| bad(key, &format!("`{text}` is not NAME=VALUE")))?;
            let Value::Table(env) = slot(table, &target.path, key)? else {
                return Err(bad(key, "not a table in the config"));
            };
            env.insert(name.trim().to_owned(), Value::from(value.trim()));
        }
        Shape::AutoMounts => {
            for word in text.split_whitespace() {
                let (name, mode) = word.split_once(':').unwrap_or((word, ""));
                let mode = match (name, mode) {
                    ("proc", "") => "mixed",
                    ("sys" | "cgroup", "" | "mixed") => "ro",
                    ("proc" | "sys" | "cgroup", mode) => mode,
                    _ => return Err(bad(key, &format!("`{word}` is not supported"))),
                };
                let Value::Table(auto) = slot(table, &target.path, key)? else {
                    return Err(bad(key, "not a table in the config"));
                };
                auto.insert(name.to_owned(), Value::from(mode));
            }
        }
    }
    Ok(())
}

fn push(
    table: &mut toml::Table,
    key: &str,
    target: &Target,
    items: impl IntoIterator<Item = Value>,
) -> Result<(), KeyError> {
    let Value::Array(list) = slot(table, &target.path, key)? else {
        return Err(bad(key, "not a list in the config"));
    };
    list.extend(items);
    Ok(())
}

fn parse_one(key: &str, conv: Conv, text: &str) -> Result<Option<Value>, KeyError> {
    let text = text.trim();
    let int = |t: &str| {
        t.parse::<i64>()
            .map(Value::Integer)
            .map_err(|_| bad(key, &format!("`{t}` is not a number")))
    };
    Ok(Some(match conv {
        Conv::Str => Value::from(text),
        Conv::Int => int(text)?,
        Conv::Bool => match text {
            "1" | "true" => Value::Boolean(true),
            "0" | "false" => Value::Boolean(false),
            _ => return Err(bad(key, &format!("`{text}` is not 0 or 1"))),
        },
        Conv::Up => Value::Boolean(text == "up"),
        Conv::Words => Value::Array(text.split_whitespace().map(Value::from).collect()),
        Conv::Rootfs => Value::from(text.strip_prefix("dir:").unwrap_or(text)),
        Conv::Limit => match text {
            "max" | "-1" | "" => return Ok(None),
            t if t.bytes().all(|b| b.is_ascii_digit()) => int(t)?,
            t => Value::from(t),
        },
    }))
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn show_one(conv: Conv, value: &Value) -> String {
    match (conv, value) {
        (Conv::Bool, Value::Boolean(b)) => if *b { "1" } else { "0" }.to_owned(),
        (Conv::Up, Value::Boolean(b)) => if *b { "up" } else { "" }.to_owned(),
        (Conv::Words, Value::Array(_)) => strings(Some(value)).join(" "),
        _ => show(value),
    }
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(show).collect(),
        Some(other) => vec![show(other)],
        None => Vec::new(),
    }
}

/// An fstab line as LXC writes it (`SOURCE TARGET TYPE OPTIONS 0 0`, the target relative
/// to the rootfs) as a `[[mounts.entry]]` table.
fn mount_entry(key: &str, line: &str) -> Result<Value, KeyError> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [source, target, fstype, rest @ ..] = fields.as_slice() else {
        return Err(bad(
            key,
            &format!("`{line}` is not SOURCE TARGET TYPE [OPTIONS]"),
        ));
    };
    let mut entry = toml::Table::new();
    let mut options = Vec::new();
    let mut is_bind = *fstype == "bind";
    for option in rest.first().map_or("", |o| *o).split(',') {
        match option {
            "" | "defaults" => {}
            "bind" => is_bind = true,
            "rbind" => {
                is_bind = true;
                options.push(Value::from("rbind"));
            }
            "optional" => {
                entry.insert("optional".into(), Value::Boolean(true));
            }
            o if o.starts_with("create=") => {
                entry.insert("create".into(), Value::from(&o["create=".len()..]));
            }
            o => options.push(Value::from(o)),
        }
    }
    entry.insert("source".into(), Value::from(*source));
    entry.insert(
        "target".into(),
        Value::from(format!("/{}", target.trim_start_matches('/'))),
    );
    entry.insert(
        "type".into(),
        Value::from(if is_bind { "bind" } else { fstype }),
    );
    entry.insert("options".into(), Value::Array(options));
    Ok(Value::Table(entry))
}

/// A `[[mounts.entry]]` table as LXC's fstab line.
fn fstab_line(entry: &Value) -> String {
    let field = |k: &str| entry.get(k).map(show).unwrap_or_default();
    let mut options: Vec<String> = Vec::new();
    let fstype = match entry.get("type").and_then(Value::as_str) {
        Some("bind") | None => {
            if !strings(entry.get("options")).iter().any(|o| o == "rbind") {
                options.push("bind".to_owned());
            }
            "none".to_owned()
        }
        Some(t) => t.to_owned(),
    };
    options.extend(strings(entry.get("options")));
    if let Some(create) = entry.get("create").and_then(Value::as_str) {
        options.push(format!("create={create}"));
    }
    if entry.get("optional").and_then(Value::as_bool) == Some(true) {
        options.push("optional".to_owned());
    }
    if options.is_empty() {
        options.push("defaults".to_owned());
    }
    format!(
        "{} {} {fstype} {} 0 0",
        field("source"),
        field("target").trim_start_matches('/'),
        options.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn scalars_round_trip() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        c.set("lxc.uts.name", &owned(&["box"]))?;
        assert_eq!(c.get("lxc.uts.name")?, Item::Text("box".into()));
        assert_eq!(c.table()["hostname"].as_str(), Some("box"));
        c.set("lxc.no_new_privs", &owned(&["1"]))?;
        assert_eq!(c.get("lxc.no_new_privs")?, Item::Text("1".into()));
        c.set("lxc.rootfs.path", &owned(&["dir:/srv/box"]))?;
        assert_eq!(c.get("lxc.rootfs.path")?, Item::Text("/srv/box".into()));
        c.clear("lxc.uts.name")?;
        assert_eq!(c.get("lxc.uts.name")?, Item::Text(String::new()));
        Ok(())
    }

    #[test]
    fn lists_default_clear_set_append() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        let Item::List(default) = c.get("lxc.cap.drop")? else {
            panic!("a list")
        };
        assert!(default.contains(&"sys_module".to_owned()));
        c.clear("lxc.cap.drop")?;
        assert_eq!(c.get("lxc.cap.drop")?, Item::List(vec![]));
        c.set("lxc.cap.drop", &owned(&["sys_time sys_module"]))?;
        c.append("lxc.cap.drop", "mac_admin")?;
        assert_eq!(
            c.get("lxc.cap.drop")?,
            Item::List(owned(&["sys_time", "sys_module", "mac_admin"]))
        );
        Ok(())
    }

    #[test]
    fn interfaces_need_their_type_first() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        assert_eq!(c.get("lxc.net.0.type")?, Item::Text("empty".into()));
        assert!(matches!(
            c.set("lxc.net.0.link", &owned(&["br0"])),
            Err(KeyError::BadValue { .. })
        ));
        c.set("lxc.net.0.type", &owned(&["veth"]))?;
        c.set("lxc.net.0.link", &owned(&["br0"]))?;
        c.set("lxc.net.0.flags", &owned(&["up"]))?;
        c.append("lxc.net.0.ipv4.address", "10.0.0.2/24")?;
        assert_eq!(c.get("lxc.net.0.link")?, Item::Text("br0".into()));
        assert_eq!(c.get("lxc.net.0.flags")?, Item::Text("up".into()));
        assert_eq!(
            c.get("lxc.net.0.ipv4.address")?,
            Item::List(owned(&["10.0.0.2/24"]))
        );
        c.clear("lxc.net.0.link")?;
        assert_eq!(c.get("lxc.net.0.link")?, Item::Text(String::new()));
        assert_eq!(c.get("lxc.net.0.type")?, Item::Text("veth".into()));
        assert!(c.set("lxc.net.2.type", &owned(&["veth"])).is_err());
        c.set("lxc.net.0.type", &owned(&["none"]))?;
        assert_eq!(c.get("lxc.net.0.type")?, Item::Text("none".into()));
        assert!(c.table()["network"].get("interface").is_none());
        Ok(())
    }

    #[test]
    fn cgroup_keys_of_both_versions() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        c.set("lxc.cgroup2.memory.max", &owned(&["256M"]))?;
        assert_eq!(
            c.get("lxc.cgroup.memory.limit_in_bytes")?,
            Item::Text("256M".into())
        );
        c.set("lxc.cgroup2.pids.max", &owned(&["100"]))?;
        assert_eq!(c.table()["cgroup"]["pids"].as_integer(), Some(100));
        c.set("lxc.cgroup2.pids.max", &owned(&["max"]))?;
        assert_eq!(c.get("lxc.cgroup2.pids.max")?, Item::Text(String::new()));
        c.set("lxc.cgroup2.cpu.max", &owned(&["50000 100000"]))?;
        assert_eq!(
            c.get("lxc.cgroup2.cpu.max")?,
            Item::Text("50000 100000".into())
        );
        c.set("lxc.cgroup.devices.allow", &owned(&["c 1:3 rwm"]))?;
        assert_eq!(
            c.get("lxc.cgroup.devices.allow")?,
            Item::List(owned(&["c 1:3 rwm"]))
        );
        assert!(strings(c.table()["security"].get("devices")).contains(&"deny a".to_owned()));
        assert!(matches!(
            c.set("lxc.cgroup2.memory.max", &owned(&["lots"])),
            Err(KeyError::BadValue { .. })
        ));
        assert_eq!(c.get("lxc.cgroup2.memory.max")?, Item::Text("256M".into()));
        Ok(())
    }

    #[test]
    fn mount_entries_and_auto_mounts() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        let line = "/srv/data srv/data none bind,ro,create=dir 0 0";
        c.set("lxc.mount.entry", &owned(&[line]))?;
        c.append("lxc.mount.entry", "tmpfs tmp tmpfs size=64m,optional 0 0")?;
        assert_eq!(
            c.get("lxc.mount.entry")?,
            Item::List(owned(&[line, "tmpfs tmp tmpfs size=64m,optional 0 0"]))
        );
        assert_eq!(
            c.table()["mounts"]["entry"][0]["target"].as_str(),
            Some("/srv/data")
        );
        c.set("lxc.mount.auto", &owned(&["proc:rw sys"]))?;
        assert_eq!(
            c.get("lxc.mount.auto")?,
            Item::List(owned(&["proc:rw", "sys:ro"]))
        );
        Ok(())
    }

    #[test]
    fn environment_sysctls_and_rlimits() -> Result<(), KeyError> {
        let mut c = LxcConfig::default();
        c.append("lxc.environment", "LANG=C.UTF-8")?;
        assert_eq!(
            c.get("lxc.environment")?,
            Item::List(owned(&["LANG=C.UTF-8"]))
        );
        c.set("lxc.sysctl.net.ipv4.ip_forward", &owned(&["1"]))?;
        assert_eq!(
            c.get("lxc.sysctl.net.ipv4.ip_forward")?,
            Item::Text("1".into())
        );
        c.set("lxc.prlimit.nofile", &owned(&["1024:4096"]))?;
        assert_eq!(c.get("lxc.prlimit.nofile")?, Item::Text("1024:4096".into()));
        Ok(())
    }

    #[test]
    fn unsupported_keys_are_named() {
        let c = LxcConfig::default();
        for key in [
            "lxc.idmap",
            "lxc.net.0.bogus",
            "lxc.cgroup.blkio.weight",
            "lxc.net.x.type",
        ] {
            assert_eq!(c.get(key), Err(KeyError::Unsupported(key.to_owned())));
        }
    }

    #[test]
    fn keys_under_a_prefix() -> Result<(), KeyError> {
        assert!(keys(Some("lxc.net.0"))?.contains(&"link".to_owned()));
        assert!(keys(None)?.contains(&"lxc.uts.name".to_owned()));
        assert!(keys(Some("lxc.cap"))?.contains(&"drop".to_owned()));
        assert!(keys(Some("lxc.nothing")).is_err());
        Ok(())
    }
}
