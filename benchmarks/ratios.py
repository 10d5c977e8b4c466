"""How the gate (``benchmarks/gate.py``) measures a ratio of ``thresholds.toml``: the
rule's two implementations run in interleaved rounds (a new random order each round),
each round's cost is recorded per implementation, and ``gate.ratio_of_rounds`` turns
those into the median of the per-round ratios, so a noisy moment hits both sides of a
ratio alike.

A group is measured by a ``Group``: ``make(url, impls)`` opens the runners (each a
callable returning its own cost for one round: wall seconds, CPU seconds, or, for
``cpu ...``, CPU seconds beyond the raw socket's in the same round) and a close function.
Every implementation of a group does the same work per round, so a round's ratio is
reference cost over implementation cost. The workloads are the pytest-benchmark suites'
(imported from ``test_*.py`` here) and ``redispool/_e2e.py``'s.
"""

from __future__ import annotations

import asyncio
import gc
import random
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def use_this_checkout() -> None:
    """Import the redispool of this checkout (before an editable install's) and the
    benchmark suites next to this file."""
    for path in (str(HERE), str(HERE.parent)):
        if path in sys.path:
            sys.path.remove(path)
        sys.path.insert(0, path)


Run = Callable[[], float]  # one round of one implementation: its cost
Opened = tuple[dict[str, Run], Callable[[], None]]


def interleave(runs: dict[str, Run], rounds: int, seed: int = 0) -> dict[str, list[float]]:
    """Each run's cost in each round (round ``i`` at index ``i``), the runs in a new random
    order per round; one warm-up round first, not recorded. The garbage collector is off
    while they run (as ``make bench``'s ``--benchmark-disable-gc``), and collects between
    rounds."""
    names = list(runs)
    shuffle = random.Random(seed).shuffle
    for name in names:
        runs[name]()
    costs: dict[str, list[float]] = {name: [] for name in names}
    enabled = gc.isenabled()
    try:
        for _ in range(rounds):
            gc.collect()
            gc.disable()
            shuffle(names)
            for name in names:
                costs[name].append(runs[name]())
            if enabled:
                gc.enable()
    finally:
        if enabled:
            gc.enable()
    return costs


def cpu(fn: Callable[[], Any]) -> Run:
    """``fn``'s cost: the CPU time of this thread while it ran (user and kernel). The
    single-threaded workloads are measured so: a busy machine preempts a run for whole
    time slices, which would add milliseconds to wall time (a round of 10,000 parsed
    replies takes about one) but no CPU time of the thread."""

    def run() -> float:
        start = time.thread_time()
        fn()
        return time.thread_time() - start

    return run


@dataclass(frozen=True)
class Group:
    make: Callable[[str, Iterable[str]], Opened]
    rounds: int
    needs_server: bool = True


def _nothing() -> None:
    pass


def _reader(shape: str) -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_reader_bench as t

        from redispool._workloads import SHAPES

        data, count = SHAPES[shape]
        return {i: cpu(t._runner(i, data, count)) for i in impls}, _nothing

    return Group(make, rounds=15, needs_server=False)


def _connection(shape: str) -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_connection_bench as t

        from redispool._workloads import SHAPES, connection_runner

        data, count = SHAPES[shape]
        return {i: cpu(connection_runner(t.PARSERS[i], data, count)) for i in impls}, _nothing

    return Group(make, rounds=15, needs_server=False)


def _pack(name: str) -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_pack_bench as t

        command, count = t.COMMANDS[name]
        runs = {}
        for impl in impls:
            pack = t._packer(impl)

            def run(pack: Any = pack) -> None:
                for _ in range(count):
                    pack(*command)

            runs[impl] = cpu(run)
        return runs, _nothing

    return Group(make, rounds=15, needs_server=False)


def _checkout(blocking: bool) -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_pool_bench as t

        pools = {i: (t.BLOCKING_POOLS if blocking else t.POOLS)[i](url) for i in impls}
        runs = {}
        for impl, pool in pools.items():
            pool.release(pool.get_connection())
            runs[impl] = cpu(t._checkout_loop(pool))

        def close() -> None:
            for pool in pools.values():
                pool.disconnect()

        return runs, close

    return Group(make, rounds=21)


