"""Reader behaviour, run against both twins through the ``reader_mod`` fixture."""

from __future__ import annotations

import gc
import math
import tracemalloc
from types import ModuleType
from typing import Any

import pytest
from redis.exceptions import InvalidResponse, RedisError

import redispool
from redispool.errors import HiredisError, ProtocolError, ReplyError, UnhashableKeyError
from redispool.push import PushNotification

SENTINEL = object()


def parse(mod: ModuleType, data: bytes, **kwargs: Any) -> Any:
    reader = mod.Reader(notEnoughData=SENTINEL, **kwargs)
    reader.feed(data)
    reply = reader.gets()
    assert reply is not SENTINEL
    assert reader.gets() is SENTINEL
    return reply


def replies(reader: Any) -> list[Any]:
    out = []
    while (reply := reader.gets()) is not SENTINEL:
        out.append(reply)
    return out


# -- the hiredis.Reader API ----------------------------------------------------------------


def test_not_enough_data_default_is_false(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    assert reader.gets() is False
    reader.feed(b"$3\r\nfo")
    assert reader.gets() is False


def test_positional_arguments_like_hiredis(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader(ProtocolError, ReplyError, "utf-8", "strict", SENTINEL)
    reader.feed("+é\r\n".encode())
    assert reader.gets() == "é"
    assert reader.gets() is SENTINEL


def test_feed_offset_and_length(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    reader.feed(b"xx+ok\r\nyy", 2, 5)
    assert reader.gets() == b"ok"
    reader.feed(bytearray(b"+a\r\n"))
    reader.feed(memoryview(b"+b\r\n"))
    reader.feed("+c\r\n")
    assert [reader.gets(), reader.gets(), reader.gets()] == [b"a", b"b", b"c"]


@pytest.mark.parametrize(("off", "length"), [(-1, -1), (0, -2), (3, 5), (0, 10)])
def test_feed_rejects_bad_slices(reader_mod: ModuleType, off: int, length: int) -> None:
    reader = reader_mod.Reader()
    with pytest.raises(ValueError):
        reader.feed(b"+ok\r\n", off, length)


def test_has_data_and_len(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    assert not reader.has_data()
    assert reader.len() == 0
    reader.feed(b"+a\r\n+b\r\n")
    assert reader.has_data()
    assert reader.len() == 8
    assert reader.gets() == b"a"
    assert reader.has_data()
    assert reader.gets() == b"b"
    assert not reader.has_data()


@pytest.mark.parametrize("prefix", [b"", b"*3\r\n"])
def test_len_counts_a_large_bulk_in_progress_with_its_header(
    reader_mod: ModuleType, prefix: bytes
) -> None:
    """Found by the fuzzer: a large bulk string still arriving is unconsumed, header and
    all, in both twins (an aggregate's own header is consumed once it is open)."""
    reader = reader_mod.Reader()
    reader.feed(prefix + b"$377777\r\n")
    reader.feed(b"+7a\x001")
    assert reader.gets() is False
    assert reader.len() == len(b"$377777\r\n+7a\x001")


def test_maxbuf(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    assert reader.getmaxbuf() == 16 * 1024
    reader.setmaxbuf(0)
    assert reader.getmaxbuf() == 0
    reader.setmaxbuf(None)
    assert reader.getmaxbuf() == 16 * 1024
    with pytest.raises(ValueError):
        reader.setmaxbuf(-1)


def test_callables_are_required(reader_mod: ModuleType) -> None:
    with pytest.raises(TypeError):
        reader_mod.Reader(protocolError="nope")
    with pytest.raises(TypeError):
        reader_mod.Reader(replyError=42)


def test_unknown_encoding_or_error_handler(reader_mod: ModuleType) -> None:
    with pytest.raises(LookupError):
        reader_mod.Reader(encoding="no-such-codec")
    with pytest.raises(LookupError):
        reader_mod.Reader(errors="no-such-handler")
    reader = reader_mod.Reader()
    with pytest.raises(LookupError):
        reader.set_encoding(encoding="no-such-codec")


def test_set_encoding_switches_decoding(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    reader.feed(b"$2\r\nhi\r\n$2\r\nhi\r\n")
    assert reader.gets() == b"hi"
    reader.set_encoding("utf-8")
    assert reader.gets() == "hi"


def test_encoding_string_is_owned(reader_mod: ModuleType) -> None:
    """hiredis keeps a pointer into the caller's str; ours must survive it being freed."""
    encoding = "".join(["lat", "in-1"])
    reader = reader_mod.Reader(encoding=encoding, errors="".join(["stri", "ct"]))
    del encoding
    gc.collect()
    [f"{i}" * 10 for i in range(1000)]  # reuse the freed memory
    reader.feed(b"$1\r\n\xe9\r\n")
    assert reader.gets() == "é"


def test_gets_false_skips_decoding(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader(encoding="utf-8")
    reader.feed(b"*2\r\n$1\r\na\r\n+b\r\n" * 2)
    assert reader.gets(False) == [b"a", b"b"]
    assert reader.gets() == ["a", "b"]


def test_exception_hierarchy() -> None:
    assert issubclass(ProtocolError, HiredisError)
    assert issubclass(ReplyError, HiredisError)
    assert issubclass(PushNotification, list)


# -- every RESP2 and RESP3 type ------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (b"+OK\r\n", b"OK"),
        (b"$5\r\nhello\r\n", b"hello"),
        (b"$0\r\n\r\n", b""),
        (b"$4\r\na\r\nb\r\n", b"a\r\nb"),
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"_\r\n", None),
        (b":42\r\n", 42),
        (b":-9223372036854775808\r\n", -(2**63)),
        (b":9223372036854775807\r\n", 2**63 - 1),
        (b",3.14\r\n", 3.14),
        (b",10\r\n", 10.0),
        (b",inf\r\n", math.inf),
        (b",-inf\r\n", -math.inf),
        (b",1.5e-3\r\n", 1.5e-3),
        (b"#t\r\n", True),
        (b"#f\r\n", False),
        (
            b"(3492890328409238509324850943850943825024385\r\n",
            b"3492890328409238509324850943850943825024385",
        ),
        (b"=15\r\ntxt:Some string\r\n", b"Some string"),
        (b"*0\r\n", []),
        (b"%0\r\n", {}),
        (b"~2\r\n:1\r\n:2\r\n", [1, 2]),
        (b"*3\r\n:1\r\n$1\r\na\r\n*1\r\n_\r\n", [1, b"a", [None]]),
        (b"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n%1\r\n+c\r\n~1\r\n#t\r\n", {b"a": 1, b"b": {b"c": [True]}}),
    ],
)
def test_types(reader_mod: ModuleType, wire: bytes, expected: Any) -> None:
    assert parse(reader_mod, wire) == expected


def test_nan(reader_mod: ModuleType) -> None:
    assert math.isnan(parse(reader_mod, b",nan\r\n"))


def test_decoding_applies_to_strings_and_map_keys(reader_mod: ModuleType) -> None:
    wire = b"%2\r\n+k\r\n=7\r\ntxt:v\xc3\xa9\r\n$1\r\nb\r\n(12\r\n"
    assert parse(reader_mod, wire, encoding="utf-8") == {"k": "vé", "b": "12"}


def test_push_notification(reader_mod: ModuleType) -> None:
    reply = parse(reader_mod, b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n")
    assert type(reply) is PushNotification
    assert reply == [b"message", b"ch", b"hi"]


def test_error_replies_are_returned(reader_mod: ModuleType) -> None:
    reply = parse(reader_mod, b"-ERR wrong\r\n")
    assert type(reply) is ReplyError
    assert reply.args == ("ERR wrong",)
    nested = parse(reader_mod, b"*2\r\n+a\r\n-ERR x\r\n")
    assert nested[0] == b"a"
    assert isinstance(nested[1], ReplyError)


def test_blob_error_is_an_error_reply(reader_mod: ModuleType) -> None:
    """hiredis raises ProtocolError on '!'; it is a RESP3 error reply."""
    reply = parse(reader_mod, b"!21\r\nSYNTAX invalid syntax\r\n")
    assert isinstance(reply, ReplyError)
    assert reply.args == ("SYNTAX invalid syntax",)


def test_error_message_invalid_utf8_is_replaced(reader_mod: ModuleType) -> None:
    reply = parse(reader_mod, b"-ERR \xff\r\n")
    assert reply.args == ("ERR \ufffd",)


def test_attributes_are_skipped(reader_mod: ModuleType) -> None:
    """hiredis returns the attribute as the reply; it annotates the reply that follows."""
    wire = (
        b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.5\r\n"
        b"*2\r\n:2039123\r\n:9543892\r\n"
    )
    assert parse(reader_mod, wire) == [2039123, 9543892]
    nested = b"*2\r\n|1\r\n+a\r\n*2\r\n*1\r\n:1\r\n:2\r\n:5\r\n:6\r\n"
    assert parse(reader_mod, nested) == [5, 6]
    assert parse(reader_mod, b"%1\r\n+k\r\n|0\r\n+v\r\n") == {b"k": b"v"}


def test_duplicate_map_keys_pair_correctly(reader_mod: ModuleType) -> None:
    """hiredis gives {a: None, b: 3} here."""
    assert parse(reader_mod, b"%3\r\n+a\r\n:1\r\n+b\r\n:2\r\n+a\r\n:3\r\n") == {b"a": 3, b"b": 2}


def test_custom_reply_error_class_and_callable(reader_mod: ModuleType) -> None:
    class MyError(Exception):
        pass

    assert isinstance(parse(reader_mod, b"-x\r\n", replyError=MyError), MyError)
    made = parse(reader_mod, b"-x\r\n", replyError=lambda msg: ("made", msg))
    assert made == ("made", "x")


def test_reply_error_callable_that_raises(reader_mod: ModuleType) -> None:
    def explode(msg: str) -> Exception:
        raise KeyError(msg)

    reader = reader_mod.Reader(replyError=explode)
    reader.feed(b"*2\r\n-boom\r\n:1\r\n+next\r\n")
    with pytest.raises(KeyError):
        reader.gets()
    assert reader.gets() == b"next"  # the stream stayed in sync


def test_decode_error_raised_after_whole_reply(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader(encoding="utf-8")
    reader.feed(b"*2\r\n$1\r\n\xff\r\n$1\r\na\r\n+next\r\n")
    with pytest.raises(UnicodeDecodeError):
        reader.gets()
    assert reader.gets() == "next"
    replaced = reader_mod.Reader(encoding="utf-8", errors="replace")
    replaced.feed(b"$1\r\n\xff\r\n")
    assert replaced.gets() == "\ufffd"


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"x\r\n", 'Protocol error, got "x" as reply type byte'),
        (b"\x00", 'Protocol error, got "\\x00" as reply type byte'),
        (b"$abc\r\n", "Bad bulk string length b'abc'"),
        (b"$-2\r\n", "Bad bulk string length b'-2'"),
        (b"*-5\r\n", "Bad multi-bulk length b'-5'"),
        (b":1.5\r\n", "Bad integer value b'1.5'"),
        (b":9223372036854775808\r\n", "Integer value out of range b'9223372036854775808'"),
        # found by the fuzzer: too many digits, then a non-digit, is malformed first
        (b":27777777777777777777777b\r\n", "Bad integer value b'27777777777777777777777b'"),
        (b"$3\r\nfooXX", "Bulk string of length 3 not followed by CRLF: b'XX'"),
        (b",1e999\r\n", "Bad double value b'1e999'"),
        (b",+inf\r\n", "Bad double value b'+inf'"),
        (b"#x\r\n", "Bad bool value b'x'"),
        (b"_x\r\n", "Bad nil value b'x'"),
        (b"(1a\r\n", "Bad bignum value b'1a'"),
        (b"+a\rb\r\n", "Bad simple string value b'a\\rb'"),
        (b"%1\r\n*0\r\n:1\r\n", "Unhashable map key: aggregate type '*'"),
        (b"$" + b"1" * 70, "Bulk length line longer than 64 bytes"),
        (b"*4294967296\r\n", "Multi-bulk length out of range: 4294967296"),
    ],
)
def test_protocol_errors_name_the_offender(
    reader_mod: ModuleType, wire: bytes, message: str
) -> None:
    reader = reader_mod.Reader()
    reader.feed(wire)
    for _ in range(3):  # the stream cannot be resynchronised: it raises every time
        with pytest.raises(ProtocolError) as info:
            reader.gets()
        assert str(info.value) == message
    reader.feed(b"+ok\r\n")  # ignored, as hiredis does
    with pytest.raises(ProtocolError):
        reader.gets()
    assert not reader.has_data()


def test_custom_protocol_error_class_and_callable(reader_mod: ModuleType) -> None:
    class MyProtocolError(Exception):
        pass

    reader = reader_mod.Reader(protocolError=MyProtocolError)
    reader.feed(b"?\r\n")
    with pytest.raises(MyProtocolError):
        reader.gets()
    reader = reader_mod.Reader(protocolError=lambda msg: ValueError("ignored " + msg))
    reader.feed(b"?\r\n")
    with pytest.raises(ValueError, match=r'^Protocol error, got "\?" as reply type byte$'):
        reader.gets()


@pytest.mark.parametrize(
    ("wire", "kind"),
    [
        (b"%1\r\n*0\r\n:1\r\n", "*"),
        (b"%1\r\n%1\r\n+key1\r\n+value1\r\n:9\r\n", "%"),  # hiredis-py's own case
        (b"%1\r\n~1\r\n:1\r\n:2\r\n", "~"),
        (b"%1\r\n>1\r\n:1\r\n:2\r\n", ">"),
        (b"*2\r\n:0\r\n%2\r\n+a\r\n:1\r\n*1\r\n:2\r\n:3\r\n", "*"),  # second key, nested
    ],
)
def test_aggregate_map_key_is_a_protocol_error_and_a_type_error(
    reader_mod: ModuleType, wire: bytes, kind: str
) -> None:
    """hiredis raises ``TypeError`` here, redispool ``ProtocolError``: the error is both."""
    reader = reader_mod.Reader()
    raised: list[BaseException] = []
    for at in range(len(wire)):  # cut anywhere: raised once the key's header is read
        reader.feed(wire[at : at + 1])
        try:
            assert reader.gets() is False
        except UnhashableKeyError as exc:
            raised.append(exc)
    for _ in range(3):  # and again on every later gets(), like every protocol error
        with pytest.raises(UnhashableKeyError) as info:
            reader.gets()
        raised.append(info.value)
    for exc in raised:
        assert type(exc) is UnhashableKeyError
        assert isinstance(exc, ProtocolError)
        assert isinstance(exc, TypeError)
        assert str(exc) == f"Unhashable map key: aggregate type {kind!r}"
    reader = reader_mod.Reader()
    reader.feed(wire)
    try:
        reader.gets()
    except TypeError as exc:  # what code written for hiredis catches
        assert type(exc) is UnhashableKeyError
    else:
        raise AssertionError("no TypeError")
    assert redispool.UnhashableKeyError is UnhashableKeyError


def test_aggregate_map_key_with_a_custom_protocol_error(reader_mod: ModuleType) -> None:
    """With ``protocolError=``, the error is an instance of its type and of ``TypeError``
    (hiredis ignores ``protocolError`` there): redis-py's Parser still sees InvalidResponse."""
    wire = b"%1\r\n*0\r\n:1\r\n"
    message = "Unhashable map key: aggregate type '*'"

    class MyProtocolError(Exception):
        pass

    class TypeProtocolError(TypeError):
        pass

    class Final(Exception):  # cannot be subclassed: its own type, without TypeError
        def __init_subclass__(cls) -> None:
            raise TypeError("final")

    cases: list[tuple[Any, type[BaseException], bool]] = [
        (MyProtocolError, MyProtocolError, True),
        (InvalidResponse, RedisError, True),
        (lambda msg: ValueError("ignored " + msg), ValueError, True),
        (TypeProtocolError, TypeProtocolError, True),
        (Final, Final, False),
    ]
    for factory, base, is_type_error in cases:
        reader = reader_mod.Reader(protocolError=factory)
        reader.feed(wire)
        raised = []
        for _ in range(2):
            with pytest.raises(base) as info:
                reader.gets()
            raised.append(type(info.value))
            assert str(info.value) == message
            assert isinstance(info.value, TypeError) is is_type_error
            assert not isinstance(info.value, ProtocolError)
        assert raised[0] is raised[1]  # one class per protocolError type, cached
    # the derived class is named after the protocolError type, and derives from it first
    reader = reader_mod.Reader(protocolError=InvalidResponse)
    reader.feed(wire)
    with pytest.raises(InvalidResponse) as info:
        reader.gets()
    assert type(info.value).__name__ == "InvalidResponse"
    assert type(info.value).__module__ == InvalidResponse.__module__
    assert type(info.value).__mro__[1:3] == (InvalidResponse, RedisError)
    assert isinstance(info.value, TypeError)


def test_max_bulk_len(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader(max_bulk_len=10)
    reader.feed(b"$10\r\n0123456789\r\n$11\r\n")
    assert reader.gets() == b"0123456789"
    with pytest.raises(ProtocolError, match="Bulk string length 11 exceeds max_bulk_len 10"):
        reader.gets()


def test_default_max_bulk_len_refuses_before_reading(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    reader.feed(b"$536870913\r\n")
    with pytest.raises(ProtocolError, match="exceeds max_bulk_len 536870912"):
        reader.gets()


@pytest.mark.parametrize("limit", [1, 5, 1024])
def test_max_depth(reader_mod: ModuleType, limit: int) -> None:
    ok = b"*1\r\n" * limit + b":1\r\n"
    reply = parse(reader_mod, ok, max_depth=limit)
    for _ in range(limit):
        reply = reply[0]
    assert reply == 1
    reader = reader_mod.Reader(max_depth=limit)
    reader.feed(b"*1\r\n" * (limit + 1) + b":1\r\n")
    with pytest.raises(ProtocolError, match=f"Max nesting depth {limit} exceeded"):
        reader.gets()


def test_deep_nesting_never_recurses(reader_mod: ModuleType) -> None:
    depth = 200_000
    reply = parse(reader_mod, b"*1\r\n" * depth + b"+x\r\n", max_depth=depth)
    for _ in range(depth):
        reply = reply[0]
    assert reply == b"x"


def test_bad_limits(reader_mod: ModuleType) -> None:
    with pytest.raises(ValueError):
        reader_mod.Reader(max_depth=0)
    with pytest.raises(ValueError):
        reader_mod.Reader(max_bulk_len=-1)


@pytest.mark.parametrize("header", [b"*100000000\r\n", b">100000000\r\n", b"%100000000\r\n"])
def test_huge_counts_allocate_nothing_up_front(reader_mod: ModuleType, header: bytes) -> None:
    """hiredis commits 800 MB for these 13 bytes; memory must follow the bytes that came."""
    reader = reader_mod.Reader()
    tracemalloc.start()
    try:
        reader.feed(header + b":1\r\n" * 10)
        assert reader.gets() is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


def test_huge_bulk_length_allocates_nothing_up_front(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    tracemalloc.start()
    try:
        reader.feed(b"$500000000\r\nabc")
        assert reader.gets() is False
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000


# -- incremental parsing -----------------------------------------------------------------------

STREAM = (
    b"*3\r\n$3\r\nfoo\r\n%2\r\n+k\r\n,1.5\r\n(123\r\n~1\r\n#f\r\n:-7\r\n"
    b">2\r\n$1\r\na\r\n_\r\n|1\r\n+x\r\n+y\r\n=6\r\ntxt:ab\r\n!3\r\nERR\r\n$-1\r\n+OK\r\n"
)


def test_any_split_point_gives_the_same_replies(reader_mod: ModuleType) -> None:
    whole = reader_mod.Reader(notEnoughData=SENTINEL)
    whole.feed(STREAM)
    expected = [repr(reply) for reply in replies(whole)]
    assert len(expected) == 6
    for cut in range(1, len(STREAM)):
        for second in (cut, min(cut + 3, len(STREAM))):
            reader = reader_mod.Reader(notEnoughData=SENTINEL)
            got = []
            for chunk in (STREAM[:cut], STREAM[cut:second], STREAM[second:]):
                reader.feed(chunk)
                got += [repr(reply) for reply in replies(reader)]
            assert got == expected, cut


def test_byte_at_a_time(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader(notEnoughData=SENTINEL)
    got = []
    for i in range(len(STREAM)):
        reader.feed(STREAM[i : i + 1])
        got += replies(reader)
    assert len(got) == 6
    assert got[0] == [b"foo", {b"k": 1.5, b"123": [False]}, -7]


def test_large_bulk_in_small_chunks(reader_mod: ModuleType) -> None:
    """32 MB fed in 4 KB chunks: a re-scan per chunk would not finish in test time."""
    size = 32 * 1024 * 1024
    payload = bytes(range(256)) * (size // 256)
    wire = b"$%d\r\n" % size + payload + b"\r\n"
    reader = reader_mod.Reader()
    view = memoryview(wire)
    for off in range(0, len(wire) - 4096, 4096):
        reader.feed(view[off : off + 4096])
        assert reader.gets() is False
    reader.feed(view[off + 4096 :])
    assert reader.gets() == payload


def test_replies_after_partial_feeds_interleave(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    reader.feed(b"*2\r\n$3\r\nab")
    assert reader.gets() is False
    reader.feed(b"c\r\n:5\r\n+x")
    assert reader.gets() == [b"abc", 5]
    assert reader.gets() is False
    reader.feed(b"\r\n")
    assert reader.gets() == b"x"


@pytest.mark.parametrize("step", [1000, 4096, 65536, 100_000, 1 << 20])
def test_large_bulk_strings_nested_and_decoded(reader_mod: ModuleType, step: int) -> None:
    """Large values take their own path in the compiled twin (received into the result)."""
    payload = bytes(range(256)) * 1000
    wire = b"*3\r\n$%d\r\n" % len(payload) + payload + b"\r\n:5\r\n$3\r\nabc\r\n+after\r\n"
    for encoding, expected in (
        (None, [[payload, 5, b"abc"], b"after"]),
        ("latin-1", [[payload.decode("latin-1"), 5, "abc"], "after"]),
    ):
        reader = reader_mod.Reader(notEnoughData=SENTINEL, encoding=encoding)
        got: list[Any] = []
        for off in range(0, len(wire), step):
            reader.feed(wire[off : off + step])
            assert reader.has_data() or off + step >= len(wire) or got
            got += replies(reader)
        assert got == expected


def test_large_bulk_string_without_crlf(reader_mod: ModuleType) -> None:
    reader = reader_mod.Reader()
    reader.feed(b"$70000\r\n" + b"x" * 100)
    assert reader.gets() is False
    assert reader.has_data()
    reader.feed(b"x" * 69900 + b"XY")
    with pytest.raises(ProtocolError, match="Bulk string of length 70000 not followed by CRLF"):
        reader.gets()


@pytest.mark.parametrize("split", [0, 1, 2, 3, 4096])
def test_large_top_level_bulk_then_more_replies(reader_mod: ModuleType, split: int) -> None:
    """The CRLF after a large value may arrive split from it, and replies may follow it in
    the same chunk."""
    payload = b"v" * 100_000
    wire = b"$100000\r\n" + payload + b"\r\n+next\r\n:7\r\n"
    cut = len(wire) - len(b"+next\r\n:7\r\n") - split
    reader = reader_mod.Reader(notEnoughData=SENTINEL)
    reader.feed(wire[:1000])
    assert reader.gets() is SENTINEL
    reader.feed(wire[1000:cut])
    got = replies(reader)
    reader.feed(wire[cut:])
    assert got + replies(reader) == [payload, b"next", 7]
