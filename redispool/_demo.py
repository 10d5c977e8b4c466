"""``python -m redispool demo``: real commands through redis-py with redispool's pool,
parser and packer, then side-by-side comparisons against redis-py (and hiredis) of the
pool's checkout+release, of GET round trips, and of parse speed."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import redis

from . import _reader_py
from ._impl import IMPLEMENTATION, Reader
from ._workloads import SHAPES, reader_runner, redis_py_runner
from .pool import BlockingConnectionPool, ConnectionPool
from .server import RedisServer


def run_commands(url: str) -> None:
    """A few real commands through ``redis.Redis`` on redispool's pool (and so its
    Parser and Packer)."""
    pool = ConnectionPool.from_url(url)
    r = redis.Redis(connection_pool=pool)
    try:
        r.set("redispool:demo", "hello")
        print(f"  SET/GET        -> {r.get('redispool:demo')!r}")
        r.hset("redispool:hash", mapping={"a": 1, "b": 2})
        print(f"  HGETALL (map)  -> {r.hgetall('redispool:hash')!r}")
        with r.pipeline(transaction=False) as pipe:
            for _ in range(100):
                pipe.incr("redispool:counter")
            print(f"  100 INCRs      -> last {pipe.execute()[-1]}")
        r.rpush("redispool:list", *range(5))
        print(f"  LRANGE         -> {r.lrange('redispool:list', 0, -1)!r}")
        conn = pool.get_connection()
        parser, packer = type(conn._parser).__name__, type(conn._command_packer).__name__
        pool.release(conn)
        print(f"  pool, parser   -> redispool.{type(pool).__name__}, {parser}, {packer}")
        print(f"  pool.stats()   -> {pool.stats()}")
        r.delete("redispool:demo", "redispool:hash", "redispool:counter", "redispool:list")
    finally:
        pool.disconnect()


def _medians_us(runs: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Median µs of each run. The runs are interleaved round by round, so that a noisy
    moment hits every parser alike, in a new random order each round: what ran just before
    leaves the heap in a state that the next large allocation pays for (page faults)."""
    names = list(runs)
    shuffle = random.Random(0).shuffle
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        shuffle(names)
        for name in names:
            start = time.perf_counter()
            runs[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) * 1e6 for name, values in times.items()}


def _cycles(pool: Any, n: int) -> Callable[[], None]:
    get, release = pool.get_connection, pool.release
    release(get())  # the connection exists before timing

    def run() -> None:
        for _ in range(n):
            release(get())

    return run


def _gets(pool: Any, n: int) -> Callable[[], None]:
    r = redis.Redis(connection_pool=pool)
    r.set("redispool:demo:get", "x" * 100)

    def run() -> None:
        for _ in range(n):
            r.get("redispool:demo:get")

    return run


def _table(title: str, runs: dict[str, Callable[[], None]], n: int, rounds: int) -> None:
    medians = _medians_us(runs, rounds)
    reference = medians[next(name for name in medians if name.startswith("redis-py"))]
    print(title)
    for name, us in medians.items():
        print(f"  {name:<44}{us / n:>9.2f} µs{reference / us:>8.1f}x")


def compare_pools(url: str, rounds: int) -> None:
    """Checkout+release and GET round trips, redispool vs redis-py, interleaved."""
    pools: list[Any] = []

    def pool(cls: Any, **kwargs: Any) -> Any:
        pools.append(cls.from_url(url, **kwargs))
        return pools[-1]

    n = 2_000
    _table(
        "get_connection() + release(), per cycle (ratio: speed relative to redis-py):",
        {
            "redis-py ConnectionPool": _cycles(pool(redis.ConnectionPool), n),
            "redis-py BlockingConnectionPool": _cycles(pool(redis.BlockingConnectionPool), n),
            f"redispool ConnectionPool ({IMPLEMENTATION})": _cycles(pool(ConnectionPool), n),
            f"redispool BlockingConnectionPool ({IMPLEMENTATION})": _cycles(
                pool(BlockingConnectionPool), n
            ),
        },
        n,
        rounds,
    )
    n = 500
    _table(
        "GET of a 100-byte value on the server above, per command:",
        {
            "redis-py (hiredis parser if installed)": _gets(pool(redis.ConnectionPool), n),
            "redis-py (pure-Python parser)": _gets(
                pool(redis.ConnectionPool, parser_class=redis._parsers._RESP3Parser), n
            ),
            f"redispool ({IMPLEMENTATION})": _gets(pool(ConnectionPool), n),
        },
        n,
        rounds,
    )
    for each in pools:
        each.disconnect()


def compare_parsers(rounds: int) -> None:
    """Median parse time per shape for each parser, measured interleaved in this run."""
    parsers: dict[str, Callable[[bytes, int], Callable[[], Any]]] = {
        f"redispool ({IMPLEMENTATION})": lambda data, n: reader_runner(Reader, data),
    }
    if IMPLEMENTATION == "cython":
        parsers["redispool (python)"] = lambda data, n: reader_runner(_reader_py.Reader, data)
    hiredis: Any
    try:
        import hiredis
    except ImportError:
        hiredis = None
    else:
        parsers["hiredis"] = lambda data, n: reader_runner(hiredis.Reader, data)
    parsers["redis-py (python)"] = redis_py_runner
    header = f"{'shape':<20}" + "".join(f"{name:>22}" for name in parsers)
    print(header)
    for shape, (data, count) in SHAPES.items():
        runs = {name: make(data, count) for name, make in parsers.items()}
        medians = _medians_us(runs, rounds)
        reference = medians.get("hiredis", medians["redis-py (python)"])
        cells = "".join(f"{f'{us:,.0f} µs ({reference / us:.2f}x)':>22}" for us in medians.values())
        print(f"{shape:<20}{cells}")
    ref_name = "hiredis" if hiredis is not None else "redis-py"
    print(f"(median of {rounds} rounds; the ratio is speed relative to {ref_name})")


def main(url: str | None, rounds: int) -> None:
    if url is None:
        with RedisServer() as server:
            print(f"embedded redis-server on {server.url}")
            run_commands(server.url)
            print()
            compare_pools(server.url, rounds)
    else:
        print(f"redis at {url}")
        run_commands(url)
        print()
        compare_pools(url, rounds)
    print("\nparse speed, same bytes for every parser:")
    compare_parsers(rounds)
