"""``redispool.asyncio.Redis(auto_pipeline=True)``: concurrent tasks' commands share one
connection, against a real redis-server (issue 14).

What sharing must not change: every caller gets its own reply or its own error, whatever
else is cancelled, fails or blocks meanwhile; exclusive commands (blocking, transactions,
pub/sub) run beside the shared connection; a timeout or an outage fails what was in
flight with redis-py's exceptions and leaves the client working; connections go back to
the pool clean, their transports handed back to redis-py's stream protocol, and a dropped
client frees them. Most tests also run with auto-pipelining off (``auto``), where each
command has a lane of its own; every test runs on each twin (``acommand_twin``).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import weakref
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from helpers import assert_connections_clean
from redis.asyncio.retry import Retry
from redis.backoff import ConstantBackoff, NoBackoff
from redis.exceptions import ConnectionError, DataError, TimeoutError, WatchError

import redispool.asyncio
from redispool.asyncio.client import Redis
from redispool.server import RedisServer

pytestmark = pytest.mark.usefixtures("acommand_twin")


@pytest.fixture(params=[True, False], ids=["auto", "lanes"])
def auto(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def make(redis_url: str, auto: bool) -> AsyncIterator[Callable[..., Any]]:
    """``make(**kwargs)``: a ``redispool.asyncio.Redis`` on the session's server (with
    ``auto_pipeline=auto`` unless given; ``max_connections``: on a BlockingConnectionPool
    of that size), closed at teardown; the database is flushed first."""
    with redis.Redis.from_url(redis_url) as admin:
        admin.flushdb()
    made: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("auto_pipeline", auto)
        size = kwargs.pop("max_connections", None)
        if size is None:
            client = Redis.from_url(redis_url, **kwargs)
        else:
            auto_pipeline = kwargs.pop("auto_pipeline")
            pool = redispool.asyncio.BlockingConnectionPool.from_url(
                redis_url, max_connections=size, timeout=None, **kwargs
            )
            client = Redis(connection_pool=pool, auto_pipeline=auto_pipeline)
            client.auto_close_connection_pool = True
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


async def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        await asyncio.sleep(0.005)


class SpyTransport:
    """A connection's transport, calling ``on_write(protocol)`` after each write with the
    protocol that then reads the transport (the lane's moment of no return: the command
    is on its way, its reply owed)."""

    def __init__(self, transport: Any, on_write: Callable[[Any], None]) -> None:
        self._transport = transport
        self._on_write = on_write

    def write(self, data: Any) -> None:
        self._transport.write(data)
        self._on_write(self._transport.get_protocol())

    def writelines(self, data: Any) -> None:
        self._transport.writelines(data)
        self._on_write(self._transport.get_protocol())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


async def spied(pool: Any, on_write: Callable[[Any], None]) -> Any:
    """A connection of ``pool`` (connected, put back idle: the next one lent) whose writes
    call ``on_write``."""
    conn = await pool.get_connection()
    conn._writer._transport = SpyTransport(conn._writer._transport, on_write)
    await pool.release(conn)
    return conn


# ---- sharing ---------------------------------------------------------------------------------


async def test_a_burst_shares_one_connection(make: Callable[..., Any], protocol: int) -> None:
    """Commands issued together go out together on one connection, each answered with its
    own reply; a lane reads the transport while replies are owed, then hands it back."""
    r = make(auto_pipeline=True, protocol=protocol, decode_responses=True)
    pool = r.connection_pool
    writes: list[str] = []
    conn = await spied(pool, lambda protocol: writes.append(type(protocol).__name__))
    values = {f"burst:{i}": f"v{i}" * (i % 50) for i in range(200)}
    assert await r.mset(values) is True
    writes.clear()
    replies = await asyncio.gather(*(r.get(key) for key in values))
    assert replies == list(values.values())
    assert writes == ["Lane"] or writes == ["Lane", "Lane"]  # the opener's, then the rest
    assert pool.stats().created == 1
    assert isinstance(conn._writer.transport.get_protocol(), asyncio.StreamReaderProtocol)
    await assert_connections_clean(pool)


async def test_data_error_fails_only_its_caller(make: Callable[..., Any]) -> None:
    """An argument the packer refuses fails its own command, before anything is queued."""
    r = make()
    await r.set("k", "v")
    results = await asyncio.gather(
        r.set("k", "v"), r.set("k2", {"no": "dict"}), r.get("k"), r.get({1}), r.incr("n"),
        return_exceptions=True,
    )  # fmt: skip
    assert results[0] is True and results[2] == b"v" and results[4] == 1
    assert isinstance(results[1], DataError) and isinstance(results[3], DataError)
    assert await r.get("k2") is None
    await assert_connections_clean(r.connection_pool)


@pytest.mark.parametrize(
    "auto",
    [pytest.param(True, id="auto"), pytest.param(False, id="lanes")],
)
async def test_undecodable_reply_fails_only_its_caller(make: Callable[..., Any]) -> None:
    """As with redis-py's client (where each task has a connection of its own), only the
    command whose reply does not decode raises UnicodeDecodeError."""
    r = make(decode_responses=True)
    await r.set("good", "ok")
    await r.set("bad", b"\xff")
    results = await asyncio.gather(
        r.get("good"), r.get("bad"), r.get("good"), r.get("good"), return_exceptions=True
    )
    assert results[0] == results[2] == results[3] == "ok"
    assert isinstance(results[1], UnicodeDecodeError)


# ---- cancellation ---------------------------------------------------------------------------


async def test_storm_with_cancellations(
    make: Callable[..., Any], protocol: int, auto: bool
) -> None:
    """Issue 14: a few hundred tasks at a time, each on keys of its own (replies of many
    sizes, so that they split across reads), cancelled at random points (seeded). Every
    reply a task got is its own; afterwards every connection is back and in step."""
    r = make(protocol=protocol, decode_responses=True, max_connections=64)
    rng = random.Random(14)
    wrong: list[Any] = []
    completed = cancelled = 0

    async def work(key: str, value: str) -> None:
        nonlocal completed
        if await r.set(key, value) is not True:
            wrong.append((key, "set"))
        got = await r.get(key)
        if got != value:
            wrong.append((key, got))
        pipe = await r.pipeline(False).get(key).strlen(key).execute()
        if pipe != [value, len(value)]:
            wrong.append((key, pipe))
        multi = await r.pipeline().append(key, "!").get(key).execute()
        if multi != [len(value) + 1, value + "!"]:
            wrong.append((key, multi))
        if await r.hset(f"{key}:h", mapping={"k": key}) != 1:
            wrong.append((key, "hset"))
        if await r.hgetall(f"{key}:h") != {"k": key}:
            wrong.append((key, "hgetall"))
        completed += 1

    for round_ in range(4):
        tasks = []
        for i in range(300):
            key = f"storm:{round_}:{i}"
            value = f"{key}=" + "x" * rng.choice([0, 10, 1000, 20_000])
            tasks.append(asyncio.create_task(work(key, value)))
        for _ in range(rng.randrange(2, 6)):
            await asyncio.sleep(rng.choice([0, 0, 0, 0.0005, 0.002]))
            for task in rng.sample(tasks, 25):
                task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, asyncio.CancelledError):
                cancelled += 1
            else:
                assert result is None, result
    assert wrong == []
    assert completed > 0 and cancelled > 0
    await assert_connections_clean(r.connection_pool)


@pytest.mark.parametrize("kind", ["command", "pipeline", "transaction"])
async def test_cancelled_right_after_its_write(
    make: Callable[..., Any], protocol: int, auto: bool, kind: str
) -> None:
    """A task cancelled the moment its command was written (its reply owed, never to be
    awaited): the commands after it, issued before that reply came, get their own
    replies; on a lane of its own the connection is closed, not lent again dirty."""
    r = make(protocol=protocol)
    await r.mset({"a": "A", "b": "B"})
    pool = r.connection_pool
    victim: asyncio.Task[Any] | None = None
    after: list[asyncio.Task[Any]] = []

    def on_write(protocol: Any) -> None:
        if victim is not None and not after:
            victim.cancel()
            after.append(asyncio.create_task(r.get("b")))
            after.append(asyncio.create_task(r.pipeline(False).get("b").get("a").execute()))

    conn = await spied(pool, on_write)
    if kind == "command":
        victim = asyncio.create_task(r.get("a"))
    elif kind == "pipeline":
        victim = asyncio.create_task(r.pipeline(False).get("a").get("a").execute())
    else:
        victim = asyncio.create_task(r.pipeline().get("a").get("a").execute())
    with pytest.raises(asyncio.CancelledError):
        await victim
    assert after, "the victim's command was never written"
    if not (auto and kind == "command"):  # its lane was its own: the connection is closed
        assert not conn.is_connected
    assert await after[0] == b"B"
    assert await after[1] == [b"B", b"A"]
    assert await r.get("a") == b"A"
    await assert_connections_clean(pool)


async def test_opener_cancelled_while_waiting_for_a_connection(redis_url: str) -> None:
    """The task that opens the shared lane is cancelled while it waits for the pool: the
    commands queued behind it run on connections of their own, each with its reply."""
    blocking = redispool.asyncio.BlockingConnectionPool.from_url(
        redis_url, max_connections=1, timeout=None
    )
    r = Redis(connection_pool=blocking, auto_pipeline=True)
    try:
        await r.mset({"a": "A", "b": "B", "c": "C"})
        held = await blocking.get_connection()
        opener = asyncio.create_task(r.get("a"))
        await wait_until(lambda: blocking.stats().waits == 1, "the opener waiting")
        queued = [asyncio.create_task(r.get(key)) for key in "bc"]
        await asyncio.sleep(0)  # queued behind the opener
        opener.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opener
        await asyncio.sleep(0)
        await blocking.release(held)
        assert await asyncio.gather(*queued) == [b"B", b"C"]
        assert await r.get("a") == b"A"
        await assert_connections_clean(blocking)
    finally:
        await r.aclose()
        await blocking.disconnect()


async def test_timeouts_around_commands(make: Callable[..., Any]) -> None:
    """``asyncio.wait_for`` cancelling commands at once, again and again: the next
    command of the same client still gets its own reply."""
    r = make(max_connections=4)
    await r.set("w", "w")
    for i in range(30):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(r.blpop(["nothing"], timeout=0.5), r.get("w"), r.echo(i)), 0.002
            )
        assert await r.get("w") == b"w"
    await assert_connections_clean(r.connection_pool)


@pytest.mark.parametrize(
    "auto",
    [
        pytest.param(True, id="auto"),
        pytest.param(False, id="lanes"),
    ],
)
async def test_a_due_health_check_is_run(make: Callable[..., Any], admin: Any) -> None:
    r = make(health_check_interval=60)
    assert await r.ping() is True
    (conn,) = r.connection_pool._available_connections
    conn.next_health_check = 0  # idle for longer than the interval

    def pings() -> int:
        return int(admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))

    before = pings()
    assert await r.get("k") is None
    assert pings() - before == 1


# ---- what never shares ----------------------------------------------------------------------


async def test_blpop_in_flight_does_not_delay_others(
    make: Callable[..., Any], admin: Any, auto: bool
) -> None:
    """A BLPOP that blocks until it is given something: meanwhile the same client's other
    commands complete; then an LPUSH through that client releases it."""
    name = f"blpop-{auto}"
    r = make(decode_responses=True, client_name=name)
    await r.mset({f"k{i}": f"v{i}" for i in range(50)})
    blpop = asyncio.create_task(r.blpop(["q"], timeout=0))
    await wait_until(
        lambda: any(c["name"] == name and c["cmd"] == "blpop" for c in admin.client_list()),
        "the BLPOP blocked on the server",
    )
    values = await asyncio.gather(*(r.get(f"k{i}") for i in range(50)))
    assert values == [f"v{i}" for i in range(50)]
    assert await r.pipeline(False).get("k1").get("k2").execute() == ["v1", "v2"]
    assert not blpop.done()
    assert await r.lpush("q", "x") == 1
    assert list(await blpop) == ["q", "x"]
    await assert_connections_clean(r.connection_pool)


class Traffic:
    """Tasks running INCR and GET on keys of their own on ``client`` until ``stop()``,
    checking every reply (auto-pipelined beside what the test does)."""

    def __init__(self, client: Any, tasks: int = 8) -> None:
        self.client = client
        self.stopped = False
        self.count = 0
        self.tasks = [asyncio.create_task(self.run(f"traffic:{i}")) for i in range(tasks)]

    async def run(self, key: str) -> None:
        n = 0
        while not self.stopped:
            n += 1
            assert await self.client.incr(key) == n
            assert await self.client.get(key) in (str(n), str(n).encode())
            self.count += 1

    async def stop(self) -> int:
        self.stopped = True
        await asyncio.gather(*self.tasks)
        return self.count


async def test_transactions_and_watch_beside_shared_traffic(make: Callable[..., Any]) -> None:
    """MULTI/EXEC and WATCH on the same client as auto-pipelined traffic: a transaction's
    replies are its own, a watched key changed through the shared connection aborts it
    (WatchError), and ``Redis.transaction`` retries concurrent increments to the count."""
    r = make(auto_pipeline=True)
    traffic = Traffic(r)
    await r.set("w", "0")
    async with r.pipeline() as pipe:
        await pipe.watch("w")
        value = int(await pipe.get("w"))
        pipe.multi()
        pipe.set("w", value + 1).get("w")
        assert await pipe.execute() == [True, b"1"]
    async with r.pipeline() as pipe:
        await pipe.watch("w")
        assert await pipe.get("w") == b"1"
        assert await r.set("w", "changed") is True  # the shared connection
        pipe.multi()
        pipe.set("w", "mine")
        with pytest.raises(WatchError):
            await pipe.execute()
    assert await r.get("w") == b"changed"

    async def increment(pipe: Any) -> None:
        current = int(await pipe.get("counter") or 0)
        pipe.multi()
        pipe.set("counter", current + 1)

    await asyncio.gather(*(r.transaction(increment, "counter") for _ in range(20)))
    assert await r.get("counter") == b"20"
    assert await traffic.stop() > 0
    await assert_connections_clean(r.connection_pool)


async def test_pubsub_beside_shared_traffic(make: Callable[..., Any], protocol: int) -> None:
    """A subscriber on the same client as auto-pipelined traffic, PUBLISH among it: every
    message arrives, every command gets its reply."""
    r = make(auto_pipeline=True, protocol=protocol, decode_responses=True)
    traffic = Traffic(r, tasks=4)
    pubsub = r.pubsub()
    await pubsub.subscribe("chan")
    assert (await pubsub.get_message(timeout=5))["type"] == "subscribe"
    sent = [f"m{i}" for i in range(100)]
    receivers = await asyncio.gather(*(r.publish("chan", m) for m in sent), r.ping())
    assert receivers == [1] * len(sent) + [True]
    received = []
    while len(received) < len(sent):
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
        assert message is not None, received
        received.append(message["data"])
    assert sorted(received) == sorted(sent)
    await pubsub.aclose()
    await traffic.stop()
    await assert_connections_clean(r.connection_pool)


# ---- failures ---------------------------------------------------------------------------------


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.mark.parametrize("retries", [0, 50])
async def test_server_restart_mid_batch(
    private_server: RedisServer, auto: bool, retries: int
) -> None:
    """The server goes down while a batch waits for its replies (held back by CLIENT
    PAUSE, so none comes): without retries each command fails with redis-py's
    ConnectionError, with them each is tried again once the server is back; no command
    ever gets another's reply, and afterwards the client works."""
    retry = Retry(ConstantBackoff(0.05), retries)
    r = Redis.from_url(
        private_server.url, auto_pipeline=auto, protocol=3, retry=retry,
        decode_responses=True,
    )  # fmt: skip
    admin = redis.Redis.from_url(private_server.url)
    try:
        await r.ping()
        admin.client_pause(10_000)
        tasks = [asyncio.create_task(r.echo(f"m{i}")) for i in range(100)]
        await asyncio.sleep(0.05)  # written: the server holds them
        await asyncio.to_thread(private_server.restart)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        if retries:
            assert results == [f"m{i}" for i in range(100)]
        else:
            assert all(isinstance(result, ConnectionError) for result in results), results
        assert await r.ping() is True
        assert await asyncio.gather(*(r.echo(f"n{i}") for i in range(50))) == [
            f"n{i}" for i in range(50)
        ]
        await assert_connections_clean(r.connection_pool)
    finally:
        await r.aclose()
        admin.close()


