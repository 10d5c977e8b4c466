"""Client CPU time per command beyond a raw socket's, on a private redis-server (RESP3):
the CPU-overhead table of ``python -m redispool bench`` (``redispool._bench.cpu_overhead``).

For each workload every client kind of ``redispool/_e2e.py`` that runs here (valkey-glide
when installed: its Rust threads' CPU time counts too) and the raw-socket floor
(pre-packed bytes out, reply bytes counted in) run in interleaved rounds in this process;
a client's overhead in a round is its ``time.process_time()`` minus the floor's in the
same round, per command (a pipeline of 1000 GETs counts 1000), and the median over the
rounds is recorded in ``extra_info["cpu_overhead_us"]`` (client -> µs per command).
pytest-benchmark's own timing of the whole measurement is not a figure of interest. The
gate measures the same overheads its own way (``ratios.py``, the ``cpu ...`` groups).
``make bench``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from redispool import _bench, _e2e
from redispool.server import RedisServer

ROUNDS = 21  # ~3 s per workload here


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with RedisServer() as server:
        yield server.url


@pytest.mark.parametrize("workload", _e2e.CPU_WORKLOADS)
def test_cpu_overhead(benchmark: Any, url: str, workload: str) -> None:
    rows: list[dict[str, Any]] = []

    def measure() -> None:
        progress = _bench.Progress(ROUNDS)
        try:
            rows[:] = _bench.cpu_overhead(url, ROUNDS, progress, workloads=[workload])
        finally:
            progress.close()

    benchmark.group = f"cpu {workload}"
    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update(
        cpu_overhead_us={row["client"]: row["overhead_us_per_command"] for row in rows},
        cpu_us={row["client"]: row["cpu_us_per_command"] for row in rows},
        floor_cpu_us=rows[0]["floor_cpu_us_per_command"],
        reference=rows[0]["reference"],
        rounds=ROUNDS,
    )
