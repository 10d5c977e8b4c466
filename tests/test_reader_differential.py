"""Differential tests: random RESP streams, split at random chunk boundaries, must parse
the same in both twins and, where hiredis is right, the same as ``hiredis.Reader``.

hiredis is the oracle only for what it gets right: blob errors, attributes and duplicate
map keys are compared between the twins alone (see README, "Where redispool differs").
"""

from __future__ import annotations

import importlib
import itertools
import math
from types import ModuleType
from typing import Any

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.exceptions import InvalidResponse

from redispool import _reader_py
from redispool.errors import ProtocolError
from redispool.push import PushNotification

SENTINEL = object()
CRLF = b"\r\n"
line_text = st.binary(max_size=20).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b""))


def bulk(payload: bytes, kind: bytes = b"$") -> bytes:
    return kind + b"%d\r\n" % len(payload) + payload + CRLF


def scalars(twin_only: bool) -> st.SearchStrategy[bytes]:
    """One non-aggregate reply on the wire."""
    options = [
        line_text.map(lambda s: b"+" + s + CRLF),
        line_text.map(lambda s: b"-ERR " + s + CRLF),
        st.binary(max_size=40).map(bulk),
        st.just(b"$-1\r\n"),
        st.just(b"*-1\r\n"),
        st.just(b"_\r\n"),
        st.integers(-(2**63), 2**63 - 1).map(lambda i: b":%d\r\n" % i),
        st.floats(allow_nan=True).map(lambda f: b"," + repr(f).encode() + CRLF),
        st.booleans().map(lambda b: b"#t\r\n" if b else b"#f\r\n"),
        st.integers(-(10**40), 10**40).map(lambda i: b"(%d\r\n" % i),
        st.binary(max_size=20).map(lambda b: bulk(b"txt:" + b, b"=")),
    ]
    if twin_only:
        options.append(line_text.map(lambda s: bulk(b"SYNTAX " + s, b"!")))
    return st.one_of(options)


def aggregates(children: st.SearchStrategy[bytes], twin_only: bool) -> st.SearchStrategy[bytes]:
    """Arrays, sets, pushes and maps of ``children``."""

    def sequence(kind: bytes) -> st.SearchStrategy[bytes]:
        return st.lists(children, max_size=5).map(
            lambda items: kind + b"%d\r\n" % len(items) + b"".join(items)
        )

    keys = st.one_of(st.binary(max_size=8).map(bulk), st.integers(0, 5).map(b":%d\r\n".__mod__))
    if twin_only:  # duplicates and hash-equal keys (1 and True) included
        keys = st.one_of(keys, st.booleans().map(lambda b: b"#t\r\n" if b else b"#f\r\n"))
        pairs = st.lists(st.tuples(keys, children), max_size=5)
    else:
        # keys unique even once decoded: hiredis mis-pairs duplicate keys
        unique = st.lists(
            st.tuples(st.text(max_size=8), children), max_size=5, unique_by=lambda p: p[0]
        )
        pairs = unique.map(lambda ps: [(bulk(k.encode()), v) for k, v in ps])
    maps = pairs.map(lambda ps: b"%%%d\r\n" % len(ps) + b"".join(k + v for k, v in ps))
    options = [sequence(b"*"), sequence(b"~"), sequence(b">"), maps]
    if twin_only:  # an attribute annotates the reply that follows it
        attribute = pairs.map(lambda ps: b"|%d\r\n" % len(ps) + b"".join(k + v for k, v in ps))
        options.append(st.tuples(attribute, children).map(b"".join))
    return st.one_of(options)


def replies(twin_only: bool) -> st.SearchStrategy[bytes]:
    return st.recursive(
        scalars(twin_only), lambda inner: aggregates(inner, twin_only), max_leaves=20
    )


def streams(twin_only: bool) -> st.SearchStrategy[tuple[bytes, list[int]]]:
    """Several replies back to back, and the offsets at which to cut them into chunks."""
    wire = st.lists(replies(twin_only), min_size=1, max_size=4).map(b"".join)
    return wire.flatmap(
        lambda w: st.tuples(st.just(w), st.lists(st.integers(0, len(w)), max_size=6))
    )


def normal(value: Any) -> Any:
    """Comparable across parsers: exceptions by name and args, push lists tagged, nan equal."""
    if isinstance(value, BaseException):
        return ("error", type(value).__name__, value.args)
    if isinstance(value, (PushNotification, hiredis.PushNotification)):
        return ("push", [normal(v) for v in value])
    if isinstance(value, list):
        return [normal(v) for v in value]
    if isinstance(value, dict):
        return ("map", [(normal(k), normal(v)) for k, v in value.items()])
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    return value


