//! A corral world (its paths and global config) and the containers in it.

use std::fs;
use std::io;
use std::path::PathBuf;

use corral_hooks::{HookPoint, Plan};

use crate::config::{self, ConfigError, ContainerConfig, GlobalConfig};
use crate::hooks::HookSet;
use crate::lock::{ContainerLock, LockError};
use crate::monitor::{Client, ClientError, Request, Response, State, StopMode};
use crate::paths::{self, Paths};
use crate::pipeline::{self, InitMode, Terminals};
use crate::runtime;
use crate::stages::PlanError;

/// An error about a container as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The name is not usable.
    #[error("{0}")]
    BadName(String),
    /// No such container.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// The container exists already.
    #[error("container {0} already exists")]
    Exists(String),
    /// The container is running and the operation needs it stopped.
    #[error("container {0} is running (stop it first, or use --force)")]
    Running(String),
    /// A config file is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The lock could not be taken.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A file operation failed.
    #[error("{0} {1}")]
    Io(&'static str, String, #[source] io::Error),
    /// A hook failed or refused.
    #[error(transparent)]
    Hook(#[from] Box<crate::hooks::HookError>),
}

/// One corral world: its directories and its global config.
#[derive(Debug, Clone)]
pub struct Corral {
    /// Where things live.
    pub paths: Paths,
    /// The global config.
    pub global: GlobalConfig,
}

impl Corral {
    /// Opens a world. Paths given here win over the global config's.
    pub fn new(global: GlobalConfig, root: Option<PathBuf>, run: Option<PathBuf>) -> Corral {
        let paths = Paths {
            root: paths::absolute(&root.unwrap_or_else(|| global.paths.root.clone())),
            run: paths::absolute(&run.unwrap_or_else(|| global.paths.run.clone())),
        };
        Corral { paths, global }
    }

    /// A handle on the container `name`, which need not exist.
    pub fn container(&self, name: &str) -> Result<Container<'_>, ContainerError> {
        paths::validate_name(name).map_err(ContainerError::BadName)?;
        Ok(Container {
            corral: self,
            name: name.to_owned(),
        })
    }

    /// The names of every defined container, sorted.
    pub fn list(&self) -> Result<Vec<String>, ContainerError> {
        let entries = match fs::read_dir(&self.paths.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(ContainerError::Io(
                    "cannot list",
                    self.paths.root.display().to_string(),
                    e,
                ));
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| paths::validate_name(n).is_ok() && self.paths.config_file(n).is_file())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// A container of a world.
#[derive(Debug, Clone)]
pub struct Container<'a> {
    corral: &'a Corral,
    name: String,
}

impl<'a> Container<'a> {
    /// The container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The world it belongs to.
    pub fn corral(&self) -> &'a Corral {
        self.corral
    }

    /// Its config file.
    pub fn config_file(&self) -> PathBuf {
        self.corral.paths.config_file(&self.name)
    }

    /// Its directory.
    pub fn dir(&self) -> PathBuf {
        self.corral.paths.container_dir(&self.name)
    }

    /// Whether it is defined (its config file exists).
    pub fn exists(&self) -> bool {
        self.config_file().is_file()
    }

    /// Reads its config, layered over the global defaults.
    pub fn config(&self) -> Result<ContainerConfig, ContainerError> {
        if !self.exists() {
            return Err(ContainerError::NotFound(self.name.clone()));
        }
        Ok(config::load_container(
            &self.config_file(),
            &self.corral.global.defaults_table,
        )?)
    }

    /// Whether it is certainly stopped: no monitor or command holds its lock. Cheaper than
    /// [`Container::state`].
    pub fn state_is_stopped(&self) -> bool {
        !ContainerLock::is_held(&self.corral.paths.lock_file(&self.name))
    }

    /// Its state: what its monitor says, or STOPPED when none runs.
    pub fn state(&self) -> State {
        if self.state_is_stopped() {
            return State::Stopped;
        }
        match self.client().and_then(|mut c| c.request(&Request::State)) {
            Ok(Response::State { state, .. }) => state,
            // The lock is held but the monitor does not answer yet: it is starting.
            _ => State::Starting,
        }
    }

    /// Takes the container's lock, first cleaning up after a command that died holding it.
    pub fn lock(&self) -> Result<ContainerLock, ContainerError> {
        let lock =
            ContainerLock::try_acquire(&self.corral.paths.lock_file(&self.name), &self.name)?;
        runtime::clean_stale(&self.corral.paths.runtime_dir(&self.name));
        Ok(lock)
    }

    /// Takes the lock once the command holding it has let go, for up to ten seconds.
    fn wait_for_lock(&self) -> Result<ContainerLock, ContainerError> {
        for _ in 0..1000 {
            match self.lock() {
                Err(ContainerError::Lock(LockError::Busy(_))) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                result => return result,
            }
        }
        Err(ContainerError::Running(self.name.clone()))
    }

    /// Builds the full plan of every stage without starting anything: the plan of
    /// `corral start`, or of `corral execute` when `args` names a program.
    pub fn plan(&self, args: &[String]) -> Result<Plan, ContainerError> {
        let config = self.config()?;
        let init = if args.is_empty() {
            InitMode::Program
        } else {
            InitMode::Corral
        };
        let mut plan = pipeline::plan(self, &config, &Terminals::default(), init, args).map_err(
            |e: PlanError| {
                ContainerError::Config(ConfigError::invalid(self.config_file(), &e.key, e.message))
            },
        )?;
        // What the start would apply: the before-hooks' changes included.
        let hooks = HookSet::load(&config, &self.corral.global.plugins).map_err(Box::new)?;
        let base = self.hook_context(HookPoint::Before(corral_hooks::Stage::Namespaces), &config);
        crate::hooks::dry_run(&hooks, &base, &mut plan).map_err(Box::new)?;
        Ok(plan)
    }

    /// A hook context for `point`, with the container's identity.
    fn hook_context(
        &self,
        point: HookPoint,
        config: &ContainerConfig,
    ) -> corral_hooks::HookContext {
        let rootfs = if config.rootfs.path.is_absolute() {
            config.rootfs.path.clone()
        } else {
            self.dir().join(&config.rootfs.path)
        };
        crate::hooks::context(point, &self.name, self.config_file(), rootfs)
    }

    /// Runs the hooks of a CLI-side point (`create`, `destroy`).
    /// A container whose config no longer loads has no hooks to run: it can still be
    /// destroyed.
    pub fn run_hooks(&self, point: HookPoint) -> Result<(), ContainerError> {
        let Ok(config) = self.config() else {
            return Ok(());
        };
        let hooks = HookSet::load(&config, &self.corral.global.plugins).map_err(Box::new)?;
        if hooks.fires(point) {
            hooks
                .run(&self.hook_context(point, &config), None)
                .map_err(Box::new)?;
        }
        Ok(())
    }

    /// The runtime directory, present while it runs.
    pub fn runtime_dir(&self) -> PathBuf {
        self.corral.paths.runtime_dir(&self.name)
    }

    /// A connection to its monitor.
    pub fn client(&self) -> Result<Client, ClientError> {
        Client::connect(&self.name, &self.runtime_dir())
    }

    /// Removes the container's directory (its config, and its rootfs when it lies inside).
    /// A running container is refused unless `force`, which kills it first.
    pub fn destroy(&self, force: bool) -> Result<(), ContainerError> {
        if !self.exists() {
            return Err(ContainerError::NotFound(self.name.clone()));
        }
        let lock = match self.lock() {
            Ok(lock) => lock,
            Err(ContainerError::Lock(LockError::Busy(_))) if force => {
                if let Ok(mut client) = self.client()
                    && client.request(&Request::Stop(StopMode::Kill)).is_ok()
                {
                    let _ = client.wait_closed(Some(std::time::Duration::from_secs(10)));
                }
                self.wait_for_lock()?
            }
            Err(ContainerError::Lock(LockError::Busy(_))) => {
                return Err(ContainerError::Running(self.name.clone()));
            }
            Err(e) => return Err(e),
        };
        // LXC runs destroy hooks before the storage goes; a failing one keeps it.
        self.run_hooks(HookPoint::Destroy)?;
        let dir = self.dir();
        fs::remove_dir_all(&dir)
            .map_err(|e| ContainerError::Io("cannot remove", dir.display().to_string(), e))?;
        lock.remove()
            .map_err(|e| ContainerError::Io("cannot remove the lock of", self.name.clone(), e))
    }
}
