"""``python -m redispool bench``: redispool against what people run today, side by side.

End-to-end workloads on a real server (an embedded redis-server on a free loopback port
unless ``--url`` is given), each client's CPU time per command beyond a raw socket's, the
pools' checkout+release, and the parsers on the same bytes. Every comparison is
interleaved round by round in a new random order, so a noisy moment hits every client
alike, and reported as medians.
"""

from __future__ import annotations

import asyncio
import functools
import json
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import redis
import redis.asyncio as aredis

from . import __version__, _e2e, _reader_py
from ._impl import IMPLEMENTATION, Reader
from ._workloads import SHAPES, reader_runner, redis_py_runner
from .asyncio import ConnectionPool as AsyncConnectionPool
from .pool import BlockingConnectionPool, ConnectionPool
from .server import RedisServer


class Progress:
    """A progress bar on stderr (tqdm when installed, a counter line otherwise)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = 0
        try:
            from tqdm import tqdm  # type: ignore[import-untyped]
        except ImportError:
            self._bar: Any = None
        else:
            self._bar = tqdm(total=total, unit="round", leave=False, file=sys.stderr)

    def step(self, label: str, count: int = 1) -> None:
        self.done += count
        if self._bar is not None:
            self._bar.set_description(label)
            self._bar.update(count)
        elif sys.stderr.isatty():
            print(f"\r[{self.done}/{self.total}] {label:<40}", end="", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif sys.stderr.isatty():
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr)


def interleaved_samples(
    runs: Mapping[str, Callable[[], Any]],
    rounds: int,
    progress: Progress,
    label: str,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, list[float]]:
    """Seconds of ``clock`` each run took in each round (round ``i`` at index ``i``), the
    runs interleaved in a new random order per round."""
    names = list(runs)
    shuffle = random.Random(0).shuffle
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        shuffle(names)
        for name in names:
            start = clock()
            runs[name]()
            times[name].append(clock() - start)
        progress.step(label)
    return times


def interleaved(
    runs: Mapping[str, Callable[[], Any]], rounds: int, progress: Progress, label: str
) -> dict[str, float]:
    """Median seconds of each run, the runs interleaved in a new random order per round."""
    times = interleaved_samples(runs, rounds, progress, label)
    return {name: statistics.median(values) for name, values in times.items()}


@contextmanager
def _runners(workload: _e2e.Workload, url: str, clients: Iterable[str]) -> Iterator[dict[str, Any]]:
    made: dict[str, Any] = {}
    try:
        for kind in clients:
            made[kind] = workload.make(kind, url)
        yield made
    finally:
        for _, close in made.values():
            close()


def _clients() -> tuple[list[str], str]:
    """The client kinds to measure (those that run here: redis-py+hiredis only with
    hiredis, valkey-glide only with glide), and the reference."""
    clients = [c for c in _e2e.CLIENTS if c == _e2e.FLOOR or _e2e.KINDS[c].available()]
    return clients, _e2e.REFERENCE if _e2e.REFERENCE in clients else "redis-py"


def end_to_end(url: str, rounds: int, progress: Progress) -> list[dict[str, Any]]:
    """One row per workload and client: µs per operation, ops/s, ratios. A client kind
    that does not run a workload (no asyncio client, or asyncio only: ``Workload.not_run``)
    has a row whose figures are None and whose ``not_applicable`` says why; so has every
    client of a workload that needs more connections than ``connection_limit`` allows."""
    all_clients, reference = _clients()
    limit = connection_limit(url)
    _e2e.seed(url)
    rows = []
    for name, workload in _e2e.WORKLOADS.items():
        need = _e2e.connections(workload, all_clients)
        short = limit is not None and need > limit
        if short:  # more connections than this process or the server allows: no figures
            progress.step(name, rounds)
            medians = {}
        else:
            medians = e2e_medians(url, name, rounds, progress, all_clients)
        for kind in all_clients:
            row: dict[str, Any] = {
                "workload": name,
                "unit": workload.unit,
                "client": kind,
                "us_per_op": None,
                "ops_per_s": None,
                "vs_reference": None,
                "reference": reference,
                "pct_of_floor": None,
            }
            if kind in medians:
                us = medians[kind] * 1e6
                row["us_per_op"] = us
                row["ops_per_s"] = 1e6 / us
                row["vs_reference"] = medians[reference] / medians[kind]
                row["pct_of_floor"] = 100 * medians[_e2e.FLOOR] / medians[kind]
            elif short:
                row["not_applicable"] = f"needs ~{need} connections, {limit} allowed"
            else:
                row["not_applicable"] = workload.not_run(kind)
            rows.append(row)
    return rows


def connection_limit(url: str) -> int | None:
    """How many connections the bench may hold open at once: this process's open files
    (its soft limit raised to the hard one first) and the server's ``maxclients``, the
    lower (None: neither is known)."""
    limits = [_e2e.raise_open_files_limit(), _e2e.max_clients(url)]
    return min([limit for limit in limits if limit is not None], default=None)


def e2e_medians(
    url: str, workload: str, rounds: int, progress: Progress, clients: Iterable[str]
) -> dict[str, float]:
    """Median wall seconds per operation of ``workload`` for each of ``clients`` that runs
    it, the clients interleaved round by round (the keys must be seeded: ``_e2e.seed``)."""
    w = _e2e.WORKLOADS[workload]
    ops = _e2e.OPS[workload]
    with _runners(w, url, [kind for kind in clients if w.runs_on(kind)]) as made:
        runs = {kind: functools.partial(run, ops) for kind, (run, _) in made.items()}
        medians = interleaved(runs, rounds, progress, workload)
    return {kind: seconds / ops for kind, seconds in medians.items()}


def cpu_overhead(
    url: str,
    rounds: int,
    progress: Progress,
    *,
    workloads: Iterable[str] = _e2e.CPU_WORKLOADS,
    clients: Iterable[str] | None = None,
    ops: Mapping[str, int] = _e2e.OPS,
) -> list[dict[str, Any]]:
    """Each client's CPU time (``time.process_time``) per command beyond the raw socket
    sending the same pre-packed bytes, in the same process: one row per workload and
    client that runs it (the floor's own CPU time in each row). A pipeline's operation is
    ``repeat`` commands, and is reported per command."""
    kinds, reference = _clients()
    if clients is not None:
        kinds = list(clients)
    if _e2e.FLOOR not in kinds:
        kinds.append(_e2e.FLOOR)
    _e2e.seed(url)
    rows = []
    for name in workloads:
        workload = _e2e.WORKLOADS[name]
        n = ops[name]
        with _runners(workload, url, [kind for kind in kinds if workload.runs_on(kind)]) as made:
            runs = {kind: functools.partial(run, n) for kind, (run, _) in made.items()}
            samples = interleaved_samples(
                runs, rounds, progress, f"CPU {name}", clock=time.process_time
            )
        rows.extend(overhead_rows(name, samples, n * workload.repeat, reference))
    return rows


def overhead_rows(
    workload: str, samples: Mapping[str, list[float]], commands: int, reference: str
) -> list[dict[str, Any]]:
    """Rows of the CPU-overhead table from one workload's per-round CPU seconds (each list
    in round order, the floor's under ``_e2e.FLOOR``; ``commands`` per round): the median
    over rounds of (client - floor in the same round) per command, and its share of the
    reference's (``overhead_vs_reference``; None when the reference's is not positive)."""
    floor = samples[_e2e.FLOOR]
    floor_us = statistics.median(floor) / commands * 1e6

    def overhead(kind: str) -> float:
        per_round = [(t - f) / commands * 1e6 for t, f in zip(samples[kind], floor, strict=True)]
        return statistics.median(per_round)

    overheads = {kind: overhead(kind) for kind in samples if kind != _e2e.FLOOR}
    ref = overheads.get(reference, 0.0)
    return [
        {
            "workload": workload,
            "client": kind,
            "cpu_us_per_command": statistics.median(samples[kind]) / commands * 1e6,
            "floor_cpu_us_per_command": floor_us,
            "overhead_us_per_command": us,
            "overhead_vs_reference": us / ref if ref > 0 else None,
            "reference": reference,
            "commands_per_round": commands,
            "rounds": len(floor),
        }
        for kind, us in overheads.items()
    ]


def pool_cycles(url: str, rounds: int, progress: Progress) -> list[dict[str, Any]]:
    """get_connection()+release() per cycle, sync and asyncio, vs redis-py's pools."""
    n = 2_000
    pools = {
        "redispool ConnectionPool": ConnectionPool.from_url(url),
        "redispool BlockingConnectionPool": BlockingConnectionPool.from_url(url),
        "redis-py ConnectionPool": redis.ConnectionPool.from_url(url),
        "redis-py BlockingConnectionPool": redis.BlockingConnectionPool.from_url(url),
    }
    loop = asyncio.new_event_loop()
    async_pools = {
        "redispool asyncio ConnectionPool": AsyncConnectionPool.from_url(url),
        "redis-py asyncio ConnectionPool": aredis.ConnectionPool.from_url(url),
    }

    def cycles(pool: Any) -> Callable[[], None]:
        get, release = pool.get_connection, pool.release
        release(get())

        def run() -> None:
            for _ in range(n):
                release(get())

        return run

    def async_cycles(pool: Any) -> Callable[[], None]:
        async def go(count: int) -> None:
            get, release = pool.get_connection, pool.release
            for _ in range(count):
                await release(await get())

        loop.run_until_complete(go(1))
        return functools.partial(_complete, loop, go, n)

    runs = {name: cycles(pool) for name, pool in pools.items()}
    runs.update({name: async_cycles(pool) for name, pool in async_pools.items()})
    try:
        medians = interleaved(runs, rounds, progress, "pool checkout+release")
    finally:
        for pool in pools.values():
            pool.disconnect()
        for async_pool in async_pools.values():
            loop.run_until_complete(async_pool.disconnect())
        loop.close()
    rows = []
    for name, seconds in medians.items():
        reference = name.replace("redispool", "redis-py")
        rows.append(
            {
                "pool": name,
                "us_per_cycle": seconds / n * 1e6,
                "vs_redis_py": medians[reference] / seconds,
            }
        )
    return rows


