"""redispool.Parser and Packer inside redis-py, against the session's real redis-server.

Every test runs for both Reader twins, RESP2 and RESP3, and decode_responses off and on.
"""

from __future__ import annotations

import importlib
import socket
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any
from unittest.mock import patch

import pytest
import redis
from redis.exceptions import (
    BusyLoadingError,
    ConnectionError,
    NoScriptError,
    ReadOnlyError,
    ResponseError,
    TimeoutError,
    WatchError,
)

import redispool
from redispool import _compat
from redispool.parsers import Parser


def parser_for(reader_mod: ModuleType) -> type[Parser]:
    return type("Parser", (Parser,), {"reader_class": reader_mod.Reader})


def packer_for(reader_mod: ModuleType) -> Any:
    """The Packer of the same twin as ``reader_mod``."""
    return importlib.import_module(reader_mod.__name__.replace("_reader_", "_pack_")).Packer()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def protocol(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture(params=[False, True], ids=["bytes", "decoded"])
def decode(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def client(
    redis_url: str, reader_mod: ModuleType, protocol: int, decode: bool
) -> Iterator[redis.Redis]:
    pool = redis.ConnectionPool.from_url(
        redis_url,
        parser_class=parser_for(reader_mod),
        command_packer=packer_for(reader_mod),
        protocol=protocol,
        decode_responses=decode,
    )
    r = redis.Redis(connection_pool=pool)
    r.flushdb()
    yield r
    r.flushdb()
    pool.disconnect()


def s(value: str, decode: bool) -> Any:
    return value if decode else value.encode()


def test_connections_use_our_parser_and_packer(client: redis.Redis, reader_mod: ModuleType) -> None:
    conn = client.connection_pool.get_connection()
    try:
        conn.connect()
        assert isinstance(conn._parser, Parser)
        assert isinstance(conn._parser._reader, reader_mod.Reader)
        assert type(conn._command_packer).__name__ == "Packer"
    finally:
        client.connection_pool.release(conn)


def test_strings(client: redis.Redis, decode: bool) -> None:
    assert client.set("k", "v") is True
    assert client.get("k") == s("v", decode)
    assert client.get("missing") is None
    assert client.incr("n") == 1
    assert client.incrbyfloat("f", 1.5) == 1.5
    client.set("u", "héllo")
    assert client.get("u") == s("héllo", decode)
    assert client.mget("k", "missing", "u") == [s("v", decode), None, s("héllo", decode)]
    assert client.append("k", "w") == 2
    assert client.strlen("k") == 2


def test_binary_and_large_values(client: redis.Redis, decode: bool) -> None:
    big = b"x" * (1024 * 1024 + 7)
    client.set("big", big)
    assert client.get("big") == (big.decode() if decode else big)
    if not decode:
        binary = bytes(range(256)) + b"\r\n$-1\r\n"
        client.set("bin", binary)
        assert client.get("bin") == binary


def test_lists(client: redis.Redis, decode: bool) -> None:
    client.rpush("l", *[f"v{i}" for i in range(1000)])
    assert client.lrange("l", 0, -1) == [s(f"v{i}", decode) for i in range(1000)]
    assert client.lpop("l") == s("v0", decode)
    assert client.blpop(["empty"], timeout=0.01) is None


def test_hashes(client: redis.Redis, decode: bool) -> None:
    fields = {f"f{i}": f"v{i}" for i in range(100)}
    client.hset("h", mapping=fields)
    expected = {s(k, decode): s(v, decode) for k, v in fields.items()}
    assert client.hgetall("h") == expected
    assert client.hget("h", "f1") == s("v1", decode)


def test_sets_and_sorted_sets(client: redis.Redis, decode: bool) -> None:
    client.sadd("s", "a", "b", "c")
    assert client.smembers("s") == {s("a", decode), s("b", decode), s("c", decode)}
    client.zadd("z", {"a": 1.5, "b": 2.25})
    scored = client.zrange("z", 0, -1, withscores=True)  # pairs: tuples (RESP2), lists (RESP3)
    assert [tuple(pair) for pair in scored] == [(s("a", decode), 1.5), (s("b", decode), 2.25)]
    assert client.zscore("z", "b") == 2.25


def test_streams(client: redis.Redis, decode: bool) -> None:
    first = client.xadd("st", {"a": "1"})
    client.xadd("st", {"b": "2"})
    entries = client.xrange("st")
    assert entries[0] == (first, {s("a", decode): s("1", decode)})
    read = client.xread({"st": 0}, count=1)
    assert read  # dict under RESP3, list under RESP2: both come from redis-py's callbacks


def test_transactions(client: redis.Redis, decode: bool) -> None:
    with client.pipeline() as pipe:
        pipe.set("a", 1).incr("a").get("a")
        assert pipe.execute() == [True, 2, s("2", decode)]
    with client.pipeline() as pipe:
        pipe.watch("w")
        client.set("w", "changed")
        pipe.multi()
        pipe.set("w", "mine")
        with pytest.raises(WatchError):
            pipe.execute()


def test_pipeline_of_many_commands(client: redis.Redis) -> None:
    with client.pipeline(transaction=False) as pipe:
        for _i in range(1000):
            pipe.incr("counter")
        assert pipe.execute() == list(range(1, 1001))


def test_error_replies_map_to_redis_py_exceptions(client: redis.Redis) -> None:
    client.set("str", "x")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        client.lpush("str", "y")
    with pytest.raises(ResponseError, match="user_script"):
        client.eval("return redis.call('nosuchcommand')", 0)
    with pytest.raises(NoScriptError):
        client.evalsha("0" * 40, 0)
    with pytest.raises(BusyLoadingError):
        client.execute_command("DEBUG", "ERROR", "LOADING fake")
    with pytest.raises(ReadOnlyError):
        client.execute_command("DEBUG", "ERROR", "READONLY fake")
    with client.pipeline() as pipe:
        pipe.set("a", 1).lpush("str", "y").get("a")
        results = pipe.execute(raise_on_error=False)
    assert isinstance(results[1], ResponseError)


def test_resp3_types(client: redis.Redis, protocol: int, decode: bool) -> None:
    assert float(client.execute_command("DEBUG", "PROTOCOL", "double")) == 3.141
    if protocol == 3:
        assert client.execute_command("DEBUG", "PROTOCOL", "true") is True
        assert client.execute_command("DEBUG", "PROTOCOL", "null") is None
        assert client.execute_command("DEBUG", "PROTOCOL", "map") == {0: False, 1: True, 2: False}
        assert client.execute_command("DEBUG", "PROTOCOL", "bignum") == s(
            "1234567999999999999999999999999999999", decode
        )
        verbatim = client.execute_command("DEBUG", "PROTOCOL", "verbatim")
        assert verbatim == s("This is a verbatim\nstring", decode)
        attribute = client.execute_command("DEBUG", "PROTOCOL", "attrib")
        assert attribute == s("Some real reply following the attribute", decode)


def test_hello_handshake_and_client_setname(
    redis_url: str, reader_mod: ModuleType, protocol: int
) -> None:
    r = redis.Redis.from_url(
        redis_url, parser_class=parser_for(reader_mod), protocol=protocol, client_name="rp"
    )
    try:
        assert r.client_getname() in ("rp", b"rp")  # redis-py's callback decides
        assert r.ping() is True
    finally:
        r.close()


def test_pubsub(client: redis.Redis, decode: bool) -> None:
    pubsub = client.pubsub()
    pubsub.subscribe("chan")
    deadline = time.monotonic() + 5
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.5)
    assert message is not None and message["type"] == "subscribe"
    client.publish("chan", "hello")
    message = None
    while message is None and time.monotonic() < deadline:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
    assert message is not None
    assert message["data"] == s("hello", decode)
    pubsub.close()


def test_can_read_and_server_close(client: redis.Redis) -> None:
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command("PING")
        deadline = time.monotonic() + 5
        while not conn.can_read(timeout=0.1):
            assert time.monotonic() < deadline
        assert conn.read_response() in (b"PONG", "PONG")
        assert conn.can_read(timeout=0) is False
        conn.send_command("CLIENT", "ID")
        client.client_kill_filter(_id=conn.read_response())
        deadline = time.monotonic() + 5
        with pytest.raises(ConnectionError):
            while time.monotonic() < deadline:
                conn.can_read(timeout=0.1)
    finally:
        pool.release(conn)


def test_packer_honours_encoding(
    redis_url: str, reader_mod: ModuleType, pack_mod: ModuleType
) -> None:
    r = redis.Redis.from_url(
        redis_url,
        parser_class=parser_for(reader_mod),
        command_packer=pack_mod.Packer(encoding="latin-1"),
        encoding="latin-1",
    )
    try:
        r.set("latin", "é")
        assert r.get("latin") == "é".encode("latin-1")
    finally:
        r.close()


@pytest.fixture
def wired(reader_mod: ModuleType) -> Iterator[tuple[Parser, socket.socket]]:
    """A connected RESP3 Parser reading from one end of a socket pair, and the other end."""
    left, right = socket.socketpair()
    conn = redis.Connection(parser_class=parser_for(reader_mod), protocol=3, socket_timeout=5)
    conn._sock = left
    conn._parser.on_connect(conn)
    yield conn._parser, right
    left.close()
    right.close()


def test_read_resumes_after_timeout(wired: tuple[Parser, socket.socket]) -> None:
    """A reply cut by a read timeout is completed by the next read: nothing is lost."""
    parser, peer = wired
    peer.sendall(b"*2\r\n$5\r\nhel")
    with pytest.raises(TimeoutError):
        parser.read_response(timeout=0.05)
    peer.sendall(b"lo\r\n:7\r\n")
    assert parser.read_response() == [b"hello", 7]


def test_push_messages_go_to_the_handler(wired: tuple[Parser, socket.socket]) -> None:
    parser, peer = wired
    seen: list[Any] = []
    parser.set_pubsub_push_handler(lambda msg: seen.append(msg) or msg)
    peer.sendall(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n+OK\r\n")
    assert parser.read_response() == b"OK"
    assert seen == [[b"message", b"ch", b"hi"]]
    peer.sendall(b">2\r\n$4\r\npong\r\n$0\r\n\r\n")
    assert parser.read_response(push_request=True) == [b"pong", b""]


def test_server_close_is_a_connection_error(wired: tuple[Parser, socket.socket]) -> None:
    parser, peer = wired
    peer.sendall(b"*2\r\n:1\r\n")
    peer.close()
    with pytest.raises(ConnectionError, match="Connection closed by server"):
        parser.read_response()


def test_a_replaced_redis_py_read_response_is_called(client: redis.Redis, protocol: int) -> None:
    """A test that replaces ``read_response`` on the redis-py parser class a connection
    reads with unless given ours (``DefaultParser``, hiredis's when installed; redis-py's
    pubsub tests do) sees its replacement called, bound as Python binds it."""
    stands_for = _compat.stand_in_parser(False, protocol)[0]
    client.set("replaced", "real")
    with patch.object(stands_for, "read_response", autospec=True, return_value=b"fake") as read:
        assert client.get("replaced") == b"fake"
    assert isinstance(read.call_args.args[0], Parser)
    assert read.call_args.kwargs["disable_decoding"] is False
    with (
        patch.object(stands_for, "read_response", side_effect=BaseException("boom")),
        pytest.raises(BaseException, match="boom"),
    ):
        client.ping()
    assert client.get("replaced") in (b"real", "real")  # the real replies were not reused


def test_threads_share_a_pool(client: redis.Redis) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(200):
                client.set(f"t{n}", i)
                assert int(client.get(f"t{n}")) == i
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_public_names() -> None:
    assert redispool.Parser is Parser
    assert redispool.IMPLEMENTATION in ("cython", "python")
