//! Templates build a container's rootfs and the settings its config starts with.
//!
//! `corral create -t NAME` looks the template up here, then in the installed plugins, whose
//! templates come behind the same [`Template`] trait ([`crate::plugins::PluginTemplate`]).

mod busybox;
mod debian;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::{self, ConfigError};
use crate::container::{Container, ContainerError};

pub use busybox::Busybox;
pub use debian::Debian;

/// An error building a container.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// No template has that name.
    #[error("unknown template `{0}` (available: {1})")]
    Unknown(String, String),
    /// The template's arguments are wrong.
    #[error("template {template}: {message}")]
    Usage {
        /// The template.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// A file operation failed.
    #[error("template {template}: cannot {action} {}", path.display())]
    Io {
        /// The template.
        template: String,
        /// What it was doing.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A program the template runs failed.
    #[error("template {template}: {message}")]
    Command {
        /// The template.
        template: String,
        /// What failed.
        message: String,
    },
    /// The container itself.
    #[error(transparent)]
    Container(#[from] ContainerError),
    /// The config the template wrote is invalid: a bug in the template.
    #[error("the template wrote an invalid config")]
    Config(#[from] ConfigError),
}

impl TemplateError {
    /// Wraps the io error of `action` on `path` (for `map_err`).
    fn io(
        template: &str,
        action: &'static str,
        path: &Path,
    ) -> impl FnOnce(io::Error) -> TemplateError + use<> {
        let template = template.to_owned();
        let path = path.to_owned();
        move |source| TemplateError::Io {
            template,
            action,
            path,
            source,
        }
    }
}

/// What a template is given.
pub struct TemplateContext<'a> {
    /// The container's name.
    pub name: &'a str,
    /// The directory to fill; it exists and is empty.
    pub rootfs: &'a Path,
    /// Arguments after `--` on the command line.
    pub args: &'a [String],
    /// Reports progress to the user.
    pub progress: &'a dyn Fn(&str),
}

/// A way to build a container.
pub trait Template {
    /// The name used with `create -t`.
    fn name(&self) -> &'static str;
    /// One line on what it builds.
    fn description(&self) -> &'static str;
    /// Fills the rootfs and returns the config settings the container starts with, as TOML
    /// (the name, hostname and rootfs path are added by `create`).
    fn build(&self, ctx: &TemplateContext<'_>) -> Result<toml::Table, TemplateError>;
}

/// The built-in templates.
pub fn builtin() -> Vec<Box<dyn Template>> {
    vec![Box::new(Busybox), Box::new(Debian)]
}

/// Installs a Debian package on the host with apt-get, refreshing the package lists once if
/// the first attempt fails (a fresh machine may have none).
fn apt_install(
    template: &str,
    package: &str,
    progress: &dyn Fn(&str),
) -> Result<(), TemplateError> {
    progress(&format!("installing {package} (apt-get)"));
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", package])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    let update = || {
        Command::new("apt-get")
            .args(["update", "-q"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() || (update() && install()) {
        Ok(())
    } else {
        Err(TemplateError::Command {
            template: template.to_owned(),
            message: format!("`apt-get install {package}` failed"),
        })
    }
}

/// Where `create` takes the rootfs from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Built by the named template.
    Template(String),
    /// An existing tree (`-t none --rootfs DIR`), or none yet.
    Existing(Option<PathBuf>),
}

/// Creates a container: its directory, its rootfs (from a template or an existing tree) and
/// its config. On failure, nothing of it remains.
pub fn create(
    container: &Container<'_>,
    source: &Source,
    args: &[String],
    progress: &dyn Fn(&str),
) -> Result<(), TemplateError> {
    let name = container.name();
    let template = match source {
        Source::Template(t) => {
            let all = builtin();
            let names: Vec<&str> = all.iter().map(|t| t.name()).collect();
            let names = format!("none, {}, or a plugin's", names.join(", "));
            let found = all.into_iter().find(|x| x.name() == t).or_else(|| {
                let dirs = crate::plugins::dirs(&container.corral().global.plugins);
                crate::plugins::PluginTemplate::find(t, &dirs)
                    .map(|p| Box::new(p) as Box<dyn Template>)
            });
            Some(found.ok_or_else(|| TemplateError::Unknown(t.clone(), names))?)
        }
        Source::Existing(_) => None,
    };
    if container.exists() {
        return Err(ContainerError::Exists(name.to_owned()).into());
    }
    let _lock = container.lock()?;
    let dir = container.dir();
    let io_err = |action, path: &Path| TemplateError::io("create", action, path);
    fs::create_dir_all(dir.parent().unwrap_or(Path::new("/"))).map_err(io_err("create", &dir))?;
    fs::create_dir(&dir).map_err(io_err("create", &dir))?;
    let result = (|| {
        let mut settings = toml::Table::new();
        settings.insert("hostname".into(), name.into());
        match (&template, source) {
            (Some(template), _) => {
                let rootfs = dir.join("rootfs");
                fs::create_dir(&rootfs).map_err(io_err("create", &rootfs))?;
                let ctx = TemplateContext {
                    name,
                    rootfs: &rootfs,
                    args,
                    progress,
                };
                settings.extend(template.build(&ctx)?);
            }
            (None, Source::Existing(Some(rootfs))) => {
                if !rootfs.is_dir() {
                    return Err(TemplateError::Usage {
                        template: "none".into(),
                        message: format!("--rootfs {} is not a directory", rootfs.display()),
                    });
                }
                let mut table = toml::Table::new();
                table.insert(
                    "path".into(),
                    crate::paths::absolute(rootfs)
                        .to_string_lossy()
                        .into_owned()
                        .into(),
                );
                settings.insert("rootfs".into(), table.into());
            }
            (None, _) => {}
        }
        write_config(&container.config_file(), &settings, source)?;
        // A template must not leave a config that cannot start.
        config::load_container(&container.config_file(), &toml::Table::new())?;
        // A create hook that overruns ends the process: what was made goes first.
        let made = dir.clone();
        let _abort = crate::hooks::on_abort(Box::new(move |error| {
            let _ = fs::remove_dir_all(&made);
            eprintln!("corral: error: {}", crate::error_chain(&error));
            1
        }));
        container.run_hooks(corral_hooks::HookPoint::Create)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&dir);
    }
    result
}

fn write_config(path: &Path, settings: &toml::Table, source: &Source) -> Result<(), TemplateError> {
    let origin = match source {
        Source::Template(t) => format!("template {t}"),
        Source::Existing(_) => "template none".to_owned(),
    };
    let body = toml::to_string(settings).map_err(|e| TemplateError::Command {
        template: origin.clone(),
        message: e.to_string(),
    })?;
    let text = format!("# corral container config, created by {origin}.\n{body}");
    let tmp = path.with_extension("toml.tmp");
    fs::write(&tmp, text).map_err(TemplateError::io(&origin, "write", path))?;
    fs::rename(&tmp, path).map_err(TemplateError::io(&origin, "write", path))
}
