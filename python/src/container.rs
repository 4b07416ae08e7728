//! `corral.Container`: one container of a world, with python3-lxc's methods. Every call
//! that can block (starting, stopping, waiting, attaching, creating) releases the GIL.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use corral::attach::{self, AttachOptions};
use corral::config;
use corral::container::{self as engine, Corral};
use corral::control::{self, MonitorCommand};
use corral::monitor::{Client, ClientError, Request, Response, State, StopMode};
use corral::templates::{self, Source};
use corral::terminal::{self, RawMode};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::Error;
use crate::keys::{self, Item, LxcConfig};

/// How long `stop` waits for the monitor to tear a killed container down.
const KILL_GRACE: Duration = Duration::from_secs(60);

/// A corral world as the package sees it: the engine's, and how to run its monitors.
#[derive(Debug, Clone)]
pub struct World {
    /// The engine's world.
    pub corral: Corral,
    /// The global config file, handed on to monitors.
    config_file: PathBuf,
}

impl World {
    /// Opens the world: `config_path` (python3-lxc's lxcpath) or `CORRAL_ROOT` as the root,
    /// `CORRAL_RUN_DIR` and `CORRAL_CONFIG` as the CLI reads them.
    pub fn open(config_path: Option<PathBuf>) -> Result<World, Error> {
        let given = std::env::var_os("CORRAL_CONFIG").map(PathBuf::from);
        let config_file = given
            .clone()
            .unwrap_or_else(|| PathBuf::from(config::DEFAULT_GLOBAL_CONFIG));
        let global = config::load_global(&config_file, given.is_some())?;
        let root = config_path.or_else(|| std::env::var_os("CORRAL_ROOT").map(PathBuf::from));
        let run = std::env::var_os("CORRAL_RUN_DIR").map(PathBuf::from);
        Ok(World {
            corral: Corral::new(global, root, run),
            config_file,
        })
    }

    /// How to run a monitor: the `corral` program from `CORRAL_BIN`, or else on `PATH`.
    fn monitor(&self) -> Result<MonitorCommand, Error> {
        Ok(MonitorCommand {
            program: corral_program()?,
            config: self.config_file.clone(),
            log_level: std::env::var("CORRAL_LOG").unwrap_or_else(|_| "warn".to_owned()),
            log_file: None,
        })
    }
}

/// The `corral` program that runs as every container's monitor: `CORRAL_BIN`, or `corral`
/// on `PATH`.
pub fn corral_program() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("CORRAL_BIN") {
        return Ok(PathBuf::from(bin));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("corral"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Other(
                "cannot find the corral program that runs containers' monitors: put it on PATH \
                 or name it in CORRAL_BIN"
                    .to_owned(),
            )
        })
}

/// A container, defined or not yet (python3-lxc's `lxc.Container`).
#[pyclass(module = "corral._corral", subclass, frozen)]
pub struct Container {
    world: World,
    name: String,
    /// The config as LXC keys edit it, read from the file on first use.
    config: Mutex<Option<LxcConfig>>,
}

