"""redispool.asyncio against a real redis-server, with each SlotArray twin (``slot_twin``)
and each Reader twin under ``AsyncParser``."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from unittest.mock import patch

import pytest
import redis
import redis.asyncio as aredis
from helpers import balanced
from redis._parsers import _AsyncRESP3Parser
from redis.asyncio.lock import Lock

from redispool import _compat
from redispool.asyncio import AsyncParser, BlockingConnectionPool, ConnectionPool
from redispool.asyncio.fast_io import ConnectionIO

pytestmark = pytest.mark.usefixtures("slot_twin")

POOLS = [ConnectionPool, BlockingConnectionPool]


@pytest.fixture(autouse=True)
def reader_twin(reader_mod: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(AsyncParser, "reader_class", reader_mod.Reader)
    yield


@pytest.fixture(params=POOLS, ids=lambda c: c.__name__)
def pool_class(request: pytest.FixtureRequest) -> type[ConnectionPool]:
    return request.param  # type: ignore[no-any-return]


def test_names_and_bases() -> None:
    assert ConnectionPool.__name__ == "ConnectionPool"
    assert issubclass(ConnectionPool, aredis.ConnectionPool)
    assert issubclass(BlockingConnectionPool, ConnectionPool)
    assert issubclass(AsyncParser, _AsyncRESP3Parser)


async def test_commands(redis_url: str, pool_class: type, protocol: int) -> None:
    pool = pool_class.from_url(redis_url, protocol=protocol)
    async with aredis.Redis(connection_pool=pool) as r:
        await r.set("apool:k", "v")
        assert await r.get("apool:k") == b"v"
        await r.hset("apool:h", mapping={"a": "1"})
        assert await r.hgetall("apool:h") == {b"a": b"1"}
        assert await r.get("apool:missing") is None
        conn = await pool.get_connection()
        assert isinstance(conn._parser, AsyncParser)
        assert conn._rp_packer is not None  # commands were packed by redispool's Packer
        await pool.release(conn)
        async with r.pipeline(transaction=True) as pipe:
            pipe.set("apool:t", 1).incr("apool:t").get("apool:t")
            assert await pipe.execute() == [True, 2, b"2"]
        lock = Lock(r, "apool:lock", timeout=5)
        assert await lock.acquire(blocking=False)
        await lock.release()
        stats = pool.stats()
        assert stats.in_use == 0 and balanced(stats)
    await pool.disconnect()


async def test_decode_responses_and_pubsub(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol, decode_responses=True)
    r = aredis.Redis(connection_pool=pool)
    pubsub = r.pubsub()
    await pubsub.subscribe("apool:ch")
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
    await r.publish("apool:ch", "ü")
    message = None
    while message is None:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
    assert message["data"] == "ü"
    await pubsub.aclose()
    assert await r.echo("x") == "x"
    await pool.disconnect()


async def test_errors(redis_url: str) -> None:
    r = aredis.Redis(connection_pool=ConnectionPool.from_url(redis_url))
    await r.set("apool:str", "x")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        await r.lpush("apool:str", 1)
    with pytest.raises(redis.ResponseError):
        await r.execute_command("NOSUCHCOMMAND")
    assert await r.get("apool:str") == b"x"
    assert r.connection_pool.stats().dirty_closed == 0


async def test_max_connections_error(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, max_connections=1)
    await pool.get_connection()
    with pytest.raises(redis.MaxConnectionsError, match="Too many connections"):
        await pool.get_connection()
    await pool.disconnect()


async def test_blocking_timeout(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=0.05)
    await pool.get_connection()
    with pytest.raises(redis.ConnectionError, match=r"No connection available\.") as info:
        await pool.get_connection()
    assert not isinstance(info.value, redis.MaxConnectionsError)
    stats = pool.stats()
    assert (stats.waits, stats.timeouts) == (1, 1)
    await pool.disconnect()


async def test_waiters_are_served_in_order(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=None)
    held = await pool.get_connection()
    served: list[int] = []

    async def wait(i: int) -> None:
        conn = await pool.get_connection()
        served.append(i)
        await asyncio.sleep(0)
        await pool.release(conn)

    tasks = [asyncio.create_task(wait(i)) for i in range(5)]
    while pool.stats().waits < 5:
        await asyncio.sleep(0)
    newcomer = asyncio.create_task(wait(99))  # arrives after the waiters: served last
    await asyncio.sleep(0)
    await pool.release(held)
    await asyncio.gather(*tasks, newcomer)
    assert served == [0, 1, 2, 3, 4, 99]
    await pool.disconnect()


async def test_a_freed_slot_is_reserved_for_the_longest_waiter(redis_url: str) -> None:
    """A freed slot is handed to the first waiter reserved, not left for anyone to take; a
    waiter that accepted it and is cancelled before using it passes it on."""
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, timeout=None)
    held = await pool.get_connection()
    first = asyncio.create_task(pool.get_connection())
    second = asyncio.create_task(pool.get_connection())
    while pool.stats().waits < 2:
        await asyncio.sleep(0)
    assert pool._slots.remove(held)  # freed, as a failed or surplus connection's slot is
    await held.disconnect()
    pool._wake()
    assert not pool.can_get_connection()  # reserved: a newcomer cannot take it first
    first.cancel()  # accepted the slot, gives up before making its connection
    conn = await second
    with pytest.raises(asyncio.CancelledError):
        await first
    assert conn is not held and conn.is_connected
    await pool.release(conn)
    stats = pool.stats()
    assert (stats.in_use, stats.idle, stats.waits) == (0, 1, 2) and balanced(stats)
    await pool.disconnect()


async def test_burst(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=10, timeout=None)
    r = aredis.Redis(connection_pool=pool)

    async def one(i: int) -> bytes | None:
        await r.set(f"apool:b{i}", i)
        return await r.get(f"apool:b{i}")  # type: ignore[no-any-return]

    results = await asyncio.gather(*(one(i) for i in range(200)))
    assert results == [str(i).encode() for i in range(200)]
    stats = pool.stats()
    assert stats.created <= 10 and stats.waits > 0 and stats.timeouts == 0
    assert stats.in_use == 0 and balanced(stats)
    await pool.disconnect()


async def test_connects_outside_any_critical_section(redis_url: str) -> None:
    connecting = 0
    most = 0

    class SlowConnect(aredis.Connection):
        async def connect(self) -> None:
            nonlocal connecting, most
            if not self.is_connected:
                connecting += 1
                most = max(most, connecting)
                await asyncio.sleep(0.01)
                connecting -= 1
            await super().connect()

    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=8, connection_class=SlowConnect
    )
    conns = await asyncio.gather(*(pool.get_connection() for _ in range(8)))
    assert most == 8 and len(set(conns)) == 8 and pool.stats().created == 8
    for conn in conns:
        await pool.release(conn)
    await pool.disconnect()


# ---- replies never leak, whatever is cancelled where ------------------------------------


@pytest.mark.parametrize("delay", [0.0, 0.05])
async def test_sent_but_unread_is_not_reused(
    redis_url: str, pool_class: type, protocol: int, delay: float
) -> None:
    pool = pool_class.from_url(redis_url, protocol=protocol)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:leak", "mine")
    conn = await pool.get_connection()
    await conn.send_command("PING")
    await pool.release(conn)
    await asyncio.sleep(delay)
    assert await r.get("apool:leak") == b"mine"
    assert pool.stats().dirty_closed == 1
    await pool.disconnect()


async def test_read_timeout_returning_none_is_not_reused(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:leak2", "mine")
    conn = await pool.get_connection()
    await conn.send_command("BLPOP", "apool:nothing", 0.2)
    assert await conn.read_response(timeout=0.01) is None  # timed out, reply still due
    await pool.release(conn)
    await asyncio.sleep(0.3)
    assert await r.get("apool:leak2") == b"mine"
    await pool.disconnect()


async def test_cancelled_mid_command_is_not_reused(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:leak3", "mine")
    task = asyncio.create_task(r.blpop(["apool:nothing"], timeout=0.2))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)
    assert await r.get("apool:leak3") == b"mine"
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats)
    await pool.disconnect()


async def test_cancellation_storm(redis_url: str, protocol: int) -> None:
    pool = BlockingConnectionPool.from_url(
        redis_url, protocol=protocol, max_connections=8, timeout=None
    )
    r = aredis.Redis(connection_pool=pool)
    keys = 50
    async with r.pipeline(transaction=False) as pipe:
        for i in range(keys):
            pipe.set(f"apool:s{i}", f"value{i}")
        await pipe.execute()
    rng = random.Random(1234)
    wrong: list[Any] = []
    completed = 0

    async def get(i: int) -> None:
        nonlocal completed
        value = await r.get(f"apool:s{i}")
        if value != f"value{i}".encode():
            wrong.append((i, value))
        completed += 1

    for _ in range(20):
        tasks = [asyncio.create_task(get(rng.randrange(keys))) for _ in range(150)]
        for _ in range(rng.randrange(1, 4)):
            await asyncio.sleep(rng.choice([0, 0, 0.0005, 0.001]))
            for task in rng.sample(tasks, 40):
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert wrong == []
    assert completed > 0
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats) and stats.created <= 8
    assert len(pool._available_connections) == stats.idle
    assert await r.get("apool:s0") == b"value0"
    await pool.disconnect()


async def test_timeouts_around_commands(redis_url: str) -> None:
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=2, timeout=None)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:w", "w")
    for _ in range(30):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(r.blpop(["apool:nothing"], timeout=0.5), 0.002)
        assert await r.get("apool:w") == b"w"
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats)
    await pool.disconnect()


async def test_socket_timeout_fails_the_read(redis_url: str, protocol: int) -> None:
    pool = ConnectionPool.from_url(redis_url, protocol=protocol, socket_timeout=0.1)
    no_retry = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
    r = aredis.Redis(connection_pool=pool, retry=no_retry)
    await r.set("apool:st", "x")
    with pytest.raises(redis.TimeoutError, match="Timeout reading from"):
        await r.blpop(["apool:nothing"], timeout=1)
    conn = pool._available_connections[0]
    assert not conn.is_connected and conn._rp_packer.owed == 0
    assert isinstance(conn.read_response.__self__, ConnectionIO)  # the watchdog's path
    for _ in range(3):  # the watchdog does not fire on later, quick reads
        assert await r.get("apool:st") == b"x"
        await asyncio.sleep(0.06)
    await pool.disconnect()


async def test_relaxed_timeout_applies_to_the_read_in_flight(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, socket_timeout=0.1)
    conn = await pool.get_connection()
    await conn.send_command("BLPOP", "apool:nothing", 0.3)
    read = asyncio.create_task(conn.read_response())
    await asyncio.sleep(0.02)
    conn.update_current_socket_timeout(2.0)  # what a MOVING notice does
    assert await read is None  # BLPOP's own timeout, not the socket's
    await pool.release(conn)
    assert conn.is_connected and pool.stats().dirty_closed == 0
    await pool.disconnect()


# ---- the same knobs and helpers as the sync pool -----------------------------------------------


async def test_knobs(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url, idle_timeout=0.02)
    r = aredis.Redis(connection_pool=pool)
    first = await r.client_id()
    await asyncio.sleep(0.05)
    assert await r.client_id() != first
    assert pool.stats().stale_closed == 1
    pool = ConnectionPool.from_url(redis_url, max_idle=1)
    a, b = await pool.get_connection(), await pool.get_connection()
    await pool.release(a)
    await pool.release(b)
    assert not b.is_connected and pool._available_connections == [a]
    pool = ConnectionPool.from_url(redis_url, min_idle=3)
    conn = await pool.get_connection()
    stats = pool.stats()
    assert (stats.idle, stats.in_use, stats.created) == (2, 1, 3)
    await pool.release(conn)
    pool = ConnectionPool.from_url(redis_url, fifo=True)
    a, b = await pool.get_connection(), await pool.get_connection()
    await pool.release(a)
    await pool.release(b)
    assert await pool.get_connection() is a
    with pytest.raises(ValueError, match="health_check_after"):
        ConnectionPool(health_check_after=-1)


async def test_killed_connection_is_reconnected(redis_url: str, pool_class: type) -> None:
    pool = pool_class.from_url(redis_url, health_check_after=0)
    no_retry = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
    r = aredis.Redis(connection_pool=pool, retry=no_retry)
    first = await r.client_id()
    redis.Redis.from_url(redis_url).client_kill_filter(_id=first)
    await asyncio.sleep(0.05)
    assert await r.client_id() != first
    await pool.disconnect()


async def test_unix_socket_and_helpers(redis_server: Any, pool_class: type) -> None:
    pool = pool_class.from_url(f"unix://{redis_server.unix_path}", decode_responses=True)
    r = aredis.Redis(connection_pool=pool)
    assert await r.ping() is True
    assert pool.get_encoder().decode_responses is True
    conn = await pool.get_connection()
    assert isinstance(conn, aredis.UnixDomainSocketConnection)
    retry = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 1)
    pool.set_retry(retry)
    assert conn.retry is retry
    assert pool._get_in_use_connections() == {conn}
    await pool.disconnect(inuse_connections=False)
    assert conn.is_connected
    await pool.disconnect()
    assert not conn.is_connected
    await pool.release(conn)
    async with pool as entered:
        assert entered is pool
        conn = await pool.get_connection()
        assert conn.is_connected
    assert not conn.is_connected


async def test_release_event_and_deprecation(redis_url: str) -> None:
    from redis.event import AsyncAfterConnectionReleasedEvent, EventDispatcher

    events: list[Any] = []

    class Listener:
        async def listen(self, event: Any) -> None:
            events.append(event.connection)

    dispatcher = EventDispatcher()
    dispatcher.register_listeners({AsyncAfterConnectionReleasedEvent: [Listener()]})
    pool = ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    with pytest.warns(DeprecationWarning):
        conn = await pool.get_connection("GET")
    await pool.release(conn)
    await pool.release(conn)  # already back: ignored
    assert events == [conn]
    await pool.disconnect()


async def test_release_reauthenticates_then_sees_new_listeners(redis_url: str) -> None:
    from redis.auth.token import SimpleToken
    from redis.event import AsyncAfterConnectionReleasedEvent, EventDispatcher

    admin = aredis.Redis.from_url(redis_url)
    await admin.acl_setuser(
        "rp-areauth", enabled=True, passwords=["+s3cret"], categories=["+@all"], keys=["*"]
    )
    events: list[Any] = []

    class Listener:
        async def listen(self, event: Any) -> None:
            events.append(event.connection)

    dispatcher = EventDispatcher()  # redis-py's default: only the re-auth listener
    pool = ConnectionPool.from_url(redis_url, event_dispatcher=dispatcher)
    try:
        await pool.release(await pool.get_connection())  # the listener list is known quiet
        conn = await pool.get_connection()
        conn.set_re_auth_token(SimpleToken("s3cret", -1, -1, {"oid": "rp-areauth"}))
        await pool.release(conn)  # re-authenticates, as redis-py's listener would
        assert await pool.get_connection() is conn
        await conn.send_command("ACL", "WHOAMI")
        assert await conn.read_response() == b"rp-areauth"
        dispatcher.register_listeners({AsyncAfterConnectionReleasedEvent: [Listener()]})
        await pool.release(conn)  # the new listener is not skipped
        assert events == [conn]
    finally:
        await pool.disconnect()
        await admin.acl_deluser("rp-areauth")
        await admin.aclose()


async def test_bytes_the_loop_read_while_idle_are_not_lent(redis_url: str) -> None:
    """Data the event loop already read into an idle connection's stream (a reply nobody
    asked for) is invisible to a socket peek: such a connection is reconnected, as
    redis-py's check at checkout does, never handed out to read it as its own reply. (RESP2:
    under RESP3 redis-py lets pending bytes through as push notifications.)"""
    pool = ConnectionPool.from_url(redis_url, protocol=2)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:stray", "mine")
    conn = await pool.get_connection()
    await pool.release(conn)
    conn._reader.feed_data(b"$5\r\nstray\r\n")  # as if the loop had read it
    assert await r.get("apool:stray") == b"mine"
    stats = pool.stats()
    assert stats.created == 1 and balanced(stats)
    await pool.disconnect()


class SetUpOnConnect(aredis.Connection):
    """Like the DummyConnection of redis-py's pool tests, its ``__init__`` skips redis-py's
    (no ``encoder`` yet); this one sets itself up when it connects."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    async def connect(self) -> None:
        if not hasattr(self, "encoder"):
            super().__init__(**self.kwargs)
        await super().connect()


