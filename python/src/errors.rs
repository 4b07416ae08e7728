//! corral's errors as typed Python exceptions.

use corral::attach::AttachError;
use corral::config::ConfigError;
use corral::container::ContainerError;
use corral::control::{CgroupItemError, StartError};
use corral::monitor::ClientError;
use corral::templates::TemplateError;
use pyo3::exceptions::{PyException, PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::{PyErr, Python, create_exception};

use crate::keys::KeyError;

create_exception!(
    corral,
    CorralError,
    PyException,
    "The base of every error corral raises but UnsupportedKey."
);
create_exception!(
    corral,
    ContainerNotFound,
    CorralError,
    "No container of that name is defined."
);
create_exception!(
    corral,
    NotRunning,
    CorralError,
    "The operation needs the container running."
);
create_exception!(
    corral,
    InvalidConfig,
    CorralError,
    "A config file or value is wrong; `file`, `line` and `key` say where (each may be None)."
);
create_exception!(
    corral,
    StageFailed,
    CorralError,
    "Starting failed in a stage of the pipeline, named by `stage`; everything was undone."
);
create_exception!(
    corral,
    UnsupportedKey,
    PyKeyError,
    "corral has no equivalent of this LXC config key (a KeyError, as in python3-lxc)."
);

/// Any error of the package, mapped onto its exception class by [`From`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// About a container as a whole.
    #[error(transparent)]
    Container(Box<ContainerError>),
    /// A config file.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// Creating from a template.
    #[error(transparent)]
    Template(Box<TemplateError>),
    /// Starting under a monitor.
    #[error(transparent)]
    Start(#[from] StartError),
    /// Talking to a monitor.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A cgroup file.
    #[error(transparent)]
    Cgroup(#[from] CgroupItemError),
    /// Attaching.
    #[error(transparent)]
    Attach(#[from] AttachError),
    /// An LXC config key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// A bad argument.
    #[error("{0}")]
    Value(String),
    /// Anything else, already worded.
    #[error("{0}")]
    Other(String),
}

impl From<ContainerError> for Error {
    fn from(e: ContainerError) -> Self {
        Error::Container(Box::new(e))
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(Box::new(e))
    }
}

impl From<TemplateError> for Error {
    fn from(e: TemplateError) -> Self {
        Error::Template(Box::new(e))
    }
}

impl From<Error> for PyErr {
    fn from(error: Error) -> PyErr {
        let message = corral::error_chain(&error);
        let container = match &error {
            Error::Container(e) => Some(&**e),
            Error::Template(e) => match &**e {
                TemplateError::Container(e) => Some(e),
                _ => None,
            },
            _ => None,
        };
        match container {
            Some(ContainerError::NotFound(_)) => return ContainerNotFound::new_err(message),
            Some(ContainerError::Config(e)) => return invalid_config(e, message),
            _ => {}
        }
        match error {
            Error::Start(StartError::NotFound(_)) => ContainerNotFound::new_err(message),
            Error::Config(e) => invalid_config(&e, message),
            Error::Client(ClientError::NotRunning(_))
            | Error::Attach(AttachError::NotRunning(_))
            | Error::Cgroup(CgroupItemError::NotRunning(_)) => NotRunning::new_err(message),
            Error::Start(StartError::Failed(line)) => start_failed(&line),
            Error::Key(KeyError::Unsupported(key)) => UnsupportedKey::new_err(key),
            Error::Key(KeyError::BadValue { key, .. }) => with_attrs::<InvalidConfig>(
                message,
                &[("file", None), ("line", None), ("key", Some(key))],
            ),
            Error::Value(_) => PyValueError::new_err(message),
            _ => CorralError::new_err(message),
        }
    }
}

/// An exception of class `E` with string (or None) attributes set.
fn with_attrs<E: pyo3::PyTypeInfo>(message: String, attrs: &[(&str, Option<String>)]) -> PyErr {
    Python::attach(|py| {
        let err = PyErr::new::<E, _>(message);
        let value = err.value(py);
        for (name, attr) in attrs {
            if let Err(e) = value.setattr(*name, attr.clone()) {
                return e;
            }
        }
        err
    })
}

fn invalid_config(error: &ConfigError, message: String) -> PyErr {
    let (file, line, key) = match error {
        ConfigError::Read { path, .. } => (Some(path.display().to_string()), None, None),
        ConfigError::Invalid {
            path,
            location,
            key,
            ..
        } => (
            Some(path.display().to_string()),
            location.as_ref().map(|l| l.line.to_string()),
            key.clone(),
        ),
    };
    Python::attach(|py| {
        let err = InvalidConfig::new_err(message);
        let value = err.value(py);
        let line: Option<usize> = line.and_then(|l| l.parse().ok());
        let set = value
            .setattr("file", file)
            .and_then(|()| value.setattr("line", line))
            .and_then(|()| value.setattr("key", key));
        match set {
            Ok(()) => err,
            Err(e) => e,
        }
    })
}

/// The monitor's one-line reason: `stage NAME failed: ...` is a [`StageFailed`].
fn start_failed(line: &str) -> PyErr {
    let stage = line
        .strip_prefix("stage ")
        .and_then(|rest| rest.split_once(" failed"))
        .map(|(stage, _)| stage.to_owned());
    match stage {
        Some(stage) => with_attrs::<StageFailed>(line.to_owned(), &[("stage", Some(stage))]),
        None => CorralError::new_err(line.to_owned()),
    }
}

/// Registers the exception classes in the module.
pub fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("CorralError", py.get_type::<CorralError>())?;
    module.add("ContainerNotFound", py.get_type::<ContainerNotFound>())?;
    module.add("NotRunning", py.get_type::<NotRunning>())?;
    module.add("InvalidConfig", py.get_type::<InvalidConfig>())?;
    module.add("StageFailed", py.get_type::<StageFailed>())?;
    module.add("UnsupportedKey", py.get_type::<UnsupportedKey>())?;
    Ok(())
}
