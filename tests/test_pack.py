"""Command packing, run against both twins through the ``pack_mod`` fixture.

``pack_command`` is checked against ``hiredis.pack_command`` and ``Packer`` against redis-py's
``PythonRespSerializer``: same bytes, same exceptions.
"""

from __future__ import annotations

import array
import enum
import pickle
import sys
from collections.abc import Callable
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

from redispool import _pack_py
from redispool.ledger import UNCOUNTABLE
from redispool.slot_codes import DIRTY

BIG = 100_000
CUTOFF = 6000


class IntSub(int):
    pass


class Color(enum.IntEnum):
    RED = 1


class Score(float):
    def __repr__(self) -> str:
        return "score!"


class Text(str):
    pass


class Blob(bytes):
    pass


def outcome(pack: Callable[[], Any]) -> tuple[Any, ...]:
    """What a packing call did: its bytes (chunks joined), or its exception and message."""
    try:
        result = pack()
    except Exception as exc:
        return type(exc), str(exc)
    if isinstance(result, list):
        result = b"".join(bytes(chunk) for chunk in result)
    return (result,)


def redis_py_pack(
    *args: Any, encoding: str = "utf-8", errors: str = "strict", cutoff: int = CUTOFF
) -> list[Any]:
    return PythonRespSerializer(cutoff, Encoder(encoding, errors, False).encode).pack(*args)


def joined(chunks: list[Any]) -> bytes:
    return b"".join(bytes(chunk) for chunk in chunks)


def check_chunking(
    chunks: list[Any],
    args: tuple[Any, ...],
    encoding: str = "utf-8",
    errors: str = "strict",
    cutoff: int = CUTOFF,
) -> None:
    """The chunks are bytes segments alternating with the values sent on their own: values
    longer than the cutoff and contiguous memoryviews, the very objects passed (an encoded
    str or a strided view's bytes can only be equal)."""
    values: list[tuple[Any, bool]] = []  # (value, the chunk must be that very object)
    for arg in args:
        if isinstance(arg, memoryview):
            if arg.c_contiguous:
                values.append((arg, True))
            elif arg.nbytes > cutoff:
                values.append((arg.tobytes(), False))
        elif isinstance(arg, (bytes, bytearray)) and len(arg) > cutoff:
            values.append((arg, True))
        elif isinstance(arg, str) and len(encoded := arg.encode(encoding, errors)) > cutoff:
            values.append((encoded, False))
    assert len(chunks) == 2 * len(values) + 1
    assert all(type(segment) is bytes for segment in chunks[::2])
    for chunk, (value, same) in zip(chunks[1::2], values, strict=True):
        assert chunk is value if same else chunk == value


# -- pack_command: hiredis.pack_command ------------------------------------------------------

texts = st.text(max_size=20) | st.sampled_from(["", "é", "日本語", "\x00", "a b", "💥" * 3])
hiredis_items = st.one_of(
    texts,
    st.binary(max_size=40),
    st.binary(max_size=40).map(memoryview),
    st.integers(min_value=-(2**100), max_value=2**100),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**64, 10**19]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e100, 1e-300, 5e-324, 1.5, float("inf"), float("-inf")]),
)


@given(cmd=st.lists(hiredis_items, max_size=20).map(tuple))
def test_pack_command_matches_hiredis(pack_mod: ModuleType, cmd: tuple[Any, ...]) -> None:
    assert pack_mod.pack_command(cmd) == hiredis.pack_command(cmd)


def test_pack_command_many_args_match_hiredis(pack_mod: ModuleType) -> None:
    cmd = ("HSET", "h", *(x for i in range(500) for x in (f"field:{i}", i * 7919)))
    assert pack_mod.pack_command(cmd) == hiredis.pack_command(cmd)
    big = (b"SET", "k", b"v" * BIG, "é" * BIG, "a" * BIG, memoryview(b"m" * BIG))
    assert pack_mod.pack_command(big) == hiredis.pack_command(big)