async def test_connection_class_that_skips_redis_py_init(redis_url: str, pool_class: type) -> None:
    """Found by redis-py's pool tests: the pool gave every connection a ``Packer`` made
    from its ``encoder`` and failed (AttributeError) on a class that has none yet. Such a
    connection packs with its class's own ``pack_command``, as under redis-py's pool."""
    pool = pool_class.from_url(redis_url, connection_class=SetUpOnConnect, client_name="lazy")
    conn = await pool.get_connection()
    assert type(conn) is SetUpOnConnect and conn.kwargs["client_name"] == "lazy"
    assert not hasattr(conn, "_rp_packer")
    await pool.release(conn)
    r = aredis.Redis(connection_pool=pool)
    await r.set("apool:lazy", "v")
    assert await r.get("apool:lazy") == b"v"
    assert balanced(pool.stats())
    await pool.disconnect()


async def test_a_replaced_redis_py_read_response_is_called(redis_url: str, protocol: int) -> None:
    """redis-py's pubsub test replaces ``read_response`` on its parser classes (the one a
    connection reads with unless given ours: ``DefaultParser``, hiredis's when installed)
    to raise a BaseException: the read raises it and the connection stays connected."""
    stands_for = _compat.stand_in_parser(True, protocol)[0]
    pool = ConnectionPool.from_url(redis_url, protocol=protocol)
    r = aredis.Redis(connection_pool=pool)
    pubsub = r.pubsub()
    await pubsub.subscribe("apool:replaced")
    assert await pubsub.get_message(timeout=5) is not None  # the confirmation
    with (
        patch.object(stands_for, "read_response", side_effect=BaseException("boom")),
        pytest.raises(BaseException, match="boom"),
    ):
        await asyncio.wait_for(pubsub.parse_response(block=True), 5)
    assert pubsub.connection is not None and pubsub.connection.is_connected
    await pubsub.aclose()
    assert await r.ping()
    await pool.disconnect()


# ---- pools across event loops ---------------------------------------------------------------


def test_pool_survives_a_new_event_loop(redis_url: str) -> None:
    pool = ConnectionPool.from_url(redis_url)
    r = aredis.Redis(connection_pool=pool)

    async def work() -> bytes | None:
        await r.set("apool:loop", "x")
        return await r.get("apool:loop")  # type: ignore[no-any-return]

    assert asyncio.run(work()) == b"x"
    assert asyncio.run(work()) == b"x"  # the first loop's connection is left behind
    stats = pool.stats()
    assert stats.created == 2 and stats.closed == 1 and balanced(stats)


async def test_max_lifetime_applies_to_handed_over_connections(redis_url: str) -> None:
    """Found in review: a connection handed straight to a waiter skipped its age check."""
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=1, max_lifetime=0.05)
    r = aredis.Redis(connection_pool=pool)
    first = await r.client_id()
    held = await pool.get_connection()
    waiter = asyncio.create_task(r.client_id())
    while pool.stats().waits == 0:
        await asyncio.sleep(0)
    await asyncio.sleep(0.1)
    await pool.release(held)  # handed to the waiting task, past its lifetime
    assert await waiter != first
    assert pool.stats().stale_closed >= 1
    await pool.disconnect()