def _complete(loop: asyncio.AbstractEventLoop, make: Callable[[int], Any], n: int) -> None:
    loop.run_until_complete(make(n))


def parsers(rounds: int, progress: Progress) -> list[dict[str, Any]]:
    """Median parse time per reply shape, every parser reading the same bytes."""
    makers: dict[str, Callable[[bytes, int], Callable[[], Any]]] = {
        f"redispool ({IMPLEMENTATION})": lambda data, n: reader_runner(Reader, data),
    }
    if IMPLEMENTATION == "cython":
        makers["redispool (python)"] = lambda data, n: reader_runner(_reader_py.Reader, data)
    if _e2e.hiredis_available():
        import hiredis

        makers["hiredis"] = lambda data, n: reader_runner(hiredis.Reader, data)
    makers["redis-py"] = redis_py_runner
    reference = "hiredis" if "hiredis" in makers else "redis-py"
    rows = []
    for shape, (data, count) in SHAPES.items():
        runs = {name: make(data, count) for name, make in makers.items()}
        medians = interleaved(runs, rounds, progress, f"parse {shape}")
        for name, seconds in medians.items():
            rows.append(
                {
                    "shape": shape,
                    "parser": name,
                    "us": seconds * 1e6,
                    "vs_reference": medians[reference] / seconds,
                    "reference": reference,
                }
            )
    return rows


