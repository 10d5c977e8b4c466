"""The blocking pool's waits: exceptions delivered at any point of a wait (a
``gevent.Timeout``, ``KeyboardInterrupt``), gevent and eventlet monkey-patching, and the
serialisation of checkout and release while redis-py handles a MOVING notification."""

from __future__ import annotations

import _thread
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from helpers import Dummy, balanced

import redispool.asyncio
from redispool import BlockingConnectionPool
from redispool.server import RedisServer

ROOT = Path(__file__).resolve().parents[1]


def wait_until(predicate: Any, what: str) -> None:
    """Poll ``predicate`` (a bound against hangs, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


# ---- an exception delivered at any point of a wait --------------------------------------


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
    plan.target = None  # unfired, it would strike a later thread that reuses the ident
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
    if importlib.util.find_spec(library) is None:  # not imported here: it would stay loaded
        pytest.skip(f"{library} is not installed")
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
    assert report["slot_array"] == f"redispool._slots_{twin}"  # the twin under test
    assert report["counts"]["ok"], report["counts"]  # commands without a timeout succeed


# ---- maintenance: MOVING ---------------------------------------------------------------------


class WatchedLock:
    """The pool's lock (an RLock, as redis-py's), noting when a thread has to wait for it."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.waited = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self._lock.acquire(False):
            return True
        if not blocking:
            return False
        self.waited = True
        return self._lock.acquire(True, timeout)

    def release(self) -> None:
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()


def _move(connections: list[Any], kwargs: dict[str, Any], target: RedisServer) -> None:
    """What redis-py's MOVING handler does, reduced: point the idle connections and the
    pool's future connections at the new node."""
    for conn in connections:
        conn.host, conn.port = target.host, target.port
    kwargs.update(host=target.host, port=target.port)


@pytest.mark.usefixtures("slot_twin")
def test_moving_serialises_checkout_and_release(redis_url: str) -> None:
    """While the handler holds the pool lock in maintenance, a checkout waits for it and
    so lands on the new node (without the wait it would take the old node's idle
    connection between the handler's passes); a release waits too."""
    redis.Redis.from_url(redis_url).delete("moved")
    with RedisServer() as target:
        pool = BlockingConnectionPool.from_url(redis_url, max_connections=3)
        pool._lock = WatchedLock()  # type: ignore[assignment]
        r = redis.Redis(connection_pool=pool)
        held = pool.get_connection()
        r.ping()  # an idle connection to the old node
        results: dict[str, Any] = {}
        with pool._lock:
            pool.set_in_maintenance(True)
            worker = _run(lambda: r.set("moved", "1"), results, "set")
            wait_until(lambda: pool._lock.waited or "set" in results, "the command starts")
            assert "set" not in results, "the checkout did not wait for the handler"
            pool._lock.waited = False
            releaser = _run(lambda: pool.release(held), results, "release")
            wait_until(lambda: pool._lock.waited or "release" in results, "the release starts")
            assert "release" not in results, "the release did not wait for the handler"
            assert held in pool._get_in_use_connections()
            for conn in pool._get_free_connections():
                conn.disconnect()
            _move(list(pool._get_free_connections()), pool.connection_kwargs, target)
            # in use: redis-py's handler updates it too, and marks it for reconnect (the
            # release may win the lock first and make it the warmest idle connection)
            _move([held], {}, target)
            held.mark_for_reconnect()
            pool.set_in_maintenance(False)
        worker.join(10)
        releaser.join(10)
        assert results == {"set": True, "release": None}
        assert redis.Redis.from_url(target.url).get("moved") == b"1"
        assert redis.Redis.from_url(redis_url).get("moved") is None
        stats = pool.stats()
        assert stats.in_use == 0 and balanced(stats) and pool._slots.waiters == 0
        assert r.ping()  # and without maintenance, no lock: the slot array is bare again
        assert type(pool._slots).__name__ == "SlotArray"


@pytest.mark.usefixtures("slot_twin")
def test_release_in_maintenance_sees_the_handlers_mark(redis_url: str) -> None:
    """A release that waits for the handler decides whether to reconnect after it: the
    handler marks in-use connections for reconnect (they point at the moved node), so
    the connection is disconnected, not made idle with its socket to the old node."""
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=2)
    pool._lock = WatchedLock()  # type: ignore[assignment]
    held = pool.get_connection()
    results: dict[str, Any] = {}
    with pool._lock:
        pool.set_in_maintenance(True)
        releaser = _run(lambda: pool.release(held), results, "release")
        wait_until(lambda: pool._lock.waited or "release" in results, "the release starts")
        assert "release" not in results, "the release did not wait for the handler"
        held.mark_for_reconnect()
        pool.set_in_maintenance(False)
    releaser.join(10)
    assert results == {"release": None}
    assert held._sock is None  # disconnected on release, as redis-py's pool does
    stats = pool.stats()
    assert (stats.in_use, stats.idle + stats.idle_closed) == (0, 1) and balanced(stats)
    pool.disconnect()


def test_asyncio_moving_serialises_checkout_and_release(redis_url: str) -> None:
    """The asyncio blocking pool: checkouts and releases wait for the handler's lock."""
    redis.Redis.from_url(redis_url).delete("amoved")

    async def scenario(target: RedisServer) -> None:
        pool = redispool.asyncio.BlockingConnectionPool.from_url(redis_url, max_connections=3)
        r = redis.asyncio.Redis(connection_pool=pool)
        held = await pool.get_connection()
        await r.ping()  # an idle connection to the old node
        lock: asyncio.Lock = pool._lock

        def waiting() -> int:
            return len(lock._waiters or ())  # type: ignore[attr-defined]

        async with lock:
            pool.set_in_maintenance(True)
            command = asyncio.create_task(r.set("amoved", "1"))
            release = asyncio.create_task(pool.release(held))
            for _ in range(1000):
                if waiting() == 2 or command.done() or release.done():
                    break
                await asyncio.sleep(0)
            assert not command.done() and not release.done(), "did not wait for the handler"
            free = list(pool._get_free_connections())
            for conn in free:
                await conn.disconnect()
            _move(free, pool.connection_kwargs, target)
            pool.set_in_maintenance(False)
        assert await command is True
        await release
        stats = pool.stats()
        assert stats.in_use == 0 and balanced(stats)
        await pool.aclose()

    with RedisServer() as target:
        asyncio.run(scenario(target))
        assert redis.Redis.from_url(target.url).get("amoved") == b"1"
    assert redis.Redis.from_url(redis_url).get("amoved") is None


def test_asyncio_release_cancelled_in_maintenance_keeps_the_slot(redis_url: str) -> None:
    """A release cancelled while it waits for the handler still gives the slot back."""

    async def scenario() -> None:
        pool = redispool.asyncio.BlockingConnectionPool.from_url(redis_url, max_connections=1)
        held = await pool.get_connection()
        async with pool._lock:
            pool.set_in_maintenance(True)
            release = asyncio.create_task(pool.release(held))
            await asyncio.sleep(0)
            release.cancel()
            with pytest.raises(asyncio.CancelledError):
                await release
            pool.set_in_maintenance(False)
        assert pool.stats().in_use == 0
        conn = await pool.get_connection()
        assert conn is held
        await pool.release(conn)
        await pool.aclose()

    asyncio.run(scenario())
