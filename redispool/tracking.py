"""Connections that know whether they still owe the caller a reply.

A socket peek at checkout cannot see a reply that is still in flight, so redis-py hands
such connections to the next caller (who then reads someone else's reply). The pool's
connections count commands sent against replies read instead: a connection released
while it owes a reply is disconnected, never lent again. The count is exact for
ordinary commands, pipelines and transactions; commands whose replies cannot be counted
(pub/sub, MONITOR, CLIENT REPLY, replication) mark the connection unusable until it is
disconnected, which is what redis-py's own pub/sub and monitor code does on release.
"""

from __future__ import annotations

from typing import Any

from redis.connection import AbstractConnection, CacheProxyConnection
from redis.exceptions import ResponseError

#: ``_rp_owed`` for a connection whose reply count is unknown: never lent again.
UNCOUNTABLE = 1 << 62

_UNCOUNTED_NAMES = (
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "CLIENT REPLY",
    "RESET",
)
_UNCOUNTED = frozenset(
    variant
    for name in _UNCOUNTED_NAMES
    for text in (name, name.lower())
    for variant in (text, text.encode())
)


class Tracked:
    """Mixin over a redis-py connection class; ``tracked()`` builds the subclasses."""

    _rp_owed: int = 0
    _rp_batch: Any = None

    def pack_commands(self, commands: Any) -> Any:
        commands = commands if isinstance(commands, list) else list(commands)
        packed = super().pack_commands(commands)  # type: ignore[misc]
        owed = len(commands)
        if any(args and args[0] in _UNCOUNTED for args in commands):
            owed = UNCOUNTABLE
        self._rp_batch = (packed, owed)
        return packed

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        batch = self._rp_batch
        owed = 1
        if batch is not None:
            self._rp_batch = None
            if batch[0] is command:
                owed = batch[1]
        super().send_packed_command(command, check_health)  # type: ignore[misc]
        self._rp_owed += owed

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        super().send_command(*args, **kwargs)  # type: ignore[misc]
        if args and args[0] in _UNCOUNTED:
            self._rp_owed = UNCOUNTABLE

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ResponseError:  # an error reply: read in full, then raised
            if self._rp_owed:
                self._rp_owed -= 1
            raise
        if self._rp_owed:
            self._rp_owed -= 1
        return response

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        super().disconnect(*args, **kwargs)  # type: ignore[misc]
        self._rp_owed = 0
        self._rp_batch = None


class TrackedCacheProxy(CacheProxyConnection):
    """Client-side caching wraps the pool's connection: what it owes is the inner one's."""

    @property
    def _rp_owed(self) -> int:
        return int(getattr(self._conn, "_rp_owed", 0))


_classes: dict[type, type] = {}


def tracked(cls: type) -> type:
    """``cls`` with reply tracking, same name and module; other classes are returned as
    they are (they are only checked by a socket peek)."""
    if not (isinstance(cls, type) and issubclass(cls, AbstractConnection)):
        return cls
    if issubclass(cls, Tracked):
        return cls
    sub = _classes.get(cls)
    if sub is None:
        sub = type(
            cls.__name__,
            (Tracked, cls),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
        )
        _classes[cls] = sub
    return sub
