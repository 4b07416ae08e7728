//! The config of hooks and plugins: `[[hooks]]`, LXC-style `[hook]`, `plugins`, `policies`,
//! and the global `[plugins]` directories.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use corral_hooks::HookPoint;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

/// One `[[hooks]]` entry: exactly one of `plugin`, `python`, `program`, and where it runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookEntry {
    /// Where it runs. A program needs one; without it a Python script runs at every point
    /// it has a function for, and a plugin at every point it asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub point: Option<HookPoint>,
    /// A plugin named in `plugins`, which handles the hook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    /// A Python script; its function named after the point (`before_cgroups`) is called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<PathBuf>,
    /// An executable, run with LXC's hook environment and the context as JSON on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<PathBuf>,
    /// Arguments for the program or the plugin.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// How long it may run.
    #[serde(default)]
    pub timeout: Timeout,
}

/// LXC-style hook programs (`lxc.hook.<type>`), by type, each list run in order. They are run
/// as LXC runs them with `lxc.hook.version = 0`: `PROGRAM NAME lxc TYPE`, with LXC's
/// environment; they run after the `[[hooks]]` entries of the same point.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct LxcHooks {
    /// `lxc.hook.pre-start`.
    pub pre_start: Vec<PathBuf>,
    /// `lxc.hook.start-host`.
    pub start_host: Vec<PathBuf>,
    /// `lxc.hook.start`: resolved and run inside the container's namespaces.
    pub start: Vec<PathBuf>,
    /// `lxc.hook.stop`.
    pub stop: Vec<PathBuf>,
    /// `lxc.hook.post-stop`.
    pub post_stop: Vec<PathBuf>,
    /// `lxc.hook.clone`.
    pub clone: Vec<PathBuf>,
    /// `lxc.hook.destroy`.
    pub destroy: Vec<PathBuf>,
}

impl LxcHooks {
    /// Every program with its point, in the order they run at each point.
    pub fn entries(&self) -> impl Iterator<Item = (HookPoint, &PathBuf)> {
        [
            (HookPoint::PreStart, &self.pre_start),
            (HookPoint::StartHost, &self.start_host),
            (HookPoint::Start, &self.start),
            (HookPoint::Stop, &self.stop),
            (HookPoint::PostStop, &self.post_stop),
            (HookPoint::Clone, &self.clone),
            (HookPoint::Destroy, &self.destroy),
        ]
        .into_iter()
        .flat_map(|(point, list)| list.iter().map(move |path| (point, path)))
    }
}

/// Where plugins are found (the global `[plugins]`); `CORRAL_PLUGIN_PATH` comes first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsConfig {
    /// Directories searched in order.
    pub dirs: Vec<PathBuf>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        PluginsConfig {
            dirs: vec![PathBuf::from("/usr/lib/corral/plugins")],
        }
    }
}

/// A hook's time limit: `"5s"`, `"250ms"`, `"2m"` or a number of seconds. 10 s by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl Default for Timeout {
    fn default() -> Self {
        Timeout(Duration::from_secs(10))
    }
}

impl Timeout {
    /// Parses `"5s"`, `"250ms"`, `"2m"`, `"10"`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (digits, unit) = text.split_at(split);
        let n: u64 = digits
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (examples: 5s, 250ms, 2m)"))?;
        match unit {
            "" | "s" => Ok(Timeout(Duration::from_secs(n))),
            "ms" => Ok(Timeout(Duration::from_millis(n))),
            "m" => Ok(Timeout(Duration::from_secs(n.saturating_mul(60)))),
            _ => Err(format!("`{text}` has an unknown unit (use ms, s or m)")),
        }
    }
}

impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0.as_millis())
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Seconds(u64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Seconds(n) => Ok(Timeout(Duration::from_secs(n))),
            Raw::Text(t) => Timeout::parse(&t).map_err(de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse() {
        assert_eq!(
            Timeout::parse("250ms"),
            Ok(Timeout(Duration::from_millis(250)))
        );
        assert_eq!(Timeout::parse("2m"), Ok(Timeout(Duration::from_secs(120))));
        assert_eq!(Timeout::parse("7"), Ok(Timeout(Duration::from_secs(7))));
        assert!(Timeout::parse("5h").is_err());
    }
}
