"""End to end on a private redis-server: the workloads of ``python -m redispool bench``
(``redispool/_e2e.py``) through every client kind (``redispool.Redis`` and
``redispool.asyncio.Redis``, the latter with ``auto_pipeline=True`` too, redis-py on
redispool's pool, redis-py with hiredis, redis-py's pure-Python parser, valkey-glide when
installed) and a raw-socket floor. For the large replies, the peak of Python allocations
during one operation is recorded too (``peak_kib``).

``test_e2e`` times each client on its own (pytest-benchmark's rounds, one client after
the other); ``test_e2e_interleaved`` runs the clients of a few workloads in interleaved
rounds, as ``python -m redispool bench`` does, so a noisy moment hits every client alike,
and records each client's median wall µs per operation in ``extra_info["wall_us"]`` (timed
one client after the other, a ratio swings from half to several times its median on a
shared machine), and the client kinds not installed here in ``extra_info["absent"]``.
The gate times the same workloads its own way (``ratios.py``, the ``wall ...`` groups).
``make bench``."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
from ratios import WALL as INTERLEAVED  # the workloads the gate times in wall time

from redispool import _bench, _e2e
from redispool.server import RedisServer

REFERENCES = ("redis-py+hiredis", "redis-py")
LARGE = ("GET of 1 MiB", "LRANGE 0 999", "HGETALL, 100 fields")
ROUNDS = 21  # ~40 s for the six here, half of it the 1000 tasks' (~7,000 connections)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    _e2e.raise_open_files_limit()  # a connection per task and client (1000 tasks), server too
    with RedisServer() as server:
        _e2e.seed(server.url)
        yield server.url


@pytest.mark.parametrize("client", _e2e.CLIENTS)
@pytest.mark.parametrize("workload", list(_e2e.WORKLOADS))
def test_e2e(benchmark: Any, url: str, workload: str, client: str) -> None:
    if client != _e2e.FLOOR and not _e2e.KINDS[client].available():
        pytest.skip(f"{client} is not installed")
    if (why := _e2e.WORKLOADS[workload].not_run(client)) is not None:
        pytest.skip(f"{client}: {why}")
    run, close = _e2e.WORKLOADS[workload].make(client, url)  # checks the answer first
    try:
        ops = _e2e.OPS[workload]
        benchmark.group = f"e2e {workload}"
        benchmark.extra_info.update(impl=client, ops=ops, references=REFERENCES)
        if workload in LARGE and client != _e2e.FLOOR:
            tracemalloc.start()
            run(1)
            benchmark.extra_info["peak_kib"] = tracemalloc.get_traced_memory()[1] // 1024
            tracemalloc.stop()
        benchmark.pedantic(run, args=(ops,), rounds=11, iterations=1, warmup_rounds=1)
    finally:
        close()


@pytest.mark.parametrize("workload", INTERLEAVED)
def test_e2e_interleaved(benchmark: Any, url: str, workload: str) -> None:
    clients, reference = _bench._clients()
    medians: dict[str, float] = {}

    def measure() -> None:
        progress = _bench.Progress(ROUNDS)
        try:
            medians.update(_bench.e2e_medians(url, workload, ROUNDS, progress, clients))
        finally:
            progress.close()

    benchmark.group = f"wall {workload}"
    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(
        wall_us={client: seconds * 1e6 for client, seconds in medians.items()},
        reference=reference,
        rounds=ROUNDS,
        absent=[kind for kind in _e2e.KINDS if kind not in clients],
    )
