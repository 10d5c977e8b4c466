"""Pool overhead: redispool's pools (compiled and pure slot array) vs redis-py's pools.

On a private redis-server over real TCP connections (RESP3, redis-py's default):

- ``checkout``/``checkout_blocking``: ``pool.release(pool.get_connection())`` in a tight
  loop, single-threaded; reference redis-py's ``ConnectionPool``/``BlockingConnectionPool``.
  By default (``health_check_after=0``) every redispool checkout peeks at the connection's
  real socket once (non-blocking); the ``redispool_c hca=60`` row is the compiled pool
  with the opt-in skip (``health_check_after=60``), so the peek's cost is the difference.
- ``checkout_4_threads``/``checkout_16_threads``: the same from 4 or 16 threads at once,
  with a connection for each.
- ``contention``/``contention_ping``: 8 threads share a ``BlockingConnectionPool`` of 4
  connections (``timeout=None``), holding each connection for nothing or for one PING;
  wall time from the threads' start (a barrier) to the last join.
- ``get``: ``Redis.get`` through ``redispool.ConnectionPool`` (its own parser) vs
  ``redis.ConnectionPool`` with hiredis (``redis_py+hiredis``) and with ``_RESP3Parser``.

``benchmarks/conftest.py`` prints per-operation medians and ratios. Run with ``make bench``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import pytest
import redis
from redis._parsers import _HiredisParser, _RESP3Parser

import redispool
from redispool import _slots_c, _slots_py
from redispool.parsers import Parser
from redispool.server import RedisServer

CYCLES = 10_000  # checkouts per round, single-threaded
THREADS, CONNECTIONS = 8, 4
PER_THREAD = {"none": 2_000, "ping": 250}  # checkouts per thread per round
GETS = 2_000
VALUE = b"v" * 64

PoolFactory = Callable[..., Any]


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


def _redispool(cls: type, slots: type) -> PoolFactory:
    """A redispool pool class whose slot array is ``slots`` (compiled or pure twin)."""

    def make(url: str, **kwargs: Any) -> Any:
        with mock.patch.object(cls, "slot_array_class", slots):
            pool = cls.from_url(url, **kwargs)
        assert type(pool._slots) is slots
        return pool

    return make


SKIP = "redispool_c hca=60"  # the compiled pool with the opt-in poll skip


def _skipping(factory: PoolFactory) -> PoolFactory:
    """``factory`` with ``health_check_after=60``: no poll for a connection used within 60 s."""

    def make(url: str, **kwargs: Any) -> Any:
        return factory(url, health_check_after=60, **kwargs)

    return make


POOLS: dict[str, PoolFactory] = {
    "redispool_c": _redispool(redispool.ConnectionPool, _slots_c.SlotArray),
    SKIP: _skipping(_redispool(redispool.ConnectionPool, _slots_c.SlotArray)),
    "redispool_py": _redispool(redispool.ConnectionPool, _slots_py.SlotArray),
    "redis_py": redis.ConnectionPool.from_url,
}
BLOCKING_POOLS: dict[str, PoolFactory] = {
    "redispool_c": _redispool(redispool.BlockingConnectionPool, _slots_c.SlotArray),
    SKIP: _skipping(_redispool(redispool.BlockingConnectionPool, _slots_c.SlotArray)),
    "redispool_py": _redispool(redispool.BlockingConnectionPool, _slots_py.SlotArray),
    "redis_py": redis.BlockingConnectionPool.from_url,
}


def _assert_polled(pool: Any, conn: Any, impl: str) -> None:
    """A redispool pool hands its slot array the connection's real socket descriptor, so
    every checkout polls it, except in the ``health_check_after=60`` row."""
    if not isinstance(pool, redispool.ConnectionPool):
        return
    assert pool.health_check_after == (60 if impl == SKIP else 0)
    assert conn._command_packer.fd == conn._sock.fileno() >= 0


def _assert_idle(pool: Any, connections: int) -> None:
    """Every connection is back in the pool and exactly ``connections`` were made."""
    if isinstance(pool, redispool.ConnectionPool):
        stats = pool.stats()
        assert (stats.in_use, stats.idle, stats.created, stats.closed) == (
            0,
            connections,
            connections,
            0,
        ), stats
    elif isinstance(pool, redis.BlockingConnectionPool):
        assert len(pool._connections) == connections
        assert pool.pool.qsize() == pool.max_connections  # idle connections + placeholders
    else:
        assert not pool._in_use_connections
        assert len(pool._available_connections) == pool._created_connections == connections


def _checkout_loop(pool: Any) -> Callable[[], None]:
    get, release = pool.get_connection, pool.release

    def run() -> None:
        for _ in range(CYCLES):
            release(get())

    return run


@pytest.mark.parametrize(
    ("group", "impl"),
    [("checkout", impl) for impl in POOLS] + [("checkout_blocking", impl) for impl in POOLS],
)
def test_checkout(benchmark: Any, redis_url: str, group: str, impl: str) -> None:
    pool = (POOLS if group == "checkout" else BLOCKING_POOLS)[impl](redis_url)
    try:
        conn = pool.get_connection()  # warm-up: the connection exists and is connected
        pool.release(conn)
        sock = conn._sock
        assert sock is not None
        run = _checkout_loop(pool)
        run()
        again = pool.get_connection()
        assert again is conn and again._sock is sock  # reused, never reconnected
        pool.release(again)
        _assert_idle(pool, 1)
        _assert_polled(pool, conn, impl)
        benchmark.group = group
        benchmark.extra_info.update(impl=impl, ops=CYCLES, references=["redis_py"])
        benchmark.pedantic(run, rounds=20, iterations=1, warmup_rounds=1)
        assert conn._sock is sock
        _assert_idle(pool, 1)
    finally:
        pool.disconnect()


@pytest.mark.parametrize("threads", [4, 16])
@pytest.mark.parametrize("impl", list(POOLS))
def test_checkout_threads(benchmark: Any, redis_url: str, impl: str, threads: int) -> None:
    """``threads`` threads doing checkout+release on a pool big enough for all of them."""
    pool = POOLS[impl](redis_url, max_connections=threads)
    per_thread = CYCLES // threads
    errors: list[BaseException] = []

    def setup() -> tuple[tuple[threading.Barrier, list[threading.Thread]], dict[str, Any]]:
        barrier = threading.Barrier(threads + 1)

        def worker() -> None:
            get, release = pool.get_connection, pool.release
            barrier.wait()
            try:
                for _ in range(per_thread):
                    release(get())
            except BaseException as exc:  # reported after the run
                errors.append(exc)

        workers = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
        for worker_thread in workers:
            worker_thread.start()
        return (barrier, workers), {}

    def run(barrier: threading.Barrier, workers: list[threading.Thread]) -> None:
        barrier.wait()
        for worker_thread in workers:
            worker_thread.join()

    try:
        run(*setup()[0])
        assert not errors, errors
        if isinstance(pool, redispool.ConnectionPool):
            for conn in pool._slots.idle_connections():
                _assert_polled(pool, conn, impl)
        benchmark.group = f"checkout_{threads}_threads"
        benchmark.extra_info.update(impl=impl, ops=threads * per_thread, references=["redis_py"])
        benchmark.pedantic(run, setup=setup, rounds=10, warmup_rounds=1)
        assert not errors, errors
        if isinstance(pool, redispool.ConnectionPool):
            stats = pool.stats()
            assert (
                stats.in_use == 0
                and stats.idle + stats.idle_closed + stats.in_use == stats.created - stats.closed
            )
    finally:
        pool.disconnect()


def _ping(conn: Any) -> None:
    conn.send_command("PING")
    assert conn.read_response() in (b"PONG", "PONG")


def _nothing(conn: Any) -> None:
    pass


@pytest.mark.parametrize("work", ["none", "ping"])
@pytest.mark.parametrize("impl", [impl for impl in BLOCKING_POOLS if impl != SKIP])
def test_contention(benchmark: Any, redis_url: str, impl: str, work: str) -> None:
    pool = BLOCKING_POOLS[impl](redis_url, max_connections=CONNECTIONS, timeout=None)
    hold = _ping if work == "ping" else _nothing
    cycles = PER_THREAD[work]
    errors: list[BaseException] = []

    def setup() -> tuple[tuple[threading.Barrier, list[threading.Thread]], dict[str, Any]]:
        barrier = threading.Barrier(THREADS + 1)

        def worker() -> None:
            get, release = pool.get_connection, pool.release
            barrier.wait()
            try:
                for _ in range(cycles):
                    conn = get()
                    hold(conn)
                    release(conn)
            except BaseException as exc:  # reported after the run
                errors.append(exc)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        return (barrier, threads), {}

    def run(barrier: threading.Barrier, threads: list[threading.Thread]) -> None:
        barrier.wait()
        for thread in threads:
            thread.join()

    try:
        held = [pool.get_connection() for _ in range(CONNECTIONS)]  # open all four first
        for conn in held:
            pool.release(conn)
        run(*setup()[0])
        assert not errors, errors
        _assert_idle(pool, CONNECTIONS)
        benchmark.group = "contention" if work == "none" else "contention_ping"
        benchmark.extra_info.update(impl=impl, ops=THREADS * cycles, references=["redis_py"])
        benchmark.pedantic(run, setup=setup, rounds=10, warmup_rounds=1)
        assert not errors, errors
        _assert_idle(pool, CONNECTIONS)
        if isinstance(pool, redispool.ConnectionPool):
            benchmark.extra_info["waits"] = pool.stats().waits
    finally:
        pool.disconnect()


GET_POOLS: dict[str, tuple[PoolFactory, dict[str, Any], type]] = {
    "redispool": (redispool.ConnectionPool.from_url, {}, Parser),
    "redis_py+hiredis": (redis.ConnectionPool.from_url, {}, _HiredisParser),
    "redis_py": (redis.ConnectionPool.from_url, {"parser_class": _RESP3Parser}, _RESP3Parser),
}


@pytest.mark.parametrize("impl", list(GET_POOLS))
def test_get(benchmark: Any, redis_url: str, impl: str) -> None:
    factory, kwargs, parser = GET_POOLS[impl]
    pool = factory(redis_url, **kwargs)
    client = redis.Redis(connection_pool=pool)
    try:
        client.set("k", VALUE)
        assert client.get("k") == VALUE
        conn = pool.get_connection()
        assert type(conn._parser) is parser and conn.protocol == 3
        pool.release(conn)

        def run() -> bytes:
            get = client.get
            for _ in range(GETS - 1):
                get("k")
            value: bytes = get("k")
            return value

        benchmark.group = "get"
        benchmark.extra_info.update(
            impl=impl, ops=GETS, references=["redis_py+hiredis", "redis_py"]
        )
        assert benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1) == VALUE
        _assert_idle(pool, 1)
    finally:
        client.close()
        pool.disconnect()