@pytest.mark.parametrize(
    "item",
    [
        Text("sub"),
        Blob(b"sub"),
        Score(1.5),
        memoryview(array.array("i", [1, -2])),  # items of 4 bytes: packed as 8 bytes
        memoryview(b"abcdef").cast("B", shape=[2, 3]),
        memoryview(b"abcdef")[1:4],
    ],
    ids=repr,
)
def test_pack_command_matches_hiredis_on_subclasses_and_views(
    pack_mod: ModuleType, item: Any
) -> None:
    assert pack_mod.pack_command(("SET", item)) == hiredis.pack_command(("SET", item))


def test_pack_command_shapes(pack_mod: ModuleType) -> None:
    assert pack_mod.pack_command(()) == b"*0\r\n" == hiredis.pack_command(())
    assert pack_mod.pack_command(("SET", b"k", 1, 1.5, -0.0)) == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\n1\r\n$3\r\n1.5\r\n$4\r\n-0.0\r\n"
    )
    assert pack_mod.pack_command(("", b"")) == b"*2\r\n$0\r\n\r\n$0\r\n\r\n"


class _Tuple(tuple):  # type: ignore[type-arg]
    pass


def test_pack_command_takes_tuple_subclasses(pack_mod: ModuleType) -> None:
    assert pack_mod.pack_command(_Tuple(("GET", "k"))) == hiredis.pack_command(("GET", "k"))


def test_pack_command_takes_bytearray(pack_mod: ModuleType) -> None:
    """hiredis refuses bytearray; redis-py converts it to bytes before calling hiredis."""
    cmd = ("SET", bytearray(b"k"), bytearray(), bytearray(b"v" * BIG))
    expected = hiredis.pack_command(tuple(bytes(x) if isinstance(x, bytearray) else x for x in cmd))
    assert pack_mod.pack_command(cmd) == expected


@given(data=st.binary(max_size=60), step=st.integers(2, 5), start=st.integers(0, 3))
def test_pack_command_non_contiguous_memoryview(
    pack_mod: ModuleType, data: bytes, step: int, start: int
) -> None:
    """hiredis sends the raw memory under a strided view; its bytes are what is meant."""
    view = memoryview(data)[start::step]
    expected = hiredis.pack_command(("SET", view.tobytes()))
    assert pack_mod.pack_command(("SET", view)) == expected


def test_pack_command_strided_view_example(pack_mod: ModuleType) -> None:
    view = memoryview(b"abcdef")[::2]
    assert pack_mod.pack_command(("SET", view)) == b"*2\r\n$3\r\nSET\r\n$3\r\nace\r\n"


@pytest.mark.parametrize("bad", [["SET"], "SET", None, b"SET", {"SET": 1}, iter(("SET",))])
def test_pack_command_needs_a_tuple(pack_mod: ModuleType, bad: Any) -> None:
    with pytest.raises(TypeError, match=r"must be a tuple .*not " + type(bad).__name__):
        pack_mod.pack_command(bad)
    with pytest.raises(TypeError):
        hiredis.pack_command(bad)


@pytest.mark.parametrize(
    "item",
    [True, False, None, object(), {}, [1], (1,), 1j, IntSub(3), Color.RED, {1}],
    ids=repr,
)
def test_pack_command_rejects_what_hiredis_rejects(pack_mod: ModuleType, item: Any) -> None:
    with pytest.raises(TypeError):
        hiredis.pack_command(("SET", item))
    message = f"A tuple item must be str, int, float or bytes, not {type(item).__name__}"
    with pytest.raises(TypeError, match=message):
        pack_mod.pack_command(("SET", "k", item))


def test_pack_command_encoding_errors(pack_mod: ModuleType) -> None:
    assert outcome(lambda: pack_mod.pack_command(("SET", "\ud800"))) == outcome(
        lambda: hiredis.pack_command(("SET", "\ud800"))
    )


def test_pack_command_released_memoryview(pack_mod: ModuleType) -> None:
    view = memoryview(b"abc")
    view.release()
    with pytest.raises(ValueError, match="released"):
        pack_mod.pack_command(("SET", view))


# -- Packer: redis-py's command_packer hook ---------------------------------------------------

