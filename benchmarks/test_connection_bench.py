"""Replies read through redis-py's ``Connection.read_response``: ``redispool.Parser`` vs
redis-py's ``_HiredisParser`` and pure-Python ``_RESP3Parser``, from an in-memory socket,
so the glue between parser and client is part of what is measured. ``make bench``."""

from __future__ import annotations

from typing import Any

import pytest
from redis._parsers import _HiredisParser, _RESP3Parser

from redispool import Parser
from redispool._workloads import SHAPES, connection_runner

PARSERS = {"redispool": Parser, "hiredis": _HiredisParser, "redis_py": _RESP3Parser}


@pytest.mark.parametrize("parser", list(PARSERS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_read_response(benchmark: Any, shape: str, parser: str) -> None:
    data, count = SHAPES[shape]
    run = connection_runner(PARSERS[parser], data, count)
    reference = connection_runner(_HiredisParser, data, count)()
    result = run()
    assert len(result) == count
    if shape not in ("resp3_maps", "push_messages"):  # hiredis differs there (README)
        assert result == reference
    benchmark.group = f"conn {shape}"
    benchmark.extra_info.update(impl=parser, ops=count)
    benchmark.pedantic(run, rounds=5 if parser == "redis_py" else 15, iterations=1)
