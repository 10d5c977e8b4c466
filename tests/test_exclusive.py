"""``redispool.exclusive``: which commands never share an auto-pipelined connection.

``exclusive(args)`` on its own (every spelling of a name, XREAD/XREADGROUP with and
without BLOCK, its answer cache), against the server's own command table (every command
the server flags as blocking or as entering pub/sub mode is exclusive), and on a client
with auto-pipelining: an exclusive command issued while the shared connection is busy
takes a connection of its own, a shareable one joins the shared connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

import redispool.asyncio
import redispool.exclusive
from redispool.asyncio.client import Redis
from redispool.exclusive import BLOCKING, EXCLUSIVE, PUSH, STATEFUL, STREAM_READS, exclusive


def spellings(name: str) -> list[Any]:
    return [
        name,
        name.lower(),
        name.capitalize(),
        name.encode(),
        name.lower().encode(),
        bytearray(name.encode()),
        memoryview(name.encode()),
    ]


@pytest.mark.parametrize("name", sorted(EXCLUSIVE))
def test_every_spelling_of_an_exclusive_name(name: str) -> None:
    for spelling in spellings(name):
        assert exclusive((spelling,)) is True, spelling
        assert exclusive((spelling, "arg", 1)) is True, spelling


def test_the_sets() -> None:
    assert EXCLUSIVE == BLOCKING | STATEFUL | PUSH
    assert not (BLOCKING & STATEFUL or BLOCKING & PUSH or STATEFUL & PUSH)
    assert not STREAM_READS & EXCLUSIVE
    assert all(name == name.upper() for name in EXCLUSIVE | STREAM_READS)


@pytest.mark.parametrize(
    "args",
    [
        ("CLIENT SETNAME", "x"),
        ("client  id",),
        ("  client kill", "ID", 1),
        (b"CLIENT TRACKING", b"ON"),
        ("Multi",),
        ("HELLO 3",),
    ],
)
def test_a_name_with_its_subcommand(args: tuple[Any, ...]) -> None:
    """redis-py's joined spellings (``"CLIENT SETNAME"``): the first word decides."""
    assert exclusive(args) is True


@pytest.mark.parametrize(
    "args",
    [
        ("GET", "BLPOP"),
        ("SET", "CLIENT", "MULTI"),
        ("PUBLISH", "ch", "SUBSCRIBE"),
        ("PUBSUB", "NUMSUB", "ch"),
        ("SPUBLISH", "ch", "m"),
        ("XADD", "s", "*", "BLOCK", "1"),
        ("EVAL", "return redis.call('BLPOP', 'q', 0)", 0),
        ("CLIENTS",),
        ("BLPOPX",),
        ("MULTIPLE",),
        ("XREADS", "BLOCK", 0),
        ("",),
        ("   ",),
        (b"",),
        (42,),
        (None,),
        ("HGETALL", "h"),
    ],
)
def test_shareable(args: tuple[Any, ...]) -> None:
    assert exclusive(args) is False


@pytest.mark.parametrize("name", sorted(STREAM_READS))
def test_stream_reads_only_with_block(name: str) -> None:
    for spelling in spellings(name):
        assert exclusive((spelling, "STREAMS", "s", "0")) is False
        assert exclusive((spelling, "COUNT", 1, "STREAMS", "s", "0")) is False
        assert exclusive((spelling, "BLOCK", 0, "STREAMS", "s", "$")) is True
        assert exclusive((spelling, "COUNT", 1, b"block", 10, "STREAMS", "s", "$")) is True
        assert exclusive((spelling, "GROUP", "g", "c", "Block", 0, "STREAMS", "s", ">")) is True
        assert exclusive((spelling, "STREAMS", "BLOCKED", "0")) is False  # a key's name
    assert exclusive((f"{name} BLOCK", 0, "STREAMS", "s", "$")) is False  # one argument


def test_answers_are_cached_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """String names are answered once; the cache stops growing at ``_KNOWN_MAX`` and the
    answers past it are still right."""
    known: dict[str, bool] = {}
    monkeypatch.setattr(redispool.exclusive, "_known", known)
    monkeypatch.setattr(redispool.exclusive, "_KNOWN_MAX", 8)
    for _ in range(2):
        assert exclusive(("blpop", "q", 0)) is True
        assert exclusive(("get", "k")) is False
        assert exclusive(("xread", "BLOCK", 0, "STREAMS", "s", "$")) is True
        assert exclusive(("xread", "STREAMS", "s", "0")) is False
    assert known == {"blpop": True, "get": False}  # not XREAD: its answer is per call
    for i in range(20):
        assert exclusive((f"NAME{i}",)) is False
    assert len(known) == 8
    assert exclusive(("Subscribe", "ch")) is True and "Subscribe" not in known
    assert exclusive((b"BLPOP", "q", 0)) is True and b"BLPOP" not in known


