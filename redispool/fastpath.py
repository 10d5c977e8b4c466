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

import redis.client
import redis.observability.providers as _providers
import redis.observability.recorder as _recorder
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
