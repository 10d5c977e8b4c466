"""Command packing: redispool's ``Packer`` (compiled and pure) vs ``hiredis.pack_command``
and redis-py's ``PythonRespSerializer``, on small commands, an HSET with 100 pairs and
values of 100 KB and 10 MB. ``make bench``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import hiredis
import pytest
from redis._parsers import Encoder
from redis.connection import PythonRespSerializer

from redispool import _pack_c, _pack_py

COMMANDS: dict[str, tuple[tuple[Any, ...], int]] = {  # name -> (command, packs per round)
    "small commands": (("SET", "key:12345", "value", "EX", 60), 10_000),
    "HSET 100 pairs": (
        ("HSET", "hash", *(x for i in range(100) for x in (f"f{i}", f"value{i}"))),
        1_000,
    ),
    "value of 100 KB": (("SET", "big", b"x" * 100_000), 1_000),
    "value of 10 MB": (("SET", "huge", b"x" * 10_000_000), 10),
}


def _packer(impl: str) -> Callable[..., Any]:
    if impl == "redispool_c":
        return _pack_c.Packer().pack  # type: ignore[no-any-return]
    if impl == "redispool_py":
        return _pack_py.Packer().pack
    if impl == "hiredis":
        return lambda *args: hiredis.pack_command(args)
    encoder = Encoder("utf-8", "strict", False)
    return PythonRespSerializer(6000, encoder.encode).pack


@pytest.mark.parametrize("impl", ["redispool_c", "redispool_py", "hiredis", "redis_py"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_pack(benchmark: Any, name: str, impl: str) -> None:
    command, count = COMMANDS[name]
    pack = _packer(impl)
    packed = pack(*command)
    if impl != "hiredis":  # a list of chunks
        packed = b"".join(bytes(chunk) for chunk in packed)
    assert packed == hiredis.pack_command(command)

    def run() -> None:
        for _ in range(count):
            pack(*command)

    benchmark.group = f"pack {name}"
    benchmark.extra_info.update(impl=impl, ops=count)
    benchmark.pedantic(run, rounds=10, iterations=1, warmup_rounds=1)