def outcomes(reader_class: Any, wire: bytes, cuts: list[int], **kwargs: Any) -> list[Any]:
    """Feed ``wire`` cut at ``cuts``; every reply, and the protocol error if one is raised."""
    reader = reader_class(notEnoughData=SENTINEL, **kwargs)
    bounds = [0, *sorted(cuts), len(wire)]
    got: list[Any] = []
    for start, stop in itertools.pairwise(bounds):
        reader.feed(wire[start:stop])
        while True:
            try:
                reply = reader.gets()
            except UnicodeError as exc:  # a decode error spoils one reply, not the stream
                got.append(("raised", type(exc).__name__, str(exc)))
                continue
            except Exception as exc:  # a protocol error: the stream is dead and stays dead
                got.append(("raised", type(exc).__name__, str(exc)))
                try:
                    reader.gets()
                except Exception as again:
                    assert (type(again), str(again)) == (type(exc), str(exc))
                else:
                    raise AssertionError("a protocol error did not persist") from exc
                return got
            if reply is SENTINEL:
                break
            got.append(normal(reply))
    return got


@pytest.fixture(scope="session")
def _reader_c() -> ModuleType:
    """The compiled twin, compared with the pure one (``_reader_py``) below."""
    from conftest import NO_EXTENSIONS

    if NO_EXTENSIONS:
        pytest.skip("REDISPOOL_NO_EXTENSIONS is set")
    return importlib.import_module("redispool._reader_c")


@given(stream=streams(twin_only=False))
def test_twin_matches_hiredis(reader_mod: ModuleType, stream: tuple[bytes, list[int]]) -> None:
    wire, cuts = stream
    assert outcomes(reader_mod.Reader, wire, cuts) == outcomes(hiredis.Reader, wire, [])


@given(stream=streams(twin_only=False))
def test_twin_matches_hiredis_decoded(
    reader_mod: ModuleType, stream: tuple[bytes, list[int]]
) -> None:
    wire, cuts = stream
    options = {"encoding": "utf-8", "errors": "replace"}
    expected = outcomes(hiredis.Reader, wire, [], **options)
    assert outcomes(reader_mod.Reader, wire, cuts, **options) == expected


@given(stream=streams(twin_only=True))
def test_twins_agree_beyond_hiredis(_reader_c: ModuleType, stream: tuple[bytes, list[int]]) -> None:
    wire, cuts = stream
    assert outcomes(_reader_c.Reader, wire, cuts) == outcomes(_reader_py.Reader, wire, [])
    strict = {"encoding": "utf-8"}  # invalid UTF-8 raises once the reply is complete
    c_decoded = outcomes(_reader_c.Reader, wire, cuts, **strict)
    assert c_decoded == outcomes(_reader_py.Reader, wire, cuts[::-1], **strict)


