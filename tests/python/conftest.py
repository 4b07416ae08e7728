"""A private corral world per test: its own root, run directory, global config and cgroup
parent, all removed afterwards (as tests/src/lib.rs does for the Rust integration tests)."""

from __future__ import annotations

import itertools
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import corral

REPO = Path(__file__).resolve().parents[2]
_worlds = itertools.count()


def cgroup_mounts() -> list[Path]:
    """Where each cgroup hierarchy is mounted."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        if right.split(" ")[0] in ("cgroup", "cgroup2"):
            mounts.append(Path(left.split(" ")[4]))
    return mounts


@dataclass
class World:
    """A private corral world."""

    root: Path
    cgroup_parent: str
    bridge: str

    def container(self, prefix: str = "py") -> corral.Container:
        """A new container handle with a unique name, not created yet."""
        return corral.Container(f"{prefix}-{uuid.uuid4().hex[:8]}", str(self.root))

    def cgroup_dirs(self, name: str) -> list[Path]:
        """The container's cgroup directories that exist."""
        return [d for m in cgroup_mounts() if (d := m / self.cgroup_parent / name).exists()]


@pytest.fixture(scope="session", autouse=True)
def corral_bin() -> None:
    """The corral program the monitors run: CORRAL_BIN, or this checkout's debug build."""
    if os.geteuid() != 0:
        pytest.skip("corral's Python tests run real containers and need root")
    if "CORRAL_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "-q", "-p", "corral-engine"], cwd=REPO, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        os.environ["CORRAL_BIN"] = str(target / "debug" / "corral")


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """A world of its own, with a bridge of its own for veth interfaces."""
    n = next(_worlds)
    parent = f"corral-pytest-{os.getpid()}-{n}"
    bridge = f"crlpy{os.getpid() % 10000}x{n}"
    config = tmp_path / "global.toml"
    config.write_text(f'[cgroup]\nparent = "{parent}"\n')
    monkeypatch.setenv("CORRAL_CONFIG", str(config))
    monkeypatch.setenv("CORRAL_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv("CORRAL_ROOT", raising=False)
    subprocess.run(["ip", "link", "add", bridge, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", bridge, "up"], check=True)
    w = World(root=tmp_path / "root", cgroup_parent=parent, bridge=bridge)
    try:
        yield w
    finally:
        for c in corral.list_containers(as_object=True, config_path=str(w.root)):
            assert isinstance(c, corral.Container)
            c.stop()
            c.destroy()
        subprocess.run(["ip", "link", "del", bridge], check=False)
        for mount in cgroup_mounts():
            try:
                (mount / parent).rmdir()
            except FileNotFoundError:
                pass
