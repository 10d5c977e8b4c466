"""The blocking pool's waits: exceptions delivered at any point of a wait (a
``gevent.Timeout``, ``KeyboardInterrupt``), gevent and eventlet monkey-patching, and the
serialisation of checkout and release while redis-py handles a MOVING notification."""

from __future__ import annotations

import _thread
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from redispool import BlockingConnectionPool, PoolStats

ROOT = Path(__file__).resolve().parents[1]


def balanced(stats: PoolStats) -> bool:
    return stats.idle + stats.in_use == stats.created - stats.closed


def wait_until(predicate: Any, what: str) -> None:
    """Poll ``predicate`` (a bound against hangs, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


# ---- an exception delivered at any point of a wait --------------------------------------


class Dummy:
    """A connection that never touches the network."""

    def __init__(self, **kwargs: Any) -> None:
        self._sock: Any = None

    def connect(self) -> None:
        self._sock = object()

    def disconnect(self) -> None:
        self._sock = None

    def can_read(self) -> bool:
        return False

    def should_reconnect(self) -> bool:
        return False


class Injected(BaseException):
    """Stands for ``gevent.Timeout``, ``KeyboardInterrupt``: any BaseException."""


class Plan:
    """Where the one injected exception lands in the target thread:

    - ``"waiting"``: in the lock acquire it is blocked in, before anyone wakes it;
    - ``"woken"``: as that acquire returns, after a release woke it;
    - ``"reacquire"``: at its next lock acquire after being woken (``Condition.wait``
      re-acquires its lock there).
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.target: int | None = None
        self.blocked = False  # the target is blocked in an acquire
        self.armed = False  # main thread: deliver now (waiting) / after the wake (others)
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        raise Injected(self.mode)


class FaultyLock:
    """A ``threading.Lock`` (what ``threading.Lock()`` and ``Condition``'s waiter locks
    become in this test) that delivers the planned exception in the target thread."""

    def __init__(self, plan: Plan) -> None:
        self._lock = _thread.allocate_lock()
        self._plan = plan

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        plan = self._plan
        mine = plan.target == threading.get_ident() and not plan.fired
        if mine and plan.armed and plan.mode == "reacquire":
            plan.fire()
        if not blocking or self._lock.acquire(False):
            return blocking or self._lock.acquire(False)
        deadline = None if timeout < 0 else time.monotonic() + timeout
        if mine:
            plan.blocked = True
        try:
            while True:  # in slices, so that an exception can land while blocked
                if mine and plan.armed and plan.mode == "waiting":
                    plan.fire()
                left = 0.005 if deadline is None else min(0.005, deadline - time.monotonic())
                if self._lock.acquire(True, max(left, 0)):
                    break
                if deadline is not None and time.monotonic() >= deadline:
                    return False
        finally:
            if mine:
                plan.blocked = False
        if mine and plan.armed and plan.mode == "woken":
            plan.fire()
        return True

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return self._lock.locked()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()


def _run(target: Any, results: dict[str, Any], name: str) -> threading.Thread:
    def body() -> None:
        try:
            results[name] = target()
        except BaseException as exc:  # the outcome is what the test looks at
            results[name] = exc

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    return thread


@pytest.mark.usefixtures("slot_twin")
@pytest.mark.parametrize("timeout", [None, 60], ids=["forever", "timed"])
@pytest.mark.parametrize("mode", ["waiting", "woken", "reacquire"])
def test_exception_at_any_point_of_a_wait(
    monkeypatch: pytest.MonkeyPatch, mode: str, timeout: float | None
) -> None:
    """Two threads wait for the one connection; the first gets an exception while it
    waits, as it is woken, or as it re-acquires a lock after the wake. It must see that
    exception (not ``RuntimeError``), the second must get the connection (a wake-up the
    first consumed is passed on), and the pool must stay balanced and usable."""
    plan = Plan(mode)
    monkeypatch.setattr(threading, "Lock", lambda: FaultyLock(plan))
    monkeypatch.setattr(threading, "_allocate_lock", lambda: FaultyLock(plan))
    pool = BlockingConnectionPool(max_connections=1, timeout=timeout, connection_class=Dummy)
    held = pool.get_connection()
    results: dict[str, Any] = {}

    def first() -> Any:
        plan.target = threading.get_ident()
        conn = pool.get_connection()
        pool.release(conn)
        return conn

    def second() -> Any:
        conn = pool.get_connection()
        pool.release(conn)
        return conn

    one = _run(first, results, "first")
    wait_until(lambda: plan.blocked and pool._slots.waiters == 1, "the first thread waits")
    two = _run(second, results, "second")
    wait_until(lambda: pool._slots.waiters == 2, "the second thread waits")
    plan.armed = True
    if mode == "waiting":
        wait_until(lambda: "first" in results, "the first thread gives up")
    releaser = _run(lambda: pool.release(held), results, "release")
    for thread in (releaser, one, two):
        thread.join(10)
    assert plan.fired
    assert isinstance(results.get("first"), Injected), results.get("first")
    assert results.get("release") is None, "release failed"
    assert results.get("second") is held, "the wake-up was lost"
    stats = pool.stats()
    assert pool._slots.waiters == 0 and stats.in_use == 0 and balanced(stats)

    # no stale waiter swallows the next wake-up, and the lock still works
    held = pool.get_connection()
    three = _run(second, results, "third")
    wait_until(lambda: pool._slots.waiters == 1, "a third thread waits")
    pool.release(held)
    three.join(10)
    assert results.get("third") is held
    assert pool._slots.waiters == 0 and pool.stats().in_use == 0


# ---- gevent and eventlet -----------------------------------------------------------------


@pytest.mark.parametrize("twin", ["c", "py"])
@pytest.mark.parametrize("library", ["gevent", "eventlet"])
def test_green_threads_with_timeouts(redis_url: str, library: str, twin: str) -> None:
    """100 green threads on 4 connections under timeout storms and a CPU hog, in a
    monkey-patched subprocess (``tests/green_stress.py``): no RuntimeError, no wrong
    reply, balanced ``stats()``, no waiter left, the pool still usable."""
    pytest.importorskip(library)
    if twin == "c" and os.environ.get("REDISPOOL_NO_EXTENSIONS"):
        pytest.skip("REDISPOOL_NO_EXTENSIONS is set")
    script = ROOT / "tests" / "green_stress.py"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(script), library, twin, redis_url],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["unexpected_count"] == 0, report["unexpected"]
    assert report["wrong"] == []
    assert report["balanced"] and report["in_use"] == 0 and report["waiters"] == 0, report
    assert report["usable"]
    assert report["counts"]["ok"], report["counts"]  # commands without a timeout succeed
