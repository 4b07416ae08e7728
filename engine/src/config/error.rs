//! Config errors that name the file, line, column and key.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where in a config file a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// An error reading or interpreting a config file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file's content is wrong: bad syntax, an unknown key, a bad value or type.
    #[error("{}", Invalid { path, location, key, message, suggestion })]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Where in the file, when known.
        location: Option<Location>,
        /// The dotted key, when known (`cgroup.memory`).
        key: Option<String>,
        /// What is wrong.
        message: String,
        /// The nearest valid key, for a misspelt one.
        suggestion: Option<String>,
    },
}

/// Formats [`ConfigError::Invalid`] as `file:line:col: key `k`: message (did you mean ...)`.
struct Invalid<'a> {
    path: &'a PathBuf,
    location: &'a Option<Location>,
    key: &'a Option<String>,
    message: &'a str,
    suggestion: &'a Option<String>,
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(loc) = self.location {
            write!(f, ":{}:{}", loc.line, loc.column)?;
        }
        if let Some(key) = self.key {
            write!(f, ": key `{key}`")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(suggestion) = self.suggestion {
            write!(f, " (did you mean `{suggestion}`?)")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// An error about a value that is valid TOML but makes no sense, found after parsing.
    pub fn invalid(path: impl Into<PathBuf>, key: &str, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            location: None,
            key: Some(key.to_owned()),
            message: message.into(),
            suggestion: None,
        }
    }
}
