"""A whole lifecycle in python3-lxc's style (its examples/api_test.py), against a real
busybox container."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time

import corral
from conftest import World


def test_whole_lifecycle(world: World) -> None:
    c = world.container()
    name = c.name
    assert c.config_file_name == str(world.root / name / "config.toml")
    assert not c.defined
    assert c.init_pid == -1
    assert c.state == "STOPPED"
    assert not c.running

    assert c.create("busybox")
    assert c.defined
    assert c.get_config_item("lxc.uts.name") == name
    assert name in corral.list_containers(config_path=str(world.root))
    assert name not in corral.list_containers(active=True, defined=False, config_path=str(world.root))

    # A config round trip with list-valued keys, as api_test.py does with lxc.cap.drop.
    capabilities = c.get_config_item("lxc.cap.drop")
    assert isinstance(capabilities, list) and "sys_module" in capabilities
    assert c.clear_config_item("lxc.cap.drop")
    assert c.get_config_item("lxc.cap.drop") == []
    assert c.set_config_item("lxc.cap.drop", capabilities[:-1])
    assert c.append_config_item("lxc.cap.drop", capabilities[-1])
    assert c.get_config_item("lxc.cap.drop") == capabilities
    c.set_config_item("lxc.net.0.type", "veth")
    c.set_config_item("lxc.net.0.link", world.bridge)
    c.set_config_item("lxc.net.0.flags", "up")
    c.set_config_item("lxc.net.0.ipv4.address", ["10.231.0.2/24", "10.231.0.3/24"])
    c.set_config_item("lxc.cgroup2.pids.max", "200")
    c.set_config_item("lxc.mount.entry", ["tmpfs scratch tmpfs size=8m,create=dir 0 0"])
    c.append_config_item("lxc.environment", "GREETING=hello")
    assert "link" in c.get_keys("lxc.net.0")
    assert c.save_config()
    again = corral.Container(name, str(world.root))
    assert again.get_config_item("lxc.cap.drop") == capabilities
    assert again.get_config_item("lxc.net.0.ipv4.address") == ["10.231.0.2/24", "10.231.0.3/24"]
    assert again.get_config_item("lxc.mount.entry") == ["tmpfs scratch tmpfs size=8m,create=dir 0 0"]
    assert again.get_config_item("lxc.cgroup.pids.max") == "200"

    plan = c.plan()
    assert plan["network"]["interfaces"][0]["name"] == "eth0"

    assert c.start()
    assert c.wait("RUNNING", 10)
    assert c.running
    assert c.init_pid > 1
    assert name in corral.list_containers(active=True, defined=False, config_path=str(world.root))

    assert set(c.get_interfaces()) == {"lo", "eth0"}
    assert sorted(c.get_ips(timeout=10)) == ["10.231.0.2", "10.231.0.3"]
    assert c.get_ips(interface="eth0", family="inet6") == []
    assert c.get_ips(interface="lo") == []

    # attach_wait returns the command's exit status, with python3-lxc's options.
    assert c.attach_wait(corral.attach_run_command, ["/bin/sh", "-c", "exit 7"]) == 7
    with tempfile.TemporaryFile() as out:
        status = c.attach_wait(
            corral.attach_run_command,
            ["/bin/sh", "-c", 'echo "$(id -u):$(id -g) $GREETING $EXTRA $(pwd) $(hostname)"'],
            env_policy=corral.LXC_ATTACH_CLEAR_ENV,
            extra_env_vars=["EXTRA=more"],
            uid=1000,
            gid=1000,
            initial_cwd="/tmp",
            stdout=out,
        )
        assert status == 0
        out.seek(0)
        assert out.read().decode().split() == ["1000:1000", "hello", "more", "/tmp", name]
    # Only the UTS namespace: the hostname is the container's, the mounts are the host's.
    with tempfile.TemporaryFile() as out:
        status = c.attach_wait(
            ["/bin/sh", "-c", "hostname; test -d /scratch && echo in || echo out"],
            namespaces=corral.CLONE_NEWUTS,
            stdout=out,
        )
        assert status == 0
        out.seek(0)
        assert out.read().decode().split() == [name, "out"]
    assert c.attach_wait(corral.attach_run_command, "/does/not/exist") == 127

    # cgroup get and set, with the limits from the config.
    assert c.get_cgroup_item("pids.max") == "200"
    assert c.set_cgroup_item("pids.max", "300")
    assert c.get_cgroup_item("pids.max") == "300"
    assert int(c.get_cgroup_item("pids.current")) >= 1

    events = c.events(timeout=10)
    assert c.freeze()
    assert c.wait("FROZEN", 5)
    assert c.state == "FROZEN"
    assert c.unfreeze()
    assert c.wait("RUNNING", 5)
    # The stream opens with the current state, then every change.
    seen = []
    for state in events:
        seen.append(state)
        if "FROZEN" in seen and state == "RUNNING":
            break
    assert seen[0] == "RUNNING" and "FROZEN" in seen and seen[-1] == "RUNNING"

    pid = c.init_pid
    assert c.stop()
    assert c.wait("STOPPED", 5)
    assert c.init_pid == -1
    assert not os.path.exists(f"/proc/{pid}")
    assert world.cgroup_dirs(name) == []
    assert not c.stop()

    assert c.destroy()
    assert not c.defined
    assert name not in corral.list_containers(config_path=str(world.root))


def test_shutdown_and_reboot(world: World) -> None:
    c = world.container()
    c.create("busybox")
    c.start()
    pid = c.init_pid
    # An init that has not set up its handlers yet (busybox's, just started) never hears
    # the reboot signal: give it a second, and ask again if no new init runs in ten (a
    # reboot takes about two).
    time.sleep(1)
    new_pid = -1
    for _ in range(3):
        assert c.reboot()
        for _ in range(100):
            new_pid = c.init_pid
            if new_pid not in (-1, pid):
                break
            time.sleep(0.1)
        if new_pid not in (-1, pid):
            break
    assert new_pid not in (-1, pid)
    assert c.wait("RUNNING", 20)
    # A clean shutdown, or the monitor kills init when the timeout passes: stopped either way.
    assert c.shutdown(5)
    assert c.state == "STOPPED"
    c.destroy()


def test_no_zombie_is_left_by_start(world: World) -> None:
    c = world.container()
    c.create("busybox")
    c.start()
    children = [
        line.split()[0]
        for line in subprocess.run(
            ["ps", "-o", "pid=,stat=", "--ppid", str(os.getpid())],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.splitlines()
        if "Z" in line.split()[1]
    ]
    assert children == []
    c.stop()
    c.destroy()


def test_start_in_the_foreground(world: World) -> None:
    c = world.container()
    c.create("busybox")
    result: list[bool] = []
    t = threading.Thread(target=lambda: result.append(c.start(daemonize=False)))
    t.start()
    assert c.wait("RUNNING", 10)
    assert c.stop()
    t.join(20)
    assert result == [True]
    c.destroy()
