"""Command packing, run against both twins through the ``pack_mod`` fixture."""

from __future__ import annotations

import enum
from types import ModuleType
from typing import Any

import hiredis
import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis._parsers import Encoder
from redis.connection import PythonRespSerializer
from redis.exceptions import DataError

hiredis_args = st.one_of(
    st.binary(max_size=50),
    st.text(max_size=20),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
)


def redis_py_pack(*args: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    serializer = PythonRespSerializer(6000, Encoder(encoding, errors, False).encode)
    return b"".join(bytes(chunk) for chunk in serializer.pack(*args))


def joined(chunks: list[Any]) -> bytes:
    return b"".join(bytes(chunk) for chunk in chunks)


# -- pack_command: hiredis.pack_command --------------------------------------------------------


@given(cmd=st.lists(hiredis_args, max_size=8).map(tuple))
def test_pack_command_matches_hiredis(pack_mod: ModuleType, cmd: tuple[Any, ...]) -> None:
    assert pack_mod.pack_command(cmd) == hiredis.pack_command(cmd)


def test_pack_command_shapes(pack_mod: ModuleType) -> None:
    assert pack_mod.pack_command(()) == b"*0\r\n"
    assert pack_mod.pack_command(("SET", b"k", 1, 1.5)) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n$3\r\n1.5\r\n"
    )
    assert pack_mod.pack_command(("é", memoryview(b"ab"), bytearray(b"c"))) == (
        b"*3\r\n$2\r\n\xc3\xa9\r\n$2\r\nab\r\n$1\r\nc\r\n"
    )


def test_pack_command_non_contiguous_memoryview(pack_mod: ModuleType) -> None:
    """hiredis sends the raw buffer (b'abc' here); the view's bytes are b'ace'."""
    view = memoryview(b"abcdef")[::2]
    assert pack_mod.pack_command(("SET", view)) == b"*2\r\n$3\r\nSET\r\n$3\r\nace\r\n"


@pytest.mark.parametrize("bad", [["SET"], "SET", None, b"SET"])
def test_pack_command_needs_a_tuple(pack_mod: ModuleType, bad: Any) -> None:
    with pytest.raises(TypeError, match="must be a tuple"):
        pack_mod.pack_command(bad)


@pytest.mark.parametrize("item", [True, None, object(), {}, [1]])
def test_pack_command_rejects_other_types(pack_mod: ModuleType, item: Any) -> None:
    with pytest.raises(TypeError, match=type(item).__name__):
        pack_mod.pack_command(("SET", item))


# -- Packer: redis-py's command_packer hook ------------------------------------------------


redis_args = st.one_of(
    st.binary(max_size=40),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.binary(min_size=6001, max_size=7000),
)


@given(
    name=st.sampled_from(["GET", "CONFIG GET", b"CLIENT LIST", b"SET", "é x"]),
    args=st.lists(redis_args, max_size=6),
)
def test_packer_matches_redis_py(pack_mod: ModuleType, name: Any, args: list[Any]) -> None:
    assert joined(pack_mod.Packer().pack(name, *args)) == redis_py_pack(name, *args)


@given(args=st.lists(st.text(max_size=10), min_size=1, max_size=4))
def test_packer_honours_encoding(pack_mod: ModuleType, args: list[str]) -> None:
    packer = pack_mod.Packer(encoding="latin-1", errors="replace")
    assert packer.encoding == "latin-1"
    assert packer.errors == "replace"
    expected = redis_py_pack("SET", *args, encoding="latin-1", errors="replace")
    assert joined(packer.pack("SET", *args)) == expected


def test_packer_strict_encoding_errors(pack_mod: ModuleType) -> None:
    with pytest.raises(UnicodeEncodeError):
        pack_mod.Packer(encoding="ascii").pack("SET", "k", "é")


def test_large_values_are_separate_chunks_without_copies(pack_mod: ModuleType) -> None:
    big = b"x" * 100_000
    view = memoryview(b"y" * 100)
    chunks = pack_mod.Packer().pack("SET", "k", big)
    assert any(chunk is big for chunk in chunks)
    chunks = pack_mod.Packer().pack("SET", "k", view)
    assert any(chunk is view for chunk in chunks)
    assert joined(chunks) == redis_py_pack("SET", "k", view)
    text = "é" * 5000
    assert joined(pack_mod.Packer().pack("SET", "k", text)) == redis_py_pack("SET", "k", text)


def test_int_subclasses_follow_redis_py(pack_mod: ModuleType) -> None:
    class Color(enum.IntEnum):
        RED = 1

    assert joined(pack_mod.Packer().pack("SET", Color.RED)) == redis_py_pack("SET", Color.RED)


@pytest.mark.parametrize(("item", "name"), [(True, "bool"), (None, "NoneType"), ({}, "dict")])
def test_packer_data_errors(pack_mod: ModuleType, item: Any, name: str) -> None:
    message = f"Invalid input of type: '{name}'. Convert to a bytes, string, int or float first."
    with pytest.raises(DataError) as info:
        pack_mod.Packer().pack("SET", "k", item)
    assert str(info.value) == message


def test_redis_connection_uses_the_packer(pack_mod: ModuleType) -> None:
    conn = redis.Connection(command_packer=pack_mod.Packer())
    assert joined(conn.pack_command("SET", "k", "v")) == redis_py_pack("SET", "k", "v")
    packed = joined(conn.pack_commands([("SET", "a", 1), ("GET", "a")]))
    assert packed == redis_py_pack("SET", "a", 1) + redis_py_pack("GET", "a")
