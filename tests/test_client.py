"""``redispool.Redis`` behaves as ``redis.Redis``, against a real redis-server.

Most tests are differential: the same operations run through a ``redis.Redis`` and a
``redispool.Redis`` made alike, on the session's server (the database flushed before
each), and the two lists of outcomes (the value returned, or the exception's type and
message) must be equal. Every test runs on both twins of the fused command path
(``command_twin``: ``_command_c`` and ``_command_py``), and most on RESP2 and RESP3.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import pytest
import redis
import redis.client
import redis.connection
import redis.observability.recorder
from helpers import count_fused
from redis.backoff import NoBackoff
from redis.credentials import UsernamePasswordCredentialProvider
from redis.exceptions import (
    AuthenticationError,
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
    WatchError,
)
from redis.retry import Retry

import redispool
import redispool.client
from redispool.server import RedisServer

Op = tuple[str, Callable[[Any], Any]]
CLASSES = (redis.Redis, redispool.Redis)


@pytest.fixture(autouse=True)
def fused(command_twin: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the command path's entry points (of the twin ``command_twin`` chose):
    ``execute_command`` (``Redis.execute_command``, which may hand a command to redis-py's
    own), ``run_pipeline``, ``run_transaction`` (``helpers.count_fused``)."""
    return count_fused(monkeypatch)


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def decode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def make(redis_url: str) -> Iterator[Callable[..., Any]]:
    """``make(cls, **kwargs)``: ``cls.from_url(redis_url, **kwargs)``, closed at teardown."""
    made: list[Any] = []

    def make(cls: type, url: str | None = None, **kwargs: Any) -> Any:
        client = cls.from_url(url or redis_url, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    """A plain redis-py client, for what the server should see."""
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


class Interrupt(BaseException):
    """Stands for KeyboardInterrupt and the like: no ``Exception``."""


def outcome(fn: Callable[[Any], Any], client: Any) -> tuple[Any, ...]:
    """``("ok", fn(client))``, or ``("raised", type, message)``."""
    try:
        return ("ok", plain(fn(client)))
    except (Exception, Interrupt) as e:
        return ("raised", type(e), str(e))


def run_ops(client: Any, ops: list[Op]) -> list[tuple[str, Any]]:
    client.flushdb()
    return [(label, outcome(fn, client)) for label, fn in ops]


@pytest.fixture
def compare(make: Callable[..., Any], fused: dict[str, int]) -> Callable[..., Any]:
    """``compare(ops, **kwargs)``: ``ops`` through redis-py's client and ours (both made
    with ``kwargs``) have the same outcomes, and ours ran commands the fused way."""

    def compare(ops: list[Op], **kwargs: Any) -> list[tuple[str, Any]]:
        theirs = run_ops(make(redis.Redis, **kwargs), ops)
        before = sum(fused.values())
        ours = run_ops(make(redispool.Redis, **kwargs), ops)
        assert ours == theirs
        assert sum(fused.values()) > before
        return ours

    return compare


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


# ---- commands -----------------------------------------------------------------------------


def _scan(reply: Any) -> Any:
    cursor, items = reply
    return cursor, sorted(items)


COMMANDS: list[Op] = [
    # strings
    ("set", lambda r: r.set("s", "v")),
    ("set get", lambda r: r.set("s", "vé", get=True)),
    ("set nx", lambda r: r.set("s", "x", nx=True)),
    ("set ex", lambda r: r.set("e", "1", ex=100)),
    ("get", lambda r: r.get("s")),
    ("get missing", lambda r: r.get("missing")),
    ("mset", lambda r: r.mset({"a": 1, "b": "é", "c": b"\x00\xff"})),
    ("mget", lambda r: r.mget("a", "b", "missing")),
    ("mget none (EMPTY_RESPONSE)", lambda r: r.mget([])),
    ("incr", lambda r: r.incr("n")),
    ("incrby", lambda r: r.incrby("n", 5)),
    ("decr", lambda r: r.decr("n")),
    ("incrbyfloat", lambda r: r.incrbyfloat("f", 1.5)),
    ("append", lambda r: r.append("s", "y")),
    ("strlen", lambda r: r.strlen("s")),
    ("getrange", lambda r: r.getrange("s", 0, 1)),
    ("setrange", lambda r: r.setrange("s", 1, "Z")),
    ("getdel", lambda r: r.getdel("a")),
    ("getex", lambda r: r.getex("b", ex=100)),
    ("lcs", lambda r: (r.set("l1", "ohmytext"), r.set("l2", "mynewtext"), r.lcs("l1", "l2"))),
    ("setbit", lambda r: r.setbit("bits", 7, 1)),
    ("getbit", lambda r: r.getbit("bits", 7)),
    ("bitcount", lambda r: r.bitcount("bits")),
    ("bitpos", lambda r: r.bitpos("bits", 1)),
    # keys
    ("exists", lambda r: r.exists("s", "b", "missing", "s")),
    ("type", lambda r: r.type("s")),
    ("expire", lambda r: r.expire("s", 100)),
    ("ttl", lambda r: r.ttl("s")),
    ("persist", lambda r: r.persist("s")),
    ("ttl none", lambda r: r.ttl("s")),
    ("copy", lambda r: r.copy("s", "s2")),
    ("rename", lambda r: r.rename("s2", "s3")),
    ("renamenx", lambda r: r.renamenx("s3", "s")),
    ("touch", lambda r: r.touch("s", "s3", "missing")),
    ("object encoding", lambda r: r.object("encoding", "n")),
    ("dump (NEVER_DECODE)", lambda r: r.dump("c")),
    ("restore", lambda r: r.restore("c2", 0, r.dump("c"))),
    ("restored", lambda r: r.get("c2")),
    ("dump missing", lambda r: r.dump("missing")),
    ("function dump (NEVER_DECODE)", lambda r: r.function_dump()),
    ("keys", lambda r: sorted(r.keys("*"))),
    ("scan", lambda r: _scan(r.scan(0, count=1000))),
    ("scan match", lambda r: _scan(r.scan(0, match="s*", count=1000))),
    ("scan type", lambda r: _scan(r.scan(0, count=1000, _type="string"))),
    ("scan_iter", lambda r: sorted(r.scan_iter(count=2))),
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
    ("hvals", lambda r: r.hvals("h")),
    ("hlen", lambda r: r.hlen("h")),
    ("hstrlen", lambda r: r.hstrlen("h", "f2")),
    ("hincrby", lambda r: r.hincrby("h", "f1", 2)),
    ("hincrbyfloat", lambda r: r.hincrbyfloat("h", "f4", 0.25)),
    ("hexists", lambda r: r.hexists("h", "f1")),
    ("hsetnx", lambda r: r.hsetnx("h", "f1", "x")),
    ("hdel", lambda r: r.hdel("h", "f3", "nope")),
    ("hscan", lambda r: r.hscan("h")),
    ("hscan_iter", lambda r: sorted(r.hscan_iter("h"))),
    ("hgetall (keys=)", lambda r: r.execute_command("HGETALL", "h", keys=["h"])),
    ("hgetall lower-case", lambda r: r.execute_command("hgetall", "h")),
    ("hgetall mixed-case", lambda r: r.execute_command("HgetAll", "h")),
    ("hgetall bytes name", lambda r: r.execute_command(b"HGETALL", "h")),
    # lists
    ("rpush", lambda r: r.rpush("l", 1, 2, 3, "é")),
    ("lpush", lambda r: r.lpush("l", 0)),
    ("lrange", lambda r: r.lrange("l", 0, -1)),
    ("lindex", lambda r: r.lindex("l", 1)),
    ("llen", lambda r: r.llen("l")),
    ("linsert", lambda r: r.linsert("l", "BEFORE", 2, "x")),
    ("lpos", lambda r: r.lpos("l", "x")),
    ("lset", lambda r: r.lset("l", 0, "zero")),
    ("lrem", lambda r: r.lrem("l", 0, "x")),
    ("lpop", lambda r: r.lpop("l")),
    ("rpop count", lambda r: r.rpop("l", 2)),
    ("lmove", lambda r: r.lmove("l", "l2", "LEFT", "RIGHT")),
    ("lmpop", lambda r: r.lmpop(2, "missing", "l", direction="LEFT", count=5)),
    ("blpop", lambda r: (r.rpush("bl", "a"), r.blpop(["bl"], timeout=1))),
    ("blpop empty", lambda r: r.blpop(["bl"], timeout=0.01)),
    ("sort", lambda r: (r.rpush("ns", 3, 1, 2), r.sort("ns"))),
    ("sort alpha", lambda r: (r.rpush("as", "b", "a"), r.sort("as", alpha=True, desc=True))),
    # sets
    ("sadd", lambda r: r.sadd("S", "a", "b", "c", "é")),
    ("sadd 2", lambda r: r.sadd("S2", "b", "c", "d")),
    ("smembers", lambda r: r.smembers("S")),
    ("sismember", lambda r: r.sismember("S", "a")),
    ("smismember", lambda r: r.smismember("S", ["a", "z"])),
    ("scard", lambda r: r.scard("S")),
    ("sinter", lambda r: r.sinter("S", "S2")),
    ("sunion", lambda r: r.sunion("S", "S2")),
    ("sdiff", lambda r: r.sdiff("S", "S2")),
    ("sintercard", lambda r: r.sintercard(2, ["S", "S2"])),
    ("srem", lambda r: r.srem("S", "a", "z")),
    ("sscan", lambda r: _scan(r.sscan("S"))),
    # sorted sets
    ("zadd", lambda r: r.zadd("z", {"a": 1, "b": 2.5, "c": 3, "é": -1})),
    ("zrange", lambda r: r.zrange("z", 0, -1)),
    ("zrange withscores", lambda r: r.zrange("z", 0, -1, withscores=True)),
    ("zrange int scores", lambda r: r.zrange("z", 0, -1, withscores=True, score_cast_func=int)),
    ("zrevrange withscores", lambda r: r.zrevrange("z", 0, 1, withscores=True)),
    ("zrangebyscore", lambda r: r.zrangebyscore("z", 1, 3, withscores=True)),
    ("zscore", lambda r: r.zscore("z", "b")),
    ("zscore missing", lambda r: r.zscore("z", "nope")),
    ("zmscore", lambda r: r.zmscore("z", ["a", "nope"])),
    ("zincrby", lambda r: r.zincrby("z", 0.5, "a")),
    ("zrank", lambda r: r.zrank("z", "b")),
    ("zrevrank", lambda r: r.zrevrank("z", "b")),
    ("zcard", lambda r: r.zcard("z")),
    ("zcount", lambda r: r.zcount("z", 0, 10)),
    ("zscan", lambda r: r.zscan("z")),
    ("zunionstore", lambda r: r.zunionstore("zu", ["z", "z"])),
    ("zunion withscores", lambda r: r.zunion(["z", "zu"], withscores=True)),
    ("zpopmin", lambda r: r.zpopmin("z")),
    ("zpopmax count", lambda r: r.zpopmax("z", 2)),
    ("bzpopmin", lambda r: r.bzpopmin(["z"], timeout=1)),
    # streams, geo, hyperloglog
    ("xadd", lambda r: r.xadd("x", {"f": "v"}, id="1-0")),
    ("xadd 2", lambda r: r.xadd("x", {"g": "é", "h": b"\xff"}, id="2-0")),
    ("xrange", lambda r: r.xrange("x")),
    ("xrevrange", lambda r: r.xrevrange("x", count=1)),
    ("xlen", lambda r: r.xlen("x")),
    ("xread", lambda r: r.xread({"x": "0"})),
    ("xgroup create", lambda r: r.xgroup_create("x", "g", "0")),
    ("xreadgroup", lambda r: r.xreadgroup("g", "c", {"x": ">"}, count=1)),
    ("xpending", lambda r: r.xpending("x", "g")),
    ("geoadd", lambda r: r.geoadd("g", (13.361389, 38.115556, "P", 15.087269, 37.502669, "C"))),
    ("geopos", lambda r: r.geopos("g", "P", "nope")),
    ("geodist", lambda r: r.geodist("g", "P", "C", unit="km")),
    ("geosearch", lambda r: r.geosearch("g", longitude=15, latitude=37, radius=200, withdist=True)),
    ("pfadd", lambda r: r.pfadd("hll", "a", "b", "c")),
    ("pfcount", lambda r: r.pfcount("hll")),
    # server
    ("ping", lambda r: r.ping()),
    ("echo", lambda r: r.echo("é")),
    ("info server keys", lambda r: sorted(r.info("server"))),
    ("info version", lambda r: r.info("server")["redis_version"]),
    ("info keyspace", lambda r: r.info("keyspace")["db0"]["keys"]),
    ("info default", lambda r: type(r.info()).__name__),
    ("config get", lambda r: r.config_get("maxmemory*")),
    ("config get all", lambda r: r.config_get("*")),
    ("lastsave", lambda r: r.lastsave()),
    ("client setname", lambda r: r.client_setname("differential")),
    ("client getname", lambda r: r.client_getname()),
    ("client info keys", lambda r: sorted(r.client_info())),
    ("client list keys", lambda r: sorted(r.client_list()[0])),
    ("acl whoami", lambda r: r.acl_whoami()),
    ("pubsub numsub", lambda r: r.pubsub_numsub("nobody")),
    # scripts
    ("eval", lambda r: r.eval("return {1, 'a', {2, 'é'}, redis.status_reply('OK')}", 0)),
    ("eval keys", lambda r: r.eval("return redis.call('GET', KEYS[1])", 1, "b")),
    ("script load", lambda r: r.script_load("return ARGV[1]")),
    ("evalsha", lambda r: r.evalsha(r.script_load("return ARGV[1]"), 0, "x")),
    ("script exists", lambda r: r.script_exists(r.script_load("return 1"), "0" * 40)),
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
    ("after errors", lambda r: r.get("b")),
]


def test_commands(compare: Callable[..., Any], protocol: int, decode: bool) -> None:
    outcomes = dict(compare(COMMANDS, protocol=protocol, decode_responses=decode))
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


def test_redispool_redis_is_a_redis_py_client(make: Callable[..., Any]) -> None:
    r = make(redispool.Redis)
    assert isinstance(r, redis.Redis)
    assert isinstance(r.connection_pool, redispool.ConnectionPool)
    assert type(r.pipeline()) is redispool.Pipeline
    assert type(r.pipeline(transaction=False)) is redispool.Pipeline
    assert isinstance(r.pipeline(), redis.client.Pipeline)
    single = r.client()
    assert type(single) is redispool.Redis
    assert single.connection is not None
    single.close()


def test_pooled_connection_is_reused(make: Callable[..., Any]) -> None:
    """Commands and pipelines leave the connection in step: the pool lends the same one
    again instead of replacing it."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        first = r.client_id()
        ids = [r.client_id(), r.set("k", "v"), r.get("k"), r.get("missing")]
        ids += r.pipeline(False).client_id().get("k").execute()
        ids += r.pipeline().client_id().get("k").execute()
        ids.append(r.client_id())
        pool = r.connection_pool
        outcomes.append(
            [i == first if type(i) is int else i for i in ids]
            + [len(pool._available_connections), len(pool._in_use_connections)]
        )
    theirs, ours = outcomes
    assert ours == theirs == [True, True, b"v", None, True, b"v", True, b"v", True, 1, 0]


def test_the_chosen_twin_runs(command_twin: str) -> None:
    """The fixtures put the twin ``command_twin`` names in ``redispool.client``."""
    module = importlib.import_module(f"redispool._command_{command_twin}")
    counting = vars(redispool.Redis)["execute_command"]
    assert counting.__kwdefaults__["_original"] is module.execute_command
    assert vars(redispool.Pipeline)["execute_command"] is module.pipeline_command
    assert redispool.client.run_pipeline.__kwdefaults__["_original"] is module.run_pipeline
    assert redispool.client.run_transaction.__kwdefaults__["_original"] is module.run_transaction


UNIX: list[Op] = [
    *[op for op in COMMANDS if op[0].startswith(("h", "z", "set", "get", "WRONG", "dump"))],
    ("pipeline", lambda r: r.pipeline(False).set("a", "1").get("a").hgetall("a").execute(False)),
    ("multi", lambda r: r.pipeline().set("a", "2").get("a").incr("a").execute(False)),
]


def test_unix_socket(compare: Callable[..., Any], redis_server: RedisServer, protocol: int) -> None:
    """``UnixDomainSocketConnection`` (a plain connection class too)."""
    outcomes = dict(compare(UNIX, url=f"unix://{redis_server.unix_path}", protocol=protocol))
    assert outcomes["get"] == ("ok", "vé".encode())
    assert outcomes["multi"] == ("ok", [True, b"2", 3])


def _foreign_packers() -> list[Any]:
    encode = redis.connection.Encoder("utf-8", "strict", False).encode
    packers = [redis.connection.PythonRespSerializer(6000, encode)]
    if redis.connection.HIREDIS_AVAILABLE:
        packers.append(redis.connection.HiredisRespSerializer())
    return packers


@pytest.mark.parametrize("packer", _foreign_packers(), ids=lambda p: type(p).__name__)
def test_foreign_command_packer(compare: Callable[..., Any], protocol: int, packer: Any) -> None:
    """A ``command_packer`` of redis-py's (no reply ledger): commands and pipelines
    packed by it (the pipelines through the connection's ``pack_commands``)."""
    big = "x" * 10_000
    ops: list[Op] = [
        ("set", lambda r: r.set("k", "v")),
        ("get", lambda r: r.get("k")),
        ("command name with a space", lambda r: r.config_get("maxmemory")),
        ("big", lambda r: r.pipeline(False).set("b", big).strlen("b").get("k").execute()),
        ("multi", lambda r: r.pipeline().set("b", big + "y").strlen("b").get("k").execute()),
        ("memoryview", lambda r: r.pipeline(False).set("m", memoryview(b"ab")).get("m").execute()),
        ("after", lambda r: r.get("k")),
    ]
    outcomes = dict(compare(ops, protocol=protocol, command_packer=packer))
    assert outcomes["big"] == ("ok", [True, 10_000, b"v"])
    assert outcomes["multi"] == ("ok", [True, 10_001, b"v"])


def test_pipeline_execute_command_overridden(make: Callable[..., Any]) -> None:
    """A Pipeline subclass's own ``pipeline_execute_command`` queues the commands."""
    outcomes = []
    for cls in CLASSES:
        base = redispool.Pipeline if cls is redispool.Redis else redis.client.Pipeline

        class Queueing(base):  # type: ignore[misc,valid-type]
            queued: ClassVar[list[Any]] = []

            def pipeline_execute_command(self, *args: Any, **options: Any) -> Any:
                self.queued.append(args)
                return super().pipeline_execute_command(*args, **options)

        r = make(cls)
        pipe = Queueing(r.connection_pool, r.response_callbacks, False, None)
        results = pipe.set("k", "v").get("k").execute()
        outcomes.append((results, Queueing.queued))
    theirs, ours = outcomes
    assert ours == theirs == ([True, b"v"], [("SET", "k", "v"), ("GET", "k")])


# ---- encodings ----------------------------------------------------------------------------


ENCODED: list[Op] = [
    ("set binary", lambda r: r.set("bin", b"\xff\xfeA")),
    ("set ok", lambda r: r.set("ok", "fine")),
    ("get binary", lambda r: r.get("bin")),
    ("get ok", lambda r: r.get("ok")),
    ("mget binary", lambda r: r.mget("bin", "ok")),
    ("get ok again", lambda r: r.get("ok")),
    ("hset binary", lambda r: r.hset("hb", mapping={b"\xff": b"\xfe", "k": "v"})),
    ("hgetall binary", lambda r: r.hgetall("hb")),
    ("dump is bytes", lambda r: type(r.dump("bin")).__name__),
    ("pipeline", lambda r: r.pipeline(False).get("ok").get("bin").get("ok").execute(False)),
    ("multi", lambda r: r.pipeline().get("ok").get("bin").get("ok").execute(False)),
    ("still in step", lambda r: r.get("ok")),
]


@pytest.mark.parametrize(
    ("encoding", "errors"),
    [
        ("utf-8", "strict"),
        ("utf-8", "replace"),
        ("utf-8", "surrogateescape"),
        ("latin-1", "strict"),
    ],
)
def test_encoding_errors(
    compare: Callable[..., Any], protocol: int, encoding: str, errors: str
) -> None:
    outcomes = dict(
        compare(
            ENCODED,
            protocol=protocol,
            decode_responses=True,
            encoding=encoding,
            encoding_errors=errors,
        )
    )
    expected = {
        ("utf-8", "strict"): ("raised", UnicodeDecodeError),
        ("utf-8", "replace"): ("ok", "\ufffd\ufffdA"),
        ("utf-8", "surrogateescape"): ("ok", "\udcff\udcfeA"),
        ("latin-1", "strict"): ("ok", "ÿþA"),
    }[encoding, errors]
    assert outcomes["get binary"][:2] == expected
    assert outcomes["still in step"] == ("ok", "fine")


@pytest.mark.parametrize(
    ("encoding", "errors", "stored"),
    [
        ("utf-8", "strict", UnicodeEncodeError),
        ("utf-8", "surrogateescape", b"\xff"),
        ("utf-8", "replace", b"?"),
        ("latin-1", "strict", UnicodeEncodeError),
    ],
)
def test_arguments_encoded_with_encoding_errors(
    make: Callable[..., Any], redis_url: str, encoding: str, errors: str, stored: Any
) -> None:
    """redispool's Packer encodes ``str`` arguments with ``encoding``/``encoding_errors``,
    as redis-py's own packer does (redis-py with hiredis always encodes UTF-8 strictly:
    a documented difference, README's ``redispool.Packer`` row)."""
    r = make(redispool.Redis, encoding=encoding, encoding_errors=errors)
    raw = make(redis.Redis)
    raw.delete("sur")
    result = outcome(lambda r: r.set("sur", "\udcff"), r)
    if isinstance(stored, bytes):
        assert result == ("ok", True)
        assert raw.get("sur") == stored
    else:
        assert result[:2] == ("raised", stored)
        assert raw.get("sur") is None
    assert r.set("after", "é") is True and raw.get("after") == "é".encode(encoding)


# ---- response callbacks -------------------------------------------------------------------


def test_set_response_callback_is_per_client(make: Callable[..., Any], protocol: int) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol)
        r.set("cb", "v")
        r.set_response_callback("GET", lambda value, **options: ("cb", value, sorted(options)))
        other = make(cls, protocol=protocol)
        sibling = cls(connection_pool=r.connection_pool)
        pipe = r.pipeline(transaction=False).get("cb")
        outcomes.append(
            [
                r.get("cb"),
                r.execute_command("get", "cb"),
                r.execute_command("GET", "cb", keys=["cb"]),
                other.get("cb"),
                sibling.get("cb"),
                pipe.execute(),
                r.pipeline().get("cb").execute(),
                other.pipeline().get("cb").execute(),
            ]
        )
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[0] == ("cb", b"v", [])
    assert ours[3] == ours[4] == b"v"
    assert ours[7] == [b"v"]


def test_callbacks_see_redis_pys_options(make: Callable[..., Any], protocol: int) -> None:
    """What reaches a callback: the options less ``keys``, ``NEVER_DECODE`` and
    ``EMPTY_RESPONSE`` (a command, a pipeline), less ``keys`` only (a transaction, where
    even an EMPTY_RESPONSE value goes through the callback)."""
    names = ("GET", "DUMP", "MGET", "ZRANGE", "HGETALL")
    ops: list[Op] = [
        ("set", lambda r: r.set("k", "v")),
        ("zadd", lambda r: r.zadd("z", {"a": 1})),
        ("hset", lambda r: r.hset("h", "f", "v")),
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
        outcomes.append(run_ops(r, ops))
    theirs, ours = outcomes
    assert ours == theirs
    ours_by_label = dict(ours)
    assert ours_by_label["zrange"] == ("ok", ("ZRANGE", ["score_cast_func", "withscores"]))
    assert ours_by_label["dump"] == ("ok", ("DUMP", []))
    assert ours_by_label["mget none"] == ("ok", [])
    transaction = [("GET", []), ("DUMP", ["NEVER_DECODE"]), ("MGET", ["EMPTY_RESPONSE"])]
    transaction.append(("HGETALL", []))
    assert ours_by_label["transaction"] == ("ok", transaction)


def test_replaced_response_callbacks(make: Callable[..., Any]) -> None:
    """A plain dict as ``response_callbacks`` is looked up as it is (case-sensitively)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        r.flushdb()
        r.set("k", "v")
        r.response_callbacks = {"get": lambda value: "lower", "HGET": lambda value: "upper"}
        outcomes.append(
            [r.get("k"), r.execute_command("get", "k"), r.hget("k2", "f"), r.hset("k2", "f", 1)]
        )
    theirs, ours = outcomes
    assert ours == theirs == [b"v", "lower", "upper", 1]


# ---- connections: single connection, timeouts, health checks, retries ---------------------


def test_single_connection_client_from_threads(make: Callable[..., Any], admin: Any) -> None:
    r = make(redispool.Redis, single_connection_client=True, decode_responses=True)
    r.flushdb()
    conn = r.connection
    assert conn is not None
    acquired = Counter[str]()
    lock = r.single_connection_lock

    class CountingLock:
        def acquire(self) -> bool:
            acquired["acquire"] += 1
            return bool(lock.acquire())

        def release(self) -> None:
            acquired["release"] += 1
            lock.release()

    r.single_connection_lock = CountingLock()
    errors: list[BaseException] = []
    ids: set[int] = set()
    threads_n, rounds = 8, 50

    def work(n: int) -> None:
        try:
            ids.add(r.client_id())
            for i in range(rounds):
                value = f"{n}-{i}-" + "x" * (i * 37)
                assert r.set(f"t{n}", value) is True
                assert r.get(f"t{n}") == value
                assert r.incr("counter") > 0
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert r.get("counter") == str(threads_n * rounds)
    assert len(ids) == 1 and r.connection is conn
    commands = threads_n * (1 + 3 * rounds) + 1
    assert acquired == {"acquire": commands, "release": commands}
    assert r.connection_pool._in_use_connections == {conn}
    r.close()
    assert r.connection is None
    assert not r.connection_pool._in_use_connections


class Unrelated(Exception):
    """The only error ``NO_RETRY`` retries: failures are not retried, so
    the read or send itself must leave the connection as redis-py's does."""


NO_RETRY = Retry(NoBackoff(), 0, supported_errors=(Unrelated,))


@pytest.mark.parametrize("retry", [Retry(NoBackoff(), 0), NO_RETRY], ids=["no-retries", "none"])
@pytest.mark.parametrize("single", [False, True], ids=["pooled", "single"])
def test_socket_timeout(
    make: Callable[..., Any], admin: Any, protocol: int, single: bool, retry: Retry
) -> None:
    """A read past ``socket_timeout`` raises redis-py's TimeoutError, and the connection
    is disconnected (by the read itself, or also by the failure callback of a policy
    that allows no retries): the next command is not answered with the late BLPOP reply."""
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
        r.delete(key)
        r.set("after", "value")
        results = [outcome(lambda c, k=key: c.blpop([k], timeout=1), r)]
        pool = r.connection_pool
        conns = [r.connection] if single else pool._available_connections
        results.append([c._sock is None for c in conns])
        results.append(outcome(lambda c, k=key: c.pipeline(False).blpop([k], 1).execute(), r))
        results.append([c._sock is None for c in conns])
        admin.rpush(key, "late")  # a BLPOP still waiting would take it
        results.append(outcome(lambda r: r.get("after"), r))
        results.append(outcome(lambda c, k=key: c.lrange(k, 0, -1), r))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[0] == ("raised", TimeoutError, "Timeout reading from socket")
    assert ours[1] == [True] and ours[3] == [True]
    assert ours[4] == ("ok", "value") and ours[5] == ("ok", ["late"])


def _ping_calls(admin: Any) -> int:
    return int(admin.info("commandstats").get("cmdstat_ping", {}).get("calls", 0))


def test_health_check_interval(make: Callable[..., Any], admin: Any, protocol: int) -> None:
    """A PING goes first when a health check is due (command and pipeline), none when it
    is not; each reply moves the next check ``health_check_interval`` on."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, health_check_interval=60, single_connection_client=True)
        r.set("k", "v")
        conn = r.connection
        results = []
        for due in (True, False, True, False):
            mark = 0.0 if due else time.monotonic() + 30  # not due, and < 60 s on
            conn.next_health_check = mark
            before = _ping_calls(admin)
            value = r.get("k")
            results.append((value, _ping_calls(admin) - before, conn.next_health_check > mark))
        # a pipeline takes a connection from the pool; make its health check due
        pipe = r.pipeline(transaction=False)
        pipe.get("k")
        pooled = r.connection_pool.get_connection()
        pooled.connect()
        pooled.next_health_check = 0
        r.connection_pool.release(pooled)
        before = _ping_calls(admin)
        results.append((pipe.execute(), _ping_calls(admin) - before, pooled.next_health_check > 0))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    due, not_due = (b"v", 1, True), (b"v", 0, True)
    assert ours == [due, not_due, due, not_due, ([b"v"], 1, True)]


class CountingBackoff(NoBackoff):
    """No backoff, counting the retries the policy allowed (in the class: redis-py's
    client copies its ``retry``)."""

    computed = 0

    def compute(self, failures: int) -> float:
        type(self).computed += 1
        return 0


@pytest.mark.parametrize("retries", [0, 1, 3])
def test_retry_after_server_side_kill(
    make: Callable[..., Any], admin: Any, protocol: int, retries: int
) -> None:
    """CLIENT KILL of the client's connection: the next command is retried by the
    ``Retry`` policy, after redis-py's failure callback (``_close_connection``, here
    overridden to count its calls), or fails as redis-py's does without retries; an error
    reply is never retried."""
    outcomes = []
    for base in CLASSES:
        closed: list[Any] = []

        def close(
            self: Any, conn: Any, *args: Any, _base: Any = base, _closed: Any = closed
        ) -> None:
            _closed.append(args[1:2])  # the failure count
            _base._close_connection(self, conn, *args)

        cls = type("Closing", (base,), {"_close_connection": close})
        backoff = type("Backoff", (CountingBackoff,), {})()
        r = make(
            cls,
            protocol=protocol,
            single_connection_client=True,
            retry=Retry(backoff, retries),
            decode_responses=True,
        )
        r.set("k", "v")
        first = r.client_id()
        admin.client_kill_filter(_id=first)
        results = [outcome(lambda r: r.get("k"), r), backoff.computed, closed[:]]
        results.append(r.connection._sock is None)
        results.append(outcome(lambda r: r.get("k"), r))
        results.append(r.client_id() != first)
        type(backoff).computed = 0
        results.append((outcome(lambda r: r.hgetall("k"), r)[:2], backoff.computed))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    if retries:
        assert ours[:4] == [("ok", "v"), 1, [(1,)], False]
    else:
        closed_error = ("raised", ConnectionError, "Connection closed by server.")
        assert ours[:4] == [closed_error, 0, [(1,)], True]
    assert ours[4:] == [("ok", "v"), True, (("raised", ResponseError), 0)]


FAILURES = [
    builtins.TimeoutError("timed out"),  # socket.timeout
    OSError(104, "Connection reset by peer"),
    OSError("one argument"),
    ConnectionError("from the parser"),
    ValueError("a bug"),
    Interrupt("interrupted"),
]
FAILURE_IDS = ["socket.timeout", "OSError", "OSError-1", "ConnectionError", "ValueError", "Base"]


def failing_parser() -> type:
    """A Parser (not redispool's own class: the fused path calls its ``read_response``)
    whose next read raises ``fail`` instead, before reading anything."""

    class FailingParser(redispool.Parser):
        fail: BaseException | None = None

        def read_response(self, *args: Any, **kwargs: Any) -> Any:
            exc, type(self).fail = type(self).fail, None
            if exc is not None:
                raise exc
            return super().read_response(*args, **kwargs)

    return FailingParser


class FailingSocket:
    """A socket whose ``sendall`` raises ``fail``."""

    def __init__(self, sock: Any, fail: BaseException) -> None:
        self._sock, self._fail = sock, fail

    def sendall(self, data: Any) -> None:
        raise self._fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@pytest.fixture(params=["tcp", "unix"])
def url(request: pytest.FixtureRequest, redis_server: RedisServer) -> str:
    """The session server's address over TCP (redis-py's ``Connection``) or its unix
    socket (``UnixDomainSocketConnection``, its own ``_host_error``)."""
    return redis_server.url if request.param == "tcp" else f"unix://{redis_server.unix_path}"


@pytest.mark.parametrize("fail", FAILURES, ids=FAILURE_IDS)
def test_failed_read(
    make: Callable[..., Any], protocol: int, fail: BaseException, url: str
) -> None:
    """A read that fails: redis-py's exception (and message: the address), the connection
    disconnected (so the unread reply is never taken for the next command's)."""
    outcomes = []
    for cls in CLASSES:
        parser = failing_parser()
        r = make(
            cls,
            url,
            protocol=protocol,
            parser_class=parser,
            retry=NO_RETRY,
            single_connection_client=True,
        )
        r.set("k", "v")
        r.set("other", "o")
        parser.fail = fail
        results = [outcome(lambda c: c.get("k"), r), r.connection._sock is None]
        results.append(outcome(lambda c: c.get("other"), r))
        parser.fail = fail
        results.append(outcome(lambda c: c.pipeline(False).get("k").get("k").execute(), r))
        results.append(outcome(lambda c: c.pipeline(False).get("other").execute(), r))
        parser.fail = fail
        results.append(outcome(lambda c: c.pipeline().get("k").execute(), r))
        results.append(outcome(lambda c: c.pipeline().get("other").execute(), r))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[1:3] == [True, ("ok", b"o")]
    assert ours[4] == ours[6] == ("ok", [b"o"])
    assert ours[0][:2] == ours[3][:2] == ours[5][:2]
    if isinstance(fail, OSError) and not isinstance(fail, builtins.TimeoutError):
        address = url.split("//")[1].rsplit("/0", 1)[0]  # host:port, or the socket's path
        assert ours[0] == (
            "raised",
            ConnectionError,
            f"Error while reading from {address} : {fail.args}",
        )


class FailingRecv:
    """A socket whose next ``recv_into`` raises ``fail`` (or returns 0: end of file)."""

    def __init__(self, sock: Any, fail: BaseException | None) -> None:
        self._sock, self._fail = sock, fail

    def recv_into(self, *args: Any) -> int:
        if self._fail is None:
            return 0
        raise self._fail

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


RECV_FAILURES = [
    ConnectionResetError(104, "Connection reset by peer"),
    builtins.TimeoutError("timed out"),
    BlockingIOError(11, "Resource temporarily unavailable"),
    None,
]


@pytest.mark.parametrize("fail", RECV_FAILURES, ids=["reset", "timeout", "EAGAIN", "EOF"])
def test_failed_recv(
    make: Callable[..., Any], protocol: int, fail: BaseException | None, url: str
) -> None:
    """The parser's ``recv`` fails: redis-py's exception and message (its parser is
    hiredis's, or its own; ours reads in the fused path), the connection disconnected;
    for a command and for a transaction (on the connection its WATCH holds)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, url, protocol=protocol, retry=NO_RETRY, single_connection_client=True)
        r.set("k", "v")
        conn = r.connection
        conn._parser._sock = FailingRecv(conn._parser._sock, fail)
        results = [outcome(lambda c: c.get("k"), r), conn._sock is None]
        results.append(outcome(lambda c: c.get("k"), r))
        with r.pipeline() as pipe:
            pipe.watch("k")
            held = pipe.connection
            held._parser._sock = FailingRecv(held._parser._sock, fail)
            pipe.multi()
            pipe.get("k")
            results.append(outcome(lambda c, p=pipe: p.execute(), r))
        # (reset() reconnected it for its UNWATCH: the transaction's replies were dropped)
        results.append(outcome(lambda c: c.pipeline().get("k").execute(), r))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[1:3] == [True, ("ok", b"v")]
    assert ours[4:] == [("ok", [b"v"])]
    raised = TimeoutError if isinstance(fail, builtins.TimeoutError) else ConnectionError
    assert ours[0][:2] == ours[3][:2] == ("raised", raised)


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
def test_pipeline_retried_after_a_failed_read(
    make: Callable[..., Any], admin: Any, protocol: int, transaction: bool
) -> None:
    """``Pipeline.execute`` (redis-py's) retries a stack whose read failed with a
    ConnectionError; while WATCHing it raises redis-py's WatchError instead."""
    outcomes = []
    for cls in CLASSES:
        parser = failing_parser()
        r = make(cls, protocol=protocol, parser_class=parser, retry=Retry(NoBackoff(), 1))
        r.set("k", "v")
        results = []
        pipe = r.pipeline(transaction)
        pipe.set("k", "w").get("k")
        parser.fail = ConnectionError("lost")
        results.append(outcome(lambda c, p=pipe: p.execute(), r))
        with r.pipeline(transaction) as pipe:
            pipe.watch("k")
            results.append(pipe.get("k"))
            pipe.multi()
            pipe.set("k", "x").get("k")
            parser.fail = ConnectionError("lost")
            results.append(outcome(lambda c, p=pipe: p.execute(), r))
            results.append(pipe.watching)
        results.append(r.get("k"))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours == [
        ("ok", [True, b"w"]),
        b"w",
        ("raised", WatchError, "A ConnectionError occurred while watching one or more keys"),
        False,
        b"x",  # the server ran the transaction: only its replies were lost
    ]


@pytest.mark.parametrize("fail", FAILURES, ids=FAILURE_IDS)
def test_failed_send(make: Callable[..., Any], protocol: int, fail: BaseException) -> None:
    """A send that fails: redis-py's exception and message, the connection disconnected."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, retry=NO_RETRY, single_connection_client=True)
        r.set("k", "v")
        conn = r.connection
        conn._sock = FailingSocket(conn._sock, fail)
        outcomes.append(
            [outcome(lambda c: c.get("k"), r), conn._sock is None, outcome(lambda c: c.get("k"), r)]
        )
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[1:] == [True, ("ok", b"v")]


def test_watch_queued_in_a_pipeline(make: Callable[..., Any], admin: Any) -> None:
    """WATCH and UNWATCH in a pipeline's stack set its ``watching`` flag as redis-py's
    ``Pipeline.parse_response`` does: ``reset()`` after ``execute()`` UNWATCHes if set."""

    def unwatches() -> int:
        stats = admin.info("commandstats").get("cmdstat_unwatch", {})
        return int(stats.get("calls", 0))

    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        results = []
        for stack in (["WATCH"], ["WATCH", "UNWATCH"], ["UNWATCH"]):
            pipe = r.pipeline(False)
            for name in stack:
                pipe.pipeline_execute_command(name, *(["w"] if name == "WATCH" else []))
            pipe.pipeline_execute_command("GET", "w")
            before = unwatches()
            results.append((pipe.execute(), unwatches() - before))
        outcomes.append(results)
    theirs, ours = outcomes
    # the UNWATCH counted is reset()'s, or the stack's own (then reset() sends none)
    assert ours == theirs == [([True, None], 1), ([True, True, None], 1), ([True, None], 1)]


def test_readonly_reply_closes_the_pools_connections(redis_url: str) -> None:
    """READONLY (a failover demoted the server) read on the fused path tells redispool's
    pool, as its Parser does on redis-py's path: the pool closes its idle connections
    rather than lend them to write to a replica. redis-py's client on redispool's pool
    is the reference."""
    outcomes = []
    for cls in CLASSES:
        pool = redispool.ConnectionPool.from_url(redis_url)
        r = cls(connection_pool=pool)
        held = [pool.get_connection() for _ in range(3)]
        for conn in held:
            conn.connect()
        for conn in held[1:]:
            pool.release(conn)
        pool.release(held[0])  # the next command's connection
        result = outcome(lambda c: c.execute_command("DEBUG", "ERROR", "READONLY fake"), r)
        outcomes.append([result, [c._sock is None for c in held]])
        pool.disconnect()
    theirs, ours = outcomes
    assert ours == theirs
    assert ours == [("raised", ReadOnlyError, "fake"), [True, True, True]]


def test_marked_for_reconnect(make: Callable[..., Any]) -> None:
    """A connection marked for reconnect (maintenance notifications) is reconnected
    after the command, as in ``Redis._execute_command``."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, single_connection_client=True)
        r.set("k", "v")
        first = r.client_id()
        r.connection.mark_for_reconnect()
        outcomes.append([r.get("k"), r.connection.should_reconnect(), r.client_id() != first])
    theirs, ours = outcomes
    assert ours == theirs == [b"v", False, True]


def test_himport_set_takes_redis_pys_path(
    make: Callable[..., Any], redis_py_sends: list[Any]
) -> None:
    """HIMPORT SET (its fieldsets prepared per connection) is sent redis-py's way; the
    outcome is the same whether or not the server knows the command."""
    ops: list[Op] = [
        ("split", lambda r: r.execute_command("HIMPORT", "SET", "k", "fs", "v")),
        ("joined", lambda r: r.execute_command("himport set", "k", "fs", "v")),
        ("short", lambda r: r.execute_command("HIMPORT", "SET", "k")),
        ("after", lambda r: r.set("k", "v")),
    ]
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        r.ping()
        del redis_py_sends[:]
        outcomes.append((run_ops(r, ops), list(redis_py_sends)))
    theirs, ours = outcomes
    assert ours[0] == theirs[0]
    assert ours[1] == ["HIMPORT", "himport set"]  # too short for HIMPORT SET: sent as it is


def test_pooled_connection_killed_while_idle(make: Callable[..., Any], admin: Any) -> None:
    """An idle pooled connection the server closed is not lent as it is: the next
    command succeeds even without retries (redis-py's pool checks at checkout too)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, retry=Retry(NoBackoff(), 0))
        r.set("k", "v")
        first = r.client_id()
        admin.client_kill_filter(_id=first)
        outcomes.append([outcome(lambda r: r.get("k"), r), r.client_id() != first])
    theirs, ours = outcomes
    assert ours == theirs == [("ok", b"v"), True]


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.mark.parametrize("retries", [0, 2])
def test_server_killed_mid_command(
    private_server: RedisServer, protocol: int, retries: int
) -> None:
    """The server dies while commands wait for their replies: the same ConnectionError
    as redis-py's, no dead connection lent afterwards, and the client works again once
    the server is back."""
    url = private_server.url
    clients = [
        cls.from_url(url, protocol=protocol, retry=Retry(NoBackoff(), retries)) for cls in CLASSES
    ]
    admin = redis.Redis.from_url(url, decode_responses=True)
    results: dict[int, Any] = {}

    def blocked(i: int) -> None:
        results[i] = outcome(lambda r: r.blpop(["q"], timeout=30), clients[i])

    threads = [threading.Thread(target=blocked, args=(i,)) for i in range(len(clients))]
    try:
        for client in clients:
            client.ping()  # connected: BLPOP goes the fused way
        for t in threads:
            t.start()
        wait_until(
            lambda: sum(c["cmd"] == "blpop" for c in admin.client_list()) == len(clients),
            "both clients blocked in BLPOP",
        )
        admin.shutdown(nosave=True)
        for t in threads:
            t.join(10)
        assert not any(t.is_alive() for t in threads)
        theirs, ours = results[0], results[1]
        assert ours == theirs
        assert ours[:2] == ("raised", ConnectionError)
        for client in clients:
            pool = client.connection_pool
            assert not pool._in_use_connections
            assert all(c._sock is None for c in pool._available_connections)
        down = [outcome(lambda r: r.ping(), c) for c in clients]
        assert down[1] == down[0]
        assert down[1][:2] == ("raised", ConnectionError)
        private_server.restart()
        up = [
            [outcome(lambda r: r.ping(), c), outcome(lambda r: r.blpop("q", 0.01), c)]
            for c in clients
        ]
        assert up[1] == up[0] == [("ok", True), ("ok", None)]
    finally:
        for client in clients:
            client.close()
        admin.close()


class CountingProvider(UsernamePasswordCredentialProvider):
    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.calls = 0

    def get_credentials(self) -> Any:
        self.calls += 1
        return super().get_credentials()


@pytest.fixture
def acl_user(admin: Any) -> Iterator[str]:
    name = "redispool-test-user"
    admin.acl_setuser(
        name, enabled=True, passwords=["+secret"], keys=["*"], commands=["+@all"], reset=True
    )
    yield name
    admin.acl_deluser(name)


@pytest.mark.parametrize("password", ["secret", "wrong"])
def test_credential_provider(
    make: Callable[..., Any], acl_user: str, protocol: int, password: str
) -> None:
    outcomes = []
    for cls in CLASSES:
        provider = CountingProvider(acl_user, password)
        r = make(cls, protocol=protocol, credential_provider=provider, retry=Retry(NoBackoff(), 1))
        whoami = outcome(lambda c: c.acl_whoami(), r)
        outcomes.append([whoami, outcome(lambda c: c.set("k", "v"), r), provider.calls])
    theirs, ours = outcomes
    assert ours == theirs
    if password == "secret":
        whoami = acl_user if protocol == 2 else acl_user.encode()  # redis-py's callbacks
        assert ours == [("ok", whoami), ("ok", True), 1]
    else:
        assert ours[0][:2] == ("raised", AuthenticationError)


def _socket_inodes() -> set[int]:
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(int(link[8:-1]))
    return inodes


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("how", ["close", "with", "single"])
@pytest.mark.parametrize("cls", CLASSES, ids=["redis-py", "redispool"])
def test_close_closes_connections(redis_url: str, admin: Any, cls: type, how: str) -> None:
    name = f"close-{how}-{cls.__module__}"
    r: Any = cls.from_url(redis_url, single_connection_client=how == "single")
    with r if how == "with" else contextlib.nullcontext():
        r.client_setname(name)
        assert r.pipeline().ping().execute() == [True]
        conns = [*r.connection_pool._available_connections, *r.connection_pool._in_use_connections]
        assert conns and all(c._sock is not None for c in conns)
        inodes = {os.fstat(c._sock.fileno()).st_ino for c in conns}
        assert inodes <= _socket_inodes()
        assert name in [c["name"] for c in admin.client_list()]
        if how != "with":
            r.close()
    assert r.connection is None
    assert all(c._sock is None for c in conns)
    assert not inodes & _socket_inodes()
    wait_until(lambda: name not in [c["name"] for c in admin.client_list()], f"{name} gone")


def test_close_keeps_a_given_pool(redis_url: str) -> None:
    """``close()`` of a client given its pool leaves the pool's connections open."""
    for cls in CLASSES:
        pool = redispool.ConnectionPool.from_url(redis_url)
        with cls(connection_pool=pool) as r:
            r.ping()
        assert [c._sock is not None for c in pool._available_connections] == [True]
        pool.disconnect()


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
    pipe.scan(0, count=1000).hscan("h").config_get("maxmemory-policy")
    pipe.xadd("x", {"f": "v"}, id="1-0").xrange("x").geoadd("g", (1, 2, "p")).geopos("g", "p")
    pipe.eval("return {1, 'a', redis.status_reply('OK')}", 0).info("keyspace")
    pipe.execute_command("HGETALL", "h", keys=["h"])
    return pipe


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
def test_pipeline_results(
    compare: Callable[..., Any],
    fused: dict[str, int],
    protocol: int,
    decode: bool,
    transaction: bool,
) -> None:
    def scrub(results: list[Any]) -> list[Any]:  # SCAN's order and INFO's avg_ttl
        for i, result in enumerate(results):
            if isinstance(result, dict) and "db0" in result:
                results[i] = result["db0"]["keys"]
            elif isinstance(result, tuple) and isinstance(result[1], list):
                results[i] = _scan(result)
        return results

    ops: list[Op] = [
        ("execute", lambda r: scrub(_pipeline(r, transaction).execute())),
        ("again", lambda r: scrub(_pipeline(r, transaction).execute())),
        ("dump", lambda r: r.pipeline(transaction).dump("s").get("s").execute()),
    ]
    outcomes = dict(compare(ops, protocol=protocol, decode_responses=decode))
    assert fused["run_transaction" if transaction else "run_pipeline"] >= 3
    results = outcomes["execute"][1]
    assert results[:3] == [True, "v" if decode else b"v", 1]
    assert results[5] == (
        {"a": "1", "é": "ü"} if decode else {b"a": b"1", "é".encode(): "ü".encode()}
    )
    assert len(results) == 35


# Stacks with an error reply in them (in MULTI: "arity" and "unknown command" are refused
# when queued, so EXEC aborts; the others fail when EXEC runs them).
FAILING: list[tuple[str, Callable[[Any], Any]]] = [
    ("wrongtype", lambda p: p.set("s", "v").lpush("s", 1).get("s").incr("s")),
    ("unknown command", lambda p: p.set("s", "v").execute_command("NOSUCH", "a").get("s")),
    ("arity", lambda p: p.get("s").execute_command("SET", "s").get("s")),
    ("script error", lambda p: p.eval("return redis.error_reply('MINE x')", 0).ping()),
    ("NOSCRIPT", lambda p: p.ping().evalsha("0" * 40, 0).ping()),
    ("long command", lambda p: p.ping().lpush("s", "x" * 200)),
]


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
@pytest.mark.parametrize("raise_on_error", [True, False], ids=["raise", "return"])
def test_pipeline_errors(
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
    outcomes = dict(compare(ops, protocol=protocol, decode_responses=True))
    wrongtype = outcomes["wrongtype"]
    if raise_on_error:
        assert wrongtype == (
            "raised",
            ResponseError,
            "Command # 2 (LPUSH s 1) of pipeline caused error: "
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        )
    else:
        assert wrongtype[0] == "ok" and wrongtype[1][1][0] is ResponseError
    arity = outcomes["arity"]
    if transaction:  # EXECABORT: the queued command's error, whatever raise_on_error says
        assert arity == (
            "raised",
            ResponseError,
            "Command # 2 (SET s) of pipeline caused error: "
            "wrong number of arguments for 'set' command",
        )
    assert outcomes["long command"][0] == ("raised" if raise_on_error else "ok")
    for label, _ in FAILING:
        assert outcomes[f"{label} after"] == ("ok", ["v"])


def test_watch_conflict(make: Callable[..., Any], admin: Any, protocol: int) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=True)
        r.set("w", "0")
        with r.pipeline() as pipe:
            results: list[Any] = [type(pipe).__module__ == cls.__module__]
            pipe.watch("w")
            results.append(pipe.get("w"))  # immediate, while watching
            pipe.multi()
            pipe.set("w", "mine").get("w")
            admin.set("w", "theirs")
            results.append(outcome(lambda r: pipe.execute(), r))
            results.append(pipe.watching)
            # the pipeline is reusable and its connection in step
            pipe.watch("w")
            pipe.multi()
            pipe.set("w", "mine").get("w")
            results.append(outcome(lambda r: pipe.execute(), r))
        results.append(r.get("w"))
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


@pytest.mark.parametrize("value_from_callable", [False, True])
def test_transaction_helper_retries(
    make: Callable[..., Any], admin: Any, protocol: int, value_from_callable: bool
) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=True)
        r.set("t", "1")
        seen: list[Any] = []

        def bump(pipe: Any, seen: list[Any] = seen) -> Any:
            value = pipe.get("t")
            seen.append((type(pipe), value))
            if len(seen) == 1:
                admin.set("t", "10")  # the first EXEC fails: WatchError, and a retry
            pipe.multi()
            pipe.set("t", int(value) + 1).get("t")
            return f"callable saw {value}"

        result = r.transaction(bump, "t", value_from_callable=value_from_callable)
        outcomes.append([result, [v for _, v in seen], r.get("t")])
        assert [t for t, _ in seen] == [
            redispool.Pipeline if cls is redispool.Redis else redis.client.Pipeline
        ] * 2
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[1:] == [["1", "10"], "11"]
    assert ours[0] == ("callable saw 10" if value_from_callable else [True, "11"])


def test_scripts_and_locks(make: Callable[..., Any], protocol: int) -> None:
    """Script objects (EVALSHA, then SCRIPT LOAD on NOSCRIPT), in pipelines too, and
    ``lock()``, which runs on them."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=True)
        r.script_flush()
        echo = r.register_script("return {KEYS[1], ARGV[1]}")
        results = [echo(keys=["a"], args=["b"])]
        r.script_flush()
        pipe = r.pipeline()
        echo(keys=["c"], args=["d"], client=pipe)
        pipe.get("nothing")
        results.append(pipe.execute())
        lock = r.lock("the-lock", timeout=10)
        results += [lock.acquire(blocking=False), r.lock("the-lock").acquire(blocking=False)]
        results += [lock.owned(), lock.extend(5), lock.release() is None, r.exists("the-lock")]
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs == [["a", "b"], [["c", "d"], None], True, False, True, True, True, 0]


def test_pubsub_beside_commands(make: Callable[..., Any], protocol: int) -> None:
    """``pubsub()`` of a redispool client (redis-py's PubSub, on a redispool pool)."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=protocol, decode_responses=True)
        pubsub = r.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe("channel")
        results = [pubsub.get_message(timeout=5)]  # the subscription (ignored)
        results.append(r.publish("channel", "hello"))
        results.append(pubsub.get_message(timeout=5))
        results.append(r.pubsub_numsub("channel"))
        pubsub.close()
        results.append(r.get("nothing"))
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[1:] == [
        1,
        {"type": "message", "pattern": None, "channel": "channel", "data": "hello"},
        [("channel", 1)],
        None,
    ]


def test_pooled_client_from_threads(make: Callable[..., Any]) -> None:
    """One pooled client used by several threads at once: each command gets its own
    reply, and the pool ends with every connection idle."""
    r = make(redispool.Redis, decode_responses=True)
    r.flushdb()
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(100):
                value = f"{n}-{i}-" + "y" * (i * 53)
                assert r.set(f"p{n}", value) is True
                assert r.get(f"p{n}") == value
                assert r.pipeline(i % 2 == 0).get(f"p{n}").incr("total").execute()[0] == value
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert r.get("total") == "800"
    pool = r.connection_pool
    assert not pool._in_use_connections
    assert 1 <= len(pool._available_connections) <= 8


def test_empty_and_reused_pipelines(make: Callable[..., Any], fused: dict[str, int]) -> None:
    outcomes = []
    for cls in CLASSES:
        r = make(cls, decode_responses=True)
        pool = r.connection_pool
        results = []
        for transaction in (False, True):
            pipe = r.pipeline(transaction)
            results.append(pipe.execute())
            results.append(len(pool._in_use_connections))
            pipe.set("a", "1").get("a")
            results.append(len(pipe))
            results.append(pipe.execute())
            results.append((len(pipe), pipe.connection, len(pool._in_use_connections)))
            pipe.incr("a").get("a")
            results.append(pipe.execute())
            pipe.get("a")
            pipe.reset()
            results.append((len(pipe), pipe.execute()))
            with r.pipeline(transaction) as pipe:
                pipe.get("a")
                results.append(pipe.execute())
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs
    assert ours[:7] == [[], 0, 2, [True, "1"], (0, None, 0), [2, "2"], (0, [])]
    assert fused["run_pipeline"] == fused["run_transaction"] == 3


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi"])
def test_large_pipeline(
    compare: Callable[..., Any], protocol: int, decode: bool, transaction: bool
) -> None:
    """1000 commands, and values around and well past the packer's buffer cutoff (sent
    as separate chunks), memoryviews among them."""
    big = b"x" * 100_000

    def thousand(r: Any) -> Any:
        pipe = r.pipeline(transaction)
        for i in range(500):
            pipe.set(f"k{i}", i * "x")
            pipe.strlen(f"k{i}")
        return pipe.execute()

    def large(r: Any) -> Any:
        pipe = r.pipeline(transaction)
        for size in (5999, 6000, 6001, 100_000):
            pipe.set(f"b{size}", big[:size]).strlen(f"b{size}")
        pipe.set("mv", memoryview(big)[:7000]).strlen("mv").set("small", memoryview(b"ab"))
        pipe.get("small").getrange("b100000", 99_998, -1)
        return pipe.execute()

    ops: list[Op] = [("thousand", thousand), ("large", large), ("after", lambda r: r.get("k3"))]
    outcomes = dict(compare(ops, protocol=protocol, decode_responses=decode))
    assert len(outcomes["thousand"][1]) == 1000
    assert outcomes["thousand"][1][-1] == 499
    expected = [True, 5999, True, 6000, True, 6001, True, 100_000, True, 7000, True, "ab", "xx"]
    if not decode:
        expected[-2:] = [b"ab", b"xx"]
    assert outcomes["large"] == ("ok", expected)


# ---- RESP3 push messages, client-side caching ---------------------------------------------


def test_resp3_invalidation_pushes_between_replies(make: Callable[..., Any], admin: Any) -> None:
    """CLIENT TRACKING on a RESP3 connection: an invalidation push that arrives before a
    reply is consumed, and the command gets its own reply."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls, protocol=3, single_connection_client=True, decode_responses=True)
        r.set("tracked", "1")
        r.set("other", "2")
        results = [r.client_tracking_on(), r.get("tracked")]
        admin.set("tracked", "changed")
        results += [r.get("other"), r.get("tracked"), r.pipeline(False).get("other").execute()]
        admin.set("tracked", "again")
        results += [r.pipeline().get("other").execute(), r.get("tracked")]
        outcomes.append(results)
    theirs, ours = outcomes
    assert ours == theirs == ["OK", "1", "2", "changed", ["2"], ["2"], "again"]


def test_client_side_caching(
    make: Callable[..., Any],
    admin: Any,
    redis_server: RedisServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With ``cache_config`` the pool lends redis-py's CacheProxyConnection (no
    ``_sock``, no ``health_check_interval``): its commands and pipelines run redis-py's
    way, cached replies and invalidations as in redis-py."""
    from redis.cache import CacheConfig
    from redis.connection import CacheProxyConnection

    # redis-py refuses servers older than Redis 7.4 (and other servers); tracking, which
    # is all it needs, is older: let it run on this server
    server_name = redis_server.name.split()[0].lower()
    monkeypatch.setattr(CacheProxyConnection, "MIN_ALLOWED_VERSION", "6.0.0")
    monkeypatch.setattr(CacheProxyConnection, "DEFAULT_SERVER_NAME", server_name)
    ops: list[Op] = [
        ("set", lambda r: r.set("cached", "1")),
        ("get", lambda r: r.get("cached")),
        ("get cached", lambda r: r.get("cached")),
        ("cache size", lambda r: len(r.get_cache().collection)),
        ("invalidate", lambda r: admin.set("cached", "2")),
        ("get again", lambda r: r.get("cached")),
        ("pipeline", lambda r: r.pipeline(False).get("cached").set("other", "x").execute()),
        ("multi", lambda r: r.pipeline().get("cached").get("other").execute()),
        ("error", lambda r: r.hgetall("cached")),
        ("after", lambda r: r.get("other")),
    ]
    theirs, ours = (
        run_ops(make(cls, protocol=3, cache_config=CacheConfig(), decode_responses=True), ops)
        for cls in CLASSES
    )
    assert ours == theirs
    assert [o for _, o in ours][:7] == [
        ("ok", True),
        ("ok", "1"),
        ("ok", "1"),
        ("ok", 1),
        ("ok", True),
        ("ok", "2"),
        ("ok", ["2", True]),
    ]


# ---- when the fused path runs --------------------------------------------------------------


@contextlib.contextmanager
def calls_to(function: Any, argument: str) -> Iterator[list[Any]]:
    """The value of ``argument`` in each call (in this thread) of the Python ``function``,
    seen by a profile function rather than by replacing it: the fused path steps aside
    for a method replaced on redis-py's classes."""
    code = function.__code__
    seen: list[Any] = []

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code is code:
            seen.append(frame.f_locals[argument])

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield seen
    finally:
        sys.setprofile(previous)


@pytest.fixture
def redis_py_sends() -> Iterator[list[Any]]:
    """The command names ``redis.Redis._send_command_parse_response`` is called for
    during the test (redis-py's path; the fused path does not call it)."""
    with calls_to(redis.client.Redis._send_command_parse_response, "command_name") as seen:
        yield seen


def test_fused_path_taken_for_a_plain_command(
    make: Callable[..., Any], fused: dict[str, int], redis_py_sends: list[Any]
) -> None:
    theirs = make(redis.Redis)
    theirs.flushdb()
    del redis_py_sends[:]
    assert theirs.get("k") is None
    assert redis_py_sends == ["GET"]  # the counter sees redis-py's path
    r = make(redispool.Redis, single_connection_client=True)
    r.ping()  # connects: redis-py's own step
    del redis_py_sends[:]
    before = fused["execute_command"]
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert redis_py_sends == []
    assert fused["execute_command"] == before + 2
    r.connection.disconnect()  # no socket: redis-py's step connects, then fused again
    assert r.get("k") == b"v" and r.get("k") == b"v"
    assert redis_py_sends == ["GET"]


class SendCountingConnection(redis.connection.Connection):
    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sent += 1
        super().send_packed_command(command, check_health)


def test_connection_class_overriding_send_takes_redis_pys_path(
    make: Callable[..., Any], redis_py_sends: list[Any], protocol: int
) -> None:
    cls = type("Counting", (SendCountingConnection,), {"sent": 0})
    r = make(redispool.Redis, connection_class=cls, protocol=protocol)
    r.ping()
    del redis_py_sends[:]
    sent = cls.sent
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert redis_py_sends == ["SET", "GET"]
    assert cls.sent == sent + 2


def test_connection_class_overriding_pack_commands_takes_redis_pys_pipeline(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    packed: list[int] = []

    class PackCounting(redis.connection.Connection):
        def pack_commands(self, commands: Any) -> Any:
            commands = list(commands)
            packed.append(len(commands))
            return super().pack_commands(commands)

    r = make(redispool.Redis, connection_class=PackCounting)
    r.ping()
    assert r.pipeline(False).set("k", "v").get("k").execute() == [True, b"v"]
    assert r.pipeline().set("k", "w").get("k").execute() == [True, b"w"]
    assert packed == [2, 4]
    # the plain connection class: redis-py's pack_commands is not called ...
    r2 = make(redispool.Redis)
    r2.ping()
    with calls_to(redis.connection.AbstractConnection.pack_commands, "commands") as seen:
        assert r2.pipeline(False).get("k").execute() == [b"w"]
        assert r2.pipeline().get("k").execute() == [b"w"]
    assert seen == []
    # ... unless it was replaced there: then it is, as it would be in redis-py
    original = redis.connection.AbstractConnection.pack_commands
    replaced: list[int] = []

    def counting(self: Any, commands: Any) -> Any:
        commands = list(commands)
        replaced.append(len(commands))
        return original(self, commands)

    monkeypatch.setattr(redis.connection.AbstractConnection, "pack_commands", counting)
    assert r2.pipeline(False).get("k").execute() == [b"w"]
    assert r2.pipeline().get("k").execute() == [b"w"]
    assert replaced == [1, 3]


def test_client_subclass_overriding_parse_response(make: Callable[..., Any]) -> None:
    parsed: list[Any] = []

    class Parsing(redispool.Redis):
        def parse_response(self, connection: Any, command_name: Any, **options: Any) -> Any:
            parsed.append(command_name)
            return super().parse_response(connection, command_name, **options)

    r = make(Parsing)
    r.ping()
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert parsed == ["PING", "SET", "GET"]


def test_pipeline_subclass_overriding_parse_response(make: Callable[..., Any]) -> None:
    parsed: list[Any] = []

    class Pipe(redispool.Pipeline):
        def parse_response(self, connection: Any, command_name: Any, **options: Any) -> Any:
            parsed.append(command_name)
            return super().parse_response(connection, command_name, **options)

    r = make(redispool.Redis)
    r.ping()
    pipe = Pipe(r.connection_pool, r.response_callbacks, False, None)
    assert pipe.set("k", "v").get("k").execute() == [True, b"v"]
    pipe = Pipe(r.connection_pool, r.response_callbacks, True, None)
    assert pipe.get("k").execute() == [b"v"]
    assert parsed == ["SET", "GET", "_", "_", "_"]


class Collector:
    """A stand-in for redis-py's metrics collector: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, kwargs))

        return record


def test_metrics_on_takes_redis_pys_path(
    make: Callable[..., Any],
    fused: dict[str, int],
    redis_py_sends: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r = make(redispool.Redis)
    r.ping()
    collector = Collector()
    monkeypatch.setattr(redis.observability.recorder, "_metrics_collector", collector)
    del redis_py_sends[:]
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert redis_py_sends == ["SET", "GET"]
    recorded = [
        kw["command_name"] for name, kw in collector.calls if name == "record_operation_duration"
    ]
    assert recorded == ["SET", "GET"]
    monkeypatch.setattr(redis.observability.recorder, "_metrics_collector", None)
    del redis_py_sends[:]
    assert r.get("k") == b"v"
    assert redis_py_sends == []


def test_fallback_runs_redis_pys_execute_command_as_patched(
    make: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the fused path steps aside (metrics on), ``redis.Redis.execute_command`` runs
    as it is at the time, as ``super().execute_command`` would: wrapped by whatever
    instrumentation wrapped it after redispool was imported."""
    r = make(redispool.Redis)
    r.ping()
    monkeypatch.setattr(redis.observability.recorder, "_metrics_collector", Collector())
    seen: list[Any] = []
    original = redis.client.Redis.execute_command

    def wrapped(self: Any, *args: Any, **options: Any) -> Any:
        seen.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(redis.client.Redis, "execute_command", wrapped)
    assert r.set("k", "v") is True and r.get("k") == b"v"
    assert seen == ["SET", "GET"]


def test_methods_replaced_on_the_object(make: Callable[..., Any]) -> None:
    """A method set on the client or pipeline object itself is called, as redis-py's
    own code would call it."""
    outcomes = []
    for cls in CLASSES:
        r = make(cls)
        r.ping()
        parsed: list[Any] = []

        def parse_response(
            connection: Any, command_name: Any, _r: Any = r, _parsed: Any = parsed, **options: Any
        ) -> Any:
            _parsed.append(command_name)
            return type(_r).parse_response(_r, connection, command_name, **options)

        r.parse_response = parse_response
        results: list[Any] = [r.set("k", "v"), r.get("k")]
        del r.parse_response
        results.append(r.get("k"))
        pipe = r.pipeline(False)
        queued: list[Any] = []

        def pipeline_execute_command(
            *args: Any, _pipe: Any = pipe, _queued: Any = queued, **options: Any
        ) -> Any:
            _queued.append(args[0])
            return type(_pipe).pipeline_execute_command(_pipe, *args, **options)

        pipe.pipeline_execute_command = pipeline_execute_command
        results.append(pipe.get("k").get("nope").execute())
        for transaction in (False, True):
            pipe = r.pipeline(transaction)

            def pipe_parse(
                connection: Any, name: Any, _pipe: Any = pipe, _parsed: Any = parsed, **options: Any
            ) -> Any:
                _parsed.append(name)
                return type(_pipe).parse_response(_pipe, connection, name, **options)

            pipe.parse_response = pipe_parse
            results.append(pipe.get("k").execute())
        outcomes.append([results, parsed, queued])
    theirs, ours = outcomes
    assert ours == theirs
    assert ours == [
        [True, b"v", b"v", [b"v", None], [b"v"], [b"v"]],
        ["SET", "GET", "GET", "_", "_", "_"],  # a transaction reads MULTI, GET, EXEC as "_"
        ["GET", "GET"],
    ]


def test_retry_subclass_runs_every_try(make: Callable[..., Any], admin: Any) -> None:
    """A ``Retry`` whose ``call_with_retry`` is its own is called for every command, as
    redis-py calls it."""
    outcomes = []
    for cls in CLASSES:

        class Counting(Retry):
            calls: ClassVar[list[Any]] = []

            def call_with_retry(self, do: Any, fail: Any, *args: Any, **kwargs: Any) -> Any:
                self.calls.append(1)
                return super().call_with_retry(do, fail, *args, **kwargs)

        r = make(cls, retry=Counting(NoBackoff(), 1), single_connection_client=True)
        results = [r.set("k", "v"), r.get("k")]
        admin.client_kill_filter(_id=r.client_id())
        results.append(r.get("k"))
        outcomes.append([results, len(Counting.calls)])
    theirs, ours = outcomes
    # four commands, and the connect and the reconnect (redis-py's connect retries too)
    assert ours == theirs == [[True, b"v", b"v"], 6]
