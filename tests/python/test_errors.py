"""Each error maps to its exception class, with what it carries."""

from __future__ import annotations

import pytest

import corral
from conftest import World


def test_container_not_found(world: World) -> None:
    c = world.container()
    with pytest.raises(corral.ContainerNotFound):
        c.start()
    with pytest.raises(corral.ContainerNotFound):
        c.destroy()
    with pytest.raises(corral.ContainerNotFound):
        c.plan()
    assert issubclass(corral.ContainerNotFound, corral.CorralError)


def test_bad_name_and_template(world: World) -> None:
    with pytest.raises(corral.CorralError):
        corral.Container("../escape", str(world.root))
    with pytest.raises(corral.CorralError, match="unknown template"):
        world.container().create("no-such-template")


def test_invalid_config_file_carries_file_line_and_key(world: World) -> None:
    c = world.container()
    c.create("busybox")
    path = world.root / c.name / "config.toml"
    path.write_text(path.read_text() + "\n[cgroup]\nmemroy = \"1G\"\n")
    with pytest.raises(corral.InvalidConfig) as caught:
        c.start()
    assert caught.value.file == str(path)
    assert caught.value.line is not None and caught.value.line > 1
    assert caught.value.key == "cgroup.memroy"
    assert c.state == "STOPPED"


def test_invalid_value_names_the_key(world: World) -> None:
    c = world.container()
    with pytest.raises(corral.InvalidConfig) as caught:
        c.set_config_item("lxc.cgroup2.memory.max", "lots")
    assert caught.value.key == "lxc.cgroup2.memory.max"
    with pytest.raises(corral.InvalidConfig):
        c.set_config_item("lxc.init.uid", "root")
    # A refused value leaves the config as it was.
    assert c.get_config_item("lxc.cgroup2.memory.max") == ""


def test_unsupported_key_is_a_key_error(world: World) -> None:
    c = world.container()
    for key in ("lxc.idmap", "lxc.net.0.bogus", "lxc.cgroup2.io.max"):
        with pytest.raises(KeyError) as caught:
            c.get_config_item(key)
        assert isinstance(caught.value, corral.UnsupportedKey)
        assert key in str(caught.value)
    with pytest.raises(corral.UnsupportedKey):
        c.set_config_item("lxc.idmap", "u 0 100000 65536")


def test_stage_failed_carries_the_stage(world: World) -> None:
    c = world.container()
    c.create("busybox")
    c.set_config_item("lxc.mount.entry", f"{world.root}/missing data none bind,create=dir 0 0")
    c.save_config()
    with pytest.raises(corral.StageFailed) as caught:
        c.start()
    assert caught.value.stage == "mounts"
    assert "stage mounts failed" in str(caught.value)
    assert c.state == "STOPPED"
    assert world.cgroup_dirs(c.name) == []


def test_not_running(world: World) -> None:
    c = world.container()
    c.create("busybox")
    with pytest.raises(corral.NotRunning):
        c.get_cgroup_item("pids.max")
    with pytest.raises(corral.NotRunning):
        c.attach_wait(corral.attach_run_command, ["true"])
    with pytest.raises(corral.NotRunning):
        c.get_ips()
    with pytest.raises(corral.NotRunning):
        c.freeze()
    assert not c.stop()
    assert not c.shutdown(0)


def test_running_container_is_not_destroyed(world: World) -> None:
    c = world.container()
    c.create("busybox")
    c.start()
    with pytest.raises(corral.CorralError, match="running"):
        c.destroy()
    with pytest.raises(corral.CorralError, match="already running"):
        c.start()
    with pytest.raises(corral.CorralError, match="not a cgroup file"):
        c.get_cgroup_item("../escape")
    c.stop()
    assert c.destroy()


def test_attach_refuses_python_callables(world: World) -> None:
    c = world.container()
    with pytest.raises(TypeError):
        c.attach_wait(lambda: 0)
