"""``redispool.Redis`` honours what a test replaces, as redis-py does, with each twin of
the fused path: a ``Mock`` connection, redis-py's client methods patched on the class
(after the fused path ran) or on the client, the Parser's ``read_response`` patched on
the class or on a connection's parser. Each case was a failure of redis-py's own tests
(``make upstream``) with ``redispool.Redis`` as ``redis.Redis``."""

from __future__ import annotations

import importlib
from asyncio import CancelledError
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from helpers import use_command_twin
from redis.backoff import NoBackoff
from redis.connection import Connection
from redis.retry import Retry

import redispool
import redispool.client
from redispool.server import RedisServer

NO_EXTENSIONS = bool(importlib.import_module("redispool._impl").NO_EXTENSIONS)


@pytest.fixture(params=["c", "py"])
def command_twin(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """``redispool.Redis`` runs the compiled or the pure fused path."""
    if request.param == "c" and NO_EXTENSIONS:
        pytest.skip("REDISPOOL_NO_EXTENSIONS is set")
    use_command_twin(monkeypatch, importlib.import_module(f"redispool._command_{request.param}"))
    return str(request.param)


@pytest.fixture
def r(command_twin: str, redis_server: RedisServer) -> Iterator[redispool.Redis]:
    client = redispool.Redis(redis_server.host, redis_server.port, single_connection_client=True)
    client.set("patches:k", "v")
    yield client
    client.close()


def test_a_mock_connection_takes_redis_py_path(command_twin: str) -> None:
    """redis-py's cluster-command tests: ``Mock(spec=Connection)`` as ``r.connection``,
    which lacks the instance attributes the fused path reads."""
    client = redispool.Redis(port=1)
    connection = mock.Mock(spec=Connection)
    connection.retry = Retry(NoBackoff(), 0)
    connection.read_response.return_value = "OK"
    with mock.patch.object(client, "connection", connection):
        assert client.readonly() is True
    connection.send_command.assert_called_once_with("READONLY")


def test_parse_response_patched_on_redis_py_class(r: redispool.Redis) -> None:
    """redis-py's test_retry: ``patch.object(Redis, "parse_response")`` once the fused
    path has already run for this class."""
    assert r.get("patches:k") == b"v"
    with mock.patch.object(redis.Redis, "parse_response", return_value="MOCK") as patched:
        assert r.get("patches:k") == "MOCK"
        assert patched.call_count == 1
    assert r.get("patches:k") == b"v"


def test_parse_response_set_on_the_client(r: redispool.Redis) -> None:
    """redis-py's test_slowlog_get: ``r.parse_response = ...``."""
    original = r.parse_response

    def parse_response(connection: Any, command_name: str, **options: Any) -> Any:
        return ("mine", original(connection, command_name, **options))

    r.parse_response = parse_response  # type: ignore[method-assign]
    assert r.get("patches:k") == ("mine", b"v")
    del r.parse_response
    assert r.get("patches:k") == b"v"


def test_read_response_patched_on_the_parser(r: redispool.Redis) -> None:
    """redis-py's test_interrupted_command: a BaseException from the parser's read
    disconnects, so that the next command does not read the reply left behind."""
    assert r.connection is not None
    parser = r.connection._parser
    assert type(parser) is redispool.Parser
    patched = mock.patch.object(parser, "read_response", side_effect=CancelledError)
    with patched, pytest.raises(CancelledError):
        r.brpop(["patches:none"], timeout=1)  # a None after a second where not patched
    assert r.set("patches:after", "1") and r.get("patches:k") == b"v"


def test_read_response_patched_on_the_parser_class(r: redispool.Redis) -> None:
    with r.pipeline(transaction=False) as pipe:  # a connection for it, made unpatched
        assert pipe.get("patches:k").execute() == [b"v"]
    with mock.patch.object(redispool.Parser, "read_response", return_value=b"MOCK"):
        assert r.get("patches:k") == b"MOCK"
        with r.pipeline(transaction=False) as pipe:
            assert pipe.get("patches:k").execute() == [b"MOCK"]
    assert r.get("patches:k") == b"v"


def test_a_tracer_wrapping_redis_py_execute_command_is_called(
    r: redispool.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sentry-sdk, ddtrace and OpenTelemetry wrap ``redis.Redis.execute_command``, which
    ``redispool.Redis`` overrides: their wrapper is called (on redis-py's path)."""
    traced = []
    original = redis.Redis.execute_command

    def execute_command(self: Any, *args: Any, **options: Any) -> Any:
        traced.append(args[0])
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", execute_command)
    assert r.set("patches:t", "1") and r.get("patches:t") == b"1"
    assert traced == ["SET", "GET"]


def test_no_command_is_redis_pys_index_error_before_a_checkout(command_twin: str) -> None:
    """``r.execute_command(*line.split())`` on an empty line: redis-py raises IndexError
    before it takes a connection (port 1: a checkout would fail with ConnectionError)."""
    client = redispool.Redis(port=1)
    with pytest.raises(IndexError) as raised:
        client.execute_command()
    assert raised.value.__context__ is None
    with pytest.raises(IndexError):
        client.pipeline().execute_command()


def test_an_error_after_a_retry_is_not_chained_to_the_first(
    r: redispool.Redis, redis_server: RedisServer
) -> None:
    """The retried try runs outside the handling of the first failure, as in redis-py:
    the INCR's ResponseError does not carry the ConnectionError of the killed socket."""
    assert r.connection is not None
    r.connection.retry = Retry(NoBackoff(), 1)
    killer = redis.Redis(redis_server.host, redis_server.port)
    killer.client_kill_filter(_id=r.client_id())
    with pytest.raises(redis.ResponseError) as raised:
        r.incr("patches:k")  # a string: WRONGTYPE-like error on the second try
    assert raised.value.__context__ is None and raised.value.__cause__ is None
    killer.close()


def test_execute_command_override_of_a_subclass_runs(
    command_twin: str, redis_server: RedisServer
) -> None:
    seen = []

    class Traced(redispool.Redis):
        def _execute_command(self, *args: Any, **options: Any) -> Any:
            seen.append(args[0])
            return super()._execute_command(*args, **options)

    client = Traced(redis_server.host, redis_server.port)
    assert client.get("patches:k") == b"v" and seen == ["GET"]
    client.close()


def test_read_response_patched_on_the_connection_object(r: redispool.Redis) -> None:
    """``mock.patch.object(conn, "read_response", ...)``: redis-py's path reads through it."""
    assert r.connection is not None
    with mock.patch.object(r.connection, "read_response", return_value=b"X") as patched:
        assert r.get("patches:k") == b"X"
        with r.pipeline(transaction=False) as pipe:  # its own connection: unpatched
            assert pipe.get("patches:k").execute() == [b"v"]
    assert patched.call_count == 1
    assert r.get("patches:k") == b"v"


def test_read_from_socket_patched_on_the_parser_class(r: redispool.Redis) -> None:
    """Both twins read through ``Parser.read_from_socket`` when it is replaced (the
    compiled one inlines it otherwise)."""
    calls = []
    original = redispool.Parser.read_from_socket

    def read_from_socket(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(self, *args, **kwargs)

    with mock.patch.object(redispool.Parser, "read_from_socket", read_from_socket):
        assert r.get("patches:k") == b"v"
    assert calls


def test_a_stack_that_cannot_be_packed_leaves_its_connection_clean(
    command_twin: str, redis_server: RedisServer
) -> None:
    """A DataError while packing a pipeline sends nothing, so nothing is owed on its
    connection: it is lent again, as redis-py lends it, not closed as dirty."""
    client = redispool.Redis(redis_server.host, redis_server.port)

    def connection_id() -> Any:
        with client.pipeline(transaction=False) as pipe:
            return pipe.client_id().execute()[0]

    first = connection_id()
    with client.pipeline(transaction=False) as pipe, pytest.raises(redis.DataError):
        pipe.set("patches:a", 1).set("patches:b", None).execute()
    assert connection_id() == first
    client.close()
