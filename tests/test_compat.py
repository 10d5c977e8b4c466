"""The private names of redis-py that ``redispool._compat`` relies on still exist."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

import redispool
import redispool.asyncio
from redispool import _compat
from redispool.server import RedisServer
from redispool.slot_codes import NO_SOCKET


def test_sync_names(redis_server: RedisServer) -> None:
    pool = redispool.ConnectionPool.from_url(redis_server.url, protocol=3)
    conn = pool.get_connection()
    for name in _compat.HOT_NAMES["sync"]:
        assert hasattr(conn, name), name
    assert _compat.sync_ledger(conn) is conn._command_packer is _compat.sync_packer(conn)
    assert _compat.sync_fd(conn) == conn._sock.fileno() == conn._command_packer.fd >= 0
    assert isinstance(pool._event_dispatcher._event_listeners_mapping, dict)
    handler = pool._maint_notifications_pool_handler
    assert isinstance(handler.pool, weakref.ProxyType) and handler.pool.connection_kwargs
    for name in ("_maint_notifications_pool_handler", "_maint_notifications_connection_handler"):
        assert isinstance(getattr(conn, name).connection, weakref.ProxyType), name
    pool.release(conn)
    pool.disconnect()
    assert _compat.sync_fd(conn) == NO_SOCKET


def test_asyncio_names(redis_server: RedisServer) -> None:
    async def main() -> None:
        pool = redispool.asyncio.ConnectionPool.from_url(redis_server.url, protocol=3)
        conn: Any = await pool.get_connection()
        for name in _compat.HOT_NAMES["asyncio"]:
            assert hasattr(conn, name), name
        for name in _compat.STREAM_NAMES:
            assert hasattr(conn._reader, name), name
        assert isinstance(pool._event_dispatcher._event_listeners_mapping, dict)
        assert _compat.async_ledger(conn) is conn._rp_packer
        assert _compat.async_fd(conn) == conn._rp_packer.fd >= 0
        await pool.release(conn)
        await pool.disconnect()
        assert _compat.async_fd(conn) == NO_SOCKET

    asyncio.run(main())


def test_default_parsers() -> None:
    assert _compat.default_parsers() == (
        redis.connection.DefaultParser,
        aredis.connection.DefaultParser,
    )


def test_cache_proxy_unwraps(redis_server: RedisServer) -> None:
    from redis.cache import CacheConfig

    if redis_server.version < (7, 4) or "valkey" in redis_server.binary:
        pytest.skip("redis-py's client-side caching needs Redis 7.4 or later")
    pool = redispool.ConnectionPool.from_url(
        redis_server.url, protocol=3, cache_config=CacheConfig()
    )
    conn = pool.get_connection()
    assert _compat.sync_ledger(conn) is conn._conn._command_packer
    pool.release(conn)
    pool.disconnect()
