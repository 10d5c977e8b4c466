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
from collections.abc import Callable
from typing import Any

from .errors import ProtocolError, ReplyError
from .push import PushNotification

__all__ = ("DEFAULT_MAX_BULK_LEN", "DEFAULT_MAX_DEPTH", "Reader")

DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024  # Redis's own proto-max-bulk-len
DEFAULT_MAX_DEPTH = 1024  # hiredis's maxdepth
DEFAULT_MAXBUF = 16 * 1024  # hiredis's REDIS_READER_MAX_BUF
MAX_ELEMENTS = 2**32 - 1  # hiredis's maxelements
MAX_HEADER_LINE = 64  # a length/integer line longer than this cannot be valid
MAX_DOUBLE_LINE = 326  # hiredis refuses doubles this long

_INT_RE = re.compile(rb"-?[0-9]+\Z")
_DOUBLE_RE = re.compile(rb"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\Z")
_SPECIAL_DOUBLES = {b"inf": math.inf, b"-inf": -math.inf, b"nan": math.nan, b"-nan": math.nan}

# Frame kinds on the aggregate stack; _ATTR and _SKIP (aggregates inside an attribute)
# hold no container: attribute data is parsed and dropped.
_LIST, _MAP, _ATTR, _SKIP = 0, 1, 2, 3

_SCALARS = frozenset(b"+-:,#_(")
_BLOBS = frozenset(b"$=!")
_AGGREGATES = frozenset(b"*~>%|")


class _Incomplete(Exception):
    """Internal: the buffer ends inside the current item."""