def print_tables(result: dict[str, Any]) -> None:
    rows = result["end_to_end"]
    reference = rows[0]["reference"] if rows else "redis-py"
    print(f"\nend to end on {result['server']} (median of {result['rounds']} rounds)")
    w, c = _widths(rows)
    print(
        f"{'workload':<{w}}{'client':<{c}}{'ops/s':>11}{'µs/op':>10}"
        f"{'vs ' + reference:>21}{'% of floor':>12}"
    )
    for row in rows:
        if row["us_per_op"] is None:
            print(
                f"{row['workload']:<{w}}{row['client']:<{c}}{'n/a: ' + row['not_applicable']:>30}"
            )
            continue
        print(
            f"{row['workload']:<{w}}{row['client']:<{c}}{row['ops_per_s']:>11,.0f}"
            f"{row['us_per_op']:>10.1f}{row['vs_reference']:>20.2f}x{row['pct_of_floor']:>11.0f}%"
        )
    print_cpu_overhead(result.get("cpu_overhead", []))
    print("\npool get_connection() + release()")
    for row in result["pools"]:
        print(f"  {row['pool']:<36}{row['us_per_cycle']:>8.2f} µs{row['vs_redis_py']:>8.1f}x")
    print("\nparsing the same bytes (ratio: speed relative to the reference)")
    for row in result["parsers"]:
        print(
            f"  {row['shape']:<20}{row['parser']:<22}{row['us']:>10,.0f} µs"
            f"{row['vs_reference']:>8.2f}x vs {row['reference']}"
        )