@st.composite
def damaged(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A valid stream with a few bytes replaced, inserted or deleted."""
    wire = bytearray(draw(st.lists(replies(True), min_size=1, max_size=3).map(b"".join)))
    alphabet = st.sampled_from(list(b"$*%~>|:+-,#_(=!\r\n0123456789-x"))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(wire)))
        action = draw(st.sampled_from(["replace", "insert", "delete"]))
        if action == "insert" or at == len(wire):
            wire.insert(at, draw(alphabet))
        elif action == "replace":
            wire[at] = draw(alphabet)
        else:
            del wire[at]
    cuts = draw(st.lists(st.integers(0, len(wire)), max_size=5))
    return bytes(wire), cuts


@given(stream=damaged())
def test_malformed_streams_fail_identically(
    _reader_c: ModuleType, stream: tuple[bytes, list[int]]
) -> None:
    wire, cuts = stream
    assert outcomes(_reader_c.Reader, wire, cuts) == outcomes(_reader_py.Reader, wire, [])


@given(stream=streams(twin_only=True))
def test_limits_apply_identically(_reader_c: ModuleType, stream: tuple[bytes, list[int]]) -> None:
    wire, cuts = stream
    limits = {"max_bulk_len": 8, "max_depth": 2}
    assert outcomes(_reader_c.Reader, wire, cuts, **limits) == outcomes(
        _reader_py.Reader, wire, [], **limits
    )


@given(stream=streams(twin_only=False))
def test_custom_error_callables_match_hiredis(
    reader_mod: ModuleType, stream: tuple[bytes, list[int]]
) -> None:
    wire, cuts = stream
    options = {"replyError": lambda msg: ("reply-error", msg), "protocolError": ValueError}
    expected = outcomes(hiredis.Reader, wire, [], **options)
    assert outcomes(reader_mod.Reader, wire, cuts, **options) == expected


def held(reader_class: Any, wire: bytes, cuts: list[int]) -> list[Any]:
    """After every feed and every reply: ``len()`` and ``has_data()``."""
    reader = reader_class(notEnoughData=SENTINEL)
    bounds = [0, *sorted(cuts), len(wire)]
    seen: list[Any] = []
    for start, stop in itertools.pairwise(bounds):
        reader.feed(wire[start:stop])
        seen.append((reader.len(), reader.has_data()))
        try:
            while reader.gets() is not SENTINEL:
                seen.append((reader.len(), reader.has_data()))
        except Exception as exc:
            seen.append(type(exc).__name__)
            break
    return seen


@given(stream=streams(twin_only=True))
def test_twins_hold_the_same_bytes(_reader_c: ModuleType, stream: tuple[bytes, list[int]]) -> None:
    """``len()`` counts bytes fed and not yet consumed, in both twins alike."""
    wire, cuts = stream
    assert held(_reader_c.Reader, wire, cuts) == held(_reader_py.Reader, wire, cuts)


# -- where hiredis is wrong, redis-py's own pure-Python parser is the oracle --------------


def pure_parser_replies() -> st.SearchStrategy[bytes]:
    """Replies both redispool and redis-py's ``_RESP3Parser`` read, including blob errors
    and duplicate map keys (hiredis gets those wrong). Left out: attributes (redis-py
    raises), bignums (redis-py gives int, redispool bytes as hiredis) and RESP2 nulls
    (redis-py's RESP3 parser hangs on ``$-1``)."""
    leaves = st.one_of(
        line_text.map(lambda s: b"+" + s + CRLF),
        line_text.map(lambda s: b"-ERR " + s + CRLF),
        line_text.map(lambda s: bulk(b"SYNTAX " + s, b"!")),
        st.binary(max_size=40).map(bulk),
        st.just(b"_\r\n"),
        st.integers(-(2**63), 2**63 - 1).map(lambda i: b":%d\r\n" % i),
        st.floats(allow_nan=False).map(lambda f: b"," + repr(f).encode() + CRLF),
        st.booleans().map(lambda b: b"#t\r\n" if b else b"#f\r\n"),
        st.binary(max_size=20).map(lambda b: bulk(b"txt:" + b, b"=")),
    )
    keys = st.one_of(st.binary(max_size=3).map(bulk), st.integers(0, 3).map(b":%d\r\n".__mod__))

    def extend(children: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
        seq = st.lists(children, max_size=4)
        pairs = st.lists(st.tuples(keys, children), max_size=4)  # duplicates likely
        return st.one_of(
            seq.map(lambda items: b"*%d\r\n" % len(items) + b"".join(items)),
            seq.map(lambda items: b"~%d\r\n" % len(items) + b"".join(items)),
            pairs.map(lambda ps: b"%%%d\r\n" % len(ps) + b"".join(k + v for k, v in ps)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def through_redis_py(parser_class: Any, wire: bytes, count: int) -> list[Any]:
    """Replies read by redis-py's ``Connection`` with ``parser_class``; error replies
    raised at the top level are recorded, as redis-py raises them."""
    from redis.connection import Connection
    from redis.exceptions import ResponseError

    from redispool._workloads import _FakeSocket

    conn: Any = Connection(parser_class=parser_class, protocol=3)
    conn._sock = _FakeSocket(wire)
    conn._parser.on_connect(conn)
    out: list[Any] = []
    for _ in range(count):
        try:
            out.append(normal(conn.read_response()))
        except ResponseError as exc:
            out.append(("raised", normal(exc)))
    return out


@given(replies=st.lists(pure_parser_replies(), min_size=1, max_size=4))
def test_parser_matches_redis_py_where_hiredis_is_wrong(
    reader_mod: ModuleType, replies: list[bytes]
) -> None:
    from redis._parsers import _RESP3Parser

    from redispool import Parser

    class TwinParser(Parser):
        reader_class = reader_mod.Reader

    wire = b"".join(replies)
    expected = through_redis_py(_RESP3Parser, wire, len(replies))
    assert through_redis_py(TwinParser, wire, len(replies)) == expected


# -- an aggregate map key: hiredis raises TypeError, redispool a ProtocolError too ---------


@pytest.mark.parametrize(
    "wire",
    [
        b"%1\r\n*0\r\n:1\r\n",
        b"%1\r\n%1\r\n+key1\r\n+value1\r\n:9\r\n",
        b"*2\r\n+x\r\n%2\r\n:1\r\n:2\r\n~1\r\n:3\r\n:4\r\n",
    ],
)
@pytest.mark.parametrize(
    "options",
    [{}, {"encoding": "utf-8"}, {"protocolError": ValueError}, {"protocolError": InvalidResponse}],
    ids=["default", "decoded", "ValueError", "InvalidResponse"],
)
def test_aggregate_map_key_caught_as_type_error_like_hiredis(
    reader_mod: ModuleType, wire: bytes, options: dict[str, Any]
) -> None:
    def caught(reader_class: Any) -> bool:
        reader = reader_class(**options)
        reader.feed(wire)
        try:
            reader.gets()
        except TypeError:
            return True
        return False

    assert caught(hiredis.Reader)
    assert caught(reader_mod.Reader)
    reader = reader_mod.Reader(**options)
    reader.feed(wire)
    expected = options.get("protocolError", ProtocolError)
    with pytest.raises(expected):  # and as redispool's protocol error, unlike hiredis
        reader.gets()
