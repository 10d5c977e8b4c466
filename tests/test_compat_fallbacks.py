"""What redispool does where a private name of redis-py or asyncio is missing: each
fallback in ``redispool._compat.NAMES``, with the name taken away deterministically (a
capability flag resolved without it, a class built without it) and the fallback path
run against a real redis-server. Also the read watchdog's bounded fallback for a read
past its deadline that is not waiting on the socket, driven step by step."""

from __future__ import annotations

import asyncio
import sys
from time import monotonic
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
import redis.asyncio.connection
import redis.observability.recorder
from helpers import balanced
from redis.connection import CacheProxyConnection
from redis.event import (
    AfterConnectionReleasedEvent,
    AsyncAfterConnectionReleasedEvent,
    EventDispatcher,
)

import redispool
import redispool.asyncio
from redispool import _compat, patch
from redispool._slots_py import OPAQUE_SOCKET
from redispool.asyncio import fast_io
from redispool.asyncio.fast_io import ConnectionIO

NO_RETRY = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)


def without(*names: str) -> dict[str, bool]:
    """The capability flags of a redis-py (and asyncio) that lacks these entries' names."""
    keys = {e.key for e in _compat.NAMES if e.name in names}
    assert keys, names
    return _compat.flags(_compat.resolve(lambda e: e.key not in keys))


# ---- asyncio: redis-py's own write, read and read timeout --------------------------------


@pytest.mark.parametrize(
    "name", ["_read_response_from_parser", "_host_error", "_reschedule_active_read_timeout"]
)
async def test_without_a_connection_name_redis_pys_read_path_runs(
    redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = without(name)
    assert flags["FAST_IO"] is False and flags["STREAM_PEEK"] is True
    monkeypatch.setattr(_compat, "FAST_IO", flags["FAST_IO"])
    timed: list[bool] = []
    original = redis.asyncio.connection.AbstractConnection._read_response_from_parser

    async def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        timed.append(getattr(self, "_active_read_timeout", None) is not None)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(
        redis.asyncio.connection.AbstractConnection, "_read_response_from_parser", spy
    )
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, socket_timeout=0.1)
    r = aredis.Redis(connection_pool=pool, retry=NO_RETRY)
    await r.set("compat:io", "x")
    assert await r.get("compat:io") == b"x"
    conn = pool._available_connections[0]
    assert not {"read_response", "send_packed_command"} & vars(conn).keys()
    assert timed and all(timed)  # redis-py's read_response, inside its timeout context
    with pytest.raises(redis.TimeoutError, match="Timeout reading from"):
        await r.blpop(["compat:nothing"], timeout=1)
    assert not conn.is_connected and pool.stats().in_use == 0
    await pool.disconnect()


async def test_without_the_streams_waiter_redis_pys_read_path_runs(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    class NoWaiter(asyncio.StreamReader):  # asyncio keeps its waiter under another name
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.pending = self.__dict__.pop("_waiter")

        def _wakeup_waiter(self) -> None:
            pass

    works = _compat.stream_names(NoWaiter)
    missing = {f"asyncio.StreamReader.{n}" for n in ("_waiter", "_buffer", "_eof")}
    flags = _compat.flags({key for key in missing if key.rsplit(".", 1)[1] not in works})
    assert flags["FAST_IO"] is False
    monkeypatch.setattr(_compat, "FAST_IO", flags["FAST_IO"])
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, socket_timeout=0.1)
    r = aredis.Redis(connection_pool=pool, retry=NO_RETRY)
    with pytest.raises(redis.TimeoutError, match="Timeout reading from"):
        await r.blpop(["compat:nothing"], timeout=1)
    conn = pool._available_connections[0]
    assert "read_response" not in vars(conn) and not conn.is_connected
    assert await r.ping() is True
    await pool.disconnect()


# ---- asyncio: no peek at the stream ------------------------------------------------------


async def test_without_the_streams_buffer_every_checkout_checks(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = without("_eof")
    assert flags["STREAM_PEEK"] is False and flags["FAST_IO"] is True
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, protocol=2)
    checks = 0
    ensure = pool.ensure_connection

    async def counted(connection: Any) -> None:
        nonlocal checks
        checks += 1
        await ensure(connection)

    monkeypatch.setattr(pool, "ensure_connection", counted)
    for _ in range(3):
        await pool.release(await pool.get_connection())
    assert checks == 1  # the peek trusts the idle stream
    monkeypatch.setattr(_compat, "STREAM_PEEK", flags["STREAM_PEEK"])
    for _ in range(3):
        await pool.release(await pool.get_connection())
    assert checks == 4  # the slow path, every time
    r = aredis.Redis(connection_pool=pool)
    await r.set("compat:stray", "mine")
    conn = pool._available_connections[0]
    conn._reader.feed_data(b"$5\r\nstray\r\n")  # a reply nobody asked for, read by the loop
    assert await r.get("compat:stray") == b"mine"  # reconnected, not lent with it
    stats = pool.stats()
    assert stats.created == 1 and balanced(stats)
    await pool.disconnect()