async def test_socket_timeout_in_flight(
    redis_server: RedisServer, admin: Any, protocol: int
) -> None:
    """CLIENT PAUSE from another connection holds the replies back past ``socket_timeout``:
    the commands in flight raise redis-py's TimeoutError, as redis-py's own client does
    (compared), and the late replies are never taken for later commands'."""
    address = f"{redis_server.host}:{redis_server.port}"
    expected = ("raised", TimeoutError, f"Timeout reading from {address}")
    outcomes = []
    for cls, auto in ((aredis.Redis, False), (Redis, False), (Redis, True)):
        kwargs = {"auto_pipeline": auto} if cls is Redis else {}
        r = cls.from_url(
            redis_server.url, protocol=protocol, socket_timeout=0.05,
            retry=Retry(NoBackoff(), 0), decode_responses=True, **kwargs,
        )  # fmt: skip
        try:
            await r.mset({f"t{i}": f"v{i}" for i in range(20)})
            # connected beforehand (a connection made during the pause could be answered
            # after it, its handshake held back instead of its command)
            await asyncio.gather(*(r.get(f"t{i}") for i in range(20)))
            admin.client_pause(200)
            results = await asyncio.gather(
                *(r.get(f"t{i}") for i in range(20)), return_exceptions=True
            )
            outcomes.append([(type(e), str(e)) for e in results])
            await asyncio.to_thread(admin.ping)  # the pause is over
            assert await asyncio.gather(*(r.get(f"t{i}") for i in range(20))) == [
                f"v{i}" for i in range(20)
            ]
            if cls is Redis:
                await assert_connections_clean(r.connection_pool)
        finally:
            await r.aclose()
    theirs, ours, shared = outcomes
    assert ours == shared == theirs == [expected[1:]] * 20


