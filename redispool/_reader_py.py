"""Pure-Python twin of ``redispool._reader_c``: an incremental RESP2/RESP3 reply reader.

Same API and result shapes as ``hiredis.Reader``. The parse is an explicit stack machine:
partially built aggregates stay on the stack between ``gets()`` calls, so a reply that
arrives in pieces is never re-parsed from its start. Fed chunks are only joined once
enough bytes are buffered to make progress (``_need``), which keeps a large bulk string
fed in small chunks linear in its size.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Callable, Iterator
from functools import partial
from itertools import accumulate
from operator import add
from typing import Any

from .errors import ProtocolError, ReplyError, unhashable_key_error
from .push import PushNotification

__all__ = ("DEFAULT_MAX_BULK_LEN", "DEFAULT_MAX_DEPTH", "MAX_BULK_LEN_LIMIT", "Reader")

DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024  # Redis's own proto-max-bulk-len
DEFAULT_MAX_DEPTH = 1024  # hiredis's maxdepth
MAX_BULK_LEN_LIMIT = 2**62  # keeps offset arithmetic far from Py_ssize_t overflow
DEFAULT_MAXBUF = 16 * 1024  # hiredis's REDIS_READER_MAX_BUF
MAX_ELEMENTS = 2**32 - 1  # hiredis's maxelements
MAX_HEADER_LINE = 64  # a length/integer line longer than this cannot be valid
MAX_DOUBLE_LINE = 326  # hiredis refuses doubles this long
BIG_BULK = 65536  # a top-level bulk string this large is joined from the fed pieces once

_INT_RE = re.compile(rb"-?[0-9]+\Z")
_DOUBLE_RE = re.compile(rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
# Plain bulk strings of at most 9999 bytes: a large value is cheaper one at a time.
_BULK_RUN = re.compile(rb"(?:\$[0-9]{1,4}\r\n[^\r\n]{0,9999}\r\n)+")
# Runs of plain scalars that Reader._run parses at once, by type byte.
_RUNS = {
    36: _BULK_RUN,
    58: re.compile(rb"(?::[0-9]{1,18}\r\n)+"),
    43: re.compile(rb"(?:\+[^\r\n]{0,64}\r\n)+"),
    44: re.compile(rb"(?:,-?[0-9.]{1,24}(?:[eE][-+]?[0-9]{1,3})?\r\n)+"),
}
_SEPARATORS = {58: b"\r\n:", 43: b"\r\n+", 44: b"\r\n,"}
_add3 = partial(add, 3)  # a scalar's wire size: its type byte and CRLF around its text
_add4 = partial(add, 4)  # a bulk string's: its header and content, each with a CRLF
_DECIMAL_CHARS = b"0123456789.eE+-"  # with no leading '+', float() then parses _DOUBLE_RE
_SPECIAL_DOUBLES = {b"inf": math.inf, b"-inf": -math.inf, b"nan": math.nan, b"-nan": math.nan}

# Frame kinds on the aggregate stack; _ATTR and _SKIP (aggregates inside an attribute)
# hold no container: attribute data is parsed and dropped.
_ROOT, _LIST, _MAP, _ATTR, _SKIP = -1, 0, 1, 2, 3
_NO_FRAME: tuple[int, Any, int, Any] = (_ROOT, None, 0, None)
_NONE: Any = object()  # "no value yet": None is a valid reply

_SCALARS = frozenset(b"+-:,#_(")
_AGGREGATES = frozenset(b"*~>%|")


class _Incomplete(Exception):
    """Internal: the buffer ends inside the current item."""


class _Malformed(Exception):
    """Internal: the stream is not RESP; becomes the user's protocol error in ``gets()``."""


class _UnhashableKey(_Malformed):
    """Internal: a map key is an aggregate; raised as ``unhashable_key_error(...)``."""


def _describe_byte(byte: int) -> str:
    """Quote a type byte the way hiredis does in its error message."""
    char = chr(byte)
    escapes = {"\\": '"\\\\"', '"': '"\\""', "\n": '"\\n"', "\r": '"\\r"', "\t": '"\\t"'}
    escapes.update({"\a": '"\\a"', "\b": '"\\b"'})
    if char in escapes:
        return escapes[char]
    if 0x20 <= byte < 0x7F:
        return f'"{char}"'
    return f'"\\x{byte:02x}"'


