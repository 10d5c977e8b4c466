"""The private names of redis-py that ``redispool._compat`` relies on still exist."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

import redispool
import redispool.asyncio
from redispool import _compat
from redispool.server import RedisServer


def test_sync_names(redis_server: RedisServer) -> None:
    pool = redispool.ConnectionPool.from_url(redis_server.url, protocol=3)
    conn = pool.get_connection()
    for name in _compat.HOT_NAMES["sync"]:
        assert hasattr(conn, name), name
    assert _compat.sync_ledger(conn) is conn._command_packer is _compat.sync_packer(conn)
    assert _compat.sync_fd(conn) == conn._sock.fileno() == conn._command_packer.fd >= 0
    handler = pool._maint_notifications_pool_handler
    assert handler.pool is pool
    assert pool.connection_kwargs["maint_notifications_pool_handler"] is handler
    assert isinstance(handler, redis.maint_notifications.MaintNotificationsPoolHandler)
    assert conn._maint_notifications_pool_handler.pool is pool  # the copy, as in redis-py
    for name in ("_maint_notifications_pool_handler", "_maint_notifications_connection_handler"):
        assert getattr(conn, name).connection is conn, name  # as redis-py wires them
    pool.release(conn)
    pool.disconnect()
    assert _compat.sync_fd(conn) == -1


def test_asyncio_names(redis_server: RedisServer) -> None:
    async def main() -> None:
        pool = redispool.asyncio.ConnectionPool.from_url(redis_server.url, protocol=3)
        conn: Any = await pool.get_connection()
        for name in _compat.HOT_NAMES["asyncio"]:
            assert hasattr(conn, name), name
        assert hasattr(conn._reader, "_waiter")  # asyncio's StreamReader
        assert _compat.async_ledger(conn) is conn._rp_packer
        assert pool._maint_notifications_pool_handler.pool is pool
        assert conn._maint_notifications_pool_handler.pool is pool
        for name in (
            "_maint_notifications_pool_handler",
            "_maint_notifications_connection_handler",
        ):
            assert getattr(conn, name).connection is conn, name  # as redis-py wires them
        assert _compat.async_fd(conn) == conn._rp_packer.fd >= 0
        await pool.release(conn)
        await pool.disconnect()
        assert _compat.async_fd(conn) == -1

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
