"""``redispool.asyncio.Redis`` behaves as ``redis.asyncio.Redis``, against a real redis-server.

Differential, as tests/test_client.py is for the sync client: the same operations run
through a ``redis.asyncio.Redis`` and a ``redispool.asyncio.Redis`` made alike, on the
session's server (the database flushed before each), and the two lists of outcomes (the
value returned, or the exception's type and message) must be equal. Every test runs on
each twin of the lanes (``acommand_twin``), most with auto-pipelining off and on
(``auto``); on, a task keeps PINGing on the same client meanwhile, so that the commands
under test share their connection with other callers' commands.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar

import pytest
import redis
import redis.asyncio as aredis
import redis.asyncio.client
import redis.asyncio.observability.recorder
from helpers import assert_connections_clean, calls_to, count_afused
from redis._parsers import _AsyncRESP2Parser, _AsyncRESP3Parser
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    DataError,
    NoScriptError,
    ResponseError,
    TimeoutError,
    WatchError,
)

import redispool
import redispool.asyncio
import redispool.asyncio.client
from redispool.asyncio import AsyncParser
from redispool.server import RedisServer

Op = tuple[str, Callable[[Any], Awaitable[Any]]]
OurRedis = redispool.asyncio.client.Redis
CLASSES = (aredis.Redis, OurRedis)


@pytest.fixture(autouse=True)
def fused(acommand_twin: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the lanes' entry points, of the twin ``acommand_twin`` chose
    (``helpers.count_afused``)."""
    return count_afused(monkeypatch)


@pytest.fixture(params=[False, True], ids=["lanes", "auto"])
def auto(request: pytest.FixtureRequest) -> bool:
    """``auto_pipeline`` of the ``redispool.asyncio.Redis`` clients a test makes."""
    return bool(request.param)


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def decode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
async def make(redis_url: str, auto: bool) -> AsyncIterator[Callable[..., Any]]:
    """``make(cls, **kwargs)``: ``cls.from_url(redis_url, **kwargs)`` (with
    ``auto_pipeline=auto`` for redispool's clients), closed at teardown; the database is
    flushed first."""
    with redis.Redis.from_url(redis_url) as admin:
        admin.flushdb()
    made: list[Any] = []

    def make(cls: type, url: str | None = None, **kwargs: Any) -> Any:
        if issubclass(cls, OurRedis):
            kwargs.setdefault("auto_pipeline", auto)
        if "connection_pool" in kwargs:  # closed here too
            client = cls(**kwargs)
            made.append(kwargs["connection_pool"])
        else:
            client = cls.from_url(url or redis_url, **kwargs)
        made.append(client)
        return client

    yield make
    for thing in reversed(made):
        await (thing.aclose() if isinstance(thing, aredis.Redis) else thing.disconnect())


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    """A plain (sync) redis-py client, for what the server should see."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    client.close()


def plain(value: Any) -> Any:
    """``value`` with every exception in it replaced by its type and message."""
    if isinstance(value, BaseException):
        return (type(value), str(value))
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return value


async def outcome(fn: Callable[[Any], Awaitable[Any]], client: Any) -> tuple[Any, ...]:
    """``("ok", await fn(client))``, or ``("raised", type, message)``."""
    try:
        return ("ok", plain(await fn(client)))
    except Exception as e:
        return ("raised", type(e), str(e))


async def run_ops(client: Any, ops: list[Op]) -> list[tuple[str, Any]]:
    await client.flushdb()
    return [(label, await outcome(fn, client)) for label, fn in ops]


class Noise:
    """PINGs on ``client`` from a task of its own until ``stop()``, each reply checked:
    with auto-pipelining, the commands a test runs meanwhile share their connection."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.count = 0
        self.stopped = False
        self.task = asyncio.create_task(self.run())

    async def run(self) -> None:
        while not self.stopped:
            assert await self.client.ping() is True
            self.count += 1

    async def stop(self) -> int:
        self.stopped = True
        await self.task
        return self.count


@pytest.fixture
def compare(make: Callable[..., Any], fused: dict[str, int], auto: bool) -> Callable[..., Any]:
    """``await compare(ops, **kwargs)``: ``ops`` through redis-py's client and ours (both
    made with ``kwargs``; ours among PINGs of another task with auto-pipelining) have the
    same outcomes, and ours entered the lanes."""

    async def compare(ops: list[Op], **kwargs: Any) -> list[tuple[str, Any]]:
        theirs = await run_ops(make(aredis.Redis, **kwargs), ops)
        before = sum(fused.values())
        r = make(OurRedis, **kwargs)
        noise = Noise(r) if auto else None
        ours = await run_ops(r, ops)
        if noise is not None:
            assert await noise.stop() > 0
        assert ours == theirs
        assert sum(fused.values()) > before
        await assert_connections_clean(r.connection_pool)
        return ours

    return compare