async def test_can_read_without_the_streams_buffer(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``AsyncParser.can_read`` takes what the stream holds under a zero timeout instead
    of peeking: nothing there, a reply there (read once, kept for read_response), EOF."""
    monkeypatch.setattr(_compat, "STREAM_PEEK", False)
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url)
    conn = await pool.get_connection()
    assert await conn.can_read() is False
    await conn.send_command("PING")
    while not conn._reader._buffer:  # the reply has reached the stream
        await asyncio.sleep(0.001)
    assert await conn.can_read() is True
    assert not conn._reader._buffer  # taken into the Reader ...
    assert await conn.can_read() is True
    assert await conn.read_response() == b"PONG"  # ... and read from there
    assert await conn.can_read() is False
    admin = aredis.Redis.from_url(redis_url)
    await conn.send_command("CLIENT", "ID")
    await admin.client_kill_filter(_id=await conn.read_response())
    while not conn._reader.at_eof():
        await asyncio.sleep(0.001)
    with pytest.raises(redis.ConnectionError):
        await conn.can_read()
    await admin.aclose()
    await pool.release(conn)
    await pool.disconnect()


# ---- release: redis-py's release event every time ------------------------------------------


class RenamedDispatcher(EventDispatcher):
    """redis-py's dispatcher, keeping its listeners under another name."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners = self.__dict__.pop("_event_listeners_mapping")
        self.dispatched: list[Any] = []

    def register_listeners(self, mappings: Any) -> None:
        for event_type, listeners in mappings.items():
            self.listeners.setdefault(event_type, []).extend(listeners)

    def dispatch(self, event: object) -> None:
        self.dispatched.append(event)
        for listener in self.listeners.get(type(event), []):
            listener.listen(event)

    async def dispatch_async(self, event: object) -> None:
        self.dispatched.append(event)
        for listener in self.listeners.get(type(event), []):
            await listener.listen(event)


def test_release_without_the_listener_mapping_dispatches(redis_url: str) -> None:
    dispatcher = RenamedDispatcher()
    pool = redispool.ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    for _ in range(3):
        pool.release(pool.get_connection())
    assert [type(e) for e in dispatcher.dispatched] == [AfterConnectionReleasedEvent] * 3
    assert redis.Redis(connection_pool=pool).ping() is True
    pool.disconnect()


async def test_asyncio_release_without_the_listener_mapping_dispatches(redis_url: str) -> None:
    dispatcher = RenamedDispatcher()
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    for _ in range(3):
        await pool.release(await pool.get_connection())
    assert [type(e) for e in dispatcher.dispatched] == [AsyncAfterConnectionReleasedEvent] * 3
    await pool.disconnect()


@pytest.mark.parametrize("name", ["_re_auth_token", "_event_listeners_mapping"])
def test_release_without_the_shortcut_dispatches(
    redis_url: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = without(name)
    assert flags["RELEASE_SHORTCUT"] is False

    def releases(count: int) -> list[Any]:
        dispatcher = EventDispatcher()  # redis-py's, with only its re-auth listener
        dispatched: list[Any] = []
        monkeypatch.setattr(dispatcher, "dispatch", dispatched.append)
        pool = redispool.ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
        for _ in range(count):
            pool.release(pool.get_connection())
        pool.disconnect()
        return [type(event) for event in dispatched]

    assert releases(3) == []  # the shortcut: only a look at the token
    monkeypatch.setattr(_compat, "RELEASE_SHORTCUT", flags["RELEASE_SHORTCUT"])
    assert releases(3) == [AfterConnectionReleasedEvent] * 3


# ---- metrics: redis-py's recorder every time ---------------------------------------------


def test_without_the_metrics_collector_the_recorder_is_called(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorder = redis.observability.recorder
    monkeypatch.delattr(recorder, "_metrics_collector")
    _compat.plant_collectors()
    assert recorder._metrics_collector is _compat.UNKNOWN_COLLECTOR
    counts: list[Any] = []
    monkeypatch.setattr(recorder, "record_connection_count", lambda **kw: counts.append(kw))
    monkeypatch.setattr(recorder, "record_connection_create_time", lambda **kw: None)
    pool = redispool.ConnectionPool.from_url(redis_url)
    for _ in range(2):
        conn = pool.get_connection()
        conn.send_command("PING")
        assert conn.read_response() == b"PONG"
        pool.release(conn)
    used = [c["counter"] for c in counts if c["connection_state"].name == "USED"]
    assert used == [1, -1, 1, -1]  # each checkout and each release, as redis-py records
    pool.disconnect()


# ---- the others ----------------------------------------------------------------------------


async def test_close_now_without_redis_pys_close(redis_url: str) -> None:
    """A dirty connection is closed without ``_close``: its writer, then both streams."""

    class NoClose(aredis.Connection):
        _close = None  # type: ignore[assignment]

    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, connection_class=NoClose)
    conn = await pool.get_connection()
    writer = conn._writer
    await conn.send_command("PING")  # its reply never read: the connection is dirty
    await pool.release(conn)
    assert conn._writer is None and conn._reader is None and writer.is_closing()
    assert pool.stats().dirty_closed == 1
    r = aredis.Redis(connection_pool=pool)
    assert await r.ping() is True
    await pool.disconnect()


def test_install_without_the_packer_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    flags = without("_construct_command_packer")
    assert flags["PACKER_HOOK"] is False
    monkeypatch.setattr(_compat, "PACKER_HOOK", flags["PACKER_HOOK"])
    hook = redis.connection.AbstractConnection._construct_command_packer
    patch.install()
    try:
        assert redis.connection.AbstractConnection._construct_command_packer is hook
        assert redis.ConnectionPool is redispool.ConnectionPool
    finally:
        patch.uninstall()
    assert redis.ConnectionPool is redis.connection.ConnectionPool is not redispool.ConnectionPool


def test_cache_proxy_without_its_connection() -> None:
    proxy = object.__new__(CacheProxyConnection)  # no ``_conn``
    assert _compat.sync_ledger(proxy) is None
    assert _compat.sync_fd(proxy) == OPAQUE_SOCKET


# ---- the read watchdog past its deadline -----------------------------------------------------


async def stuck_in_a_push_handler(redis_url: str) -> tuple[Any, Any, ConnectionIO, Any]:
    """A connection whose read is past its deadline and not waiting on the socket: its
    push handler (a client-side caching invalidation) awaits something that never
    comes. The watchdog's real timer is cancelled; tests call ``_expire`` themselves."""
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, protocol=3, socket_timeout=30)
    conn = await pool.get_connection()
    io = conn.read_response.__self__
    assert isinstance(io, ConnectionIO)
    entered, never = asyncio.Event(), asyncio.Event()

    async def handler(message: Any) -> None:
        entered.set()
        await never.wait()

    conn._parser.set_invalidation_push_handler(handler)
    for command in (("CLIENT", "TRACKING", "ON"), ("GET", "compat:tracked")):
        await conn.send_command(*command)
        await conn.read_response()
    other = aredis.Redis.from_url(redis_url)
    await other.set("compat:tracked", "changed")  # the server pushes an invalidation
    await other.aclose()
    await conn.send_command("PING")
    task = asyncio.create_task(conn.read_response())
    await entered.wait()
    assert conn._reader._waiter is None  # busy in the handler, not on the socket
    io._timer.cancel()
    io._timer = None
    io._deadline = monotonic() - 1.0  # the critical point: past the deadline
    return pool, conn, io, task


async def test_watchdog_fails_a_read_busy_elsewhere_after_bounded_looks(redis_url: str) -> None:
    pool, conn, io, task = await stuck_in_a_push_handler(redis_url)
    for look in range(1, fast_io.LATE_LOOKS + 1):
        io._expire()
        assert io._late == look and io._timer is not None  # looks again, a bounded number
        io._timer.cancel()
        io._timer = None
        await asyncio.sleep(0)
        assert not task.done()
    io._expire()  # the last look: cancelled, as redis-py's timeout context would
    assert io._timer is None and io._late == 0
    with pytest.raises(redis.TimeoutError, match="Timeout reading from"):
        await task
    if sys.version_info >= (3, 11):
        assert task.cancelling() == 0  # the watchdog's cancellation was withdrawn
    assert not conn.is_connected
    await pool.release(conn)
    assert await aredis.Redis(connection_pool=pool).ping() is True
    await pool.disconnect()


async def test_watchdog_cancellation_is_not_taken_for_another(redis_url: str) -> None:
    """A task cancelled from elsewhere is not turned into a timeout, also when the
    watchdog cancels it at the same time (Python 3.11+ can tell)."""
    pool, conn, _, task = await stuck_in_a_push_handler(redis_url)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not conn.is_connected
    await pool.release(conn)
    if sys.version_info >= (3, 11):
        pool2, conn2, io2, task2 = await stuck_in_a_push_handler(redis_url)
        io2._late = fast_io.LATE_LOOKS
        io2._expire()
        task2.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task2
        await pool2.release(conn2)
        await pool2.disconnect()
    await pool.disconnect()


async def test_watchdog_fails_a_read_waiting_on_the_socket(redis_url: str) -> None:
    pool = redispool.asyncio.ConnectionPool.from_url(redis_url, socket_timeout=30)
    conn = await pool.get_connection()
    io = conn.read_response.__self__
    await conn.send_command("BLPOP", "compat:nothing", 0)
    task = asyncio.create_task(conn.read_response())
    while conn._reader._waiter is None:
        await asyncio.sleep(0)
    io._timer.cancel()
    io._timer = None
    io._deadline = monotonic() - 1.0
    io._expire()
    assert io._late == 0 and io._timer is None
    with pytest.raises(redis.TimeoutError, match="Timeout reading from"):
        await task
    assert not conn.is_connected
    await pool.release(conn)
    await pool.disconnect()