# ---- against a server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def command_table(redis_url: str) -> dict[str, Any]:
    with redis.Redis.from_url(redis_url, decode_responses=True) as admin:
        return admin.command()  # type: ignore[no-any-return]


def test_the_servers_blocking_and_pubsub_commands(command_table: dict[str, Any]) -> None:
    """Every command this server flags ``blocking`` is exclusive (XREAD and XREADGROUP
    with BLOCK); every ``pubsub`` command but PUBLISH/SPUBLISH (which send a reply like any
    other) is exclusive."""
    blocking = {n.upper() for n, d in command_table.items() if "blocking" in d["flags"]}
    pubsub = {n.upper() for n, d in command_table.items() if "pubsub" in d["flags"]}
    assert blocking and pubsub
    assert blocking - STREAM_READS <= BLOCKING
    for name in blocking & STREAM_READS:
        assert exclusive((name, "BLOCK", 0, "STREAMS", "s", "$"))
    assert pubsub - {"PUBLISH", "SPUBLISH"} <= PUSH
    assert not exclusive(("PUBLISH", "ch", "m"))


@pytest.fixture
def admin(redis_url: str) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
        yield client


async def _kind(awaitable: Any) -> str:
    """The type of what ``awaitable`` gives (a connection's id differs from client to
    client)."""
    return type(await awaitable).__name__


ON_A_CONNECTION_OF_ITS_OWN: list[tuple[str, Any]] = [
    ("CLIENT ID", lambda r: _kind(r.execute_command("CLIENT", "ID"))),
    ("client id (joined)", lambda r: _kind(r.execute_command("client id"))),
    ("CLIENT GETNAME (bytes)", lambda r: r.execute_command(b"CLIENT", b"GETNAME")),
    ("SELECT", lambda r: r.execute_command("SELECT", 0)),
    ("BLPOP", lambda r: r.blpop(["nothing"], timeout=0.01)),
    ("BZPOPMIN", lambda r: r.bzpopmin(["nothing"], timeout=0.01)),
    ("WAIT", lambda r: r.execute_command("WAIT", 0, 0)),
    ("XREAD BLOCK", lambda r: r.xread({"stream": "$"}, block=10)),
    ("UNWATCH", lambda r: r.execute_command("UNWATCH")),
    ("DISCARD (an error reply)", lambda r: r.execute_command("DISCARD")),
    ("EXEC (an error reply)", lambda r: r.execute_command("EXEC")),
    ("DUMP (NEVER_DECODE)", lambda r: r.dump("k")),
]
SHARED: list[tuple[str, Any]] = [
    ("GET", lambda r: r.get("k")),
    ("PING", lambda r: r.ping()),
    ("PUBLISH", lambda r: r.publish("ch", "m")),
    ("PUBSUB NUMSUB", lambda r: r.pubsub_numsub("ch")),
    ("XREAD", lambda r: r.xread({"stream": "0"})),
    ("HGETALL (an error reply)", lambda r: r.hgetall("k")),
    ("EVAL", lambda r: r.eval("return 1", 0)),
]


async def _outcome(fn: Any, client: Any) -> Any:
    try:
        return ("ok", await fn(client))
    except Exception as e:
        return ("raised", type(e), str(e))


@pytest.mark.parametrize(
    ("label", "fn", "own"),
    [(label, fn, True) for label, fn in ON_A_CONNECTION_OF_ITS_OWN]
    + [(label, fn, False) for label, fn in SHARED],
    ids=lambda x: x if isinstance(x, str) else "",
)
async def test_issued_while_the_shared_connection_is_busy(
    acommand_twin: str, redis_url: str, admin: Any, label: str, fn: Any, own: bool
) -> None:
    """Issued while a burst is in flight on the shared connection: an exclusive command
    checks out a second connection, a shareable one does not; either way its outcome
    is what redis-py's client gives, and the burst gets its replies."""
    admin.set("k", "v")
    admin.xadd("stream", {"f": "v"}, id="1-0")
    theirs = aredis.Redis.from_url(redis_url)
    expected = await _outcome(fn, theirs)
    await theirs.aclose()
    r = Redis.from_url(redis_url, auto_pipeline=True)
    try:
        results = await asyncio.gather(*(r.get("k") for _ in range(20)), _outcome(fn, r))
        assert results[:20] == [b"v"] * 20
        assert results[20] == expected
        stats = r.connection_pool.stats()
        assert stats.created == (2 if own else 1), label
        assert stats.in_use == 0
    finally:
        await r.aclose()
