"""When ``redispool.Redis`` runs a command its fused way, and when redis-py's own code.

The fused path (``_command_py``/``_command_c``) inlines redis-py's connection, client and
pipeline methods, redispool's ``Parser.read_response`` and the success path of
``Retry.call_with_retry``, so it may run only where those are the originals: a subclass
that overrides one, a class whose method was replaced later (``mock.patch.object(
redis.Redis, "parse_response")``) and an object given its own (``r.parse_response =
...``) are honoured by taking redis-py's path for that command. Each check compares with
the methods as they were when this module was imported, at the time of the command (the
compiled twin remembers a class's answer until the class or a base changes). A tracer
that wraps ``redis.Redis.execute_command`` (sentry-sdk, ddtrace, OpenTelemetry) is called
the same way: redis-py's path runs, through it. Metrics turn the fused path off too:
redis-py records each command's duration and errors.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio.client
import redis.asyncio.observability.recorder as _arecorder
import redis.asyncio.retry
import redis.client
import redis.observability.providers as _providers
import redis.observability.recorder as _recorder
from redis.asyncio.connection import AbstractConnection as AsyncConnection
from redis.connection import AbstractConnection, Connection
from redis.observability.providers import get_observability_instance
from redis.retry import Retry

from . import _compat
from .parsers import Parser

__all__ = (
    "CLIENT_METHODS",
    "CONNECTION_METHODS",
    "PARSER_METHODS",
    "PIPELINE_METHODS",
    "aclient",
    "aconnection",
    "apipeline",
    "aqueue",
    "aretry",
    "aparser",
    "apool",
    "async_metrics_off",
    "client",
    "connection",
    "metrics_off",
    "overridden",
    "parser",
    "pipeline",
    "queue",
    "retry",
)


def _originals(owner: Any, names: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    """``(name, owner.name)`` as imported (None where this redis-py lacks one: then
    ``_compat.COMMAND_PATH`` is off)."""
    return tuple((name, getattr(owner, name, None)) for name in names)


#: What the fused path inlines of a connection (sending, packing, reading, health checks).
CONNECTION_METHODS = (
    "send_packed_command",
    "send_command",
    "check_health",
    "read_response",
    "pack_commands",
)
_CONNECTION = _originals(AbstractConnection, CONNECTION_METHODS)
#: What it inlines of a client (running a command, parsing its reply) and of a pipeline.
PIPELINE_METHODS = ("_send_command_parse_response", "parse_response")
CLIENT_METHODS = ("_execute_command", *PIPELINE_METHODS)
_CLIENT = _originals(redis.client.Redis, CLIENT_METHODS)
_PIPELINE = _originals(redis.client.Pipeline, PIPELINE_METHODS)
_QUEUE = _originals(redis.client.Pipeline, ("pipeline_execute_command",))
#: What tracers wrap (sentry-sdk, ddtrace, OpenTelemetry's instrumentation): while one
#: does, commands take redis-py's path, through the wrapper.
_TRACED = _originals(redis.client.Redis, ("execute_command",))
_TRACED_QUEUE = _originals(redis.client.Pipeline, ("execute_command",))
PARSER_METHODS = ("read_response", "read_from_socket")
_PARSER = _originals(Parser, PARSER_METHODS)
_RETRY = _originals(Retry, ("call_with_retry",))
#: ``Connection._host_error`` reads ``host``: the fused path formats it itself.
_ADDRESS = _originals(Connection, ("_host_error", "host"))
_UNKNOWN = object()

# ---- the same for redis.asyncio (``_acommand_py``/``_acommand_c``) ---------------------------
#: What the asyncio path inlines of a connection (``pack_command`` is the pool's ``Packer``).
ASYNC_CONNECTION_METHODS = (*CONNECTION_METHODS, "_read_response_from_parser")
_ACONNECTION = _originals(AsyncConnection, ASYNC_CONNECTION_METHODS)
_ACLIENT = _originals(redis.asyncio.client.Redis, CLIENT_METHODS[1:])
_APIPELINE = _originals(redis.asyncio.client.Pipeline, PIPELINE_METHODS)
_AQUEUE = _originals(redis.asyncio.client.Pipeline, ("pipeline_execute_command",))
_ARETRY = _originals(redis.asyncio.retry.Retry, ("call_with_retry",))
_ATRACED = _originals(redis.asyncio.client.Redis, ("execute_command",))
_ATRACED_QUEUE = _originals(redis.asyncio.client.Pipeline, ("execute_command",))
_APARSER: list[Any] = []  # AsyncParser and its methods as imported (on first use: the
# asyncio package imports the client, whose command path imports this module)


def _same(cls: Any, originals: tuple[tuple[str, Any], ...]) -> bool:
    try:
        return all(getattr(cls, name) is original for name, original in originals)
    except AttributeError:  # not such a class at all (a test's Mock)
        return False


def connection(cls: type) -> bool:
    """Whether connections of ``cls`` send, pack and read as redis-py's do."""
    return _compat.COMMAND_PATH and _same(cls, _CONNECTION)