impl Container {
    fn engine(&self) -> Result<engine::Container<'_>, Error> {
        Ok(self.world.corral.container(&self.name)?)
    }

    fn config_lock(&self) -> MutexGuard<'_, Option<LxcConfig>> {
        self.config
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` on the in-memory config, reading the file first if need be.
    fn with_config<T>(
        &self,
        f: impl FnOnce(&mut LxcConfig) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut guard = self.config_lock();
        if guard.is_none() {
            *guard = Some(LxcConfig::new(self.read_table()?));
        }
        match guard.as_mut() {
            Some(config) => f(config),
            None => Err(Error::Other("the config is not loaded".to_owned())),
        }
    }

    /// The config file's table; empty when the container is not defined yet.
    fn read_table(&self) -> Result<toml::Table, Error> {
        let path = self.engine()?.config_file();
        match std::fs::read_to_string(&path) {
            Ok(text) => text
                .parse::<toml::Table>()
                .map_err(|e| Error::from(config::ConfigError::invalid(&path, "", e.message()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
            Err(e) => Err(config::ConfigError::Read { path, source: e }.into()),
        }
    }

    fn pid(&self) -> Option<i32> {
        let container = self.engine().ok()?;
        match container.client().ok()?.request(&Request::State).ok()? {
            Response::State { pid, .. } if pid > 0 => Some(pid),
            _ => None,
        }
    }

    fn running_pid(&self) -> Result<i32, Error> {
        self.pid()
            .ok_or_else(|| Error::Client(ClientError::NotRunning(self.name.clone())))
    }
}

fn write_table(path: &Path, table: &toml::Table) -> Result<(), Error> {
    let text = toml::to_string(table).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(path, text)
        .map_err(|e| Error::Other(format!("cannot write {}: {e}", path.display())))
}

fn item_to_py(py: Python<'_>, item: Item) -> PyResult<Py<PyAny>> {
    Ok(match item {
        Item::Text(text) => text.into_pyobject(py)?.into_any().unbind(),
        Item::List(list) => list.into_pyobject(py)?.into_any().unbind(),
    })
}

/// A value for `set_config_item`: a string, or a list of strings.
fn values_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(text) = value.extract::<String>() {
        return Ok(vec![text]);
    }
    value.extract::<Vec<String>>()
}

/// A descriptor from an int or an object with `fileno()`.
fn fd_of(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<RawFd>> {
    let Some(value) = value.filter(|v| !v.is_none()) else {
        return Ok(None);
    };
    if let Ok(fd) = value.extract::<RawFd>() {
        return Ok(Some(fd));
    }
    Ok(Some(value.call_method0("fileno")?.extract()?))
}

#[pymethods]
impl Container {
    /// A handle on the container `name` of the world whose root is `config_path` (by
    /// default `CORRAL_ROOT`, or the global config's `paths.root`).
    #[new]
    #[pyo3(signature = (name, config_path=None))]
    fn new(name: String, config_path: Option<PathBuf>) -> PyResult<Self> {
        let world = World::open(config_path)?;
        world.corral.container(&name).map_err(Error::from)?;
        Ok(Container {
            world,
            name,
            config: Mutex::new(None),
        })
    }

    /// The container's name.
    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Its config file.
    #[getter]
    fn config_file_name(&self) -> PyResult<String> {
        Ok(self.engine()?.config_file().display().to_string())
    }

    /// Whether it is defined (its config file exists).
    #[getter]
    fn defined(&self) -> PyResult<bool> {
        Ok(self.engine()?.exists())
    }

    /// Its state: `STOPPED`, `STARTING`, `RUNNING`, `STOPPING`, `ABORTING`, `FREEZING` or
    /// `FROZEN`.
    #[getter]
    fn state(&self, py: Python<'_>) -> PyResult<&'static str> {
        let state = py.detach(|| self.engine().map(|c| c.state()))?;
        Ok(state.as_str())
    }

    /// Whether it runs (in any state but STOPPED).
    #[getter]
    fn running(&self, py: Python<'_>) -> PyResult<bool> {
        Ok(self.state(py)? != State::Stopped.as_str())
    }

    /// Its init's PID on the host, or -1 when it is not running.
    #[getter]
    fn init_pid(&self, py: Python<'_>) -> i32 {
        py.detach(|| self.pid()).unwrap_or(-1)
    }

    /// The root directory of its world (python3-lxc's lxcpath).
    fn get_config_path(&self) -> String {
        self.world.corral.paths.root.display().to_string()
    }

    /// Creates it from `template` (`busybox`, `debian`, or None for a config only) with
    /// the template's `args` (a list, or a dict of `--key value`). Config items set before
    /// are kept. `flags` is accepted for python3-lxc's sake (LXC_CREATE_QUIET is the only
    /// flag, and corral's templates are quiet).
    #[pyo3(signature = (template=None, flags=0, args=None))]
    fn create(
        &self,
        py: Python<'_>,
        template: Option<&str>,
        flags: i32,
        args: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<bool> {
        let _ = flags;
        let args: Vec<String> = match args {
            None => Vec::new(),
            Some(a) if a.is_instance_of::<PyDict>() => {
                let map: HashMap<String, String> = a.extract()?;
                let mut sorted: Vec<_> = map.into_iter().collect();
                sorted.sort();
                sorted
                    .into_iter()
                    .flat_map(|(k, v)| [format!("--{k}"), v])
                    .collect()
            }
            Some(a) => a.extract()?,
        };
        let source = match template {
            None | Some("none") => Source::Existing(None),
            Some(t) => Source::Template(t.to_owned()),
        };
        let edited = self.config_lock().take();
        py.detach(|| -> Result<(), Error> {
            let container = self.engine()?;
            templates::create(&container, &source, &args, &|_| {})?;
            if let Some(edited) = edited {
                let mut table = self.read_table()?;
                config::merge(&mut table, edited.table().clone());
                write_table(&container.config_file(), &table)?;
                // A bad combination is refused now, with the file and key.
                container.config()?;
            }
            Ok(())
        })?;
        Ok(true)
    }

    /// Starts it under a daemon monitor (the `corral` program) and returns once it runs;
    /// with `daemonize=False`, runs the monitor in the foreground until the container stops.
    /// Before anything starts, the config and every stage's plan are checked.
    #[pyo3(signature = (daemonize=true))]
    fn start(&self, py: Python<'_>, daemonize: bool) -> PyResult<bool> {
        py.detach(|| -> Result<bool, Error> {
            let container = self.engine()?;
            container.plan(&[])?;
            let monitor = self.world.monitor()?;
            if daemonize {
                control::start_daemon(&self.world.corral, &container, &monitor)?;
                return Ok(true);
            }
            let status = monitor
                .command(&self.world.corral)
                .args(["start", "--foreground", &self.name])
                .status()
                .map_err(|e| {
                    Error::Other(format!("cannot run {}: {e}", monitor.program.display()))
                })?;
            Ok(status.success())
        })
        .map_err(PyErr::from)
    }

    /// Kills it at once and waits until everything is torn down, for up to a minute. False
    /// when it was not running (or its monitor did not finish in that time).
    fn stop(&self, py: Python<'_>) -> PyResult<bool> {
        self.stop_with(py, StopMode::Kill, Some(KILL_GRACE))
    }

    /// Asks its init to halt (its halt signal, SIGPWR by default) and waits up to `timeout`
    /// seconds (-1: forever; 0: do not wait), after which the monitor kills it. True once it
    /// has stopped (or, with 0, once asked).
    #[pyo3(signature = (timeout=-1))]
    fn shutdown(&self, py: Python<'_>, timeout: i64) -> PyResult<bool> {
        let secs = u64::try_from(timeout).ok();
        if secs == Some(0) {
            let asked = py.detach(|| -> Result<(), Error> {
                let mut client = self.engine()?.client()?;
                client.request(&Request::Stop(StopMode::Halt { timeout_secs: None }))?;
                Ok(())
            });
            return match asked {
                Ok(()) => Ok(true),
                Err(Error::Client(ClientError::NotRunning(_))) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        let grace = secs.map(|s| Duration::from_secs(s + 30));
        self.stop_with(py, StopMode::Halt { timeout_secs: secs }, grace)
    }

    /// Asks its init to reboot (its reboot signal); the container comes back up.
    fn reboot(&self, py: Python<'_>) -> PyResult<bool> {
        self.stop_with(py, StopMode::Reboot, None)
    }

    /// Freezes every process of the container.
    fn freeze(&self, py: Python<'_>) -> PyResult<bool> {
        self.request(py, &Request::Freeze)
    }

    /// Thaws a frozen container.
    fn unfreeze(&self, py: Python<'_>) -> PyResult<bool> {
        self.request(py, &Request::Unfreeze)
    }

    /// Waits until it is in `state` (or one of `A|B`), for up to `timeout` seconds (-1:
    /// forever). False when the time ran out.
    #[pyo3(signature = (state, timeout=-1.0))]
    fn wait(&self, py: Python<'_>, state: &str, timeout: f64) -> PyResult<bool> {
        let wanted = state
            .split('|')
            .map(|s| {
                State::parse(s.trim())
                    .ok_or_else(|| Error::Value(format!("`{s}` is not a container state")))
            })
            .collect::<Result<Vec<State>, Error>>()?;
        let timeout = (timeout >= 0.0).then(|| Duration::from_secs_f64(timeout));
        py.detach(|| -> Result<bool, Error> {
            Ok(control::wait(&self.engine()?, &wanted, timeout)?)
        })
        .map_err(PyErr::from)
    }

    /// Destroys it: its config and its rootfs. A running container is refused.
    fn destroy(&self, py: Python<'_>) -> PyResult<bool> {
        py.detach(|| -> Result<(), Error> { Ok(self.engine()?.destroy(false)?) })?;
        *self.config_lock() = None;
        Ok(true)
    }

    /// Runs `command` in the running container and returns its exit status (128+N for
    /// signal N). The options are python3-lxc's: which `namespaces` to enter (CLONE_NEW*
    /// bits), `uid`, `gid`, `initial_cwd`, `env_policy` (LXC_ATTACH_KEEP_ENV or
    /// LXC_ATTACH_CLEAR_ENV), `extra_env_vars` (`NAME=VALUE`), and `stdin`, `stdout`,
    /// `stderr` (descriptors or files).
    #[pyo3(signature = (command, *, namespaces=-1, uid=None, gid=None, initial_cwd=None,
        env_policy=0, extra_env_vars=None, stdin=None, stdout=None, stderr=None))]
    #[allow(clippy::too_many_arguments, reason = "python3-lxc's keyword arguments")]
    fn _attach_wait(
        &self,
        py: Python<'_>,
        command: Vec<String>,
        namespaces: i32,
        uid: Option<u32>,
        gid: Option<u32>,
        initial_cwd: Option<PathBuf>,
        env_policy: i32,
        extra_env_vars: Option<Vec<String>>,
        stdin: Option<&Bound<'_, PyAny>>,
        stdout: Option<&Bound<'_, PyAny>>,
        stderr: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<i32> {
        let options = AttachOptions {
            command,
            keep_env: env_policy == crate::LXC_ATTACH_KEEP_ENV,
            set_vars: extra_env_vars.unwrap_or_default(),
            uid,
            gid,
            cwd: initial_cwd,
            namespaces: (namespaces != -1).then_some(namespaces),
            stdio: [fd_of(stdin)?, fd_of(stdout)?, fd_of(stderr)?],
        };
        py.detach(|| -> Result<i32, Error> { Ok(attach::attach(&self.engine()?, &options)?) })
            .map_err(PyErr::from)
    }

    /// The names of its network interfaces, loopback first.
    fn get_interfaces(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let pid = py.detach(|| self.running_pid())?;
        let mut names = vec!["lo".to_owned()];
        names.extend(corral::netinfo::interfaces(pid).into_iter().map(|i| i.name));
        Ok(names)
    }

    /// Its addresses, of one `interface` and `family` (`inet` or `inet6`) if given,
    /// retrying once a second for up to `timeout` seconds until there is one.
    #[pyo3(signature = (interface=None, family=None, scope=None, timeout=0))]
    fn get_ips(
        &self,
        py: Python<'_>,
        interface: Option<&str>,
        family: Option<&str>,
        scope: Option<&str>,
        timeout: u64,
    ) -> PyResult<Vec<String>> {
        if scope.is_some_and(|s| s != "global") {
            return Err(
                Error::Value("only global addresses are known (scope='global')".into()).into(),
            );
        }
        let want_v4 = match family {
            None => None,
            Some("inet") => Some(true),
            Some("inet6") => Some(false),
            Some(other) => {
                return Err(Error::Value(format!("family `{other}` is not inet or inet6")).into());
            }
        };
        let deadline = Instant::now() + Duration::from_secs(timeout);
        py.detach(|| -> Result<Vec<String>, Error> {
            loop {
                let pid = self.running_pid()?;
                let ips: Vec<String> = corral::netinfo::interface_addresses(pid)
                    .into_iter()
                    .filter(|(name, _)| interface.is_none_or(|i| i == name))
                    .filter(|(_, ip)| want_v4.is_none_or(|v4| matches!(ip, IpAddr::V4(_)) == v4))
                    .map(|(_, ip)| ip.to_string())
                    .collect();
                if !ips.is_empty() || Instant::now() >= deadline {
                    return Ok(ips);
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .map_err(PyErr::from)
    }

    /// The value of an LXC config key: a string, or a list for list-valued keys
    /// (`lxc.cap.drop`, `lxc.mount.entry`, `lxc.net.0.ipv4.address`...). Raises
    /// UnsupportedKey (a KeyError) for a key corral has no equivalent of.
    fn get_config_item(&self, py: Python<'_>, key: &str) -> PyResult<Py<PyAny>> {
        let item = self.with_config(|c| Ok(c.get(key)?))?;
        item_to_py(py, item)
    }

    /// Sets an LXC config key (a list replaces a list-valued key's values), in memory
    /// until `save_config`. A bad value raises InvalidConfig naming the key.
    fn set_config_item(&self, key: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let values = values_of(value)?;
        self.with_config(|c| Ok(c.set(key, &values)?))?;
        Ok(true)
    }

    /// Adds a value to a list-valued key (sets a single-valued one).
    fn append_config_item(&self, key: &str, value: &str) -> PyResult<bool> {
        self.with_config(|c| Ok(c.append(key, value)?))?;
        Ok(true)
    }

    /// Clears a key: a list becomes empty, a single value returns to its default.
    fn clear_config_item(&self, key: &str) -> PyResult<bool> {
        self.with_config(|c| Ok(c.clear(key)?))?;
        Ok(true)
    }

    /// The supported keys, or the sub-keys under `key` (`lxc.net.0` gives `type`, `link`...).
    #[pyo3(signature = (key=None))]
    fn get_keys(&self, key: Option<&str>) -> PyResult<Vec<String>> {
        Ok(keys::keys(key).map_err(Error::from)?)
    }

    /// Writes the config to its file, or to `path`.
    #[pyo3(signature = (path=None))]
    fn save_config(&self, path: Option<PathBuf>) -> PyResult<bool> {
        let target = match path {
            Some(path) => path,
            None => self.engine()?.config_file(),
        };
        self.with_config(|c| {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| Error::Other(format!("cannot create {}: {e}", dir.display())))?;
            }
            write_table(&target, c.table())
        })?;
        Ok(true)
    }

    /// Reads the config again from its file, or from `path`, dropping unsaved changes.
    #[pyo3(signature = (path=None))]
    fn load_config(&self, path: Option<PathBuf>) -> PyResult<bool> {
        let table = match path {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::from(config::ConfigError::Read {
                        path: path.clone(),
                        source: e,
                    })
                })?;
                text.parse::<toml::Table>().map_err(|e| {
                    Error::from(config::ConfigError::invalid(&path, "", e.message()))
                })?
            }
            None => self.read_table()?,
        };
        *self.config_lock() = Some(LxcConfig::new(table));
        Ok(true)
    }

    /// Reads a file of the running container's cgroup (`memory.max`, `pids.current`).
    fn get_cgroup_item(&self, py: Python<'_>, key: &str) -> PyResult<String> {
        py.detach(|| -> Result<String, Error> { Ok(control::cgroup_get(&self.engine()?, key)?) })
            .map_err(PyErr::from)
    }

    /// Writes a file of the running container's cgroup.
    fn set_cgroup_item(&self, py: Python<'_>, key: &str, value: &str) -> PyResult<bool> {
        py.detach(|| -> Result<(), Error> {
            Ok(control::cgroup_set(&self.engine()?, key, value)?)
        })?;
        Ok(true)
    }

    /// Attaches this terminal to the console (`ttynum` -1 or 0) or tty N until Ctrl+a q or
    /// the container stops. corral relays standard input and output, with Ctrl+a as the
    /// escape: other descriptors and escapes are refused.
    #[pyo3(signature = (ttynum=-1, stdinfd=0, stdoutfd=1, stderrfd=2, escape=1))]
    fn console(
        &self,
        py: Python<'_>,
        ttynum: i32,
        stdinfd: i32,
        stdoutfd: i32,
        stderrfd: i32,
        escape: i32,
    ) -> PyResult<bool> {
        if (stdinfd, stdoutfd, stderrfd, escape) != (0, 1, 2, 1) {
            return Err(Error::Value(
                "corral's console relays descriptors 0, 1 and 2 with the escape Ctrl+a (1)".into(),
            )
            .into());
        }
        let tty = u32::try_from(ttynum.max(0)).unwrap_or(0);
        py.detach(|| -> Result<(), Error> {
            let mut client = self.engine()?.client()?;
            client.request(&Request::Console { tty })?;
            let (stream, early) = client.into_stream();
            let stdin = std::io::stdin();
            let _raw = RawMode::enter(stdin.as_fd()).ok();
            terminal::relay(stream.as_fd(), None, true, &early);
            Ok(())
        })?;
        Ok(true)
    }

    /// Every stage's plan, as corral would apply it at the next start: a dict of plain
    /// Python values (`plan["network"]["interfaces"]`...).
    fn plan(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let text = py.detach(|| -> Result<String, Error> {
            let plan = self.engine()?.plan(&[])?;
            serde_json::to_string(&plan).map_err(|e| Error::Other(e.to_string()))
        })?;
        Ok(py.import("json")?.call_method1("loads", (text,))?.unbind())
    }

    /// Its state changes as they happen: an iterator of state names, ending when its monitor
    /// exits (after STOPPED). With `timeout` (seconds), an iteration that waits longer ends.
    #[pyo3(signature = (timeout=None))]
    fn events(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Events> {
        let client = py.detach(|| -> Result<Client, Error> {
            let mut client = self.engine()?.client()?;
            client.request(&Request::Subscribe)?;
            Ok(client)
        })?;
        Ok(Events {
            client: Mutex::new(Some(client)),
            timeout: timeout.map(Duration::from_secs_f64),
        })
    }

    fn __repr__(&self) -> String {
        format!("<corral.Container {:?}>", self.name)
    }
}

impl Container {
    fn stop_with(&self, py: Python<'_>, mode: StopMode, grace: Option<Duration>) -> PyResult<bool> {
        match py
            .detach(|| -> Result<bool, Error> { Ok(control::stop(&self.engine()?, mode, grace)?) })
        {
            Err(Error::Client(ClientError::NotRunning(_))) => Ok(false),
            result => Ok(result?),
        }
    }

    fn request(&self, py: Python<'_>, request: &Request) -> PyResult<bool> {
        py.detach(|| -> Result<(), Error> {
            self.engine()?.client()?.request(request)?;
            Ok(())
        })?;
        Ok(true)
    }
}

/// A container's state changes, from `Container.events()`.
#[pyclass(module = "corral._corral", frozen)]
pub struct Events {
    client: Mutex<Option<Client>>,
    timeout: Option<Duration>,
}

#[pymethods]
impl Events {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<&'static str>> {
        let mut guard = self
            .client
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(client) = guard.as_mut() else {
            return Ok(None);
        };
        let next = py.detach(|| client.next_event(self.timeout));
        match next {
            Ok(Some(event)) => Ok(Some(event.state.as_str())),
            // The monitor exited, or the wait timed out: the stream is over.
            Ok(None) | Err(ClientError::Io(..)) => {
                *guard = None;
                Ok(None)
            }
            Err(e) => Err(Error::from(e).into()),
        }
    }
}
