"""When ``redispool.Redis`` runs a command its fused way, and when redis-py's own code.

The fused path (``_command_py``/``_command_c``) inlines redis-py's connection and client
methods, so it may run only where those methods are redis-py's own: a connection class
or client class that overrides one of them is honoured by taking redis-py's path. Metrics
turn it off too: redis-py records each command's duration and errors, which the fused
path does not.
"""

from __future__ import annotations

from typing import Any

import redis.client
import redis.observability.providers as _providers
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

_seen: dict[tuple[type, type], bool] = {}
_UNKNOWN = object()


def _plain(cls: type, base: type, names: tuple[str, ...]) -> bool:
    key = (cls, base)
    known = _seen.get(key)
    if known is None:
        known = _seen[key] = all(getattr(cls, name, None) is getattr(base, name) for name in names)
    return known


def connection(cls: type) -> bool:
    """Whether connections of ``cls`` send, pack and read as redis-py's do."""
    return _plain(cls, AbstractConnection, CONNECTION_METHODS)


def client(cls: type) -> bool:
    """Whether clients of ``cls`` parse replies as ``redis.Redis`` does (and this redis-py
    has every name the fused path reads: ``_compat.COMMAND_PATH``)."""
    return _compat.COMMAND_PATH and _plain(cls, redis.client.Redis, CLIENT_METHODS)


def pipeline(cls: type) -> bool:
    """Whether pipelines of ``cls`` parse replies as redis-py's ``Pipeline`` does."""
    return _compat.COMMAND_PATH and _plain(cls, redis.client.Pipeline, PIPELINE_METHODS)


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


__all__ = ("client", "connection", "metrics_off", "pipeline")