class _Malformed(Exception):
    """Internal: the stream is not RESP; becomes the user's protocol error in ``gets()``."""


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
    *raised* (as the type of ``protocolError(message)``) on this and every later ``gets()``.
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
        if max_bulk_len < 0:
            raise ValueError("max_bulk_len must be >= 0")
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
        self._stack: list[list[Any]] = []  # [kind, container, remaining, key]
        self._failure: str | None = None  # protocol error message; the reader is dead
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
        self._chunks.append(view[off : off + len].tobytes())
        self._pending += len

    def len(self) -> int:
        """Bytes held, including consumed bytes not yet released."""
        return len(self._data) + self._pending

    def has_data(self) -> bool:
        """Whether unconsumed input is buffered."""
        return self._pos < len(self._data) or self._pending > 0

    # -- output --------------------------------------------------------------------------

    def gets(self, shouldDecode: bool = True) -> Any:  # noqa: N803
        """Return the next complete reply, or ``notEnoughData`` if it has not all arrived."""
        if self._failure is not None:
            self._raise_failure()
        if len(self._data) + self._pending < self._need:
            return self._not_enough
        if self._chunks:
            self._join()
        encoding = self._encoding if shouldDecode else None
        try:
            reply = self._parse(encoding)
        except _Incomplete:
            return self._not_enough
        except _Malformed as exc:
            self._fail(str(exc))
        if self._pos == len(self._data):
            self._release()
        deferred = self._deferred
        if deferred is not None:
            self._deferred = None
            raise deferred
        return reply

    # -- internals -----------------------------------------------------------------------

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

    def _fail(self, message: str) -> None:
        self._failure = message
        self._data = b""
        self._pos = self._pending = self._need = 0
        self._chunks.clear()
        self._stack.clear()
        self._deferred = None
        self._raise_failure()

    def _raise_failure(self) -> None:
        message = self._failure
        assert message is not None
        raise type(self._protocol_error(message))(message)

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
            if len(data) - start > limit:
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

    def _parse(self, encoding: str | None) -> Any:  # noqa: C901 - one dispatch loop, by design
        data = self._data
        pos = self._pos
        end = len(data)
        stack = self._stack
        max_bulk_len = self._max_bulk_len
        value: Any
        while True:
            self._pos = pos  # replies resume from here: everything before it is parsed
            if pos >= end:
                self._need = end + 1
                raise _Incomplete
            kind = data[pos]
            if kind == 36 or kind == 61 or kind == 33:  # $ = !
                eol = data.find(b"\r\n", pos + 1)
                if eol < 0 or eol - pos > MAX_HEADER_LINE:
                    eol = self._line_end(data, pos + 1, MAX_HEADER_LINE, "Bulk length")
                size = self._length(data[pos + 1 : eol], "bulk string")
                if size < 0:
                    if kind != 36:
                        raise _Malformed(f"Bad bulk string length {size} for {chr(kind)!r}")
                    value = None
                    pos = eol + 2
                else:
                    if size > max_bulk_len:
                        raise _Malformed(
                            f"Bulk string length {size} exceeds max_bulk_len {max_bulk_len}"
                        )
                    start = eol + 2
                    stop = start + size
                    if stop + 2 > end:
                        self._need = stop + 2
                        raise _Incomplete
                    if data[stop : stop + 2] != b"\r\n":
                        raise _Malformed(
                            f"Bulk string of length {size} not followed by CRLF: "
                            f"{data[stop : stop + 2]!r}"
                        )
                    if kind == 36:
                        value = self._string(data[start:stop], encoding)
                    elif kind == 33:
                        value = self._error(data[start:stop])
                    else:
                        if size < 4 or data[start + 3] != 58:  # ':'
                            raise _Malformed(
                                "Verbatim string 4 bytes of content type are missing "
                                f"or incorrectly encoded: {data[start : start + min(size, 4)]!r}"
                            )
                        value = self._string(data[start + 4 : stop], encoding)
                    pos = stop + 2
            elif kind in _SCALARS:
                limit = MAX_HEADER_LINE
                if kind == 43 or kind == 45 or kind == 40:  # + - (
                    limit = max_bulk_len
                elif kind == 44:  # ,
                    limit = MAX_DOUBLE_LINE
                eol = self._line_end(data, pos + 1, limit, "Reply")
                text = data[pos + 1 : eol]
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
                else:  # ( bignum
                    if _INT_RE.match(text) is None:
                        raise _Malformed(f"Bad bignum value {text!r}")
                    value = self._string(text, encoding)
                pos = eol + 2
            elif kind in _AGGREGATES:
                eol = self._line_end(data, pos + 1, MAX_HEADER_LINE, "Aggregate length")
                count = self._length(data[pos + 1 : eol], "multi-bulk")
                if count > MAX_ELEMENTS:
                    raise _Malformed(f"Multi-bulk length out of range: {count}")
                if len(stack) >= self._max_depth:
                    raise _Malformed(f"Max nesting depth {self._max_depth} exceeded")
                pos = eol + 2
                parent = stack[-1][0] if stack else _LIST
                if count == -1:
                    value = None
                elif kind == 124 or parent >= _ATTR:  # attribute data is parsed and dropped
                    size = count * 2 if kind == 37 or kind == 124 else count
                    if kind == 124:
                        if size:
                            stack.append([_ATTR, None, size, None])
                        continue
                    value = None
                    if size:
                        stack.append([_SKIP, None, size, None])
                        continue
                elif parent == _MAP and stack[-1][2] % 2 == 0:
                    raise _Malformed(f"Unhashable map key: aggregate type {chr(kind)!r}")
                elif kind == 37:  # %
                    value = {}
                    if count:
                        stack.append([_MAP, value, count * 2, None])
                        continue
                else:
                    value = PushNotification() if kind == 62 else []
                    if count:
                        stack.append([_LIST, value, count, None])
                        continue
            else:
                raise _Malformed(f"Protocol error, got {_describe_byte(kind)} as reply type byte")
            # Attach the finished value to its parent; close every parent it completes.
            while True:
                if not stack:
                    self._pos = pos
                    self._need = 0
                    return value
                frame = stack[-1]
                kind = frame[0]
                if kind == _LIST:
                    frame[1].append(value)
                elif kind == _MAP:
                    if frame[2] % 2 == 0:
                        frame[3] = value
                    else:
                        frame[1][frame[3]] = value
                        frame[3] = None
                frame[2] -= 1
                if frame[2]:
                    break
                stack.pop()
                if kind == _ATTR:  # attributes are metadata: the reply still follows
                    break
                value = frame[1]
