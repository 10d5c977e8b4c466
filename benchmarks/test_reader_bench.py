"""Reader throughput: redispool (compiled, pure) vs hiredis.Reader vs redis-py's parser.

All four read the same bytes in one run; ``benchmarks/conftest.py`` prints each shape's
median ratios at the end. Run with ``make bench``.
"""

from __future__ import annotations

import math
from typing import Any

import hiredis
import pytest

from redispool import _reader_c, _reader_py
from redispool._workloads import SHAPES, reader_runner, redis_py_runner

PARSERS = ["redispool_c", "redispool_py", "hiredis", "redis_py"]


def _normal(value: Any) -> Any:
    """Results compared across parsers: push lists as lists, nan equal to nan."""
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def _runner(parser: str, data: bytes, count: int) -> Any:
    if parser == "redispool_c":
        return reader_runner(_reader_c.Reader, data)
    if parser == "redispool_py":
        return reader_runner(_reader_py.Reader, data)
    if parser == "hiredis":
        return reader_runner(hiredis.Reader, data)
    return redis_py_runner(data, count)


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_reader(benchmark: Any, shape: str, parser: str) -> None:
    data, count = SHAPES[shape]
    run = _runner(parser, data, count)
    expected = _normal(reader_runner(hiredis.Reader, data)())
    assert _normal(run()) == expected
    benchmark.group = shape
    benchmark.extra_info["parser"] = parser
    rounds = 5 if parser == "redis_py" or parser == "redispool_py" else 20
    benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)
