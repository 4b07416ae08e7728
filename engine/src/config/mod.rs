//! Container and global configuration: typed TOML, layered, with precise errors.
//!
//! A container's config is `<root>/<name>/config.toml`. The global config's `[defaults]` table
//! is layered under it: a key set in the container's file wins, tables merge key by key.

mod container;
mod error;
mod global;
mod hooks;
mod load;
mod values;

pub use container::{
    AutoMounts, AutostartConfig, CgroupConfig, ConsoleConfig, ContainerConfig, InitConfig,
    InterfaceConfig, LandlockConfig, LandlockMode, LsmConfig, LsmMissing, MountConfig,
    MountsConfig, NamespacesConfig, NetworkConfig, ProcMount, RlimitValue, RootfsConfig,
    SeccompConfig, SecurityConfig, SignalsConfig, SysMount,
};
pub use error::ConfigError;
pub use global::DEFAULT_GLOBAL_CONFIG;
pub use global::{BridgeConfig, CgroupDefaults, GlobalConfig, NetworkDefaults, PathsConfig};
pub use hooks::{HookEntry, LxcHooks, PluginsConfig, Timeout};
pub use load::{load_container, load_global, merge};
pub use values::{ByteSize, Signal};
