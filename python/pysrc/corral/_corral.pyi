"""Type stubs of corral's extension module; ``import corral`` re-exports what scripts use."""

from os import PathLike
from typing import Any, Iterator, Sequence, Union

_Path = Union[str, PathLike[str]]
_Fd = Union[int, Any, None]

version: str

CLONE_NEWNS: int
CLONE_NEWUTS: int
CLONE_NEWIPC: int
CLONE_NEWUSER: int
CLONE_NEWPID: int
CLONE_NEWNET: int
CLONE_NEWCGROUP: int
LXC_ATTACH_KEEP_ENV: int
LXC_ATTACH_CLEAR_ENV: int
LXC_ATTACH_MOVE_TO_CGROUP: int
LXC_ATTACH_DROP_CAPABILITIES: int
LXC_ATTACH_SET_PERSONALITY: int
LXC_ATTACH_LSM_EXEC: int
LXC_ATTACH_REMOUNT_PROC_SYS: int
LXC_ATTACH_LSM_NOW: int
LXC_ATTACH_DEFAULT: int
LXC_CREATE_QUIET: int

class CorralError(Exception):
    """The base of every error corral raises but UnsupportedKey."""

class ContainerNotFound(CorralError):
    """No container of that name is defined."""

class NotRunning(CorralError):
    """The operation needs the container running."""

class InvalidConfig(CorralError):
    """A config file or value is wrong."""

    file: str | None
    line: int | None
    key: str | None

class StageFailed(CorralError):
    """Starting failed in a stage of the pipeline; everything was undone."""

    stage: str

class UnsupportedKey(KeyError):
    """corral has no equivalent of this LXC config key."""

class Events:
    """A container's state changes, as state names."""

    def __iter__(self) -> Iterator[str]: ...
    def __next__(self) -> str: ...

class Container:
    """A container, defined or not yet."""

    def __init__(self, name: str, config_path: _Path | None = None) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def config_file_name(self) -> str: ...
    @property
    def defined(self) -> bool: ...
    @property
    def state(self) -> str: ...
    @property
    def running(self) -> bool: ...
    @property
    def init_pid(self) -> int: ...
    def get_config_path(self) -> str: ...
    def create(
        self,
        template: str | None = None,
        flags: int = 0,
        args: Sequence[str] | dict[str, str] | None = None,
    ) -> bool: ...
    def start(self, daemonize: bool = True) -> bool: ...
    def stop(self) -> bool: ...
    def shutdown(self, timeout: int = -1) -> bool: ...
    def reboot(self) -> bool: ...
    def freeze(self) -> bool: ...
    def unfreeze(self) -> bool: ...
    def wait(self, state: str, timeout: float = -1.0) -> bool: ...
    def destroy(self) -> bool: ...
    def _attach_wait(
        self,
        command: Sequence[str],
        *,
        namespaces: int = -1,
        uid: int | None = None,
        gid: int | None = None,
        initial_cwd: _Path | None = None,
        env_policy: int = 0,
        extra_env_vars: Sequence[str] | None = None,
        stdin: _Fd = None,
        stdout: _Fd = None,
        stderr: _Fd = None,
    ) -> int: ...
    def get_interfaces(self) -> list[str]: ...
    def get_ips(
        self,
        interface: str | None = None,
        family: str | None = None,
        scope: str | None = None,
        timeout: int = 0,
    ) -> list[str]: ...
    def get_config_item(self, key: str) -> str | list[str]: ...
    def set_config_item(self, key: str, value: str | Sequence[str]) -> bool: ...
    def append_config_item(self, key: str, value: str) -> bool: ...
    def clear_config_item(self, key: str) -> bool: ...
    def get_keys(self, key: str | None = None) -> list[str]: ...
    def save_config(self, path: _Path | None = None) -> bool: ...
    def load_config(self, path: _Path | None = None) -> bool: ...
    def get_cgroup_item(self, key: str) -> str: ...
    def set_cgroup_item(self, key: str, value: str) -> bool: ...
    def console(
        self,
        ttynum: int = -1,
        stdinfd: int = 0,
        stdoutfd: int = 1,
        stderrfd: int = 2,
        escape: int = 1,
    ) -> bool: ...
    def plan(self) -> dict[str, Any]: ...
    def events(self, timeout: float | None = None) -> Events: ...

def container_names(
    active: bool = True, defined: bool = True, config_path: _Path | None = None
) -> list[str]: ...
