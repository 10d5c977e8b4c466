"""Dropped pools are freed and their sockets closed, as redis-py's are (issue 11, point 1).

Checked three ways: a weak reference to the pool, the process's open file descriptors and
the server's ``CLIENT LIST``. In the default configurations there is no reference cycle
between a pool and its connections, so this holds without a garbage-collector pass; a
pool that the user ties into a cycle is still collected, because the compiled slot array
shows its connections to the garbage collector.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

import redispool
import redispool.asyncio
from redispool.server import RedisServer

SYNC_POOLS = [redispool.ConnectionPool, redispool.BlockingConnectionPool]
ASYNC_POOLS = [redispool.asyncio.ConnectionPool, redispool.asyncio.BlockingConnectionPool]


@pytest.fixture
def no_gc() -> Iterator[None]:
    """Nothing may depend on a collection pass."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _clients(server: RedisServer, name: str) -> int:
    """Connections named ``name`` on the server, once it has seen closed ones go."""
    admin = redis.Redis.from_url(server.url)
    deadline = time.monotonic() + 5
    while True:
        count = sum(1 for c in admin.client_list() if c.get("name") == name)
        if count == 0 or time.monotonic() > deadline:
            admin.close()
            return count
        time.sleep(0.01)


@pytest.mark.parametrize("pool_class", SYNC_POOLS)
def test_dropped_pool_closes_its_sockets(
    redis_server: RedisServer, pool_class: type, protocol: int, slot_twin: str, no_gc: None
) -> None:
    name = f"drop-{pool_class.__name__}-{protocol}-{slot_twin}"
    fds = _fds()
    refs = []
    for _ in range(20):
        pool = pool_class.from_url(redis_server.url, protocol=protocol, client_name=name)
        r = redis.Redis(connection_pool=pool)
        r.set(name, 1)
        assert r.get(name) == b"1"
        refs.append(weakref.ref(pool))
        del r, pool
    assert [ref for ref in refs if ref() is not None] == []
    assert _fds() <= fds
    assert _clients(redis_server, name) == 0


@pytest.mark.parametrize("pool_class", SYNC_POOLS)
def test_dropped_pool_closes_idle_and_leaves_lent_connections(
    redis_server: RedisServer, pool_class: type, slot_twin: str, no_gc: None
) -> None:
    """Under RESP3 each connection and redis-py's maintenance handlers refer to each
    other (``handler.connection is conn``, as redis-py wires them): the pool closes its
    idle connections when it goes; the ones it lent are left to their users."""
    pool = pool_class.from_url(redis_server.url, protocol=3)
    lent, idle = pool.get_connection(), pool.get_connection()
    pool.release(idle)
    for conn in (lent, idle):
        assert conn._maint_notifications_pool_handler.connection is conn
        assert conn._maint_notifications_connection_handler.connection is conn
    ref = weakref.ref(pool)
    del pool
    assert ref() is None
    assert idle._sock is None
    lent.send_command("PING")
    assert lent.read_response() == b"PONG"
    lent.disconnect()


def test_install_client_per_job_frees_its_pool(redis_server: RedisServer, no_gc: None) -> None:
    """``install()`` and a ``redis.Redis(host=...)`` per job (rq, Celery workers)."""
    name = "drop-install"
    redispool.install()
    try:
        refs = []
        for protocol in (2, 3) * 5:
            r = redis.Redis(
                host=redis_server.host, port=redis_server.port, protocol=protocol, client_name=name
            )
            r.ping()
            assert isinstance(r.connection_pool, redispool.ConnectionPool)
            refs.append(weakref.ref(r.connection_pool))
            del r
    finally:
        redispool.uninstall()
    assert [ref for ref in refs if ref() is not None] == []
    assert _clients(redis_server, name) == 0


@pytest.mark.parametrize("pool_class", SYNC_POOLS)
def test_pool_in_a_user_cycle_is_collected(
    redis_server: RedisServer, pool_class: type, slot_twin: str
) -> None:
    """A connection that refers back to its pool (the user's doing) makes a cycle through
    the slot array; the garbage collector must see it to free the pool."""
    name = f"drop-cycle-{pool_class.__name__}-{slot_twin}"
    pool = pool_class.from_url(redis_server.url, client_name=name)
    conn = pool.get_connection()
    conn.back_to_pool = pool  # type: ignore[attr-defined]
    pool.release(conn)
    ref = weakref.ref(pool)
    del pool, conn
    gc.collect()
    assert ref() is None
    assert _clients(redis_server, name) == 0


@pytest.mark.parametrize("pool_class", ASYNC_POOLS)
def test_asyncio_dropped_pool_is_freed(
    redis_server: RedisServer, pool_class: type, protocol: int, slot_twin: str, no_gc: None
) -> None:
    """The pool itself needs no GC pass (redis-py's asyncio pools do under RESP2 and
    RESP3); the sockets close as redis-py's do."""
    name = f"drop-async-{pool_class.__name__}-{protocol}-{slot_twin}"

    async def use() -> Any:
        pool = pool_class.from_url(redis_server.url, protocol=protocol, client_name=name)
        r: Any = aredis.Redis(connection_pool=pool)
        await r.set(name, 1)
        assert await r.get(name) == b"1"
        return weakref.ref(pool)

    async def main() -> list[Any]:
        refs = [await use() for _ in range(10)]
        await asyncio.sleep(0.01)  # the transports' close callbacks
        return refs

    refs = asyncio.run(main())
    assert [ref for ref in refs if ref() is not None] == []
    # asyncio's transports and protocols refer to each other: their sockets close when the
    # collector frees them, with redis-py's asyncio pools as with these
    gc.collect()
    assert _clients(redis_server, name) == 0
