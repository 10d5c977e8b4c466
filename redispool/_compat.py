"""Every private name of redis-py that redispool reads or writes, resolved here.

redis-py's internals change between releases; keeping each access in one function, with a
test that the name still exists in the supported versions (``tests/test_compat.py``),
makes a change show up as one failing test instead of a wrong result somewhere else.
"""

from __future__ import annotations

import weakref
from typing import Any

from redis.connection import CacheProxyConnection

from ._impl import Packer
from ._pack_py import Packer as _PurePacker
from .slot_codes import NO_SOCKET, OPAQUE_SOCKET

_LEDGERS = (Packer, _PurePacker)

#: Attributes of redis-py's connections read inline on the hot paths (the pools' release,
#: ``redispool.asyncio.fast_io``), where a function call would cost more than the work;
#: tested like the others. asyncio's ``StreamReader`` is read there too (``STREAM_NAMES``),
#: and both pools read their event dispatcher's ``_event_listeners_mapping`` on release.
HOT_NAMES = {
    "sync": ("_command_packer", "_should_reconnect", "_sock", "_re_auth_token"),
    "asyncio": (
        "_should_reconnect",
        "_re_auth_token",
        "_reader",
        "_writer",
        "_read_response_from_parser",
        "_host_error",
        "_reschedule_active_read_timeout",
    ),
}
#: ``StreamReader``'s: the asyncio checkout's "has the loop read anything?" (``_eof``,
#: ``_buffer``) and ``fast_io``'s read (``_waiter``).
STREAM_NAMES = ("_eof", "_buffer", "_waiter")


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


def weaken_maint_handler(pool: Any) -> None:
    """redis-py's maintenance-notification handler (``_maint_notifications_pool_handler``,
    copied onto every connection) holds its pool, and the pool holds it: a cycle that
    keeps a dropped pool and its sockets alive until a GC pass. A weak proxy breaks it."""
    handler = getattr(pool, "_maint_notifications_pool_handler", None)
    if handler is not None and not isinstance(handler.pool, weakref.ProxyType):
        handler.pool = weakref.proxy(pool)


def weaken_connection_handlers(connection: Any) -> None:
    """The same for the handlers redis-py gives each connection under RESP3 (its copy of
    the pool handler, ``_maint_notifications_pool_handler``, and
    ``_maint_notifications_connection_handler``): each holds the connection that holds it,
    so a dropped connection would keep its socket open until a GC pass."""
    for name in ("_maint_notifications_pool_handler", "_maint_notifications_connection_handler"):
        handler = getattr(connection, name, None)
        if handler is not None and getattr(handler, "connection", None) is connection:
            handler.connection = weakref.proxy(connection)
