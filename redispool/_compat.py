"""Every private name of redis-py that redispool reads or writes, resolved here.

redis-py's internals change between releases; keeping each access in one function, with a
test that the name still exists in the supported versions (``tests/test_compat.py``),
makes a change show up as one failing test instead of a wrong result somewhere else.
"""

from __future__ import annotations

import weakref
from typing import Any

from redis._parsers import (
    _AsyncHiredisParser,
    _AsyncRESP2Parser,
    _AsyncRESP3Parser,
    _HiredisParser,
    _RESP2Parser,
    _RESP3Parser,
)
from redis.connection import CacheProxyConnection
from redis.utils import check_protocol_version

from ._impl import Packer
from ._pack_py import Packer as _PurePacker
from ._slots_py import NO_SOCKET, OPAQUE_SOCKET

_LEDGERS = (Packer, _PurePacker)

#: Attributes of redis-py's connections read inline on the hot paths (the pools' release,
#: ``redispool.asyncio.fast_io``), where a function call would cost more than the work;
#: tested like the others. ``fast_io`` also reads asyncio's ``StreamReader._waiter``.
HOT_NAMES = {
    "sync": ("_command_packer", "_should_reconnect", "_sock"),
    "asyncio": (
        "_should_reconnect",
        "_reader",
        "_writer",
        "_read_response_from_parser",
        "_host_error",
        "_reschedule_active_read_timeout",
    ),
}


def sync_packer(connection: Any) -> Any:
    """The ``command_packer`` a redis-py connection packs with (``_command_packer``)."""
    return getattr(connection, "_command_packer", None)


def ledger(packer: Any) -> Any:
    """``packer`` if it is a redispool ``Packer`` (which keeps a reply ledger), else None."""
    return packer if isinstance(packer, _LEDGERS) else None


def _unwrapped(connection: Any) -> Any:
    """The connection a client-side caching proxy wraps (``_conn``), or ``connection``."""
    return connection._conn if isinstance(connection, CacheProxyConnection) else connection


def sync_ledger(connection: Any) -> Any:
    """The reply ledger of a sync connection (through a client-side caching proxy too)."""
    return ledger(sync_packer(_unwrapped(connection)))


def async_ledger(connection: Any) -> Any:
    """The reply ledger of an asyncio connection: the ``Packer`` that the pool (or
    ``install()``) gave it, as ``_rp_packer``; redis-py's asyncio connections have no
    packer hook of their own."""
    return ledger(getattr(connection, "_rp_packer", None))


def _descriptor(sock: Any) -> int:
    if sock is None:
        return NO_SOCKET
    try:
        return int(sock.fileno())  # -1 (NO_SOCKET) once closed
    except (AttributeError, OSError, TypeError, ValueError):
        return OPAQUE_SOCKET


def sync_fd(connection: Any) -> int:
    """What ``SlotArray.release`` takes as ``fd`` for a sync connection: its socket's
    descriptor (``_sock``), ``NO_SOCKET`` if disconnected, ``OPAQUE_SOCKET`` if unknown."""
    try:
        sock = _unwrapped(connection)._sock
    except AttributeError:
        return OPAQUE_SOCKET
    return _descriptor(sock)


def async_fd(connection: Any) -> int:
    """The same for an asyncio connection (the socket under its ``_writer``'s transport)."""
    try:
        writer = connection._writer
    except AttributeError:
        return OPAQUE_SOCKET
    if writer is None:
        return NO_SOCKET
    return _descriptor(writer.transport.get_extra_info("socket"))


def default_parsers() -> tuple[Any, Any]:
    """redis-py's ``DefaultParser`` names, sync and asyncio, as redis-py defines them (a
    user who names one has not chosen a parser: ``install()`` leaves these names alone)."""
    import redis.asyncio.connection
    import redis.connection

    return redis.connection.DefaultParser, redis.asyncio.connection.DefaultParser


class _WeakPool:
    """``pool`` of a maintenance handler made by ``weak_pool_handler``: the pool itself,
    held weakly (None once it is gone)."""

    def __get__(self, handler: Any, owner: Any = None) -> Any:
        if handler is None:
            return self
        ref = handler.__dict__.get("_rp_pool")
        return None if ref is None else ref()

    def __set__(self, handler: Any, pool: Any) -> None:
        try:
            ref: Any = weakref.ref(pool)
        except TypeError:  # None, or an object that cannot be referred to weakly: held
            ref = lambda: pool  # noqa: E731
        handler.__dict__["_rp_pool"] = ref


_WEAK_POOL_HANDLERS: dict[type, type] = {}


def weak_pool_handler(handler: Any) -> Any:
    """redis-py's maintenance-notification pool handler (the pool's
    ``_maint_notifications_pool_handler``, also in its ``connection_kwargs``, and a copy
    on every connection) holds its pool: cycles that would keep a dropped pool and its
    sockets alive until a GC pass. The handler becomes an instance of a subclass of its
    class (same name and module) whose ``pool`` is held weakly, so ``handler.pool is
    pool`` as in redis-py; the copies it makes for connections (``get_handler_for_connection``)
    are made the same way. Returns ``handler``."""
    cls = type(handler)
    if handler is None or isinstance(cls.__dict__.get("pool"), _WeakPool):
        return handler
    sub = _WEAK_POOL_HANDLERS.get(cls)
    if sub is None:

        def get_handler_for_connection(self: Any) -> Any:
            return weak_pool_handler(cls.get_handler_for_connection(self))

        namespace = {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
            "pool": _WeakPool(),
            "get_handler_for_connection": get_handler_for_connection,
        }
        sub = _WEAK_POOL_HANDLERS[cls] = type(cls.__name__, (cls,), namespace)
    pool = handler.__dict__.pop("pool", None)
    handler.__class__ = sub
    handler.pool = pool
    return handler


#: redis-py's own parser classes (sync, asyncio) and their ``read_response`` as defined
#: (a test may replace it on the class, with ``unittest.mock.patch``).
_PARSERS = (
    (_HiredisParser, _RESP2Parser, _RESP3Parser),
    (_AsyncHiredisParser, _AsyncRESP2Parser, _AsyncRESP3Parser),
)
_READS = {cls: cls.read_response for classes in _PARSERS for cls in classes}


def stand_in_parser(is_async: bool, protocol: Any) -> tuple[Any, Any]:
    """The redis-py parser class a connection with this ``protocol`` reads with unless it
    is given redispool's, and that class's own ``read_response``: ``DefaultParser``
    (hiredis's when installed, for both protocols), else the pure-Python parser of the
    protocol, as redis-py's ``Connection.__init__`` picks."""
    resp2, resp3 = _PARSERS[is_async][1:]
    default = default_parsers()[is_async]
    if default not in (resp2, resp3):
        cls = default
    else:
        cls = resp3 if check_protocol_version(protocol, 3) else resp2
    return cls, _READS.get(cls, cls.read_response)


def replaced_read(parser: Any, cls: Any, **kwargs: Any) -> Any:
    """Call ``cls.read_response`` where it is no longer redis-py's (a test replaced it)
    for ``parser``, as a connection reading with ``cls`` would: bound as Python binds
    it (a ``Mock`` is not bound), with the arguments redis-py's connections pass
    (no ``push_request`` for a RESP2 parser)."""
    read = cls.read_response
    bind = getattr(type(read), "__get__", None)
    if bind is not None:
        read = bind(read, parser, type(parser))
    if cls in (_RESP2Parser, _AsyncRESP2Parser):
        kwargs.pop("push_request", None)
    return read(**kwargs)