def _widths(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """The workload and client columns' widths for ``rows``."""
    workload = max([22, *(len(row["workload"]) for row in rows)]) + 2
    client = max([16, *(len(row["client"]) for row in rows)]) + 2
    return workload, client


def print_cpu_overhead(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    reference = rows[0]["reference"]
    print(
        f"\nclient CPU per command beyond a raw socket's (time.process_time; median over "
        f"{rows[0]['rounds']} rounds of client - floor in the same round)"
    )
    share_of = f"% of {reference}'s"
    w, c = _widths(rows)
    print(
        f"{'workload':<{w}}{'client':<{c}}{'CPU µs/cmd':>12}{'overhead µs/cmd':>17}{share_of:>28}"
    )
    shown = None
    for row in rows:
        if row["workload"] != shown:
            shown = row["workload"]
            print(f"{shown:<{w}}{_e2e.FLOOR:<{c}}{row['floor_cpu_us_per_command']:>12.2f}")
        share = row["overhead_vs_reference"]
        print(
            f"{row['workload']:<{w}}{row['client']:<{c}}{row['cpu_us_per_command']:>12.2f}"
            f"{row['overhead_us_per_command']:>17.2f}"
            + (f"{100 * share:>26.0f} %" if share is not None else f"{'-':>28}")
        )


def plot(result: dict[str, Any], path: str) -> None:
    """A bar chart of end-to-end speed relative to redis-py (+hiredis), per workload."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise SystemExit(f"--plot needs matplotlib ({exc}); pip install matplotlib") from None
    rows = result["end_to_end"]
    workloads = list(dict.fromkeys(row["workload"] for row in rows))
    clients = list(dict.fromkeys(row["client"] for row in rows))
    width = 0.8 / len(clients)
    fig, ax = plt.subplots(figsize=(11, 6))
    ratios = {(r["workload"], r["client"]): r["vs_reference"] for r in rows}
    # the clients set the scale; the floor's taller bars are cut there, their value written
    top = 1.4 * max(v for (_, c), v in ratios.items() if v is not None and c != _e2e.FLOOR)
    for i, client in enumerate(clients):
        xs = [x + i * width for x in range(len(workloads))]
        values = [ratios.get((w, client)) for w in workloads]  # None: not applicable
        kind = _e2e.KINDS.get(client)
        label = f"{client} ({kind.description})" if kind and kind.description else client
        ax.bar(xs, [min(v or 0.0, top) for v in values], width, label=label)
        for x, value in zip(xs, values, strict=True):
            if value is None:
                ax.text(x, 0.05, "n/a", ha="center", va="bottom", rotation=90, fontsize=8)
            elif value > top:
                ax.text(x, top, f"{value:.0f}x", ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, top * 1.08)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xticks([x + width * (len(clients) - 1) / 2 for x in range(len(workloads))])
    ax.set_xticklabels(workloads, rotation=15, ha="right")
    ax.set_ylabel(f"speed relative to {rows[0]['reference']} (higher is faster)")
    ax.set_title(f"redispool {__version__} ({IMPLEMENTATION}), median of {result['rounds']} rounds")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120, bbox_inches="tight")  # the legend whole, however long
    plt.close(fig)


def _on_server(result: dict[str, Any], url: str, rounds: int, progress: Progress) -> None:
    result["end_to_end"] = end_to_end(url, rounds, progress)
    result["cpu_overhead"] = cpu_overhead(url, rounds, progress)
    result["pools"] = pool_cycles(url, rounds, progress)


def run(url: str | None, rounds: int, json_path: str | None, plot_path: str | None) -> None:
    _e2e.raise_open_files_limit()  # before the embedded server starts: it inherits it
    server = RedisServer() if url is None else None  # no redis-server: fail before starting
    sections = len(_e2e.WORKLOADS) + len(_e2e.CPU_WORKLOADS) + 1 + len(SHAPES)
    progress = Progress(rounds * sections)
    result: dict[str, Any] = {
        "redispool": __version__,
        "implementation": IMPLEMENTATION,
        "redis_py": redis.__version__,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "rounds": rounds,
    }
    try:
        if server is not None:
            with server:
                result["server"] = f"embedded redis-server {server.url}"
                _on_server(result, server.url, rounds, progress)
        else:
            assert url is not None
            result["server"] = url
            _on_server(result, url, rounds, progress)
        result["parsers"] = parsers(rounds, progress)
    finally:
        progress.close()
    print_tables(result)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(result, f, indent=2)
        print(f"\nwrote {json_path}")
    if plot_path:
        plot(result, plot_path)
        print(f"wrote {plot_path}")
