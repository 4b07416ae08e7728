"""Blocking calls release the GIL: two threads drive two containers at once, and a thread
blocked in a call does not hold up the others."""

from __future__ import annotations

import threading
import time

import corral
from conftest import World


def drive(c: corral.Container, results: dict[str, object]) -> None:
    """A lifecycle; the outcome, or the exception, goes into results."""
    try:
        c.create("busybox")
        c.start()
        assert c.wait("RUNNING", 10)
        status = c.attach_wait(corral.attach_run_command, ["/bin/sh", "-c", "sleep 1; exit 3"])
        c.stop()
        c.destroy()
        results[c.name] = status
    except Exception as e:  # noqa: BLE001 - reported by the main thread
        results[c.name] = e


def test_two_threads_drive_two_containers(world: World) -> None:
    containers = [world.container("a"), world.container("b")]
    results: dict[str, object] = {}
    threads = [threading.Thread(target=drive, args=(c, results)) for c in containers]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - started
    assert results == {c.name: 3 for c in containers}
    # Each attach sleeps a second: together they took well under the sum of both lifecycles.
    assert elapsed < 10


def test_a_blocked_wait_does_not_hold_the_gil(world: World) -> None:
    c = world.container()
    c.create("busybox")
    c.start()
    stopped = threading.Event()

    def waiter() -> None:
        if c.wait("STOPPED", 30):
            stopped.set()

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    # This thread runs Python while the other is blocked in wait().
    assert not stopped.is_set()
    assert sum(range(100000)) > 0
    c.stop()
    t.join(10)
    assert stopped.is_set()
    c.destroy()
