"""``python -m redispool demo``: real commands through redis-py with redispool's parser
and packer, then a side-by-side parse-speed comparison against hiredis and redis-py."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

import redis

from . import _reader_py
from ._impl import IMPLEMENTATION, Packer, Reader
from ._workloads import SHAPES, reader_runner, redis_py_runner
from .parsers import Parser
from .server import RedisServer


def run_commands(url: str) -> None:
    """A few real commands through ``redis.Redis`` using redispool's Parser and Packer."""
    pool = redis.ConnectionPool.from_url(url, parser_class=Parser, command_packer=Packer())
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
        parser = type(r.connection_pool.get_connection()._parser).__name__
        print(f"  parser class   -> redispool.{parser} ({IMPLEMENTATION} Reader)")
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
    else:
        print(f"redis at {url}")
        run_commands(url)
    print("\nparse speed, same bytes for every parser:")
    compare_parsers(rounds)