names = st.sampled_from(
    ["GET", "CONFIG GET", " SET ", "a\tb\nc", "", "é x", "日本", b"CLIENT LIST", b"SET", b"",
     b"A\tB", bytearray(b"X Y"), Text("MEMORY USAGE"), Blob(b"OBJECT ENCODING")]
)  # fmt: skip
redis_items = st.one_of(
    texts,
    st.text(alphabet=st.characters(codec=None), max_size=10),  # surrogates too
    st.binary(max_size=40),
    st.binary(max_size=40).map(bytearray),
    st.binary(max_size=40).map(memoryview),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([IntSub(7), Color.RED, Score(2.0), Text("t"), Blob(b"b"), -0.0]),
    st.binary(min_size=CUTOFF - 2, max_size=CUTOFF + 2),
    st.sampled_from([b"x" * 7000, bytearray(b"y" * 7000), "z" * 7000, "é" * 3001]),
)
encodings = st.sampled_from(
    [("utf-8", "strict"), ("latin-1", "replace"), ("latin-1", "strict"), ("ascii", "ignore"),
     ("utf-16", "strict"), ("cp500", "strict"), ("utf-8", "surrogateescape"),
     ("UTF8", "backslashreplace")]
)  # fmt: skip


@given(name=names, args=st.lists(redis_items, max_size=8), codec=encodings)
def test_packer_matches_redis_py(
    pack_mod: ModuleType, name: Any, args: list[Any], codec: tuple[str, str]
) -> None:
    encoding, errors = codec
    packer = pack_mod.Packer(encoding, errors)
    ours = outcome(lambda: packer.pack(name, *args))
    assert ours == outcome(lambda: redis_py_pack(name, *args, encoding=encoding, errors=errors))
    if len(ours) == 1:
        check_chunking(packer.pack(name, *args), tuple(args), encoding, errors)


@given(
    args=st.lists(redis_items, min_size=1, max_size=8),
    cutoff=st.sampled_from([0, 1, 3, 10, 100, CUTOFF]),
)
def test_packer_buffer_cutoff(pack_mod: ModuleType, args: list[Any], cutoff: int) -> None:
    packer = pack_mod.Packer(buffer_cutoff=cutoff)
    assert packer.buffer_cutoff == cutoff
    ours = outcome(lambda: packer.pack(b"SET", *args))
    assert ours == outcome(lambda: redis_py_pack(b"SET", *args, cutoff=cutoff))
    if len(ours) == 1:
        check_chunking(packer.pack(b"SET", *args), (b"SET", *args), cutoff=cutoff)


@given(
    commands=st.lists(st.tuples(names, st.lists(redis_items, max_size=5)), max_size=6),
    cutoff=st.sampled_from([0, 3, 100, CUTOFF]),
)
def test_pack_commands_is_pack_for_each(
    pack_mod: ModuleType, commands: list[tuple[Any, list[Any]]], cutoff: int
) -> None:
    """The stack's chunks are ``pack``'s for each command, the bytes it built joined across
    commands and its uncopied values kept apart; the same in both twins; every reply owed."""
    stack = [(name, *args) for name, args in commands]
    packer = pack_mod.Packer(buffer_cutoff=cutoff)
    single = pack_mod.Packer(buffer_cutoff=cutoff)
    one_by_one: list[Any] = []
    values: list[Any] = []  # what pack returns uncopied: every other chunk of a command's
    try:
        for command in stack:
            chunks = single.pack(*command)
            one_by_one += chunks
            values += chunks[1::2]
    except Exception as exc:  # the same error, and nothing owed: nothing will be sent
        error = exc
        assert outcome(lambda: packer.pack_commands(stack)) == outcome(lambda: _raise(error))
        assert packer.owed == 0
        return
    ours = packer.pack_commands(stack)
    assert b"".join(map(bytes, ours)) == b"".join(map(bytes, one_by_one))
    assert [chunk for i, chunk in enumerate(ours) if i % 2] == values
    assert [type(c) for c in ours[1::2]] == [type(c) for c in values]
    assert all(type(chunk) is bytes for chunk in ours[::2])
    assert len(ours) == (2 * len(values) + 1 if stack else 0)
    assert packer.owed == single.owed
    pure = _pack_py.Packer(buffer_cutoff=cutoff).pack_commands(stack)
    assert [(type(c), bytes(c)) for c in pure] == [(type(c), bytes(c)) for c in ours]


