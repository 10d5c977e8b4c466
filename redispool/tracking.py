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

from redis.asyncio.connection import AbstractConnection as AsyncAbstractConnection
from redis.connection import AbstractConnection, CacheProxyConnection
from redis.exceptions import ResponseError

from ._impl import Packer

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


def _owed(commands: list[Any]) -> int:
    """Replies a batch of commands owes (pipelines, transactions)."""
    if any(args and args[0] in _UNCOUNTED for args in commands):
        return UNCOUNTABLE
    return len(commands)


class Tracked:
    """Mixin over a redis-py connection class; ``tracked()`` builds the subclasses."""

    _rp_owed: int = 0
    _rp_batch: Any = None

    def pack_commands(self, commands: Any) -> Any:
        commands = commands if isinstance(commands, list) else list(commands)
        packed = super().pack_commands(commands)  # type: ignore[misc]
        self._rp_batch = (packed, _owed(commands))
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


class AsyncTracked:
    """The same for ``redis.asyncio`` connections, which also get the compiled packer
    (redis-py's asyncio connections have no packer hook and always pack in Python).
    Replies are counted where the parser returns one, because ``read_response`` with a
    ``timeout`` returns None both for a nil reply and for a timeout."""

    _rp_owed: int = 0
    _rp_batch: Any = None
    _rp_packer: Any = None

    def pack_command(self, *args: Any) -> Any:
        packer = self._rp_packer
        if packer is None:
            encoder = self.encoder  # type: ignore[attr-defined]
            packer = self._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
        return packer.pack(*args)

    def pack_commands(self, commands: Any) -> Any:
        commands = commands if isinstance(commands, list) else list(commands)
        packed = super().pack_commands(commands)  # type: ignore[misc]
        self._rp_batch = (packed, _owed(commands))
        return packed

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        batch = self._rp_batch
        owed = 1
        if batch is not None:
            self._rp_batch = None
            if batch[0] is command:
                owed = batch[1]
        await super().send_packed_command(command, check_health)  # type: ignore[misc]
        self._rp_owed += owed

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        await super().send_command(*args, **kwargs)  # type: ignore[misc]
        if args and args[0] in _UNCOUNTED:
            self._rp_owed = UNCOUNTABLE

    async def _read_response_from_parser(self, *args: Any, **kwargs: Any) -> Any:
        response = await super()._read_response_from_parser(*args, **kwargs)  # type: ignore[misc]
        if self._rp_owed:
            self._rp_owed -= 1
        return response

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        await super().disconnect(*args, **kwargs)  # type: ignore[misc]
        self._rp_owed = 0
        self._rp_batch = None


class TrackedCacheProxy(CacheProxyConnection):
    """Client-side caching wraps the pool's connection: what it owes is the inner one's."""

    @property
    def _rp_owed(self) -> int:
        return int(getattr(self._conn, "_rp_owed", 0))


_classes: dict[type, type] = {}


def tracked(cls: type) -> type:
    """``cls`` with reply tracking, same name and module, for redis-py's sync and asyncio
    connection classes; other classes are returned as they are (only a socket peek
    checks them)."""
    sub = _classes.get(cls)
    if sub is not None:
        return sub
    if not isinstance(cls, type) or issubclass(cls, (Tracked, AsyncTracked)):
        return cls
    if issubclass(cls, AbstractConnection):
        mixin: type = Tracked
    elif issubclass(cls, AsyncAbstractConnection):
        mixin = AsyncTracked
    else:
        return cls
    sub = type(
        cls.__name__,
        (mixin, cls),
        {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
    )
    _classes[cls] = sub
    return sub