class Reader:
    """Incremental RESP2/RESP3 reply reader, a drop-in for ``hiredis.Reader``.

    Error replies are *returned* as ``replyError(message)`` instances; protocol errors are
    *raised* (as the type of ``protocolError(message)``) on this and every later ``gets()``;
    a map key that is an aggregate raises a subclass of that type and of ``TypeError``, as
    hiredis raises ``TypeError`` there (``errors.unhashable_key_error``).
    """

    def __init__(
        self,
        protocolError: Callable[[str], BaseException] = ProtocolError,  # noqa: N803
        replyError: Callable[[str], Any] = ReplyError,  # noqa: N803
        encoding: str | None = None,
        errors: str | None = None,
        notEnoughData: Any = False,  # noqa: N803
        *,
        max_bulk_len: int = DEFAULT_MAX_BULK_LEN,
        max_depth: int = DEFAULT_MAX_DEPTH,
    ) -> None:
        if not callable(protocolError) or not callable(replyError):
            raise TypeError("Expected a callable")
        if not 0 <= max_bulk_len <= MAX_BULK_LEN_LIMIT:
            raise ValueError(f"max_bulk_len must be between 0 and {MAX_BULK_LEN_LIMIT}")
        if max_depth < 1:
            raise ValueError("max_depth must be >= 1")
        self._protocol_error = protocolError
        self._reply_error = replyError
        self._not_enough = notEnoughData
        self._max_bulk_len = max_bulk_len
        self._max_depth = max_depth
        self._maxbuf = DEFAULT_MAXBUF
        self._encoding: str | None = None
        self._errors = "strict"
        self.set_encoding(encoding, errors)
        self._data = b""  # joined input; bytes before _pos are consumed
        self._pos = 0
        self._chunks: list[bytes] = []  # fed but not yet joined into _data
        self._pending = 0  # total length of _chunks
        self._need = 0  # len(_data) + _pending must reach this before parsing resumes
        self._big: tuple[int, int] | None = None  # (start, size) of a large top-level bulk
        self._queue: list[Any] = []  # plain top-level replies parsed ahead (_enqueue)
        self._queue_at = 0
        self._queue_ends: list[int] = []
        self._top: tuple[int, Any, int, Any] = _NO_FRAME  # innermost open aggregate
        self._stack: list[list[Any]] = []  # its parents: [kind, container, remaining, key]
        self._failure: str | None = None  # protocol error message; the reader is dead
        self._failure_key = False  # it was an aggregate map key: a TypeError too
        self._deferred: BaseException | None = None  # decode/replyError failure in a reply

    # -- configuration -------------------------------------------------------------------

    def set_encoding(self, encoding: str | None = None, errors: str | None = None) -> None:
        """Decode strings with ``encoding`` (None: return bytes); ``errors`` as in bytes.decode."""
        if encoding is not None:
            codecs.lookup(encoding)
        if errors is not None:
            codecs.lookup_error(errors)
        self._encoding = encoding
        self._errors = "strict" if errors is None else errors

    def setmaxbuf(self, maxbuf: int | None) -> None:
        """An idle buffer larger than ``maxbuf`` is released (0: never; None: default)."""
        if maxbuf is None:
            self._maxbuf = DEFAULT_MAXBUF
            return
        maxbuf = int(maxbuf)
        if maxbuf < 0:
            raise ValueError("maxbuf value out of range")
        self._maxbuf = maxbuf

    def getmaxbuf(self) -> int:
        return self._maxbuf

    # -- input ---------------------------------------------------------------------------

    def feed(self, buf: Any, off: int = 0, len: int = -1) -> None:  # noqa: A002
        """Append ``buf[off:off+len]`` (any bytes-like object or str) to the input."""
        if isinstance(buf, str):
            buf = buf.encode()
        view = memoryview(buf).cast("B")
        size = view.nbytes
        if len == -1:
            len = size - off  # noqa: A001
        if off < 0 or len < 0:
            raise ValueError("negative input")
        if off + len > size:
            raise ValueError("input is larger than buffer size")
        if self._failure is not None or len == 0:
            return
        if type(buf) is bytes and len == size:
            self._chunks.append(buf)  # immutable: no copy needed
        else:
            self._chunks.append(view[off : off + len].tobytes())
        self._pending += len

    def len(self) -> int:
        """Bytes fed and not yet consumed by a returned reply."""
        return len(self._data) - self._pos + self._pending

    def has_data(self) -> bool:
        """Whether unconsumed input is buffered."""
        return self._pos < len(self._data) or self._pending > 0

    # -- output --------------------------------------------------------------------------

    def gets(self, shouldDecode: bool = True) -> Any:  # noqa: N803
        """Return the next complete reply, or ``notEnoughData`` if it has not all arrived."""
        if self._failure is not None:
            self._raise_failure()
        encoding = self._encoding if shouldDecode else None
        if self._queue:  # before any join: the queue's positions are in the current data
            return self._dequeue(encoding)
        if self._chunks:
            if len(self._data) + self._pending < self._need:
                return self._not_enough
            if self._big is not None:
                return self._take_big(encoding)
            self._join()
        if self._top is _NO_FRAME:  # fast paths for plain top-level replies
            data = self._data
            pos = self._pos
            kind = data[pos] if pos < len(data) else 0
            if kind in _RUNS and self._enqueue(data, pos, kind):
                return self._dequeue(encoding)
            if kind == 42 or kind == 62 or kind == 37:  # * > %: small, of plain bulks only
                eol = data.find(b"\r\n", pos)
                text = data[pos + 1 : eol]
                if 0 < eol <= pos + 11 and text.isdigit() and eol + 2 < len(data):
                    size = int(text) * (2 if kind == 37 else 1)
                    if 0 < size <= 16 and data[eol + 2] == 36:  # larger: _parse's runs
                        run = self._few_bulks(data, eol + 2, size, encoding)
                        if run is not None and len(run[0]) == size:
                            items, self._pos = run
                            if kind == 42:
                                return items
                            if kind == 62:
                                return PushNotification(items)
                            return dict(zip(items[0::2], items[1::2], strict=False))
            if kind == 43:  # +
                eol = data.find(b"\r\n", pos)
                if 0 < eol <= pos + min(64, self._max_bulk_len + 1):
                    text = data[pos + 1 : eol]
                    if 13 not in text and 10 not in text:
                        self._pos = eol + 2
                        return self._whole(text, encoding)
            elif kind == 36 or kind == 58:  # $ :
                eol = data.find(b"\r\n", pos)
                if 0 < eol <= pos + 19:
                    text = data[pos + 1 : eol]
                    if text.isdigit():
                        if kind == 58:
                            self._pos = eol + 2
                            return int(text)
                        stop = eol + 2 + int(text)
                        if (
                            stop + 2 <= len(data)
                            and data[stop] == 13
                            and data[stop + 1] == 10
                            and stop - eol - 2 <= self._max_bulk_len
                        ):
                            self._pos = stop + 2
                            return self._whole(data[eol + 2 : stop], encoding)
        try:
            reply = self._parse(encoding)
        except _Incomplete:
            return self._not_enough
        except _Malformed as exc:
            self._fail(str(exc), isinstance(exc, _UnhashableKey))
        if self._pos == len(self._data):
            self._release()
        if self._deferred is not None:
            self._raise_deferred()
        return reply

    def _enqueue(self, data: bytes, pos: int, kind: int) -> bool:
        """Parse a run of plain top-level replies of one kind (a pipeline's GETs or INCRs)
        ahead into ``_queue``, undecoded; False if there is no run of at least two."""
        run = self._run(data, pos, kind, len(data), None)
        if run is None or len(run[0]) < 2:
            return False
        self._queue = run[0]
        self._queue_ends = list(accumulate(run[2], initial=pos))  # where each reply ends
        self._queue_at = 0
        return True

    def _dequeue(self, encoding: str | None) -> Any:
        queue = self._queue
        at = self._queue_at + 1
        reply = queue[at - 1]
        self._pos = self._queue_ends[at]  # consumed: the reply's bytes, exactly
        if at == len(queue):
            self._queue = []
        else:
            self._queue_at = at
        if encoding is None or type(reply) is not bytes:
            return reply
        return reply.decode(encoding, self._errors)

    def _whole(self, raw: bytes, encoding: str | None) -> Any:
        """A top-level string reply, already consumed: a decode error is raised at once."""
        return raw if encoding is None else raw.decode(encoding, self._errors)

    def _raise_deferred(self) -> None:
        deferred = self._deferred
        assert deferred is not None
        self._deferred = None
        raise deferred

    # -- internals -----------------------------------------------------------------------

    def _take_big(self, encoding: str | None) -> Any:
        """The large top-level bulk string that the fed chunks complete, joined from the
        pieces in one copy (not joined into the buffer, then sliced out of it)."""
        assert self._big is not None
        start, size = self._big
        self._big = None
        pieces: list[Any] = [memoryview(self._data)[start:]]
        have = len(pieces[0])
        chunks = iter(self._chunks)
        while have < size + 2:
            chunk = next(chunks)
            pieces.append(chunk)
            have += len(chunk)
        cut = len(pieces[-1]) - (have - size - 2)  # the last piece's bytes that belong
        rest: list[Any] = [memoryview(pieces[-1])[cut:], *chunks]
        pieces[-1] = memoryview(pieces[-1])[:cut]
        crlf = b""
        while len(crlf) < 2:  # the CRLF may straddle two pieces
            last = pieces.pop()
            take = min(2 - len(crlf), len(last))
            crlf = bytes(last[len(last) - take :]) + crlf
            if take < len(last):
                pieces.append(last[: len(last) - take])
        if crlf != b"\r\n":
            self._fail(f"Bulk string of length {size} not followed by CRLF: {crlf!r}")
        payload = b"".join(pieces)
        self._data = b"".join(rest)
        self._chunks.clear()
        self._pos = self._pending = self._need = 0
        return self._whole(payload, encoding)

    def _join(self) -> None:
        pos = self._pos
        self._data = b"".join([self._data[pos:], *self._chunks])
        self._chunks.clear()
        self._pending = 0
        self._need -= pos
        self._pos = 0

    def _release(self) -> None:
        """Everything buffered was consumed: drop it (hiredis frees past maxbuf)."""
        self._data = b""
        self._pos = 0
        self._need = 0

    def _fail(self, message: str, unhashable_key: bool = False) -> None:
        self._failure = message
        self._failure_key = unhashable_key
        self._data = b""
        self._pos = self._pending = self._need = 0
        self._chunks.clear()
        self._stack.clear()
        self._top = _NO_FRAME
        self._big = None
        self._deferred = None
        self._raise_failure()

    def _raise_failure(self) -> None:
        message = self._failure
        assert message is not None
        cls = type(self._protocol_error(message))
        if self._failure_key:
            cls = unhashable_key_error(cls)
        raise cls(message)

    def _string(self, raw: bytes, encoding: str | None) -> Any:
        if encoding is None:
            return raw
        try:
            return raw.decode(encoding, self._errors)
        except Exception as exc:  # kept until the reply is complete: the stream stays in sync
            if self._deferred is None:
                self._deferred = exc
            return None

    def _error(self, raw: bytes) -> Any:
        try:
            return self._reply_error(raw.decode("utf-8", "replace"))
        except Exception as exc:
            if self._deferred is None:
                self._deferred = exc
            return None

    def _line_end(self, data: bytes, start: int, limit: int, what: str) -> int:
        """Index of the CRLF ending the line that starts at ``start``."""
        eol = data.find(b"\r\n", start)
        if eol < 0:
            if len(data) - start > limit + 1:  # + 1: the last byte may be the CR of CRLF
                raise _Malformed(f"{what} line longer than {limit} bytes")
            self._need = len(data) + 1
            raise _Incomplete
        if eol - start > limit:
            raise _Malformed(f"{what} line longer than {limit} bytes")
        return eol

    @staticmethod
    def _length(text: bytes, what: str) -> int:
        """A length field: digits, or -1 (null)."""
        if text.isdigit():
            return int(text)
        if text == b"-1":
            return -1
        raise _Malformed(f"Bad {what} length {text!r}")

    def _few_bulks(
        self, data: bytes, pos: int, count: int, encoding: str | None
    ) -> tuple[list[Any], int] | None:
        """``count`` plain bulk strings at ``pos`` (a pub/sub message, a small MGET), or None
        to leave them to the general path; for a few items this beats a C-speed run."""
        find = data.find
        end = len(data)
        limit = self._max_bulk_len
        items: list[Any] = []
        for _ in range(count):
            eol = find(b"\r\n", pos)
            text = data[pos + 1 : eol]
            if not (0 < eol <= pos + 20 and data[pos] == 36 and text.isdigit()):
                return None
            stop = eol + 2 + int(text)
            if stop + 2 > end or data[stop] != 13 or data[stop + 1] != 10 or stop - eol - 2 > limit:
                return None
            items.append(data[eol + 2 : stop])
            pos = stop + 2
        if encoding is not None:
            try:
                items = [item.decode(encoding, self._errors) for item in items]
            except Exception:  # the general path defers the error properly
                return None
        return items, pos

    def _run(
        self, data: bytes, pos: int, kind: int, most: int, encoding: str | None
    ) -> tuple[list[Any], int, Iterator[int]] | None:
        """Up to ``most`` consecutive plain scalars of one type at ``pos`` (bulk or simple
        strings, integers, doubles), matched and converted at C speed, the position after
        them, and (lazily) each one's size on the wire; None leaves them to the
        item-by-item path, which reports any error."""
        match = _RUNS[kind].match(data, pos)
        if match is None or match.end() - pos > self._max_bulk_len:
            return None
        if kind == 36:  # $: headers and contents alternate; lengths must agree
            parts = data[pos : match.end() - 2].split(b"\r\n", 2 * most)
            del parts[2 * most :]
            items: list[Any] = parts[1::2]
            headers = parts[0::2]
            if headers != list(map(b"$%d".__mod__, map(len, items))):
                return None  # a content held CRLF, or a length was not canonical
            stop = pos + sum(map(len, parts)) + 2 * len(parts)
            sizes = map(_add4, map(add, map(len, headers), map(len, items)))
        else:
            items = data[pos + 1 : match.end() - 2].split(_SEPARATORS[kind], most)
            if len(items) > most:
                del items[most:]
                items[-1] = items[-1].partition(b"\r\n")[0]
            stop = pos + sum(map(len, items)) + 3 * len(items)
            sizes = map(_add3, map(len, items))
            if kind == 58:  # :
                items = list(map(int, items))
            elif kind == 44:  # ,
                try:
                    items = list(map(float, items))
                except ValueError:
                    return None
                if not all(map(math.isfinite, items)):
                    return None
        if encoding is not None and (kind == 36 or kind == 43):
            try:
                items = [item.decode(encoding, self._errors) for item in items]
            except Exception:  # the item-by-item path defers the error properly
                return None
        return items, stop, sizes

    def _extend(
        self,
        fkind: int,
        cont: Any,
        rem: int,
        key: Any,
        data: bytes,
        pos: int,
        encoding: str | None,
        most: int,
    ) -> tuple[int, int, Any]:
        """Attach a run of at most ``most`` plain scalars at ``pos`` to the open array or
        map in one go. Returns the new position, remaining count and pending map key."""
        run = self._run(data, pos, data[pos], most, encoding)
        if run is None:
            return pos, rem, key
        items, pos, _ = run
        if fkind == _LIST:
            cont.extend(items)
        else:
            if rem % 2:  # the run starts with the value of the pending key
                cont[key] = items[0]
                items = items[1:]
            pairs = len(items) // 2 * 2
            cont.update(zip(items[0:pairs:2], items[1:pairs:2], strict=False))
            key = items[-1] if pairs < len(items) else None
        return pos, rem - len(run[0]), key

    def _scalar(self, data: bytes, pos: int, end: int, encoding: str | None) -> tuple[Any, int]:
        """The general path for one non-aggregate item: its value and the next position."""
        kind = data[pos]
        if kind == 36 or kind == 61 or kind == 33:  # $ = !
            eol = self._line_end(data, pos + 1, MAX_HEADER_LINE, "Bulk length")
            size = self._length(data[pos + 1 : eol], "bulk string")
            if size < 0:
                if kind != 36:
                    raise _Malformed(f"Bad bulk string length {size} for {chr(kind)!r}")
                return None, eol + 2
            if size > self._max_bulk_len:
                raise _Malformed(
                    f"Bulk string length {size} exceeds max_bulk_len {self._max_bulk_len}"
                )
            start = eol + 2
            stop = start + size
            if stop + 2 > end:
                self._need = stop + 2
                if size >= BIG_BULK and not self._stack:  # a large top-level value
                    self._big = (start, size)
                raise _Incomplete
            if data[stop : stop + 2] != b"\r\n":
                raise _Malformed(
                    f"Bulk string of length {size} not followed by CRLF: {data[stop : stop + 2]!r}"
                )
            if kind == 36:
                return self._string(data[start:stop], encoding), stop + 2
            if kind == 33:
                return self._error(data[start:stop]), stop + 2
            if size < 4 or data[start + 3] != 58:  # ':'
                raise _Malformed(
                    "Verbatim string 4 bytes of content type are missing "
                    f"or incorrectly encoded: {data[start : start + min(size, 4)]!r}"
                )
            return self._string(data[start + 4 : stop], encoding), stop + 2
        limit = MAX_HEADER_LINE
        if kind == 43 or kind == 45 or kind == 40:  # + - (
            limit = self._max_bulk_len
        elif kind == 44:  # ,
            limit = MAX_DOUBLE_LINE
        elif kind not in _SCALARS:
            raise _Malformed(f"Protocol error, got {_describe_byte(kind)} as reply type byte")
        eol = self._line_end(data, pos + 1, limit, "Reply")
        text = data[pos + 1 : eol]
        value: Any
        if kind == 58:  # :
            if not text.isdigit() and _INT_RE.match(text) is None:
                raise _Malformed(f"Bad integer value {text!r}")
            value = int(text)
            if not -(2**63) <= value < 2**63:
                raise _Malformed(f"Integer value out of range {text!r}")
        elif kind == 43 or kind == 45:  # + -
            if 13 in text or 10 in text:
                raise _Malformed(f"Bad simple string value {text!r}")
            value = self._string(text, encoding) if kind == 43 else self._error(text)
        elif kind == 44:  # ,
            value = _SPECIAL_DOUBLES.get(text.lower())
            if value is None:
                if _DOUBLE_RE.match(text) is None:
                    raise _Malformed(f"Bad double value {text!r}")
                value = float(text)
                if not math.isfinite(value):
                    raise _Malformed(f"Bad double value {text!r}")
        elif kind == 35:  # #
            if text in (b"t", b"T"):
                value = True
            elif text in (b"f", b"F"):
                value = False
            else:
                raise _Malformed(f"Bad bool value {text!r}")
        elif kind == 95:  # _
            if text:
                raise _Malformed(f"Bad nil value {text!r}")
            value = None
        else:  # ( bignum: digits, returned as a string like hiredis does
            if _INT_RE.match(text) is None:
                raise _Malformed(f"Bad bignum value {text!r}")
            value = self._string(text, encoding)
        return value, eol + 2

    def _parse(self, encoding: str | None) -> Any:
        """Parse one reply. The innermost open aggregate lives in locals (kind, container,
        remaining, pending map key); its parents are saved on ``_stack``."""
        data = self._data
        pos = self._pos
        end = len(data)
        find = data.find
        max_bulk_len = self._max_bulk_len
        stack = self._stack
        fkind, cont, rem, key = self._top
        append = cont.append if fkind == _LIST else None
        LIST, MAP, ROOT, NONE = _LIST, _MAP, _ROOT, _NONE  # noqa: N806 - locals are faster
        if rem > 8 and LIST <= fkind <= MAP and pos < end and data[pos] in _RUNS:  # resuming
            pos, rem, key = self._extend(fkind, cont, rem, key, data, pos, encoding, rem - 1)
        value: Any
        try:
            while True:
                if pos >= end:
                    self._need = end + 1
                    raise _Incomplete
                kind = data[pos]
                value = NONE  # set by a fast path below
                if kind == 36:  # $: a plain bulk string, fully buffered
                    eol = find(b"\r\n", pos)
                    if 0 < eol <= pos + 20:
                        text = data[pos + 1 : eol]
                        if text.isdigit():
                            stop = eol + 2 + int(text)
                            if (
                                stop + 2 <= end
                                and data[stop] == 13
                                and data[stop + 1] == 10
                                and stop - eol - 2 <= max_bulk_len
                            ):
                                value = data[eol + 2 : stop]
                                if encoding is not None:
                                    value = self._string(value, encoding)
                                pos = stop + 2
                elif kind == 58:  # :
                    eol = find(b"\r\n", pos)
                    if 0 < eol <= pos + 19:  # at most 18 digits: always in int64 range
                        text = data[pos + 1 : eol]
                        if text.isdigit():
                            value = int(text)
                            pos = eol + 2
                elif kind == 43:  # +
                    eol = find(b"\r\n", pos)
                    if 0 < eol <= pos + min(64, max_bulk_len + 1):
                        text = data[pos + 1 : eol]
                        if 13 not in text and 10 not in text:
                            value = text if encoding is None else self._string(text, encoding)
                            pos = eol + 2
                elif kind == 44:  # ,
                    eol = find(b"\r\n", pos)
                    text = data[pos + 1 : eol]
                    # float() also takes a leading '+', which RESP3 does not
                    if (
                        0 < eol <= pos + 32
                        and not text.translate(None, _DECIMAL_CHARS)
                        and text[:1] != b"+"
                    ):
                        try:
                            value = float(text)
                        except ValueError:
                            pass
                        else:
                            if value - value == 0.0:  # finite; overflow takes the slow path
                                pos = eol + 2
                            else:
                                value = NONE
                elif kind in _AGGREGATES:
                    eol = find(b"\r\n", pos)
                    text = data[pos + 1 : eol]
                    if 0 < eol <= pos + 11 and text.isdigit():  # at most 10 digits
                        count = int(text)
                    else:
                        eol = self._line_end(data, pos + 1, MAX_HEADER_LINE, "Aggregate length")
                        count = self._length(data[pos + 1 : eol], "multi-bulk")
                    if count > MAX_ELEMENTS:
                        raise _Malformed(f"Multi-bulk length out of range: {count}")
                    if len(stack) >= self._max_depth:
                        raise _Malformed(f"Max nesting depth {self._max_depth} exceeded")
                    pos = eol + 2
                    size = count * 2 if kind == 37 or kind == 124 else count
                    new_kind = _LIST
                    new: Any = None
                    if count == -1:
                        value = None
                    elif kind == 124 or fkind >= _ATTR:  # attribute data is parsed and dropped
                        if kind == 124:
                            new_kind = _ATTR
                            if not size:
                                continue
                        else:
                            new_kind = _SKIP
                            if not size:
                                value = None
                    elif fkind == _MAP and rem % 2 == 0:
                        raise _UnhashableKey(f"Unhashable map key: aggregate type {chr(kind)!r}")
                    elif kind == 37:  # %
                        new_kind = _MAP
                        new = {}
                    else:
                        new = PushNotification() if kind == 62 else []
                    if value is NONE:
                        if not size:
                            value = new
                        elif new_kind <= MAP and pos < end and data[pos] in _RUNS:
                            # Often all its items are plain scalars: take them in one run.
                            pos, left, pending = self._extend(
                                new_kind, new, size, None, data, pos, encoding, size
                            )
                            if left:
                                stack.append([fkind, cont, rem, key])
                                fkind, cont, rem, key = new_kind, new, left, pending
                                append = cont.append if fkind == _LIST else None
                                continue
                            value = new
                        else:
                            stack.append([fkind, cont, rem, key])
                            fkind, cont, rem, key = new_kind, new, size, None
                            append = cont.append if fkind == _LIST else None
                            continue
                if value is NONE:
                    value, pos = self._scalar(data, pos, end, encoding)
                # Attach the finished value to its parent; close every parent it completes.
                while True:
                    if fkind == LIST:
                        append(value)  # type: ignore[misc]
                    elif fkind == MAP:
                        if rem % 2 == 0:
                            key = value
                        else:
                            cont[key] = value
                    elif fkind == ROOT:
                        self._pos = pos
                        self._need = 0
                        self._top = _NO_FRAME
                        return value
                    rem -= 1
                    if rem:
                        break
                    closed = fkind
                    value = cont
                    fkind, cont, rem, key = stack.pop()
                    append = cont.append if fkind == _LIST else None
                    if closed == _ATTR:  # attributes are metadata: the reply still follows
                        break
        except _Incomplete:
            self._pos = pos
            self._top = (fkind, cont, rem, key)
            raise
