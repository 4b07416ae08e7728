"""Drive corral containers from Python, as python3-lxc drives LXC's.

Scripts written for python3-lxc port by changing ``import lxc`` to ``import corral``::

    import corral

    c = corral.Container("box")
    c.create("busybox")
    c.start()
    c.wait("RUNNING", 10)
    status = c.attach_wait(corral.attach_run_command, ["hostname"])
    c.stop()
    c.destroy()

The engine runs in-process; each container's monitor is the ``corral`` program, found
through ``CORRAL_BIN`` or on ``PATH``. ``CORRAL_ROOT``, ``CORRAL_RUN_DIR`` and
``CORRAL_CONFIG`` choose the world as they do for the CLI; ``config_path`` overrides the root.
"""

from __future__ import annotations

import os
from typing import Callable, Iterable, Mapping, Sequence, Tuple, Union

from . import _corral
from ._corral import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
    LXC_ATTACH_CLEAR_ENV,
    LXC_ATTACH_DEFAULT,
    LXC_ATTACH_DROP_CAPABILITIES,
    LXC_ATTACH_KEEP_ENV,
    LXC_ATTACH_LSM_EXEC,
    LXC_ATTACH_LSM_NOW,
    LXC_ATTACH_MOVE_TO_CGROUP,
    LXC_ATTACH_REMOUNT_PROC_SYS,
    LXC_ATTACH_SET_PERSONALITY,
    LXC_CREATE_QUIET,
    ContainerNotFound,
    CorralError,
    Events,
    InvalidConfig,
    NotRunning,
    StageFailed,
    UnsupportedKey,
    version,
)

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "LXC_ATTACH_CLEAR_ENV",
    "LXC_ATTACH_DEFAULT",
    "LXC_ATTACH_DROP_CAPABILITIES",
    "LXC_ATTACH_KEEP_ENV",
    "LXC_ATTACH_LSM_EXEC",
    "LXC_ATTACH_LSM_NOW",
    "LXC_ATTACH_MOVE_TO_CGROUP",
    "LXC_ATTACH_REMOUNT_PROC_SYS",
    "LXC_ATTACH_SET_PERSONALITY",
    "LXC_CREATE_QUIET",
    "Container",
    "ContainerNotFound",
    "CorralError",
    "Events",
    "InvalidConfig",
    "NotRunning",
    "StageFailed",
    "UnsupportedKey",
    "attach_run_command",
    "attach_run_shell",
    "list_containers",
    "version",
]

Command = Union[str, Sequence[str], Tuple[str, Sequence[str]]]
"""What ``attach_run_command`` runs: a program, an argv list, or ``(program, argv)``."""

Runner = Callable[..., int]


def attach_run_command(cmd: Command) -> int:
    """Runs ``cmd`` in the container: pass this function to ``Container.attach_wait``.

    As in python3-lxc, ``cmd`` is a program, an argv list, or a ``(program, argv)`` pair. The
    command runs in the container through corral, never this interpreter: calling this
    function directly is an error.
    """
    raise TypeError("attach_run_command is passed to Container.attach_wait, not called")


def attach_run_shell(_payload: object = None) -> int:
    """Runs the user's login shell in the container: pass this to ``Container.attach_wait``."""
    raise TypeError("attach_run_shell is passed to Container.attach_wait, not called")


def _argv(run: Union[Runner, Command], payload: object) -> list[str]:
    """The argv that ``attach_wait(run, payload)`` runs."""
    if run is attach_run_shell:
        return []
    if run is attach_run_command:
        cmd = payload
    elif callable(run):
        raise TypeError(
            "corral runs commands, not Python callables, in a container: pass "
            "corral.attach_run_command with the command as payload"
        )
    else:
        cmd = run
    if isinstance(cmd, str):
        return [cmd]
    if isinstance(cmd, tuple) and len(cmd) == 2 and isinstance(cmd[0], str):
        program, argv = cmd
        return [program, *list(argv)[1:]] if argv else [program]
    if isinstance(cmd, Iterable) and not isinstance(cmd, (bytes, Mapping)):
        argv = [str(a) for a in cmd]
        if argv:
            return argv
    raise TypeError(f"cannot run {cmd!r}: give a program, an argv list or (program, argv)")


class Container(_corral.Container):
    """A container, defined or not yet: python3-lxc's ``lxc.Container``."""

    def attach_wait(
        self,
        run: Union[Runner, Command],
        payload: object = None,
        *,
        attach_flags: int = LXC_ATTACH_DEFAULT,
        namespaces: int = -1,
        personality: int = -1,
        initial_cwd: str | None = None,
        uid: int | None = None,
        gid: int | None = None,
        env_policy: int = LXC_ATTACH_KEEP_ENV,
        extra_env_vars: Sequence[str] | None = None,
        extra_keep_env: Sequence[str] | None = None,
        stdin: object = None,
        stdout: object = None,
        stderr: object = None,
    ) -> int:
        """Runs a command in the running container and returns its exit status.

        ``run`` is ``attach_run_command`` (``payload`` the command), ``attach_run_shell``,
        or the command itself. The options are python3-lxc's; ``attach_flags`` and
        ``personality`` are accepted and corral always applies the container's own cgroup,
        capabilities and LSM. ``extra_keep_env`` names caller variables passed through.
        """
        del attach_flags, personality
        env = list(extra_env_vars or [])
        for name in extra_keep_env or []:
            if name in os.environ:
                env.append(f"{name}={os.environ[name]}")
        return self._attach_wait(
            _argv(run, payload),
            namespaces=namespaces,
            uid=uid,
            gid=gid,
            initial_cwd=initial_cwd,
            env_policy=env_policy,
            extra_env_vars=env,
            stdin=stdin,
            stdout=stdout,
            stderr=stderr,
        )


def list_containers(
    active: bool = True,
    defined: bool = True,
    as_object: bool = False,
    config_path: str | None = None,
) -> tuple[str, ...] | tuple[Container, ...]:
    """The containers of a world: names, or ``Container`` objects with ``as_object``."""
    names = _corral.container_names(active=active, defined=defined, config_path=config_path)
    if as_object:
        return tuple(Container(name, config_path) for name in names)
    return tuple(names)