def _raise(exc: Exception) -> None:
    raise exc


def test_pack_commands_owes_each_reply(pack_mod: ModuleType) -> None:
    packer = pack_mod.Packer()
    assert packer.pack_commands([]) == []
    chunks = packer.pack_commands([("SET", "k", b"x" * 7000), ["GET", "k"], ("PING",)])
    assert packer.owed == 3
    assert [type(c) for c in chunks] == [bytes, bytes, bytes]
    assert chunks[1] == b"x" * 7000
    assert packer.pack_commands([("SUBSCRIBE", "c")]) and packer.owed == UNCOUNTABLE


@given(args=st.lists(st.text(max_size=10), min_size=1, max_size=4))
def test_packer_honours_encoding(pack_mod: ModuleType, args: list[str]) -> None:
    packer = pack_mod.Packer(encoding="latin-1", errors="replace")
    expected = joined(redis_py_pack("SET", *args, encoding="latin-1", errors="replace"))
    assert joined(packer.pack("SET", *args)) == expected


def test_packer_encoding_examples(pack_mod: ModuleType) -> None:
    latin = pack_mod.Packer(encoding="latin-1")
    assert joined(latin.pack("SET", "é")) == b"*2\r\n$3\r\nSET\r\n$1\r\n\xe9\r\n"
    # the command name is UTF-8 whatever the encoding, as in redis-py
    assert joined(latin.pack("é", "é")) == b"*2\r\n$2\r\n\xc3\xa9\r\n$1\r\n\xe9\r\n"
    replace = pack_mod.Packer(encoding="ascii", errors="replace")
    assert joined(replace.pack("SET", "é")) == b"*2\r\n$3\r\nSET\r\n$1\r\n?\r\n"
    utf16 = pack_mod.Packer(encoding="utf-16")
    assert joined(utf16.pack("SET", "a")) == joined(redis_py_pack("SET", "a", encoding="utf-16"))
    with pytest.raises(UnicodeEncodeError):
        pack_mod.Packer(encoding="ascii").pack("SET", "k", "é")