def _contention() -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_pool_bench as t

        pools = {
            i: t.BLOCKING_POOLS[i](url, max_connections=t.CONNECTIONS, timeout=None) for i in impls
        }

        def runner(pool: Any) -> Run:
            def run() -> float:
                barrier = threading.Barrier(t.THREADS + 1)

                def worker() -> None:
                    get, release = pool.get_connection, pool.release
                    barrier.wait()
                    for _ in range(t.PER_THREAD["none"]):
                        release(get())

                threads = [threading.Thread(target=worker, daemon=True) for _ in range(t.THREADS)]
                for thread in threads:
                    thread.start()
                start = time.perf_counter()
                barrier.wait()
                for thread in threads:
                    thread.join()
                return time.perf_counter() - start

            return run

        for pool in pools.values():
            held = [pool.get_connection() for _ in range(t.CONNECTIONS)]
            for conn in held:
                pool.release(conn)

        def close() -> None:
            for pool in pools.values():
                pool.disconnect()

        return {impl: runner(pool) for impl, pool in pools.items()}, close

    return Group(make, rounds=15)


def _async_checkout(blocking: bool) -> Group:
    def make(url: str, impls: Iterable[str]) -> Opened:
        import test_asyncio_bench as t

        loop = asyncio.new_event_loop()
        pools = {i: t._pool(i, blocking, url) for i in impls}

        def runner(pool: Any) -> Run:
            async def cycles() -> None:
                get, release = pool.get_connection, pool.release
                for _ in range(t.CYCLES):
                    await release(await get())

            return cpu(lambda: loop.run_until_complete(cycles()))

        runs = {impl: runner(pool) for impl, pool in pools.items()}

        def close() -> None:
            for pool in pools.values():
                loop.run_until_complete(pool.disconnect())
            loop.close()

        return runs, close

    return Group(make, rounds=15)


def _e2e(workload: str, cpu: bool) -> Group:
    """A workload of ``redispool/_e2e.py``: wall seconds per round, or (``cpu``) the
    client's CPU seconds beyond the raw socket's in the same round."""

    def make(url: str, impls: Iterable[str]) -> Opened:
        from redispool import _e2e

        w = _e2e.WORKLOADS[workload]
        ops = _e2e.OPS[workload]
        kinds = list(impls) + ([_e2e.FLOOR] if cpu else [])
        made = {kind: w.make(kind, url) for kind in kinds}
        clock = time.process_time if cpu else time.perf_counter

        def runner(kind: str, run: Callable[[int], None]) -> Run:
            def once() -> float:
                start = clock()
                run(ops)
                return clock() - start

            return once

        runs = {kind: runner(kind, run) for kind, (run, _) in made.items()}
        if cpu:  # the floor runs first in every round; the clients count beyond it
            floor = runs.pop(_e2e.FLOOR)
            runs = {kind: _beyond(run, floor) for kind, run in runs.items()}

        def close() -> None:
            for _, shut in made.values():
                shut()

        return runs, close

    return Group(make, rounds=21)


def _beyond(run: Run, floor: Run) -> Run:
    """``run``'s cost minus the floor's, the floor run right before it."""

    def once() -> float:
        base = floor()
        return run() - base

    return once


#: the ``redispool/_e2e.py`` workloads gated in wall time (``test_e2e_bench.py`` shows
#: them too)
WALL = (
    "GET",
    "GET, 8 threads",
    "pipeline of 1000 GETs",
    "HGETALL, 100 fields",
    "asyncio GET, 50 tasks",
    "asyncio GET, 1000 tasks",
)

GROUPS: dict[str, Group] = {
    "small_bulks": _reader("small_bulks"),
    "resp3_maps": _reader("resp3_maps"),
    "bulk_1mb": _reader("bulk_1mb"),
    "conn small_bulks": _connection("small_bulks"),
    "pack small commands": _pack("small commands"),
    "pack HSET 100 pairs": _pack("HSET 100 pairs"),
    "checkout": _checkout(False),
    "checkout_blocking": _checkout(True),
    "contention": _contention(),
    "async_checkout": _async_checkout(False),
    "async_checkout_blocking": _async_checkout(True),
    **{f"wall {w}": _e2e(w, cpu=False) for w in WALL},
    **{
        f"cpu {w}": _e2e(w, cpu=True)
        for w in ("GET", "SET", "HGETALL, 100 fields", "pipeline of 1000 GETs")
    },
}


def installed(kind: str) -> bool:
    """Whether client kind ``kind`` runs here (valkey-glide may not be installed)."""
    from redispool import _e2e

    return kind not in _e2e.KINDS or _e2e.KINDS[kind].available()


def measure(
    group: str, impls: Iterable[str], url: str, rounds: int | None = None, seed: int = 0
) -> dict[str, list[float]]:
    """Per-round costs of ``impls`` in ``group``, interleaved (``seed``: the orders)."""
    g = GROUPS[group]
    runs, close = g.make(url, sorted(set(impls)))
    try:
        return interleave(runs, rounds or g.rounds, seed)
    finally:
        close()
