"""Byte streams the parser comparisons read (demo and benchmarks), and the runners that
make each parser read them.

Every parser reads the same bytes and must produce equal results (checked before timing),
so the ratios in one run compare like with like.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._compat import Encoder, _RESP2Parser, _RESP3Parser

_MAP_OF_MAPS = b"%100\r\n" + b"".join(
    b"$6\r\nkey%03d\r\n%%10\r\n" % i
    + b"".join(b"$5\r\nfld%02d\r\n$5\r\nval%02d\r\n" % (j, j) for j in range(10))
    for i in range(100)
)

#: name -> (wire bytes, number of replies in it)
SHAPES: dict[str, tuple[bytes, int]] = {
    "small_bulks": (b"$3\r\nfoo\r\n" * 10_000, 10_000),
    "array_10k": (b"*10000\r\n" + b"$3\r\nfoo\r\n" * 10_000, 1),
    "bulk_1mb": (b"$1048576\r\n" + b"x" * 1_048_576 + b"\r\n", 1),
    "integers": (b":1234567\r\n" * 10_000, 10_000),
    "simple_strings": (b"+OK\r\n" * 10_000, 10_000),
    "resp3_maps": (_MAP_OF_MAPS * 10, 10),
    "resp3_sets_doubles": ((b"~100\r\n" + b",3.14159\r\n" * 100) * 100, 100),
    "push_messages": (b">3\r\n$7\r\nmessage\r\n$4\r\nchan\r\n$5\r\nhello\r\n" * 10_000, 10_000),
}

NOT_ENOUGH = object()


def reader_runner(reader_class: Any, data: bytes) -> Callable[[], list[Any]]:
    """Feed ``data`` in 64 KiB chunks (as a socket would) and collect every reply."""
    chunks = [data[i : i + 65536] for i in range(0, len(data), 65536)]

    def run() -> list[Any]:
        reader = reader_class(notEnoughData=NOT_ENOUGH)
        out = []
        for chunk in chunks:
            reader.feed(chunk)
            while (reply := reader.gets()) is not NOT_ENOUGH:
                out.append(reply)
        return out

    return run


class _FakeSocket:
    """Serves ``data`` to redis-py's SocketBuffer in ``recv``-sized pieces."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def recv(self, size: int) -> bytes:
        chunk = self._data[self._pos : self._pos + size].tobytes()
        self._pos += len(chunk)
        return chunk

    def recv_into(self, buffer: Any, nbytes: int = 0) -> int:
        size = min(nbytes or len(buffer), len(self._data) - self._pos)
        buffer[:size] = self._data[self._pos : self._pos + size]
        self._pos += size
        return size

    def settimeout(self, timeout: float | None) -> None:
        pass

    def gettimeout(self) -> float | None:
        return None


class _FakeConnection:
    socket_timeout = None

    def __init__(self, data: bytes) -> None:
        self._sock = _FakeSocket(data)
        self.encoder = Encoder("utf-8", "strict", False)


def connection_runner(parser_class: Any, data: bytes, count: int) -> Callable[[], list[Any]]:
    """``count`` replies read through redis-py's ``Connection.read_response`` with
    ``parser_class``, from an in-memory socket: the glue between parser and client counts."""
    from redis.connection import Connection

    def run() -> list[Any]:
        conn: Any = Connection(parser_class=parser_class, protocol=3)
        conn._sock = _FakeSocket(data)
        conn._parser.on_connect(conn)
        return [conn.read_response(push_request=True) for _ in range(count)]

    return run


def redis_py_runner(data: bytes, count: int, protocol: int = 3) -> Callable[[], list[Any]]:
    """redis-py's own pure-Python parser reading ``count`` replies from ``data``."""
    parser_class = _RESP3Parser if protocol == 3 else _RESP2Parser

    def run() -> list[Any]:
        parser: Any = parser_class(65536)
        parser.on_connect(_FakeConnection(data))
        if protocol == 3:  # keep push messages as replies, as the Readers return them
            return [parser.read_response(push_request=True) for _ in range(count)]
        return [parser.read_response() for _ in range(count)]

    return run
