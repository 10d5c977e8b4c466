"""asyncio pools: ``await pool.release(await pool.get_connection())`` with
``redispool.asyncio``'s pools (compiled and pure slot array) vs redis-py's asyncio pools,
on real TCP connections to a private redis-server, one event loop per benchmark. (The
asyncio end-to-end workload, 50 tasks doing GET, is in ``test_e2e_bench.py``.)
``make bench``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis.asyncio as aredis

import redispool.asyncio
import redispool.asyncio.pool
from redispool import _slots_c, _slots_py
from redispool.server import RedisServer

CYCLES = 10_000


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def _pool(impl: str, blocking: bool, url: str) -> Any:
    if impl == "redis_py":
        cls: Any = aredis.BlockingConnectionPool if blocking else aredis.ConnectionPool
        return cls.from_url(url)
    cls = redispool.asyncio.BlockingConnectionPool if blocking else redispool.asyncio.ConnectionPool
    slots = _slots_c.SlotArray if impl == "redispool_c" else _slots_py.SlotArray
    with mock.patch.object(redispool.asyncio.pool, "SlotArray", slots):
        pool = cls.from_url(url)
    assert type(pool._slots) is slots
    return pool


@pytest.mark.parametrize("impl", ["redispool_c", "redispool_py", "redis_py"])
@pytest.mark.parametrize("group", ["async_checkout", "async_checkout_blocking"])
def test_async_checkout(benchmark: Any, redis_url: str, group: str, impl: str) -> None:
    loop = asyncio.new_event_loop()
    pool = _pool(impl, group.endswith("blocking"), redis_url)

    async def cycles(n: int) -> Any:
        get, release = pool.get_connection, pool.release
        for _ in range(n):
            await release(await get())
        conn = await get()
        await release(conn)
        return conn

    try:
        first = loop.run_until_complete(cycles(1))
        assert loop.run_until_complete(cycles(100)) is first  # reused, never reconnected
        if impl != "redis_py":
            stats = pool.stats()
            assert (stats.in_use, stats.idle, stats.created, stats.closed) == (0, 1, 1, 0)
        benchmark.group = group
        benchmark.extra_info.update(impl=impl, ops=CYCLES, references=["redis_py"])
        benchmark.pedantic(lambda: loop.run_until_complete(cycles(CYCLES)), rounds=15, iterations=1)
    finally:
        loop.run_until_complete(pool.disconnect())
        loop.close()