def test_large_values_are_separate_chunks_without_copies(pack_mod: ModuleType) -> None:
    packer = pack_mod.Packer()
    big = b"x" * BIG
    chunks = packer.pack("SET", "k", big)
    assert [chunk is big for chunk in chunks] == [False, True, False]
    assert joined(chunks) == joined(redis_py_pack("SET", "k", big))

    view = memoryview(b"y" * BIG)
    chunks = packer.pack("SET", "k", view, "EX", 10)
    assert [chunk is view for chunk in chunks] == [False, True, False]
    assert joined(chunks) == joined(redis_py_pack("SET", "k", view, "EX", 10))

    small_view = memoryview(b"small")  # memoryviews are never copied, whatever their size
    assert any(chunk is small_view for chunk in packer.pack("SET", "k", small_view))

    buf = bytearray(b"z" * BIG)
    chunks = packer.pack("SET", "k", buf)
    assert any(chunk is buf for chunk in chunks)
    assert joined(chunks) == joined(redis_py_pack("SET", "k", buf))

    at_cutoff = b"c" * CUTOFF  # not longer than the cutoff: copied into the buffer
    assert packer.pack("SET", "k", at_cutoff) == [joined(redis_py_pack("SET", "k", at_cutoff))]
    assert packer.pack("SET", "k", "v") == [b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"]


def test_large_str_values(pack_mod: ModuleType) -> None:
    for value in ("a" * BIG, "é" * BIG, "a" * CUTOFF, "a" * (CUTOFF + 1)):
        assert joined(pack_mod.Packer().pack("SET", "k", value)) == joined(
            redis_py_pack("SET", "k", value)
        )


def test_multibyte_memoryview_is_sent_as_its_bytes(pack_mod: ModuleType) -> None:
    """redis-py writes ``len(view)`` (2 items) as the length of 8 bytes; the packer does not."""
    view = memoryview(array.array("i", [1, 2]))
    assert joined(pack_mod.Packer().pack("SET", "k", view)) == joined(
        redis_py_pack("SET", "k", view.tobytes())
    )


def test_non_contiguous_memoryview_in_packer(pack_mod: ModuleType) -> None:
    view = memoryview(b"abcdef" * 2000)[::2]
    assert joined(pack_mod.Packer().pack("SET", "k", view)) == joined(
        redis_py_pack("SET", "k", view.tobytes())
    )


def test_int_and_float_subclasses_follow_redis_py(pack_mod: ModuleType) -> None:
    args = ("SET", Color.RED, IntSub(5), Score(1.0), 2**70, -(2**63), 1e100)
    assert joined(pack_mod.Packer().pack(*args)) == joined(redis_py_pack(*args))


@pytest.mark.parametrize(
    ("item", "name"),
    [(True, "bool"), (False, "bool"), (None, "NoneType"), (object(), "object"), ({}, "dict"),
     ([b"x"], "list"), (1j, "complex")],
)  # fmt: skip
def test_packer_data_errors(pack_mod: ModuleType, item: Any, name: str) -> None:
    message = f"Invalid input of type: '{name}'. Convert to a bytes, string, int or float first."
    with pytest.raises(DataError) as info:
        pack_mod.Packer().pack("SET", "k", item)
    assert str(info.value) == message
    assert outcome(lambda: pack_mod.Packer().pack("SET", "k", item)) == outcome(
        lambda: redis_py_pack("SET", "k", item)
    )


def test_packer_attributes(pack_mod: ModuleType) -> None:
    packer = pack_mod.Packer(encoding="latin-1", errors="replace", buffer_cutoff=100)
    assert (packer.encoding, packer.errors, packer.buffer_cutoff) == ("latin-1", "replace", 100)
    default = pack_mod.Packer()
    assert (default.encoding, default.errors, default.buffer_cutoff) == ("utf-8", "strict", 6000)
    with pytest.raises(AttributeError):
        packer.encoding = "utf-8"
    assert repr(packer) == "Packer(encoding='latin-1', errors='replace', buffer_cutoff=100)"
    copy = pickle.loads(pickle.dumps(packer))
    assert type(copy) is type(packer)
    assert repr(copy) == repr(packer)
    assert copy.pack("SET", "é") == packer.pack("SET", "é")


def test_packer_rejects_unknown_codecs(pack_mod: ModuleType) -> None:
    with pytest.raises(LookupError):
        pack_mod.Packer(encoding="no-such-codec")
    with pytest.raises(LookupError):
        pack_mod.Packer(errors="no-such-handler")
    with pytest.raises(TypeError):
        pack_mod.Packer(encoding=None)
    with pytest.raises(TypeError):
        pack_mod.Packer(buffer_cutoff=1.5)


def test_packer_with_no_args(pack_mod: ModuleType) -> None:
    assert pack_mod.Packer().pack() == [b"*0\r\n"]


def test_packer_releases_what_it_holds(pack_mod: ModuleType) -> None:
    """Failed and successful calls leave no reference and no buffer export behind."""
    packer = pack_mod.Packer()
    big = b"b" * BIG
    buf = bytearray(b"resizable")
    args = ("SET", big, buf, memoryview(buf), memoryview(b"abcdef")[::2], "é", 2**70, 1.5)
    before = sys.getrefcount(big), sys.getrefcount(buf)
    for _ in range(100):
        packer.pack(*args)
        pack_mod.pack_command(args)
        with pytest.raises(DataError):
            packer.pack(*args, None)
        with pytest.raises(TypeError):
            pack_mod.pack_command((*args, None))
    assert (sys.getrefcount(big), sys.getrefcount(buf)) == before
    del args
    buf.extend(b"!")  # BufferError if an export were still held


@pytest.mark.parametrize("size", [5, BIG])
def test_argument_changed_while_packing(pack_mod: ModuleType, size: int) -> None:
    """A ``__repr__`` that resizes an earlier bytearray cannot make the output lie about
    lengths: BufferError (an export is held), or the bytes from before the change."""
    buf = bytearray(b"1" * size)
    before = bytes(buf)

    def grow() -> str:
        buf.extend(b"x" * 100)
        return "0"

    class EvilInt(int):
        __repr__ = staticmethod(grow)

    class EvilFloat(float):
        __repr__ = staticmethod(grow)

    calls: list[Callable[[], Any]] = [
        lambda: pack_mod.Packer().pack("SET", buf, EvilInt(0)),
        lambda: [pack_mod.pack_command(("SET", buf, EvilFloat(0)))],
    ]
    for pack in calls:
        del buf[size:]
        try:
            chunks = pack()
        except BufferError:
            continue
        reader = hiredis.Reader()
        reader.feed(joined(chunks))
        assert reader.gets() == [b"SET", before, b"0"]
        assert reader.gets() is False
    buf.extend(b"!")  # no export left behind


# -- through redis-py ----------------------------------------------------------------------


def test_redis_connection_uses_the_packer(pack_mod: ModuleType) -> None:
    conn = redis.connection.Connection(command_packer=pack_mod.Packer())
    expected = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
    assert joined(conn.pack_command("SET", "k", "v")) == expected
    big = b"v" * BIG
    commands = [("SET", "a", 1), ("CONFIG GET", "maxmemory"), ("SET", "b", big), ("GET", "a")]
    packed = conn.pack_commands(commands)
    assert joined(packed) == b"".join(joined(redis_py_pack(*cmd)) for cmd in commands)
    assert any(chunk is big for chunk in packed)


def test_redis_connection_encoding(pack_mod: ModuleType) -> None:
    conn = redis.connection.Connection(
        command_packer=pack_mod.Packer("latin-1", "replace"),
        encoding="latin-1",
        encoding_errors="replace",
    )
    args = ("SET", "é", "日本", 1.5)
    assert joined(conn.pack_command(*args)) == joined(
        redis_py_pack(*args, encoding="latin-1", errors="replace")
    )


# ---- the reply ledger (issue 11, point 5) -------------------------------------------------


def test_ledger_counts_packed_commands(pack_mod: ModuleType) -> None:
    packer = pack_mod.Packer()
    assert (packer.owed, packer.demoted, packer.fd, packer.dirty) == (0, False, -1, False)
    packer.pack("SET", "k", "v")
    packer.pack("GET", "k")
    assert packer.owed == 2 and packer.dirty
    packer.replied()
    packer.replied()
    packer.replied()  # never below zero
    assert packer.owed == 0 and not packer.dirty
    with pytest.raises(DataError):
        packer.pack("SET", "k", object())
    assert packer.owed == 0  # nothing packed, nothing owed
    packer.fd = 5
    assert packer.lend_fd == 5  # clean: the pools release it with its socket
    packer.demoted = True
    assert packer.dirty and packer.lend_fd == DIRTY
    packer.demoted = False
    packer.pack("GET", "k")
    assert packer.lend_fd == DIRTY
    packer.replied()
    packer.demoted = True
    packer.pack("GET", "k")
    packer.disconnected()
    assert (packer.owed, packer.fd, packer.demoted) == (0, -1, True)


@pytest.mark.parametrize(
    "command",
    [
        ("SUBSCRIBE", "c"),
        ("subscribe", "c"),
        ("Subscribe", "c"),
        (b"PSUBSCRIBE", b"c*"),
        (bytearray(b"monitor"),),
        ("CLIENT REPLY", "OFF"),
        ("CLIENT", "REPLY", "OFF"),
        ("client", "reply", "skip"),
        ("RESET",),
    ],
)
def test_ledger_uncountable_commands(pack_mod: ModuleType, command: tuple[Any, ...]) -> None:
    packer = pack_mod.Packer()
    packer.pack(*command)
    assert packer.owed >= UNCOUNTABLE
    assert packer.dirty


@pytest.mark.parametrize(
    "command", [("CLIENT", "ID"), ("client", "list"), ("GET", "subscribe"), ("Get", "k")]
)
def test_ledger_countable_lookalikes(pack_mod: ModuleType, command: tuple[Any, ...]) -> None:
    packer = pack_mod.Packer()
    packer.pack(*command)
    assert packer.owed == 1