def seq(*steps: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """An op that awaits ``steps`` in turn: the tuple of their results."""

    async def run(r: Any) -> Any:
        return tuple([await step(r) for step in steps])

    return run


def then(step: Callable[[Any], Awaitable[Any]], after: Callable[[Any], Any]) -> Any:
    """An op: ``after(await step(r))``."""

    async def run(r: Any) -> Any:
        return after(await step(r))

    return run


def collect(make_iterator: Callable[[Any], Any]) -> Callable[[Any], Awaitable[Any]]:
    """An op: the sorted items of an async iterator (``scan_iter`` and the like)."""

    async def run(r: Any) -> Any:
        return sorted([item async for item in make_iterator(r)])

    return run


async def _restore(r: Any) -> Any:
    return await r.restore("c2", 0, await r.dump("c"))


async def _evalsha(r: Any) -> Any:
    return await r.evalsha(await r.script_load("return ARGV[1]"), 0, "x")


async def _script_exists(r: Any) -> Any:
    return await r.script_exists(await r.script_load("return 1"), "0" * 40)


def _scan(reply: Any) -> Any:
    cursor, items = reply
    return cursor, sorted(items)


# ---- commands -----------------------------------------------------------------------------

COMMANDS: list[Op] = [
    # strings
    ("set", lambda r: r.set("s", "v")),
    ("set get", lambda r: r.set("s", "vé", get=True)),
    ("set nx", lambda r: r.set("s", "x", nx=True)),
    ("set ex", lambda r: r.set("e", "1", ex=100)),
    ("get", lambda r: r.get("s")),
    ("get missing", lambda r: r.get("missing")),
    ("mset", lambda r: r.mset({"a": 1, "b": "é", "c": b"\x00\x01"})),
    ("mget", lambda r: r.mget("a", "b", "missing")),
    ("mget none (EMPTY_RESPONSE)", lambda r: r.mget([])),
    ("incr", lambda r: r.incr("n")),
    ("incrby", lambda r: r.incrby("n", 5)),
    ("decr", lambda r: r.decr("n")),
    ("incrbyfloat", lambda r: r.incrbyfloat("f", 1.5)),
    ("append", lambda r: r.append("s", "y")),
    ("strlen", lambda r: r.strlen("s")),
    ("getrange", lambda r: r.getrange("s", 0, 0)),
    ("setrange", lambda r: r.setrange("s", 1, "Z")),
    ("getdel", lambda r: r.getdel("a")),
    ("getex", lambda r: r.getex("b", ex=100)),
    (
        "lcs",
        seq(
            lambda r: r.set("l1", "ohmytext"),
            lambda r: r.set("l2", "mynewtext"),
            lambda r: r.lcs("l1", "l2"),
        ),
    ),
    ("setbit", lambda r: r.setbit("bits", 7, 1)),
    ("getbit", lambda r: r.getbit("bits", 7)),
    ("bitcount", lambda r: r.bitcount("bits")),
    # keys
    ("exists", lambda r: r.exists("s", "b", "missing", "s")),
    ("type", lambda r: r.type("s")),
    ("expire", lambda r: r.expire("s", 100)),
    ("ttl", lambda r: r.ttl("s")),
    ("persist", lambda r: r.persist("s")),
    ("copy", lambda r: r.copy("s", "s2")),
    ("rename", lambda r: r.rename("s2", "s3")),
    ("touch", lambda r: r.touch("s", "s3", "missing")),
    ("object encoding", lambda r: r.object("encoding", "n")),
    ("dump (NEVER_DECODE)", lambda r: r.dump("c")),
    ("restore", _restore),
    ("restored", lambda r: r.get("c2")),
    ("dump missing", lambda r: r.dump("missing")),
    ("function dump (NEVER_DECODE)", lambda r: r.function_dump()),
    ("keys", then(lambda r: r.keys("*"), sorted)),
    ("scan", then(lambda r: r.scan(0, count=1000), _scan)),
    ("scan match", then(lambda r: r.scan(0, match="s*", count=1000), _scan)),
    ("scan_iter", collect(lambda r: r.scan_iter(count=2))),
    ("dbsize", lambda r: r.dbsize()),
    ("unlink", lambda r: r.unlink("s3", "missing")),
    # hashes
    ("hset", lambda r: r.hset("h", mapping={"f1": "1", "f2": "é", "f3": b"\x00\x01"})),
    ("hset one", lambda r: r.hset("h", "f4", 4.5)),
    ("hgetall", lambda r: r.hgetall("h")),
    ("hgetall missing", lambda r: r.hgetall("missing")),
    ("hget", lambda r: r.hget("h", "f2")),
    ("hmget", lambda r: r.hmget("h", ["f1", "nope", "f2"])),
    ("hkeys", lambda r: r.hkeys("h")),
    ("hincrbyfloat", lambda r: r.hincrbyfloat("h", "f4", 0.25)),
    ("hexists", lambda r: r.hexists("h", "f1")),
    ("hscan", lambda r: r.hscan("h")),
    ("hscan_iter", collect(lambda r: r.hscan_iter("h"))),
    ("hgetall (keys=)", lambda r: r.execute_command("HGETALL", "h", keys=["h"])),
    ("hgetall lower-case", lambda r: r.execute_command("hgetall", "h")),
    ("hgetall mixed-case", lambda r: r.execute_command("HgetAll", "h")),
    ("hgetall bytes name", lambda r: r.execute_command(b"HGETALL", "h")),
    # lists
    ("rpush", lambda r: r.rpush("l", 1, 2, 3, "é")),
    ("lrange", lambda r: r.lrange("l", 0, -1)),
    ("lpos", lambda r: r.lpos("l", "é")),
    ("lpop", lambda r: r.lpop("l")),
    ("rpop count", lambda r: r.rpop("l", 2)),
    ("lmpop", lambda r: r.lmpop(2, "missing", "l", direction="LEFT", count=5)),
    ("blpop", seq(lambda r: r.rpush("bl", "a"), lambda r: r.blpop(["bl"], timeout=1))),
    ("blpop empty", lambda r: r.blpop(["bl"], timeout=0.01)),
    ("sort", seq(lambda r: r.rpush("ns", 3, 1, 2), lambda r: r.sort("ns"))),
    # sets
    ("sadd", lambda r: r.sadd("S", "a", "b", "c", "é")),
    ("smembers", lambda r: r.smembers("S")),
    ("smismember", lambda r: r.smismember("S", ["a", "z"])),
    ("sscan", then(lambda r: r.sscan("S"), _scan)),
    # sorted sets
    ("zadd", lambda r: r.zadd("z", {"a": 1, "b": 2.5, "c": 3, "é": -1})),
    ("zrange", lambda r: r.zrange("z", 0, -1)),
    ("zrange withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
    ("zrange int scores", lambda r: r.zrange("z", 0, -1, withscores=True, score_cast_func=int)),
    ("zrangebyscore", lambda r: r.zrangebyscore("z", 1, 3, withscores=True)),
    ("zscore", lambda r: r.zscore("z", "b")),
    ("zscore missing", lambda r: r.zscore("z", "nope")),
    ("zmscore", lambda r: r.zmscore("z", ["a", "nope"])),
    ("zincrby", lambda r: r.zincrby("z", 0.5, "a")),
    ("zscan", lambda r: r.zscan("z")),
    ("zunion withscores", lambda r: r.zunion(["z", "z"], withscores=True)),
    ("zpopmax count", lambda r: r.zpopmax("z", 2)),
    ("bzpopmin", lambda r: r.bzpopmin(["z"], timeout=1)),
    # streams, geo, hyperloglog
    ("xadd", lambda r: r.xadd("x", {"f": "v"}, id="1-0")),
    ("xadd 2", lambda r: r.xadd("x", {"g": "é", "h": b"\x01"}, id="2-0")),
    ("xrange", lambda r: r.xrange("x")),
    ("xread", lambda r: r.xread({"x": "0"})),
    ("xread block", lambda r: r.xread({"x": "0"}, block=10)),
    ("xgroup create", lambda r: r.xgroup_create("x", "g", "0")),
    ("xreadgroup", lambda r: r.xreadgroup("g", "c", {"x": ">"}, count=1)),
    ("xpending", lambda r: r.xpending("x", "g")),
    ("geoadd", lambda r: r.geoadd("g", (13.361389, 38.115556, "P", 15.087269, 37.502669, "C"))),
    ("geopos", lambda r: r.geopos("g", "P", "nope")),
    ("geodist", lambda r: r.geodist("g", "P", "C", unit="km")),
    ("pfadd", lambda r: r.pfadd("hll", "a", "b", "c")),
    ("pfcount", lambda r: r.pfcount("hll")),
    # server
    ("ping", lambda r: r.ping()),
    ("echo", lambda r: r.echo("é")),
    ("info server keys", then(lambda r: r.info("server"), sorted)),
    ("info keyspace", then(lambda r: r.info("keyspace"), lambda i: i["db0"]["keys"])),
    ("info default", then(lambda r: r.info(), lambda i: type(i).__name__)),
    ("config get", lambda r: r.config_get("maxmemory*")),
    ("client info keys", then(lambda r: r.client_info(), sorted)),
    ("client list keys", then(lambda r: r.client_list(), lambda c: sorted(c[0]))),
    ("acl whoami", lambda r: r.acl_whoami()),
    ("pubsub numsub", lambda r: r.pubsub_numsub("nobody")),
    # scripts
    ("eval", lambda r: r.eval("return {1, 'a', {2, 'é'}, redis.status_reply('OK')}", 0)),
    ("eval keys", lambda r: r.eval("return redis.call('GET', KEYS[1])", 1, "b")),
    ("script load", lambda r: r.script_load("return ARGV[1]")),
    ("evalsha", _evalsha),
    ("script exists", _script_exists),
    # error replies
    ("WRONGTYPE", lambda r: r.lpush("b", 1)),
    ("WRONGTYPE hgetall", lambda r: r.hgetall("l")),
    ("not an integer", lambda r: r.incr("b")),
    ("unknown command", lambda r: r.execute_command("NOSUCHCOMMAND", "x")),
    ("arity", lambda r: r.execute_command("GET")),
    ("invalid expire", lambda r: r.execute_command("SET", "k", "v", "EX", "0")),
    ("NOSCRIPT", lambda r: r.evalsha("0" * 40, 0)),
    ("error_reply", lambda r: r.eval("return redis.error_reply('MYERR mine')", 0)),
    ("no such client", lambda r: r.execute_command("CLIENT", "KILL", "ID", "999999999")),
    ("MASTERDOWN", lambda r: r.execute_command("DEBUG", "ERROR", "MASTERDOWN fake")),
    ("READONLY", lambda r: r.execute_command("DEBUG", "ERROR", "READONLY fake")),
    ("after errors", lambda r: r.get("b")),
    # arguments the client refuses (nothing sent)
    ("DataError", lambda r: r.set("k", {"a": 1})),
    ("DataError None", lambda r: r.set("k", None)),
    ("no command (IndexError)", lambda r: r.execute_command()),
    ("after refusals", lambda r: r.get("b")),
]


async def test_commands(compare: Callable[..., Any], protocol: int, decode: bool) -> None:
    outcomes = dict(await compare(COMMANDS, protocol=protocol, decode_responses=decode))
    # a few absolute checks, so that redis-py's client and ours cannot be wrong alike
    hgetall = {"f1": "1", "f2": "é", "f3": "\x00\x01", "f4": "4.5"}
    if not decode:
        hgetall = {k.encode(): v.encode() for k, v in hgetall.items()}
    assert outcomes["hgetall"] == ("ok", hgetall)
    assert outcomes["mget none (EMPTY_RESPONSE)"] == ("ok", [])
    assert outcomes["dump (NEVER_DECODE)"][0] == "ok"
    assert type(outcomes["dump (NEVER_DECODE)"][1]) is bytes
    assert list(outcomes["zrange withscores"][1][0]) == [("é" if decode else "é".encode()), -1.0]
    assert outcomes["WRONGTYPE"][:2] == ("raised", ResponseError)
    assert outcomes["NOSCRIPT"][:2] == ("raised", NoScriptError)
    assert outcomes["exists"] == ("ok", 3)
    assert outcomes["DataError"][:2] == ("raised", DataError)
    assert outcomes["no command (IndexError)"][:2] == ("raised", IndexError)
    assert outcomes["after refusals"] == ("ok", "é" if decode else "é".encode())


UNIX: list[Op] = [
    *[op for op in COMMANDS if op[0].startswith(("h", "z", "set", "get", "WRONG", "dump"))],
    ("pipeline", lambda r: r.pipeline(False).set("a", "1").get("a").hgetall("a").execute(False)),
    ("multi", lambda r: r.pipeline().set("a", "2").get("a").incr("a").execute(False)),
]


async def test_unix_socket(
    compare: Callable[..., Any], redis_server: RedisServer, protocol: int
) -> None:
    """``UnixDomainSocketConnection``: its transport is taken over alike."""
    url = f"unix://{redis_server.unix_path}"
    outcomes = dict(await compare(UNIX, url=url, protocol=protocol))
    assert outcomes["get"] == ("ok", "vé".encode())
    assert outcomes["multi"] == ("ok", [True, b"2", 3])


#: Reads of the data ``_fill`` writes, each with a reply of its own shape.
READS: list[Op] = [
    ("get", lambda r: r.get("s")),
    ("get missing", lambda r: r.get("missing")),
    ("mget", lambda r: r.mget("s", "missing", "b")),
    ("mget none (EMPTY_RESPONSE)", lambda r: r.mget([])),
    ("hgetall", lambda r: r.hgetall("h")),
    ("hgetall (keys=)", lambda r: r.execute_command("HGETALL", "h", keys=["h"])),
    ("zrange withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
    ("smembers", lambda r: r.smembers("S")),
    ("lrange", lambda r: r.lrange("l", 0, -1)),
    ("xrange", lambda r: r.xrange("x")),
    ("dump (NEVER_DECODE)", lambda r: r.dump("s")),
    ("eval", lambda r: r.eval("return {1, 'a', {2, 'é'}, redis.status_reply('OK')}", 0)),
    ("WRONGTYPE", lambda r: r.hgetall("s")),
    ("error_reply", lambda r: r.eval("return redis.error_reply('MYERR mine')", 0)),
    ("DataError", lambda r: r.get({"not": "a key"})),
    ("blpop (a blocking command)", lambda r: r.blpop(["bl"], timeout=1)),
    ("pipeline", lambda r: r.pipeline(False).get("s").hgetall("s").get("b").execute(False)),
    ("transaction", lambda r: r.pipeline().get("s").zscore("z", "a").execute()),
]


async def _fill(r: Any) -> None:
    await r.flushdb()
    await r.mset({"s": "vé", "b": b"\x00\x01"})
    await r.hset("h", mapping={"a": "1", "é": "ü"})
    await r.zadd("z", {"a": 1, "b": 2.5})
    await r.sadd("S", "a", "b")
    await r.rpush("l", 1, "é")
    await r.rpush("bl", *range(8))
    await r.xadd("x", {"f": "v"}, id="1-0")


async def test_concurrent_commands(
    make: Callable[..., Any], protocol: int, decode: bool, auto: bool
) -> None:
    """The same commands from many tasks at once: each task gets its own outcome (with
    auto-pipelining, on a shared connection: error replies, a refused argument, a
    NEVER_DECODE or blocking command among them fail or run for their caller alone)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=decode)
        await _fill(r)
        ops = [op for _ in range(4) for op in READS if not op[0].startswith("blpop")]
        ops += [op for op in READS if op[0].startswith("blpop")] * 8
        results = await asyncio.gather(*(outcome(fn, r) for _, fn in ops))
        labels = [label for label, _ in ops]
        outcomes.append(sorted(zip(labels, map(repr, results), strict=True)))
        if cls is OurRedis:
            await assert_connections_clean(r.connection_pool)
            if auto:  # the shareable ones shared, dumps and BLPOPs had their own
                assert r.connection_pool.stats().created < len(ops) / 2
    theirs, ours = outcomes
    assert ours == theirs


async def test_the_chosen_twin_runs(acommand_twin: str) -> None:
    """The fixtures put the twin ``acommand_twin`` names in ``redispool.asyncio.client``."""
    module = importlib.import_module(f"redispool._acommand_{acommand_twin}")
    client = vars(OurRedis)["execute_command"]
    pipeline = vars(redispool.asyncio.client.Pipeline)["execute_command"]
    assert client.__kwdefaults__["_original"] is module.execute_command
    assert pipeline.__kwdefaults__["_original"] is module.pipeline_command
    for name in ("run_pipeline", "run_transaction"):
        counting = getattr(redispool.asyncio.client, f"async_{name}")
        assert counting.__kwdefaults__["_original"] is getattr(module, name)


async def test_is_a_redis_asyncio_client(make: Callable[..., Any], auto: bool) -> None:
    r = make(OurRedis)
    assert isinstance(r, aredis.Redis)
    assert r.auto_pipeline is auto
    assert isinstance(r.connection_pool, redispool.asyncio.ConnectionPool)
    assert type(r.pipeline()) is redispool.asyncio.Pipeline
    assert type(r.pipeline(transaction=False)) is redispool.asyncio.Pipeline
    assert isinstance(r.pipeline(), redis.asyncio.client.Pipeline)
    assert OurRedis(auto_pipeline=True).auto_pipeline is True
    assert OurRedis().auto_pipeline is False
    assert OurRedis.from_url("redis://localhost", auto_pipeline=True).auto_pipeline is True
    pool = redispool.asyncio.ConnectionPool.from_url("redis://localhost")
    assert OurRedis(connection_pool=pool, auto_pipeline=auto).connection_pool is pool
    with pytest.raises(TypeError):
        aredis.Redis(auto_pipeline=True)  # redis-py's own knows no such keyword


@pytest.fixture
def redis_py_sends() -> Iterator[list[Any]]:
    """The command names ``redis.asyncio.Redis._send_command_parse_response`` is called
    for during the test (redis-py's path: the lanes do not call it)."""
    send = redis.asyncio.client.Redis._send_command_parse_response
    with calls_to(send, "command_name") as seen:
        yield seen


async def test_lanes_taken_for_plain_commands(
    make: Callable[..., Any], fused: dict[str, int], redis_py_sends: list[Any], auto: bool
) -> None:
    theirs = make(aredis.Redis)
    assert await theirs.get("k") is None
    assert redis_py_sends == ["GET"]  # the spy sees redis-py's path
    r = make(OurRedis)
    await r.ping()  # connects
    del redis_py_sends[:]
    before = fused["execute_command"]
    assert await r.set("k", "v") is True and await r.get("k") == b"v"
    assert await asyncio.gather(r.get("k"), r.exists("k"), r.get("nope")) == [b"v", 1, None]
    assert await r.pipeline().get("k").execute() == [b"v"]
    assert await r.pipeline(False).get("k").get("nope").execute() == [b"v", None]
    assert redis_py_sends == []
    assert fused["execute_command"] == before + 5
    assert fused["run_pipeline"] == fused["run_transaction"] == 1
    assert fused["pipeline_command"] == 3
    await assert_connections_clean(r.connection_pool)


async def test_pooled_connection_is_reused(make: Callable[..., Any]) -> None:
    """Commands and pipelines leave the connection in step: the pool lends the same one
    again instead of replacing it."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        first = await r.client_id()
        ids = [await r.client_id(), await r.set("k", "v"), await r.get("k"), await r.get("no")]
        ids += await r.pipeline(False).client_id().get("k").execute()
        ids += await r.pipeline().client_id().get("k").execute()
        ids.append(await r.client_id())
        pool = r.connection_pool
        outcomes.append(
            [i == first if type(i) is int else i for i in ids]
            + [len(pool._available_connections), len(pool._in_use_connections)]
        )
    theirs, ours = outcomes
    assert ours == theirs == [True, True, b"v", None, True, b"v", True, b"v", True, 1, 0]


# ---- response callbacks -------------------------------------------------------------------


async def test_set_response_callback_is_per_client(make: Callable[..., Any], protocol: int) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol)
        await r.set("cb", "v")
        r.set_response_callback("GET", lambda value, **options: ("cb", value, sorted(options)))
        other = make(cls, protocol=protocol)
        sibling = cls(connection_pool=r.connection_pool)
        outcomes.append(
            [
                await r.get("cb"),
                await r.execute_command("get", "cb"),
                await r.execute_command("GET", "cb", keys=["cb"]),
                await asyncio.gather(r.get("cb"), other.get("cb"), r.get("cb")),
                await sibling.get("cb"),
                await r.pipeline(transaction=False).get("cb").get("cb").execute(),
                await r.pipeline().get("cb").execute(),
                await other.pipeline().get("cb").execute(),
            ]
        )
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[0] == ("cb", b"v", [])
    assert ours[3][1] == ours[4] == b"v"
    assert ours[7] == [b"v"]


class Awaitable_:
    """An awaitable that is neither a coroutine nor a future."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        yield from asyncio.sleep(0).__await__()
        return ("awaitable", self.value)


@pytest.mark.parametrize("kind", ["coroutine", "future", "awaitable"])
async def test_awaitable_callbacks_are_awaited(
    make: Callable[..., Any], protocol: int, kind: str
) -> None:
    """A callback whose result is awaitable: its result is awaited (redis-py's asyncio
    ``parse_response``), for a command and in pipelines."""

    async def coroutine(value: Any, **options: Any) -> Any:
        await asyncio.sleep(0)
        return ("coroutine", value, sorted(options))

    def future(value: Any, **options: Any) -> Any:
        done = asyncio.get_running_loop().create_future()
        done.set_result(("future", value))
        return done

    callback = {"coroutine": coroutine, "future": future, "awaitable": Awaitable_}[kind]
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol)
        await r.set("k", "v")
        for name in ("GET", "ZRANGE"):
            r.set_response_callback(name, callback)
        ops: list[Op] = [
            ("get", lambda r: r.get("k")),
            ("gathered", lambda r: asyncio.gather(r.get("k"), r.get("k"), r.get("nope"))),
            ("zrange", lambda r: r.zrange("z", 0, -1, withscores=True)),
            ("pipeline", lambda r: r.pipeline(False).get("k").get("nope").execute()),
            ("transaction", lambda r: r.pipeline().get("k").zrange("z", 0, 1).execute()),
        ]
        outcomes.append([(label, await outcome(fn, r)) for label, fn in ops])
    theirs, ours = outcomes
    assert ours == theirs
    assert dict(ours)["get"][1][0] == kind


async def test_callbacks_see_redis_pys_options(make: Callable[..., Any], protocol: int) -> None:
    """What reaches a callback: the options less ``keys``, ``NEVER_DECODE`` and
    ``EMPTY_RESPONSE`` (a command, a pipeline); less ``keys`` only in a transaction."""
    names = ("GET", "DUMP", "MGET", "ZRANGE", "HGETALL")
    ops: list[Op] = [
        ("set", lambda r: r.set("k", "v")),
        ("zadd", lambda r: r.zadd("z", {"a": 1})),
        ("get", lambda r: r.get("k")),
        ("dump", lambda r: r.dump("k")),
        ("mget none", lambda r: r.mget([])),
        ("mget", lambda r: r.mget("k")),
        ("zrange", lambda r: r.zrange("z", 0, -1, withscores=True)),
        ("pipeline", lambda r: r.pipeline(False).get("k").dump("k").zrange("z", 0, 1).execute()),
        ("transaction", lambda r: r.pipeline().get("k").dump("k").mget([]).hgetall("h").execute()),
    ]
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol)
        for name in names:
            r.set_response_callback(name, lambda value, _n=name, **options: (_n, sorted(options)))
        outcomes.append(await run_ops(r, ops))
    theirs, ours = outcomes
    assert ours == theirs
    ours_by_label = dict(ours)
    assert ours_by_label["zrange"] == ("ok", ("ZRANGE", ["score_cast_func", "withscores"]))
    assert ours_by_label["dump"] == ("ok", ("DUMP", []))
    assert ours_by_label["mget none"] == ("ok", [])


async def test_replaced_response_callbacks(make: Callable[..., Any]) -> None:
    """A plain dict as ``response_callbacks`` is looked up as it is (case-sensitively)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        await r.flushdb()
        await r.set("k", "v")
        r.response_callbacks = {"get": lambda value: "lower", "HGET": lambda value: "upper"}
        outcomes.append(
            [
                await r.get("k"),
                await r.execute_command("get", "k"),
                await r.hget("k2", "f"),
                await r.hset("k2", "f", 1),
            ]
        )
    theirs, ours = outcomes
    assert ours == theirs == [b"v", "lower", "upper", 1]


# ---- encodings ------------------------------------------------------------------------------

ENCODED: list[Op] = [
    ("set binary", lambda r: r.set("bin", b"\xff\xfeA")),
    ("set ok", lambda r: r.set("ok", "fine")),
    ("get binary", lambda r: r.get("bin")),
    ("get ok", lambda r: r.get("ok")),
    ("mget binary", lambda r: r.mget("bin", "ok")),
    ("dump is bytes", then(lambda r: r.dump("bin"), lambda v: type(v).__name__)),
    ("pipeline", lambda r: r.pipeline(False).get("ok").get("bin").get("ok").execute(False)),
    ("multi", lambda r: r.pipeline().get("ok").get("bin").get("ok").execute(False)),
    ("still in step", lambda r: r.get("ok")),
]


@pytest.mark.parametrize(
    ("encoding", "errors"),
    [("utf-8", "strict"), ("utf-8", "replace"), ("latin-1", "strict")],
)
async def test_encoding_errors(
    make: Callable[..., Any], protocol: int, encoding: str, errors: str
) -> None:
    """A reply that does not decode: the same outcome as redis-py's, the connection in
    step afterwards (run without other callers: see test_auto_pipeline.py for them)."""
    kwargs = {"encoding": encoding, "encoding_errors": errors, "decode_responses": True}
    theirs, ours = [
        await run_ops(make(cls, protocol=protocol, **kwargs), ENCODED) for cls in CLASSES
    ]
    assert ours == theirs
    outcomes = dict(ours)
    expected = {
        ("utf-8", "strict"): ("raised", UnicodeDecodeError),
        ("utf-8", "replace"): ("ok", "\ufffd\ufffdA"),
        ("latin-1", "strict"): ("ok", "ÿþA"),
    }[encoding, errors]
    assert outcomes["get binary"][:2] == expected
    assert outcomes["still in step"] == ("ok", "fine")


# ---- pipelines ----------------------------------------------------------------------------


def _pipeline(r: Any, transaction: bool) -> Any:
    pipe = r.pipeline(transaction=transaction)
    pipe.set("s", "v").get("s").incr("n").incrbyfloat("f", 0.5)
    pipe.hset("h", mapping={"a": "1", "é": "ü"}).hgetall("h").hget("h", "a")
    pipe.zadd("z", {"a": 1, "b": 2.5}).zrange("z", 0, -1, withscores=True)
    pipe.zscore("z", "b").zpopmin("z")
    pipe.rpush("l", 1, 2, "é").lrange("l", 0, -1).lpop("l", 2)
    pipe.sadd("S", "a", "b").smembers("S").smismember("S", ["a", "x"])
    pipe.exists("s", "h", "nope").expire("s", 100).ttl("s").type("h")
    pipe.mget([]).mget("s", "nope").echo("é").ping()
    pipe.hscan("h").config_get("maxmemory-policy")
    pipe.xadd("x", {"f": "v"}, id="1-0").xrange("x").geoadd("g", (1, 2, "p")).geopos("g", "p")
    pipe.eval("return {1, 'a', redis.status_reply('OK')}", 0)
    pipe.execute_command("HGETALL", "h", keys=["h"])
    return pipe


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
async def test_pipeline_results(
    compare: Callable[..., Any],
    fused: dict[str, int],
    protocol: int,
    decode: bool,
    transaction: bool,
) -> None:
    ops: list[Op] = [
        ("execute", lambda r: _pipeline(r, transaction).execute()),
        ("again", lambda r: _pipeline(r, transaction).execute()),
        ("context", lambda r: _in_context(r, transaction)),
        ("empty", lambda r: r.pipeline(transaction).execute()),
        ("dump", lambda r: r.pipeline(transaction).dump("s").get("s").execute()),
    ]
    outcomes = dict(await compare(ops, protocol=protocol, decode_responses=decode))
    assert fused["run_transaction" if transaction else "run_pipeline"] >= 3
    results = outcomes["execute"][1]
    assert results[:3] == [True, "v" if decode else b"v", 1]
    assert results[5] == (
        {"a": "1", "é": "ü"} if decode else {b"a": b"1", "é".encode(): "ü".encode()}
    )
    assert len(results) == 33
    assert outcomes["empty"] == ("ok", [])


async def _in_context(r: Any, transaction: bool) -> Any:
    async with r.pipeline(transaction) as pipe:
        pipe.set("c", "1").incr("c")
        first = await pipe.execute()
        pipe.get("c").get("nope")  # reusable after execute()
        return first, await pipe.execute()


@pytest.mark.parametrize("value", [b"v", None], ids=["bytes", "nil"])
async def test_pipeline_of_one_command(make: Callable[..., Any], value: Any) -> None:
    """The parity check for this lives here alone: the other tests' pipelines have two
    commands or more."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        if value is not None:
            await r.set("k", value)
        outcomes.append(await outcome(lambda r: r.pipeline(False).get("k").execute(), r))
    theirs, ours = outcomes
    assert theirs == ("ok", [value])
    assert ours == theirs


# Stacks with an error reply in them (in MULTI: "arity" and "unknown command" are refused
# when queued, so EXEC aborts; the others fail when EXEC runs them).
FAILING: list[tuple[str, Callable[[Any], Any]]] = [
    ("wrongtype", lambda p: p.set("s", "v").lpush("s", 1).get("s").incr("s")),
    ("unknown command", lambda p: p.set("s", "v").execute_command("NOSUCH", "a").get("s")),
    ("arity", lambda p: p.get("s").execute_command("SET", "s").get("s")),
    ("script error", lambda p: p.eval("return redis.error_reply('MINE x')", 0).ping()),
    ("NOSCRIPT", lambda p: p.ping().evalsha("0" * 40, 0).ping()),
    ("long command", lambda p: p.ping().lpush("s", "x" * 200)),
    ("EMPTY_RESPONSE", lambda p: p.mget([]).get("s")),
    ("DataError", lambda p: p.get("s").set("s", {"a": 1})),
]


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
@pytest.mark.parametrize("raise_on_error", [True, False], ids=["raise", "return"])
async def test_pipeline_errors(
    compare: Callable[..., Any], protocol: int, transaction: bool, raise_on_error: bool
) -> None:
    """Error replies mid-pipeline: raised (annotated with the command's number and text)
    or returned in place, as redis-py does; a queued-command error in MULTI (EXECABORT)
    raises the first error; the connection is in step afterwards."""
    ops: list[Op] = []
    for label, build in FAILING:
        ops.append((f"{label} setup", lambda r: r.set("s", "v")))
        ops.append((label, lambda r, b=build: b(r.pipeline(transaction)).execute(raise_on_error)))
        ops.append((f"{label} after", lambda r: r.pipeline(transaction).get("s").execute()))
    outcomes = dict(await compare(ops, protocol=protocol, decode_responses=True))
    wrongtype = outcomes["wrongtype"]
    if raise_on_error:  # redis.asyncio's annotation (the sync client's shows no tuple)
        assert wrongtype == (
            "raised",
            ResponseError,
            "Command # 2 (LPUSH s 1) of pipeline caused error: "
            "('WRONGTYPE Operation against a key holding the wrong kind of value',)",
        )
    else:
        assert wrongtype[0] == "ok" and wrongtype[1][1][0] is ResponseError
    if transaction:  # EXECABORT: the queued command's error, whatever raise_on_error says
        assert outcomes["arity"] == (
            "raised",
            ResponseError,
            "Command # 2 (SET s) of pipeline caused error: "
            "(\"wrong number of arguments for 'set' command\",)",
        )
    assert outcomes["DataError"][:2] == ("raised", DataError)
    for label, _ in FAILING:
        assert outcomes[f"{label} after"] == ("ok", ["v"])


async def test_watch_conflict(make: Callable[..., Any], admin: Any, protocol: int) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=True)
        await r.set("w", "0")
        async with r.pipeline() as pipe:
            results: list[Any] = [type(pipe).__module__ == cls.__module__]
            await pipe.watch("w")
            results.append(await pipe.get("w"))  # immediate, while watching
            pipe.multi()
            pipe.set("w", "mine").get("w")
            admin.set("w", "theirs")
            results.append(await outcome(lambda r, p=pipe: p.execute(), r))
            results.append(pipe.watching)
            # the pipeline is reusable and its connection in step
            await pipe.watch("w")
            pipe.multi()
            pipe.set("w", "mine").get("w")
            results.append(await outcome(lambda r, p=pipe: p.execute(), r))
        results.append(await r.get("w"))
        results.append(len(r.connection_pool._in_use_connections))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours == [
        True,
        "0",
        ("raised", WatchError, "Watched variable changed."),
        False,
        ("ok", [True, "mine"]),
        "mine",
        0,
    ]


async def test_watch_then_unwatch_and_immediate_commands(make: Callable[..., Any]) -> None:
    """While WATCHing, commands run at once on the pipeline's connection (an error reply
    among them), UNWATCH ends it, and ``reset()`` gives the connection back clean."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, decode_responses=True)
        await r.set("w", "0")
        pipe = r.pipeline()
        results: list[Any] = [await pipe.watch("w", "v"), pipe.watching]
        results.append(await outcome(lambda r, p=pipe: p.hgetall("w"), r))
        results.append(await pipe.get("w"))
        results.append(await pipe.unwatch())
        results.append(pipe.watching)
        pipe.set("w", "1").get("w")
        results.append(await pipe.execute())
        await pipe.reset()
        results.append(await r.get("w"))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[0:2] == [True, True] and ours[-2:] == [[True, "1"], "1"]


# ---- connections: single connection, timeouts, health checks, retries ---------------------


async def test_single_connection_client(make: Callable[..., Any]) -> None:
    """Many tasks on a ``single_connection_client``: one connection, each task its own
    replies (auto-pipelining does not share what is already one connection)."""
    r = make(OurRedis, single_connection_client=True, decode_responses=True)
    first = await r.client_id()
    conn = r.connection
    assert conn is not None

    async def work(n: int) -> list[Any]:
        results = []
        for i in range(10):
            value = f"{n}-{i}-" + "x" * (i * 37)
            results.append(await r.set(f"t{n}", value))
            results.append(await r.get(f"t{n}") == value)
            results.append(await r.incr("counter") > 0)
        return results

    results = await asyncio.gather(*(work(n) for n in range(20)))
    assert all(all(result) for result in results)
    assert await r.get("counter") == "200"
    assert await r.client_id() == first and r.connection is conn
    stats = r.connection_pool.stats()
    assert stats.created == 1 and stats.in_use == 1
    await r.aclose()
    assert r.connection is None
    assert r.connection_pool.stats().in_use == 0


async def test_single_connection_client_with_auto_pipeline(make: Callable[..., Any]) -> None:
    r = make(OurRedis, single_connection_client=True, auto_pipeline=True)
    assert await r.set("k", "v") is True
    assert r.connection is not None
    assert await asyncio.gather(r.get("k"), r.incr("n")) == [b"v", 1]
    assert r.connection_pool.stats().created == 1


@pytest.mark.parametrize(
    ("reply", "error"),
    [("LOADING fake", BusyLoadingError), ("NOAUTH fake", AuthenticationError)],
    ids=["LOADING", "NOAUTH"],
)
async def test_connection_error_replies_are_raised(
    make: Callable[..., Any], protocol: int, reply: str, error: type
) -> None:
    """Raised as redis-py raises them (no retries here), the client working afterwards."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, retry=Retry(NoBackoff(), 0))
        results = [await outcome(lambda r: r.execute_command("DEBUG", "ERROR", reply), r)]
        results.append(await outcome(lambda r: r.ping(), r))
        outcomes.append(results)
    theirs, ours = outcomes
    assert theirs == [("raised", error, "fake"), ("ok", True)]
    assert ours == theirs


class Unrelated(Exception):
    """The only error ``NO_RETRY`` retries: failures are not retried."""


NO_RETRY = Retry(NoBackoff(), 0, supported_errors=(Unrelated,))


@pytest.mark.parametrize("retry", [Retry(NoBackoff(), 0), NO_RETRY], ids=["no-retries", "none"])
@pytest.mark.parametrize("single", [False, True], ids=["pooled", "single"])
@pytest.mark.parametrize("auto", [True], ids=["auto"])  # BLPOP runs as with it off
async def test_socket_timeout(
    make: Callable[..., Any],
    redis_server: RedisServer,
    admin: Any,
    protocol: int,
    single: bool,
    retry: Retry,
) -> None:
    """A read past ``socket_timeout`` raises redis-py's TimeoutError, and the connection
    is disconnected: the next command is not answered with the late BLPOP reply."""
    outcomes = []
    for cls in CLASSES:
        r = make(
            cls,
            protocol=protocol,
            socket_timeout=0.05,
            retry=retry,
            single_connection_client=single,
            decode_responses=True,
        )
        key = f"timeout-{cls.__module__}-{single}"
        await r.delete(key)
        await r.set("after", "value")
        results = [await outcome(lambda c, k=key: c.blpop([k], timeout=1), r)]
        results.append(await outcome(lambda c, k=key: c.pipeline(False).blpop([k], 1).execute(), r))
        admin.rpush(key, "late")  # a BLPOP still waiting would take it
        results.append(await outcome(lambda r: r.get("after"), r))
        results.append(await outcome(lambda c, k=key: c.lrange(k, 0, -1), r))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    address = f"{redis_server.host}:{redis_server.port}"
    assert ours[0] == ("raised", TimeoutError, f"Timeout reading from {address}")
    assert ours[2] == ("ok", "value") and ours[3] == ("ok", ["late"])


def _ping_calls(admin: Any) -> int:
    return int(admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


async def test_health_check_interval(make: Callable[..., Any], admin: Any, protocol: int) -> None:
    """A PING goes first when a health check is due, none when it is not (both take
    redis-py's path or the lanes, as ``redis.asyncio.Redis`` would send them)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, health_check_interval=60, single_connection_client=True)
        await r.initialize()  # (see test_single_connection_client_with_auto_pipeline)
        await r.set("k", "v")
        conn = r.connection
        results = []
        for due in (True, False, True, False):
            now = asyncio.get_running_loop().time()
            mark = 0.0 if due else now + 30  # not due, and < 60 s on
            conn.next_health_check = mark
            before = _ping_calls(admin)
            value = await r.get("k")
            results.append((value, _ping_calls(admin) - before, conn.next_health_check > mark))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    due, not_due = (b"v", 1, True), (b"v", 0, True)
    assert ours == [due, not_due, due, not_due]


class CountingBackoff(NoBackoff):
    """No backoff, counting the retries the policy allowed."""

    computed = 0

    def compute(self, failures: int) -> float:
        type(self).computed += 1
        return 0


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_retry_after_server_side_kill(
    make: Callable[..., Any], admin: Any, protocol: int, retries: int
) -> None:
    """CLIENT KILL of the client's connection: the next command is retried by the
    ``Retry`` policy, after redis-py's failure callback (``_close_connection``, counted),
    or fails as redis-py's does without retries; an error reply is never retried."""
    outcomes = []
    for base in CLASSES:
        closed: list[Any] = []

        async def close(
            self: Any, conn: Any, *args: Any, _base: Any = base, _closed: Any = closed
        ) -> None:
            _closed.append(args[1:2])  # the failure count
            await _base._close_connection(self, conn, *args)

        cls = type("Closing", (base,), {"_close_connection": close})
        backoff = type("Backoff", (CountingBackoff,), {})()
        r = make(
            cls,
            protocol=protocol,
            single_connection_client=True,
            retry=Retry(backoff, retries),
            decode_responses=True,
        )
        await r.set("k", "v")
        first = await r.client_id()
        admin.client_kill_filter(_id=first)
        results = [await outcome(lambda r: r.get("k"), r), backoff.computed, closed[:]]
        results.append(await outcome(lambda r: r.get("k"), r))
        results.append(await r.client_id() != first)
        type(backoff).computed = 0
        results.append(((await outcome(lambda r: r.hgetall("k"), r))[:2], backoff.computed))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    if retries:
        assert ours[:3] == [("ok", "v"), 1, [(1,)]]
    else:
        closed_error = ("raised", ConnectionError, "Connection closed by server.")
        assert ours[:3] == [closed_error, 0, [(1,)]]
    assert ours[3:] == [("ok", "v"), True, (("raised", ResponseError), 0)]


async def test_pooled_connection_killed_while_idle(
    make: Callable[..., Any], admin: Any, redis_url: str
) -> None:
    """An idle pooled connection the server closed is not lent as it is: the next
    command succeeds even without retries (redispool's pool checks at checkout, under
    redis-py's client and ours)."""
    outcomes = []
    for cls in CLASSES:
        pool = redispool.asyncio.ConnectionPool.from_url(redis_url)
        r = make(cls, connection_pool=pool, retry=Retry(NoBackoff(), 0))
        await r.set("k", "v")
        first = await r.client_id()
        admin.client_kill_filter(_id=first)
        await asyncio.sleep(0.05)  # the loop sees the connection closed
        results = await asyncio.gather(*(outcome(lambda r: r.get("k"), r) for _ in range(3)))
        outcomes.append([results, await r.client_id() != first])
    theirs, ours = outcomes
    assert ours == theirs == [[("ok", b"v")] * 3, True]


async def test_resp3_invalidation_pushes_between_replies(
    make: Callable[..., Any], admin: Any
) -> None:
    """CLIENT TRACKING on a RESP3 connection: invalidation pushes that arrive before a
    reply are handed to the parser's handler, and each command gets its own reply."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=3, single_connection_client=True, decode_responses=True)
        await r.set("tracked", "1")
        await r.set("other", "2")
        results = [await r.client_tracking_on(), await r.get("tracked")]
        admin.set("tracked", "changed")
        results += [await r.get("other"), await r.get("tracked")]
        results.append(await r.pipeline(False).get("other").execute())
        admin.set("tracked", "again")
        results += [await r.pipeline().get("other").execute(), await r.get("tracked")]
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs == ["OK", "1", "2", "changed", ["2"], ["2"], "again"]


# ---- when redis-py's own path runs instead ---------------------------------------------------


class SendCounting(aredis.Connection):
    sent: ClassVar[int] = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        await super().send_packed_command(command, check_health)


class ReadCounting(aredis.Connection):
    read: ClassVar[int] = 0

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        type(self).read += 1
        return await super().read_response(*args, **kwargs)


@pytest.mark.parametrize("base", [SendCounting, ReadCounting])
async def test_connection_class_of_its_own_takes_redis_pys_path(
    make: Callable[..., Any], redis_py_sends: list[Any], protocol: int, base: type
) -> None:
    """A connection class that sends or reads its own way: every command and pipeline
    goes through it, as in redis-py (with auto-pipelining, not shared)."""
    cls: Any = type("Counting", (base,), {"sent": 0, "read": 0})
    r = make(OurRedis, connection_class=cls, protocol=protocol)
    await r.ping()
    del redis_py_sends[:]
    before = cls.sent + cls.read
    assert await r.set("k", "v") is True
    assert await asyncio.gather(r.get("k"), r.get("k"), r.incr("n")) == [b"v", b"v", 1]
    assert await r.pipeline().get("k").execute() == [b"v"]
    assert await r.pipeline(False).get("k").execute() == [b"v"]
    assert sorted(redis_py_sends) == ["GET", "GET", "INCRBY", "SET"]
    assert cls.sent + cls.read >= before + 6
    assert r.connection_pool.stats().in_use == 0


class MyParser(AsyncParser):
    """A parser class of the user's (a subclass of redispool's)."""


@pytest.mark.parametrize("parser", ["subclass", "redis-py"])
async def test_parser_class_of_its_own_takes_redis_pys_path(
    make: Callable[..., Any], redis_py_sends: list[Any], protocol: int, parser: str
) -> None:
    if parser == "subclass":
        parser_class: type = MyParser
    else:
        parser_class = _AsyncRESP3Parser if protocol == 3 else _AsyncRESP2Parser
    r = make(OurRedis, parser_class=parser_class, protocol=protocol)
    await r.ping()
    del redis_py_sends[:]
    assert await r.set("k", "v") is True
    assert await asyncio.gather(r.get("k"), r.get("nope")) == [b"v", None]
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await r.hgetall("k")
    assert await r.pipeline().get("k").execute() == [b"v"]
    assert sorted(redis_py_sends) == ["GET", "GET", "HGETALL", "SET"]
    conn = await r.connection_pool.get_connection()
    assert type(conn._parser) is parser_class
    await r.connection_pool.release(conn)


class Collector:
    """A stand-in for redis-py's metrics collector: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, kwargs))

        return record


async def test_metrics_on_takes_redis_pys_path(
    make: Callable[..., Any], redis_py_sends: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = make(OurRedis)
    await r.ping()
    collector = Collector()
    recorder = redis.asyncio.observability.recorder
    monkeypatch.setattr(recorder, "_async_metrics_collector", collector)
    del redis_py_sends[:]
    assert await r.set("k", "v") is True
    assert await asyncio.gather(r.get("k"), r.get("k")) == [b"v", b"v"]
    assert await r.pipeline().get("k").execute() == [b"v"]
    assert redis_py_sends == ["SET", "GET", "GET"]
    recorded = [
        kw["command_name"] for name, kw in collector.calls if name == "record_operation_duration"
    ]
    assert recorded[:3] == ["SET", "GET", "GET"]
    monkeypatch.setattr(recorder, "_async_metrics_collector", None)
    del redis_py_sends[:]
    assert await r.get("k") == b"v"
    assert redis_py_sends == []


async def test_tracer_wrapping_redis_py_execute_command(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, auto: bool
) -> None:
    """A tracer (sentry-sdk, ddtrace, OpenTelemetry) wraps ``redis.asyncio.Redis``'s
    ``execute_command`` (and the pipeline's) after redispool was imported: commands go
    through the wrapper, as ``super().execute_command`` would, with the right results."""
    r = make(OurRedis)
    await r.ping()
    seen: list[Any] = []
    original = redis.asyncio.client.Redis.execute_command
    queue = redis.asyncio.client.Pipeline.execute_command

    async def traced(self: Any, *args: Any, **options: Any) -> Any:
        seen.append(args[0])
        return await original(self, *args, **options)

    def traced_queue(self: Any, *args: Any, **options: Any) -> Any:
        seen.append(("queued", args[0]))
        return queue(self, *args, **options)

    monkeypatch.setattr(redis.asyncio.client.Redis, "execute_command", traced)
    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute_command", traced_queue)
    assert await r.set("k", "v") is True
    assert await asyncio.gather(r.get("k"), r.get("k")) == [b"v", b"v"]
    assert await r.pipeline(False).get("k").get("nope").execute() == [b"v", None]
    assert seen == ["SET", "GET", "GET", ("queued", "GET"), ("queued", "GET")]
    monkeypatch.undo()
    del seen[:]
    assert await r.get("k") == b"v" and seen == []


async def test_client_subclass_overriding_parse_response(make: Callable[..., Any]) -> None:
    parsed: list[Any] = []

    class Parsing(OurRedis):
        async def parse_response(self, connection: Any, command_name: Any, **options: Any) -> Any:
            parsed.append(command_name)
            return await super().parse_response(connection, command_name, **options)

    r = make(Parsing)
    await r.ping()
    assert await r.set("k", "v") is True
    assert await asyncio.gather(r.get("k"), r.get("k")) == [b"v", b"v"]
    assert parsed == ["PING", "SET", "GET", "GET"]


async def test_methods_replaced_on_the_object(make: Callable[..., Any]) -> None:
    """A method set on the client or pipeline object itself is called, as redis-py's
    own code would call it."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        await r.ping()
        parsed: list[Any] = []

        async def parse_response(
            connection: Any, command_name: Any, _r: Any = r, _parsed: Any = parsed, **options: Any
        ) -> Any:
            _parsed.append(command_name)
            return await type(_r).parse_response(_r, connection, command_name, **options)

        r.parse_response = parse_response
        results: list[Any] = [await r.set("k", "v"), await r.get("k")]
        del r.parse_response
        results.append(await r.get("k"))
        pipe = r.pipeline(False)
        queued: list[Any] = []

        def pipeline_execute_command(
            *args: Any, _pipe: Any = pipe, _queued: Any = queued, **options: Any
        ) -> Any:
            _queued.append(args[0])
            return type(_pipe).pipeline_execute_command(_pipe, *args, **options)

        pipe.pipeline_execute_command = pipeline_execute_command
        results.append(await pipe.get("k").get("nope").execute())
        outcomes.append([results, parsed, queued])
    theirs, ours = outcomes
    assert ours == theirs
    assert ours == [[True, b"v", b"v", [b"v", None]], ["SET", "GET"], ["GET", "GET"]]


async def test_retry_subclass_runs_every_try(make: Callable[..., Any], admin: Any) -> None:
    """A ``Retry`` whose ``call_with_retry`` is its own is called for every command, as
    redis-py calls it."""
    outcomes = []
    for cls in CLASSES:

        class Counting(Retry):
            calls: ClassVar[list[Any]] = []

            async def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
                self.calls.append(1)
                return await super().call_with_retry(do, fail, *args, **kwargs)

        r = make(cls, retry=Counting(NoBackoff(), 1), single_connection_client=True)
        results = [await r.set("k", "v"), await r.get("k")]
        admin.client_kill_filter(_id=await r.client_id())
        results.append(await r.get("k"))
        outcomes.append([results, len(Counting.calls)])
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[0] == [True, b"v", b"v"]


# ---- install() ------------------------------------------------------------------------------


class UserRedis(aredis.Redis):
    """A user's subclass: install() never makes it anything else."""


async def test_install_makes_redis_asyncio_clients_redispool_clients(
    redis_server: RedisServer, fused: dict[str, int]
) -> None:
    url, host, port = redis_server.url, redis_server.host, redis_server.port
    redispool.install()
    try:
        clients = [
            aredis.Redis(host=host, port=port),
            aredis.StrictRedis(host=host, port=port, decode_responses=True),
            aredis.from_url(url),
            aredis.Redis.from_url(url, single_connection_client=True),
            aredis.Redis(host=host, port=port, auto_pipeline=True),
            aredis.Redis(connection_pool=aredis.ConnectionPool.from_url(url), auto_pipeline=True),
        ]
        for r in clients:
            assert type(r) is OurRedis and isinstance(r, aredis.Redis)
            assert type(r.connection_pool) is redispool.asyncio.ConnectionPool
            assert await r.set("install:k", "v")
            assert await r.get("install:k") in (b"v", "v")
            pipe = r.pipeline()
            assert type(pipe) is redispool.asyncio.Pipeline
            assert await pipe.set("install:p", 1).incr("install:p").execute() == [True, 2]
            await r.aclose()
        assert [r.auto_pipeline for r in clients] == [False] * 4 + [True] * 2
        assert fused["execute_command"] == 2 * len(clients)
        assert fused["run_transaction"] == len(clients)
        user = UserRedis(host=host, port=port)
        assert type(user) is UserRedis and type(user.pipeline()) is redis.asyncio.client.Pipeline
        assert type(UserRedis.from_url(url)) is UserRedis
        assert await user.get("install:k") == b"v"
        await user.aclose()
    finally:
        redispool.uninstall()
    r = aredis.Redis(host=host, port=port)
    assert type(r) is redis.asyncio.client.Redis
    assert type(r.pipeline()) is redis.asyncio.client.Pipeline
    assert type(aredis.from_url(url)) is redis.asyncio.client.Redis
    assert type(UserRedis(host=host, port=port)) is UserRedis
    assert await r.get("install:k") == b"v" and fused["execute_command"] == 2 * len(clients)
    with pytest.raises(TypeError):
        aredis.Redis(host=host, port=port, auto_pipeline=True)
    await r.aclose()


async def test_install_from_url_takes_auto_pipeline(redis_url: str) -> None:
    redispool.install()
    try:
        r = aredis.Redis.from_url(redis_url, auto_pipeline=True)
        assert type(r) is OurRedis
        assert await r.ping() is True
        assert r.auto_pipeline is True
        await r.aclose()
    finally:
        redispool.uninstall()
