"""What the pools lend: the user's exact connection class with redispool's parser and
packer, and a reply ledger that keeps a connection owing a reply from being lent
(issue 11, points 5 and 8), sync and asyncio."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
import redis.asyncio.connection
import redis.connection

import redispool
import redispool.asyncio
from redispool.server import RedisServer


class MyConnection(redis.Connection):
    """A user's subclass, as libraries define them."""


class MyAsyncConnection(redis.asyncio.Connection):
    pass


class ReadingAsyncConnection(redis.asyncio.Connection):
    """A class with a read path of its own: the pool leaves its methods alone."""

    async def read_response(self, *args: Any, **kwargs: Any) -> Any:
        return await super().read_response(*args, **kwargs)


def _sync_pool(
    pool_class: type, redis_server: RedisServer, connection_class: type, **kwargs: Any
) -> Any:
    if connection_class is redis.UnixDomainSocketConnection:
        return pool_class(connection_class=connection_class, path=redis_server.unix_path, **kwargs)
    return pool_class(
        connection_class=connection_class,
        host=redis_server.host,
        port=redis_server.port,
        **kwargs,
    )


@pytest.mark.parametrize(
    "connection_class", [redis.Connection, redis.UnixDomainSocketConnection, MyConnection]
)
@pytest.mark.parametrize("pool_class", [redispool.ConnectionPool, redispool.BlockingConnectionPool])
def test_exact_class_and_the_ledger(
    redis_server: RedisServer, pool_class: type, connection_class: type, protocol: int
) -> None:
    pool = _sync_pool(pool_class, redis_server, connection_class, protocol=protocol)
    conn = pool.get_connection()
    assert type(conn) is pool.connection_class is connection_class
    assert isinstance(conn._parser, redispool.Parser)
    conn.send_command("PING")  # a reply owed, never read
    pool.release(conn)
    assert conn._sock is None and pool.stats().dirty_closed == 1
    again = pool.get_connection()
    assert again is conn and again.send_command("PING") is None
    assert again.read_response() in (b"PONG", "PONG")
    pool.release(again)
    assert again._sock is not None and pool.stats().dirty_closed == 1
    pool.disconnect()


@pytest.mark.parametrize("connection_class", [redis.asyncio.Connection, MyAsyncConnection])
@pytest.mark.parametrize(
    "pool_class", [redispool.asyncio.ConnectionPool, redispool.asyncio.BlockingConnectionPool]
)
def test_asyncio_exact_class_and_the_ledger(
    redis_server: RedisServer, pool_class: type, connection_class: type, protocol: int
) -> None:
    async def main() -> None:
        pool = pool_class(
            connection_class=connection_class,
            host=redis_server.host,
            port=redis_server.port,
            protocol=protocol,
        )
        conn = await pool.get_connection()
        assert type(conn) is pool.connection_class is connection_class
        assert isinstance(conn._parser, redispool.asyncio.AsyncParser)
        await conn.send_command("PING")
        await pool.release(conn)
        assert not conn.is_connected and pool.stats().dirty_closed == 1
        again = await pool.get_connection()
        await again.send_command("PING")
        assert await again.read_response() in (b"PONG", "PONG")
        await pool.release(again)
        assert again.is_connected and pool.stats().dirty_closed == 1
        await pool.disconnect()

    asyncio.run(main())


def test_default_parser_named_is_not_a_choice(redis_server: RedisServer) -> None:
    """django-redis passes ``parser_class=redis.connection.DefaultParser`` explicitly."""
    redispool.install()
    try:
        pool = redis.ConnectionPool.from_url(
            redis_server.url, parser_class=redis.connection.DefaultParser
        )
        r = redis.Redis(connection_pool=pool)
        assert r.ping()
        conn = pool.get_connection()
        assert isinstance(pool, redispool.ConnectionPool)
        assert isinstance(conn._parser, redispool.Parser)
        pool.release(conn)
    finally:
        redispool.uninstall()


def test_asyncio_default_parser_named_is_not_a_choice(redis_server: RedisServer) -> None:
    async def main() -> None:
        pool = redispool.asyncio.ConnectionPool.from_url(
            redis_server.url, parser_class=redis.asyncio.connection.DefaultParser
        )
        conn = await pool.get_connection()
        assert isinstance(conn._parser, redispool.asyncio.AsyncParser)
        await pool.release(conn)
        await pool.disconnect()

    asyncio.run(main())


def test_a_chosen_parser_is_kept(redis_server: RedisServer) -> None:
    from redis._parsers import _RESP2Parser

    pool = redispool.ConnectionPool.from_url(redis_server.url, parser_class=_RESP2Parser)
    conn = pool.get_connection()
    assert not isinstance(conn._parser, redispool.Parser)  # redis-py may swap it for RESP3
    pool.release(conn)
    pool.disconnect()


def test_asyncio_idle_counts_open_sockets(redis_server: RedisServer) -> None:
    """A task cancelled mid-read leaves its connection closed but idle: ``stats().idle``
    counts open sockets, as the server's CLIENT LIST does (issue 11, point 10)."""
    name = "idle-gauge"
    admin = redis.Redis.from_url(redis_server.url)

    async def main() -> None:
        pool = redispool.asyncio.ConnectionPool.from_url(redis_server.url, client_name=name)
        r: Any = aredis.Redis(connection_pool=pool)
        await asyncio.gather(*(r.ping() for _ in range(3)))
        task = asyncio.ensure_future(r.blpop("idle-gauge-never", timeout=5))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.05)
        stats = pool.stats()
        on_server = sum(1 for c in admin.client_list() if c.get("name") == name)
        assert stats.idle == on_server == stats.created - stats.idle_closed - stats.closed
        assert stats.idle_closed == 1
        await pool.disconnect()

    asyncio.run(main())


def test_asyncio_own_read_path_is_kept(redis_server: RedisServer) -> None:
    async def main() -> None:
        for cls, fast in ((MyAsyncConnection, True), (ReadingAsyncConnection, False)):
            pool = redispool.asyncio.ConnectionPool(
                connection_class=cls, host=redis_server.host, port=redis_server.port
            )
            conn = await pool.get_connection()
            assert ("read_response" in vars(conn)) is fast
            assert ("send_packed_command" in vars(conn)) is fast
            await conn.send_command("PING")
            assert await conn.read_response() in (b"PONG", "PONG")
            await pool.release(conn)
            await pool.disconnect()

    asyncio.run(main())
