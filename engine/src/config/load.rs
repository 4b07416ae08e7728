//! Reading config files: TOML with spans, layering, and errors that point at the key.

use std::fs;
use std::io;
use std::path::Path;

use serde::de::DeserializeOwned;

use super::container::ContainerConfig;
use super::error::{ConfigError, Location};
use super::global::GlobalConfig;

/// Reads the global config. A missing file is the built-in default unless `required`.
pub fn load_global(path: &Path, required: bool) -> Result<GlobalConfig, ConfigError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !required => {
            return Ok(GlobalConfig::default());
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    let mut global: GlobalConfig = parse(path, &text)?;
    // Defaults that change nothing need no layering, nor a second parse to keep their table.
    let defaults = global.defaults.take();
    if defaults.is_some_and(|defaults| *defaults != ContainerConfig::default()) {
        let mut raw: toml::Table = parse(path, &text)?;
        if let Some(toml::Value::Table(defaults)) = raw.remove("defaults") {
            global.defaults_table = defaults;
        }
    }
    Ok(global)
}

/// Reads a container's config, layered over the global `[defaults]` table.
pub fn load_container(path: &Path, defaults: &toml::Table) -> Result<ContainerConfig, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_container(path, &text, defaults)
}

/// Interprets a container config's text, layered over `defaults`.
pub(crate) fn parse_container(
    path: &Path,
    text: &str,
    defaults: &toml::Table,
) -> Result<ContainerConfig, ConfigError> {
    // Checking the file on its own first gives errors their line and column; the layered
    // table has lost them.
    let own: ContainerConfig = parse(path, text)?;
    if defaults.is_empty() {
        return Ok(own);
    }
    let mut merged = defaults.clone();
    let table: toml::Table = parse(path, text)?;
    merge(&mut merged, table);
    toml::Value::Table(merged)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::Invalid {
            path: path.to_owned(),
            location: None,
            key: None,
            message: format!("layered over the global defaults: {}", e.message()),
            suggestion: None,
        })
}

/// Layers `over` onto `base`: tables merge key by key, every other value replaces.
pub fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn parse<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, ConfigError> {
    let invalid = |e: &toml::de::Error, key: Option<String>| {
        let message = e.message().to_owned();
        ConfigError::Invalid {
            path: path.to_owned(),
            location: e.span().map(|span| location(text, span.start)),
            suggestion: suggestion(&message),
            key,
            message,
        }
    };
    let deserializer = toml::Deserializer::parse(text).map_err(|e| invalid(&e, None))?;
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let key = e.path().to_string();
        let key = (key != ".").then_some(key);
        invalid(e.inner(), key)
    })
}

/// The 1-based line and column of a byte offset.
fn location(text: &str, offset: usize) -> Location {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Location { line, column }
}

/// For serde's "unknown field `x`, expected one of `a`, `b`" (or variant), the nearest name.
fn suggestion(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field ")
        .or_else(|| message.strip_prefix("unknown variant "))?;
    let mut quoted = rest.split('`').skip(1).step_by(2);
    let wrong = quoted.next()?;
    quoted
        .map(|candidate| (strsim::damerau_levenshtein(wrong, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn error(text: &str) -> String {
        parse_container(Path::new("/c/config.toml"), text, &toml::Table::new())
            .expect_err("config should be refused")
            .to_string()
    }

    #[test]
    fn unknown_key_names_file_line_column_key_and_suggestion() {
        let msg = error("hostname = \"a\"\n[cgroup]\nmemroy = \"1G\"\n");
        assert!(
            msg.starts_with("/c/config.toml:3:1: key `cgroup.memroy`"),
            "{msg}"
        );
        assert!(msg.contains("unknown field `memroy`"), "{msg}");
        assert!(msg.ends_with("(did you mean `memory`?)"), "{msg}");
    }

    #[test]
    fn bad_value_names_its_key() {
        let msg = error("[cgroup]\nmemory = \"12 parsecs\"\n");
        assert!(
            msg.starts_with("/c/config.toml:2:10: key `cgroup.memory`"),
            "{msg}"
        );
        assert!(msg.contains("unknown size suffix"), "{msg}");
    }

    #[test]
    fn type_error_and_bad_variant() {
        let msg = error("[init]\ncmd = \"/bin/sh\"\n");
        assert!(
            msg.contains("key `init.cmd`") && msg.contains("expected a sequence"),
            "{msg}"
        );
        let msg = error("[network]\ntype = \"emtpy\"\n");
        assert!(
            msg.contains("key `network.type`") && msg.contains("`empty`?"),
            "{msg}"
        );
    }

    #[test]
    fn syntax_error_has_a_location() {
        let msg = error("hostname = \n");
        assert!(msg.starts_with("/c/config.toml:1:"), "{msg}");
    }

    #[test]
    fn defaults_layer_under_the_container() {
        let defaults: toml::Table =
            toml::from_str("[cgroup]\nmemory = \"64M\"\npids = 10\n[init]\ncwd = \"/tmp\"\n")
                .unwrap();
        let cfg = parse_container(Path::new("c"), "[cgroup]\npids = 50\n", &defaults).unwrap();
        assert_eq!(cfg.cgroup.memory.map(|m| m.0), Some(64 << 20));
        assert_eq!(cfg.cgroup.pids, Some(50));
        assert_eq!(cfg.init.cwd, PathBuf::from("/tmp"));
        assert_eq!(cfg.init.cmd, ["/sbin/init"]);
    }
}