def address(cls: type) -> bool:
    """Whether ``cls._host_error()`` is ``Connection``'s ``f"{host}:{port}"``, with
    ``host`` its ``_host``."""
    return _same(cls, _ADDRESS)


def client(cls: type) -> bool:
    """Whether clients of ``cls`` parse replies as ``redis.Redis`` does, and nothing
    wraps ``redis.Redis.execute_command`` (a tracer)."""
    return _compat.COMMAND_PATH and _same(cls, _CLIENT) and _same(redis.client.Redis, _TRACED)


def pipeline(cls: type) -> bool:
    """Whether pipelines of ``cls`` parse replies as redis-py's ``Pipeline`` does."""
    return _compat.COMMAND_PATH and _same(cls, _PIPELINE)


def queue(cls: type) -> bool:
    """Whether pipelines of ``cls`` queue a command as redis-py's ``Pipeline`` does, and
    nothing wraps its ``execute_command``."""
    return _same(cls, _QUEUE) and _same(redis.client.Pipeline, _TRACED_QUEUE)


def parser(cls: type) -> bool:
    """Whether parsers of ``cls`` read as redispool's ``Parser`` was imported reading."""
    return cls is Parser and _same(cls, _PARSER)


def retry(cls: type) -> bool:
    """Whether ``cls.call_with_retry`` is redis-py's ``Retry``'s: then the fused path
    calls it only once a try failed (its first try is the command itself)."""
    return _same(cls, _RETRY)


def overridden(instance: Any, names: tuple[str, ...]) -> bool:
    """Whether ``instance`` has its own attribute under one of ``names`` (a method
    replaced on that object alone)."""
    own: dict[str, Any] = getattr(instance, "__dict__", None) or {}
    return any(name in own for name in names)


def metrics_off() -> bool:
    """Whether redis-py records nothing: no metrics collector, and none it could make
    (observability not initialised; redis-py makes its collector on first use). Its
    observability instance is looked at only once made."""
    if _recorder._metrics_collector is not None:
        return False
    instance: Any = getattr(_providers, "_observability_instance", _UNKNOWN)
    if instance is None:
        return True
    if instance is _UNKNOWN:
        instance = get_observability_instance()
    return instance.get_provider_manager() is None


def aconnection(cls: type) -> bool:
    """Whether asyncio connections of ``cls`` send and read as redis-py's do."""
    return _compat.ASYNC_COMMAND_PATH and _same(cls, _ACONNECTION)


def aclient(cls: type) -> bool:
    """Whether asyncio clients of ``cls`` parse replies as ``redis.asyncio.Redis`` does,
    and nothing wraps its ``execute_command`` (a tracer)."""
    return (
        _compat.ASYNC_COMMAND_PATH
        and _same(cls, _ACLIENT)
        and _same(redis.asyncio.client.Redis, _ATRACED)
    )


def apipeline(cls: type) -> bool:
    """Whether asyncio pipelines of ``cls`` parse replies as redis-py's do."""
    return _compat.ASYNC_COMMAND_PATH and _same(cls, _APIPELINE)


def aqueue(cls: type) -> bool:
    """Whether asyncio pipelines of ``cls`` queue as redis-py's do, nothing wrapping
    their ``execute_command``."""
    return _same(cls, _AQUEUE) and _same(redis.asyncio.client.Pipeline, _ATRACED_QUEUE)


def aparser(cls: type) -> bool:
    """Whether parsers of ``cls`` read as redispool's ``AsyncParser`` was imported reading."""
    if not _APARSER:
        from .asyncio.parser import AsyncParser

        _APARSER[:] = (AsyncParser, _originals(AsyncParser, PARSER_METHODS))
    return cls is _APARSER[0] and _same(cls, _APARSER[1])


_APOOL: list[Any] = []  # redispool's asyncio pool's release methods, on first use


def apool(cls: type) -> bool:
    """Whether asyncio pools of ``cls`` release as redispool's own pool does (then the
    command path gives a connection back without a coroutine: ``release_nowait``)."""
    if not _APOOL:
        from .asyncio.pool import ConnectionPool

        _APOOL[:] = [_originals(ConnectionPool, ("release", "release_nowait", "_put_back"))]
    return _same(cls, _APOOL[0])


def aretry(cls: type) -> bool:
    """``retry`` for redis.asyncio's ``Retry``."""
    return _same(cls, _ARETRY)


def async_metrics_off() -> bool:
    """``metrics_off()``, and no asyncio collector either."""
    return _arecorder._async_metrics_collector is None and metrics_off()
