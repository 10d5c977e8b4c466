"""Hostile input: headers that announce absurd sizes or depths get a clear
``ProtocolError`` or cost only the bytes that actually came, in both twins."""

from __future__ import annotations

import tracemalloc
from types import ModuleType

import pytest

from redispool import ProtocolError

HEADERS = [
    b"*100000000\r\n",
    b"%4000000000\r\n",
    b">999999999\r\n",
    b"~2147483648\r\n",
    b"$99999999999\r\n",
    b"*9223372036854775807\r\n",
    b"*9223372036854775808\r\n",  # 2^63
    b"$9223372036854775808\r\n",
    b"$-9223372036854775809\r\n",
]


def feed_and_measure(reader: object, data: bytes) -> tuple[object, int]:
    """The outcome of one ``gets()`` and the peak of traced allocations meanwhile."""
    tracemalloc.start()
    try:
        reader.feed(data)  # type: ignore[attr-defined]
        try:
            outcome: object = reader.gets()  # type: ignore[attr-defined]
        except ProtocolError as exc:
            outcome = exc
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header", HEADERS)
def test_absurd_sizes(reader_mod: ModuleType, header: bytes) -> None:
    outcome, peak = feed_and_measure(reader_mod.Reader(), header + b":1\r\n" * 100)
    assert outcome is False or isinstance(outcome, ProtocolError)
    if isinstance(outcome, ProtocolError):
        assert str(outcome)  # names the value
    assert peak < 1_000_000


def test_a_million_levels_of_nesting(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()  # default max_depth
    outcome, peak = feed_and_measure(reader, b"*1\r\n" * 1_000_000)
    assert isinstance(outcome, ProtocolError) and "nesting depth" in str(outcome)
    assert peak < 12_000_000  # the input itself is 4 MB; no per-level frames were kept


def test_a_million_levels_allowed_by_the_user(reader_mod: ModuleType) -> None:
    """Raising ``max_depth`` is the user's choice; memory then follows the input and the
    parse stays off the C stack."""
    reader = reader_mod.Reader(max_depth=1_000_000)
    reader.feed(b"*1\r\n" * 1_000_000)
    assert reader.gets() is False
    reader.feed(b":7\r\n")
    reply = reader.gets()
    for _ in range(1_000_000):
        reply = reply[0]
    assert reply == 7