# ---- event loops ----------------------------------------------------------------------------

LOOPS = ["asyncio", "uvloop"]


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop()  # type: ignore[no-any-return]
    return asyncio.new_event_loop()


def run_on(kind: str, main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    loop = _new_loop(kind)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@pytest.mark.parametrize("loop", LOOPS)
def test_event_loops(redis_url: str, loop: str, auto: bool) -> None:
    """The lanes on asyncio's default loop and on uvloop (its transports' set_protocol):
    a burst, cancellations, pipelines, a blocking command, a socket timeout."""

    async def main() -> None:
        pool = redispool.asyncio.BlockingConnectionPool.from_url(
            redis_url, max_connections=50, timeout=None, protocol=3,
            socket_timeout=0.4, retry=Retry(NoBackoff(), 0),
        )  # fmt: skip
        r = Redis(connection_pool=pool, auto_pipeline=auto)
        r.auto_close_connection_pool = True
        try:
            values = {f"loop:{loop}:{i}": str(i).encode() * (i % 300) for i in range(300)}
            await r.mset(values)
            assert await asyncio.gather(*(r.get(k) for k in values)) == list(values.values())
            tasks = [asyncio.create_task(r.get(k)) for k in values]
            await asyncio.sleep(0)
            for task in tasks[::3]:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for key, result in zip(values, results, strict=True):
                assert isinstance(result, asyncio.CancelledError) or result == values[key]
            blpop = asyncio.create_task(r.blpop([f"loop:{loop}:q"], timeout=0.01))
            assert await r.pipeline(False).get("loop:x").echo("e").execute() == [None, b"e"]
            assert await r.pipeline().incr("loop:n").incr("loop:n").execute() == [1, 2]
            assert await blpop is None
            await r.delete("loop:n")
            with pytest.raises(TimeoutError):
                await r.blpop(["loop:none"], timeout=1)
            assert await r.get(next(iter(values))) == b""
            await assert_connections_clean(r.connection_pool)
        finally:
            await r.aclose()

    run_on(loop, main)


def test_a_client_across_event_loops(redis_url: str, auto: bool) -> None:
    """One client used from one event loop, then another (each ``asyncio.run``): its
    shared lane belongs to the first and is not used from the second."""
    r = Redis.from_url(redis_url, auto_pipeline=auto)

    async def work(i: int) -> list[Any]:
        await r.set("loops:k", i)
        results = await asyncio.gather(r.get("loops:k"), r.incr("loops:n"), r.get("loops:k"))
        if i == 2:
            await r.aclose()
        return results

    assert asyncio.run(work(1))[::2] == [b"1", b"1"]
    assert asyncio.run(work(2))[::2] == [b"2", b"2"]


# ---- resources ------------------------------------------------------------------------------


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Nothing may depend on a collection pass."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _named(server: RedisServer, name: str, wait: bool = True) -> int:
    """Connections named ``name`` on the server (``wait``: once it has seen closed ones
    go, for up to 5 seconds)."""
    with redis.Redis.from_url(server.url) as admin:
        deadline = time.monotonic() + 5
        while True:
            count = sum(1 for c in admin.client_list() if c.get("name") == name)
            if not wait or count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.01)


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_dropped_client_frees_its_pool_and_sockets(
    redis_server: RedisServer, protocol: int, auto: bool, no_gc: None
) -> None:
    """A client dropped without ``aclose()`` after a burst: no reference cycle keeps it or
    its pool alive (gone with the garbage collector off), and its sockets close (asyncio's
    transports once collected, as with redis-py's own clients)."""
    name = f"adrop-{auto}-{protocol}"
    fds = _fds()

    async def use() -> list[Any]:
        r = Redis.from_url(redis_server.url, auto_pipeline=auto, protocol=protocol,
                           client_name=name)  # fmt: skip
        assert await asyncio.gather(*(r.incr(name) for _ in range(50)))
        assert await r.pipeline().get(name).get(name).execute()
        assert await r.blpop([f"{name}:q"], timeout=0.01) is None
        assert _named(redis_server, name, wait=False) > 0
        return [weakref.ref(r), weakref.ref(r.connection_pool)]

    async def main() -> list[Any]:
        refs = [ref for _ in range(3) for ref in await use()]
        await asyncio.sleep(0.01)
        return refs

    refs = asyncio.run(main())
    assert [ref for ref in refs if ref() is not None] == []
    gc.collect()
    assert _named(redis_server, name) == 0
    assert _fds() <= fds


async def test_aclose_closes_every_connection(
    make: Callable[..., Any], admin: Any, auto: bool
) -> None:
    name = f"aclose-{auto}"
    r = make(client_name=name)
    await asyncio.gather(*(r.incr("n") for _ in range(50)), r.blpop(["q"], timeout=0.01))
    assert name in [c["name"] for c in admin.client_list()]
    await r.aclose()
    await wait_until(lambda: name not in [c["name"] for c in admin.client_list()], f"{name} gone")
