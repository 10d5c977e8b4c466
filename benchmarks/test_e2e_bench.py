"""End to end on a private redis-server: the workloads of ``python -m redispool bench``
(``redispool/_e2e.py``) through redispool, redis-py with hiredis, redis-py's pure-Python
parser and a raw-socket floor. For the large replies, the peak of Python allocations
during one operation is recorded too (``peak_kib``). ``make bench``."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest

from redispool import _e2e
from redispool.server import RedisServer

REFERENCES = ("redis-py+hiredis", "redis-py")
LARGE = ("GET of 1 MiB", "LRANGE 0 999", "HGETALL, 100 fields")


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with RedisServer() as server:
        _e2e.seed(server.url)
        yield server.url


@pytest.mark.parametrize("client", _e2e.CLIENTS)
@pytest.mark.parametrize("workload", list(_e2e.WORKLOADS))
def test_e2e(benchmark: Any, url: str, workload: str, client: str) -> None:
    if not _e2e.WORKLOADS[workload].runs_on(client):
        pytest.skip(f"{client} has no asyncio client")
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
