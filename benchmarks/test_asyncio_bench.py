"""asyncio pools: ``await pool.release(await pool.get_connection())`` with
``redispool.asyncio``'s pools (compiled and pure slot array) vs redis-py's asyncio pools,
on real TCP connections to a private redis-server, one event loop per benchmark. By
default every redispool checkout peeks at the connection's socket once (non-blocking); the
``redispool_c hca=60`` row skips that peek (``health_check_after=60``), so the peek's cost
is the difference. (The asyncio end-to-end workloads, 50 and 1000 tasks doing GET through
every client kind, ``redispool.asyncio.Redis`` with and without ``auto_pipeline`` among
them, are in ``test_e2e_bench.py``.) ``make bench``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
import redis.asyncio as aredis

import redispool.asyncio
from redispool import _compat, _slots_c, _slots_py
from redispool.server import RedisServer

CYCLES = 10_000
SKIP = "redispool_c hca=60"  # the compiled pool with the opt-in peek skip


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def _pool(impl: str, blocking: bool, url: str) -> Any:
    if impl == "redis_py":
        cls: Any = aredis.BlockingConnectionPool if blocking else aredis.ConnectionPool
        return cls.from_url(url)
    cls = redispool.asyncio.BlockingConnectionPool if blocking else redispool.asyncio.ConnectionPool
    slots = _slots_py.SlotArray if impl == "redispool_py" else _slots_c.SlotArray
    with mock.patch.object(cls, "slot_array_class", slots):
        pool = cls.from_url(url, health_check_after=60 if impl == SKIP else 0)
    assert type(pool._slots) is slots
    return pool


@pytest.mark.parametrize("impl", ["redispool_c", SKIP, "redispool_py", "redis_py"])
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
            # the slot array gets the real socket: every checkout peeks at it (unless hca=60)
            assert pool.health_check_after == (60 if impl == SKIP else 0)
            assert first._rp_packer.fd == _compat.async_fd(first) >= 0
        benchmark.group = group
        benchmark.extra_info.update(impl=impl, ops=CYCLES, references=["redis_py"])
        benchmark.pedantic(lambda: loop.run_until_complete(cycles(CYCLES)), rounds=15, iterations=1)
    finally:
        loop.run_until_complete(pool.disconnect())
        loop.close()
