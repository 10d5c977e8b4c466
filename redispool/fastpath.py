"""When ``redispool.Redis`` runs a command its fused way, and when redis-py's own code.

The fused path (``_command_py``/``_command_c``) inlines redis-py's connection and client
methods, so it may run only where those methods are redis-py's own: a connection class
or client class that overrides one of them is honoured by taking redis-py's path, and so
is one of redis-py's classes whose method was replaced (``mock.patch.object(redis.Redis,
"parse_response")``, a tracer's wrapper of ``redis.Redis.execute_command``) or a client
given its own (``r.parse_response = ...``), whenever that happens: each check compares
with redis-py's methods as they were when this module was imported, every time (a few
attribute reads, cheaper than a cache lookup). Metrics turn it off too: redis-py
records each command's duration and errors, which the fused path does not.
"""

from __future__ import annotations

from typing import Any

import redis.client
import redis.observability.recorder as _recorder
from redis.connection import AbstractConnection
from redis.observability.providers import get_observability_instance

from . import _compat

#: What the fused path inlines of a connection, and of a client and a pipeline.
CONNECTION_METHODS = (
    "send_packed_command",
    "send_command",
    "check_health",
    "read_response",
    "pack_command",
    "pack_commands",
)
CLIENT_METHODS = ("_send_command_parse_response", "parse_response")
PIPELINE_METHODS = ("parse_response", "_send_command_parse_response")

# redis-py's own, as imported (None where this redis-py lacks one: COMMAND_PATH is off)
_SEND_PACKED, _SEND, _CHECK_HEALTH, _READ, _PACK, _PACK_ALL = (
    getattr(AbstractConnection, name, None) for name in CONNECTION_METHODS
)
_CLIENT_SEND, _CLIENT_PARSE = (getattr(redis.client.Redis, name, None) for name in CLIENT_METHODS)
_REDIS: Any = redis.client.Redis
_EXECUTE = _REDIS.execute_command  # what tracers replace (sentry-sdk, ddtrace, OpenTelemetry)
_PIPELINE_PARSE, _PIPELINE_SEND = (
    getattr(redis.client.Pipeline, name, None) for name in PIPELINE_METHODS
)


def connection(cls: type) -> bool:
    """Whether connections of ``cls`` send, pack and read as redis-py's do."""
    conn: Any = cls
    try:
        return (
            conn.send_packed_command is _SEND_PACKED
            and conn.send_command is _SEND
            and conn.check_health is _CHECK_HEALTH
            and conn.read_response is _READ
            and conn.pack_command is _PACK
            and conn.pack_commands is _PACK_ALL
        )
    except AttributeError:  # not a connection class (a test's Mock)
        return False


def client(instance: Any) -> bool:
    """Whether ``instance`` parses replies as ``redis.Redis`` does: its class's methods are
    redis-py's own, it has none of its own, ``redis.Redis.execute_command`` is redis-py's
    own (a tracer's wrapper there is called, through redis-py's path), and this redis-py
    has every name the fused path reads (``_compat.COMMAND_PATH``)."""
    cls = type(instance)
    return (
        _compat.COMMAND_PATH
        and _REDIS.execute_command is _EXECUTE
        and cls.parse_response is _CLIENT_PARSE
        and cls._send_command_parse_response is _CLIENT_SEND
        and "parse_response" not in instance.__dict__
        and "_send_command_parse_response" not in instance.__dict__
    )


def pipeline(cls: type) -> bool:
    """Whether pipelines of ``cls`` parse replies as redis-py's ``Pipeline`` does."""
    pipe: Any = cls
    return (
        _compat.COMMAND_PATH
        and pipe.parse_response is _PIPELINE_PARSE
        and pipe._send_command_parse_response is _PIPELINE_SEND
    )


def metrics_off() -> bool:
    """Whether redis-py records nothing: no metrics collector, and none it could make
    (observability not initialised; redis-py makes its collector on first use)."""
    return (
        _recorder._metrics_collector is None
        and get_observability_instance().get_provider_manager() is None
    )


__all__ = ("client", "connection", "metrics_off", "pipeline")
