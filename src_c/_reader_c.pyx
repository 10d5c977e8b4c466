# cython: language_level=3, freethreading_compatible=True
"""Compiled twin of ``redispool._reader_py``: an incremental RESP2/RESP3 reply reader.

Same API, results and errors as the pure twin. Input is copied into one growable C
buffer; the parse is a non-recursive state machine whose stack lives in a C array, so
nesting never touches the C stack and a reply that arrives in pieces resumes where it
stopped. Aggregates are attached to their parent as soon as they are created, so stack
frames hold borrowed references; the root is owned by the reader until it is returned.
A Reader belongs to one connection: it is not meant to be shared between threads.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_SetItem
from cpython.list cimport PyList_Append, PyList_New, PyList_SET_ITEM
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.unicode cimport PyUnicode_AsUTF8, PyUnicode_Decode, PyUnicode_DecodeUTF8
from libc.math cimport isfinite, INFINITY, NAN
from libc.string cimport memchr, memcpy, memmove

import codecs

from redispool.errors import ProtocolError, ReplyError, unhashable_key_error
from redispool.push import PushNotification

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject **bytes, Py_ssize_t newsize) except -1
    object PyType_GenericNew(PyTypeObject *type, PyObject *args, PyObject *kwds)
    double PyOS_string_to_double(
        const char *s, char **endptr, PyObject *overflow_exception
    ) except? -1.0

cdef extern from *:
    """
    /* A dict sized for n items: no rehash while a RESP3 map fills it (CPython < 3.13
       exports the presized constructor; later versions start small, as {} does). */
    #if PY_VERSION_HEX < 0x030D0000
    #define rp_dict_presized(n) _PyDict_NewPresized(n)
    #else
    #define rp_dict_presized(n) PyDict_New()
    #endif
    """
    object rp_dict_presized(Py_ssize_t n)

cdef extern from *:
    """
    #ifndef REDISPOOL_CYTHON_VERSION
    #define REDISPOOL_CYTHON_VERSION "unknown"
    #endif
    """
    const char *REDISPOOL_CYTHON_VERSION  # set by setup.py: reported by `python -m redispool info`

__cython_version__ = REDISPOOL_CYTHON_VERSION.decode()

__all__ = ("DEFAULT_MAX_BULK_LEN", "DEFAULT_MAX_DEPTH", "MAX_BULK_LEN_LIMIT", "Reader")

DEFAULT_MAX_BULK_LEN = 512 * 1024 * 1024
DEFAULT_MAX_DEPTH = 1024
MAX_BULK_LEN_LIMIT = 2**62  # keeps offset arithmetic far from Py_ssize_t overflow
cdef Py_ssize_t DEFAULT_MAXBUF = 16 * 1024
cdef long long MAX_ELEMENTS = 4294967295LL
cdef Py_ssize_t MAX_HEADER_LINE = 64
cdef Py_ssize_t MAX_DOUBLE_LINE = 326
# A bulk string at least this large is received straight into its result: one copy, not two.
cdef Py_ssize_t BIG_BULK = 65536

cdef enum FrameKind:
    K_LIST = 0     # presized list: items stored by index
    K_APPEND = 1   # list grown by append (push messages, counts larger than the buffer)
    K_MAP = 2
    K_ATTR = 3     # attribute: parsed and dropped, the reply follows it
    K_SKIP = 4     # aggregate nested in an attribute: parsed and dropped

cdef struct Frame:
    PyObject *obj          # borrowed: owned by the parent container or by Reader._root
    Py_ssize_t remaining   # items still expected (maps count keys and values)
    Py_ssize_t idx         # next slot of a presized list
    int kind

cdef object INCOMPLETE = object()  # _parse/_item: the buffer ends inside the item
cdef object OPENED = object()  # _item: an aggregate was opened, its items follow
cdef object RECEIVING = object()  # _item: a large bulk string is being received (_big)


cdef double[23] _POW10 = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
]


cdef inline bint _exact_decimal(const char *s, Py_ssize_t n, double *out) noexcept:
    """Clinger's fast path: ``-?D+(.D+)?`` whose digits fit in 2**53 and whose scale is at
    most 22 converts exactly with one rounding, as correctly as strtod. False: not that
    shape, the caller takes the general path (which decides validity)."""
    cdef Py_ssize_t i = 0
    cdef unsigned long long mantissa = 0
    cdef int scale = 0, digits = 0
    cdef bint negative = n > 0 and s[0] == c'-'
    if negative:
        i = 1
    while i < n and c'0' <= s[i] <= c'9':
        mantissa = mantissa * 10 + <unsigned long long>(s[i] - c'0')
        digits += 1
        i += 1
        if digits > 15:
            return False
    if digits == 0:
        return False
    if i < n and s[i] == c'.':
        i += 1
        if i == n:
            return False
        while i < n and c'0' <= s[i] <= c'9':
            mantissa = mantissa * 10 + <unsigned long long>(s[i] - c'0')
            digits += 1
            scale += 1
            i += 1
            if digits > 15:
                return False
    if i != n or scale > 22:
        return False
    out[0] = <double>mantissa / _POW10[scale]
    if negative:
        out[0] = -out[0]
    return True


cdef inline Py_ssize_t _plain_line(const char *buf, Py_ssize_t i, Py_ssize_t end) noexcept:
    """Index of the CRLF ending a short (< 64 bytes) simple string at ``buf[i:]``; -1 for
    anything else (the general path decides)."""
    cdef Py_ssize_t limit = i + 64
    while i < end and i < limit and buf[i] != c'\r' and buf[i] != c'\n':
        i += 1
    if i + 1 >= end or buf[i] != c'\r' or buf[i + 1] != c'\n':
        return -1
    return i


cdef inline Py_ssize_t _plain_number(
    const char *buf, Py_ssize_t i, Py_ssize_t end, long long *out
) noexcept:
    """Index of the CR after a plain (unsigned, at most 18 digits) complete number at
    ``buf[i:]``, its value in ``out``; -1 for anything else (the general path decides)."""
    cdef Py_ssize_t start = i
    cdef Py_ssize_t stop = end if end - i < 19 else i + 19  # 19 digits: rejected below
    cdef unsigned long long value = 0  # 19 digits fit; no signed overflow
    while i < stop and c'0' <= buf[i] <= c'9':
        value = value * 10 + <unsigned long long>(buf[i] - c'0')
        i += 1
    if i == start or i - start > 18 or i + 1 >= end or buf[i] != c'\r' or buf[i + 1] != c'\n':
        return -1
    out[0] = <long long>value
    return i


class _Malformed(Exception):
    """Internal: the stream is not RESP; becomes the user's protocol error in ``gets()``."""


class _UnhashableKey(_Malformed):
    """Internal: a map key is an aggregate; raised as ``unhashable_key_error(...)``."""


cdef str _describe_byte(unsigned char byte):
    """Quote a type byte the way hiredis does in its error message."""
    cdef str char = chr(byte)
    if char == "\\":
        return '"\\\\"'
    if char == '"':
        return '"\\""'
    escapes = {"\n": '"\\n"', "\r": '"\\r"', "\t": '"\\t"', "\a": '"\\a"', "\b": '"\\b"'}
    if char in escapes:
        return escapes[char]
    if 0x20 <= byte < 0x7F:
        return f'"{char}"'
    return f'"\\x{byte:02x}"'


# Not @cython.final, unlike the other cdef classes: hiredis-py's Reader can be subclassed
# and its own suite tests that (test_reader.py::test_subclassable, run against this twin by
# tests/upstream/hiredis_py.py), so subclassing is part of the contract. Every cdef method
# is @cython.final instead: the hot paths make no vtable calls all the same.
cdef class Reader:
    """Incremental RESP2/RESP3 reply reader, a drop-in for ``hiredis.Reader``.

    Error replies are *returned* as ``replyError(message)`` instances; protocol errors are
    *raised* (as the type of ``protocolError(message)``) on this and every later ``gets()``;
    a map key that is an aggregate raises a subclass of that type and of ``TypeError``, as
    hiredis raises ``TypeError`` there (``errors.unhashable_key_error``).
    """

    cdef char *_buf
    cdef Py_ssize_t _cap, _len, _pos, _need, _scan, _next
    cdef Frame *_stack
    cdef Py_ssize_t _depth, _stack_cap
    cdef Py_ssize_t _max_depth, _max_bulk_len, _maxbuf
    cdef object _root, _key, _deferred, _failure
    cdef bint _failure_key  # the failure was an aggregate map key: a TypeError too
    cdef object _big  # bytes: a large bulk string being received straight into its result
    cdef Py_ssize_t _big_len, _big_want  # bytes received / expected (payload + CRLF)
    cdef Py_ssize_t _big_head  # length of its header line: unconsumed until it completes
    cdef object _protocol_error, _reply_error, _not_enough
    cdef object _encoding, _errors  # owned str objects: the char* below point into them
    cdef const char *_enc
    cdef const char *_errs

    def __cinit__(self):
        self._buf = NULL
        self._stack = NULL
        self._cap = self._len = self._pos = self._need = self._scan = 0
        self._depth = self._stack_cap = 0

    def __init__(
        self,
        protocolError=ProtocolError,
        replyError=ReplyError,
        encoding=None,
        errors=None,
        notEnoughData=False,
        *,
        max_bulk_len=DEFAULT_MAX_BULK_LEN,
        max_depth=DEFAULT_MAX_DEPTH,
    ):
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
        self._root = self._key = self._deferred = self._failure = self._big = None
        self.set_encoding(encoding, errors)

    def __dealloc__(self):
        PyMem_Free(self._buf)
        PyMem_Free(self._stack)

    # -- configuration -------------------------------------------------------------------

    @cython.critical_section
    def set_encoding(self, encoding=None, errors=None):
        """Decode strings with ``encoding`` (None: return bytes); ``errors`` as in bytes.decode."""
        if encoding is not None:
            codecs.lookup(encoding)
            encoding = str(encoding)
        if errors is not None:
            codecs.lookup_error(errors)
            errors = str(errors)
        else:
            errors = "strict"
        self._encoding = encoding
        self._errors = errors
        if encoding is None:
            self._enc = NULL
        else:
            self._enc = PyUnicode_AsUTF8(encoding)
        self._errs = PyUnicode_AsUTF8(errors)

    @cython.critical_section
    def setmaxbuf(self, maxbuf):
        """An idle buffer larger than ``maxbuf`` is released (0: never; None: default)."""
        if maxbuf is None:
            self._maxbuf = DEFAULT_MAXBUF
            return
        maxbuf = int(maxbuf)
        if maxbuf < 0:
            raise ValueError("maxbuf value out of range")
        self._maxbuf = maxbuf

    def getmaxbuf(self):
        return self._maxbuf

    # -- input ---------------------------------------------------------------------------

    @cython.critical_section
    def feed(self, buf, Py_ssize_t off=0, Py_ssize_t len=-1):
        """Append ``buf[off:off+len]`` (any bytes-like object or str) to the input."""
        cdef Py_buffer view
        if isinstance(buf, str):
            buf = (<str>buf).encode()
        PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
        try:
            if len == -1:
                len = view.len - off
            if off < 0 or len < 0:
                raise ValueError("negative input")
            if off + len > view.len:
                raise ValueError("input is larger than buffer size")
            if self._failure is not None or len == 0:
                return
            self._append(<const char *>view.buf + off, len)
        finally:
            PyBuffer_Release(&view)

    @cython.final
    cdef int _append(self, const char *data, Py_ssize_t size) except -1:
        cdef Py_ssize_t live = self._len - self._pos
        cdef Py_ssize_t want
        cdef char *grown
        if self._big is not None and self._big_len < self._big_want:
            want = min(size, self._big_want - self._big_len)
            self._receive(data, want)
            data += want
            size -= want
            if size == 0:
                return 0
        if self._len + size > self._cap and self._pos > 0:
            # Compact: move the unconsumed tail to the front (positions shift by _pos).
            memmove(self._buf, self._buf + self._pos, live)
            self._need -= self._pos
            self._scan -= self._pos
            self._len = live
            self._pos = 0
        if self._len + size > self._cap:
            want = max(self._cap * 2, self._len + size, 4096)
            if self._len + size < self._need < want:  # a bulk string's end: grow to it only
                want = self._need
            grown = <char *>PyMem_Realloc(self._buf, want)
            if grown == NULL:
                raise MemoryError()
            self._buf = grown
            self._cap = want
        memcpy(self._buf + self._len, data, size)
        self._len += size
        return 0

    @cython.final
    cdef int _resize_big(self, Py_ssize_t size) except -1:
        """Resize the large bulk string being received (it is only referenced here)."""
        cdef PyObject *big = <PyObject *>self._big
        Py_INCREF(self._big)
        self._big = None  # hand the only reference to ``big``, as _PyBytes_Resize wants
        try:
            _PyBytes_Resize(&big, size)
        except MemoryError:  # the object is gone and the stream cannot go on
            self._fail("Out of memory receiving a bulk string")
        self._big = <object>big
        Py_DECREF(self._big)
        return 0

    @cython.final
    cdef int _receive(self, const char *data, Py_ssize_t size) except -1:
        """Copy ``size`` bytes of a large bulk string straight into its result, which grows
        with what arrived (never by the declared length alone)."""
        cdef Py_ssize_t have = PyBytes_GET_SIZE(self._big)
        if self._big_len + size > have:
            self._resize_big(min(self._big_want, max(self._big_len + size, 2 * have)))
        memcpy(PyBytes_AS_STRING(self._big) + self._big_len, data, size)
        self._big_len += size
        return 0

    @cython.final
    cdef int _receive_big(self, Py_ssize_t start, long long count, Py_ssize_t end) except -1:
        """Start receiving a large bulk string whose first bytes are at ``start``."""
        self._big_want = <Py_ssize_t>count + 2
        self._big_len = 0
        self._big = PyBytes_FromStringAndSize(
            NULL, min(self._big_want, max(2 * (end - start), BIG_BULK))
        )
        self._receive(self._buf + start, end - start)
        return 0

    @cython.final
    cdef object _finish_big(self, bint decode):
        """The received large bulk string as a reply: its CRLF checked and dropped."""
        cdef const char *data = PyBytes_AS_STRING(self._big)
        cdef Py_ssize_t size = self._big_want - 2
        cdef object value
        if data[size] != c'\r' or data[size + 1] != c'\n':
            raise _Malformed(
                f"Bulk string of length {size} not followed by CRLF: "
                f"{PyBytes_FromStringAndSize(data + size, 2)!r}"
            )
        if decode:
            value = self._string(data, size, True)
        else:
            self._resize_big(size)
            value = self._big
        self._big = None
        return value

    @cython.critical_section
    def len(self):
        """Bytes fed and not yet consumed by a returned reply."""
        if self._big is not None:
            return self._len - self._pos + self._big_head + self._big_len
        return self._len - self._pos

    @cython.critical_section
    def has_data(self):
        """Whether unconsumed input is buffered."""
        return self._pos < self._len or self._big is not None

    # -- output --------------------------------------------------------------------------

    @cython.critical_section
    def gets(self, bint shouldDecode=True):
        """Return the next complete reply, or ``notEnoughData`` if it has not all arrived."""
        cdef object reply
        if self._failure is not None:
            self._raise_failure()
        if self._len < self._need:
            return self._not_enough
        try:
            reply = self._parse(shouldDecode and self._encoding is not None)
        except _Malformed as exc:
            self._fail(str(exc), isinstance(exc, _UnhashableKey))
        if reply is INCOMPLETE:
            return self._not_enough
        if self._pos == self._len:
            self._release()
        if self._deferred is not None:
            exc = self._deferred
            self._deferred = None
            raise exc
        return reply

    # -- internals -----------------------------------------------------------------------

    @cython.final
    cdef void _release(self) noexcept:
        """Everything buffered was consumed: start over, freeing a buffer past maxbuf."""
        self._pos = self._len = self._need = self._scan = 0
        if self._maxbuf and self._cap > self._maxbuf:
            PyMem_Free(self._buf)
            self._buf = NULL
            self._cap = 0

    @cython.final
    cdef int _fail(self, str message, bint unhashable_key=False) except -1:
        self._failure = message
        self._failure_key = unhashable_key
        self._root = self._key = self._deferred = self._big = None
        self._depth = 0
        PyMem_Free(self._buf)
        self._buf = NULL
        self._cap = self._len = self._pos = self._need = self._scan = 0
        self._raise_failure()

    @cython.final
    cdef int _raise_failure(self) except -1:
        message = self._failure
        cls = type(self._protocol_error(message))
        if self._failure_key:
            cls = unhashable_key_error(cls)
        raise cls(message)

    @cython.final
    cdef object _string(self, const char *s, Py_ssize_t n, bint decode):
        if not decode:
            return PyBytes_FromStringAndSize(s, n)
        try:
            return PyUnicode_Decode(s, n, self._enc, self._errs)
        except Exception as exc:  # kept until the reply is complete: the stream stays in sync
            if self._deferred is None:
                self._deferred = exc
            return None

    @cython.final
    cdef object _error(self, const char *s, Py_ssize_t n):
        try:
            return self._reply_error(PyUnicode_DecodeUTF8(s, n, "replace"))
        except Exception as exc:
            if self._deferred is None:
                self._deferred = exc
            return None

    @cython.final
    cdef Py_ssize_t _line_end(self, Py_ssize_t start, Py_ssize_t limit, str what) except -2:
        """Index of the CRLF ending the line at ``start``; -1 if it has not arrived."""
        cdef const char *buf = self._buf
        cdef Py_ssize_t end = self._len
        cdef Py_ssize_t i = start
        cdef const char *p
        if self._scan > start:  # resume a long line where the last search stopped
            i = self._scan
        while True:
            p = <const char *>memchr(buf + i, c'\r', end - i - 1) if end - i > 1 else NULL
            if p == NULL:
                if end - start > limit + 1:  # + 1: the last byte may be the CR of CRLF
                    raise _Malformed(f"{what} line longer than {limit} bytes")
                self._scan = end - 1 if end - 1 > start else start
                self._need = end + 1
                return -1
            i = p - buf
            if buf[i + 1] == c'\n':
                break
            i += 1
        if i - start > limit:
            raise _Malformed(f"{what} line longer than {limit} bytes")
        self._scan = 0
        return i

    @cython.final
    cdef long long _length(self, Py_ssize_t start, Py_ssize_t eol, str what) except? -2:
        """A length field: digits, or -1 (null). Values past LLONG_MAX saturate to it."""
        cdef const char *s = self._buf + start
        cdef Py_ssize_t n = eol - start
        cdef Py_ssize_t i
        cdef long long value = 0, digit
        if n == 2 and s[0] == c'-' and s[1] == c'1':
            return -1
        if n == 0:
            raise _Malformed(f"Bad {what} length {PyBytes_FromStringAndSize(s, n)!r}")
        for i in range(n):
            if not (c'0' <= s[i] <= c'9'):
                raise _Malformed(f"Bad {what} length {PyBytes_FromStringAndSize(s, n)!r}")
            digit = s[i] - c'0'
            if value <= (9223372036854775807LL - digit) // 10:
                value = value * 10 + digit
            else:
                value = 9223372036854775807LL
        return value

    @cython.final
    cdef object _too_long(self, Py_ssize_t start, Py_ssize_t eol):
        """The exact value of an oversized length field, for the error message."""
        return int(PyBytes_FromStringAndSize(self._buf + start, eol - start))

    @cython.final
    cdef object _integer(self, const char *s, Py_ssize_t n):
        cdef Py_ssize_t i = 0
        cdef bint negative = False
        cdef bint overflow = False
        cdef unsigned long long value = 0
        cdef unsigned long long limit
        if n > 0 and s[0] == c'-':
            negative = True
            i = 1
        if i == n:
            raise _Malformed(f"Bad integer value {PyBytes_FromStringAndSize(s, n)!r}")
        limit = 9223372036854775808ULL if negative else 9223372036854775807ULL
        while i < n:
            if not (c'0' <= s[i] <= c'9'):
                raise _Malformed(f"Bad integer value {PyBytes_FromStringAndSize(s, n)!r}")
            if value > (limit - <unsigned long long>(s[i] - c'0')) // 10:
                overflow = True  # out of range, unless a later byte makes it malformed
            else:
                value = value * 10 + <unsigned long long>(s[i] - c'0')
            i += 1
        if overflow:
            raise _Malformed(f"Integer value out of range {PyBytes_FromStringAndSize(s, n)!r}")
        if negative:
            return -<long long>(value - 1) - 1
        return <long long>value

    @cython.final
    cdef object _double(self, const char *s, Py_ssize_t n):
        cdef char text[330]
        cdef char *endp
        cdef double value
        cdef Py_ssize_t i = 0, digits = 0
        if n < 0 or n >= 330:
            raise _Malformed(f"Bad double value {PyBytes_FromStringAndSize(s, n)!r}")
        if _exact_decimal(s, n, &value):
            return value
        for i in range(n):
            text[i] = s[i] | 0x20 if c'A' <= s[i] <= c'Z' else s[i]
        text[n] = 0
        if n == 3 and text[0] == c'i' and text[1] == c'n' and text[2] == c'f':
            return INFINITY
        if n == 4 and text[0] == c'-' and text[1] == c'i' and text[2] == c'n' and text[3] == c'f':
            return -INFINITY
        if (n == 3 and text[0] == c'n' and text[1] == c'a' and text[2] == c'n') or (
            n == 4 and text[0] == c'-' and text[1] == c'n' and text[2] == c'a' and text[3] == c'n'
        ):
            return NAN
        # Grammar (as the pure twin's regex): -?(D+.?D*|.D+)([eE][-+]?D+)?
        i = 1 if n > 0 and s[0] == c'-' else 0
        while i < n and c'0' <= s[i] <= c'9':
            i += 1
            digits += 1
        if i < n and s[i] == c'.':
            i += 1
            while i < n and c'0' <= s[i] <= c'9':
                i += 1
                digits += 1
        if digits and i < n and (s[i] == c'e' or s[i] == c'E'):
            i += 1
            if i < n and (s[i] == c'-' or s[i] == c'+'):
                i += 1
            if i == n or not (c'0' <= s[i] <= c'9'):
                digits = 0
            while i < n and c'0' <= s[i] <= c'9':
                i += 1
        if not digits or i != n:
            raise _Malformed(f"Bad double value {PyBytes_FromStringAndSize(s, n)!r}")
        value = PyOS_string_to_double(text, &endp, NULL)
        if endp != text + n or not isfinite(value):
            raise _Malformed(f"Bad double value {PyBytes_FromStringAndSize(s, n)!r}")
        return value

    @cython.final
    cdef int _push(self, PyObject *obj, Py_ssize_t remaining, int kind) except -1:
        cdef Frame *grown
        cdef Py_ssize_t want
        if self._depth == self._stack_cap:
            want = self._stack_cap * 2 if self._stack_cap else 16
            grown = <Frame *>PyMem_Realloc(self._stack, want * sizeof(Frame))
            if grown == NULL:
                raise MemoryError()
            self._stack = grown
            self._stack_cap = want
        self._stack[self._depth].obj = obj
        self._stack[self._depth].remaining = remaining
        self._stack[self._depth].idx = 0
        self._stack[self._depth].kind = kind
        self._depth += 1
        return 0

    @cython.final
    cdef int _attach(self, object value) except -1:
        """Store ``value`` as the next item of the innermost open aggregate."""
        cdef Frame *frame = &self._stack[self._depth - 1]
        if frame.kind == K_LIST:
            Py_INCREF(value)
            PyList_SET_ITEM(<object>frame.obj, frame.idx, value)
            frame.idx += 1
        elif frame.kind == K_APPEND:
            PyList_Append(<object>frame.obj, value)
        elif frame.kind == K_MAP:
            if frame.remaining & 1 == 0:
                self._key = value
            else:
                PyDict_SetItem(<object>frame.obj, self._key, value)
                self._key = None
        frame.remaining -= 1
        return 0

    @cython.final
    cdef object _parse(self, bint decode):
        """Parse one reply; INCOMPLETE if the buffer ends first. Plain bulk strings and
        integers take an inline fast path; everything else goes through ``_item``."""
        cdef const char *buf = self._buf
        cdef Py_ssize_t pos = self._pos
        cdef Py_ssize_t end = self._len
        cdef Py_ssize_t eol, stop
        cdef long long count
        cdef char kind
        cdef int frame_kind
        cdef Frame *frame
        cdef object value
        while True:
            self._pos = pos  # replies resume from here: everything before it is parsed
            if self._big is not None:
                kind = 0  # a large bulk string being received: _item finishes it
            elif pos >= end:
                self._need = end + 1
                return INCOMPLETE
            else:
                kind = buf[pos]
            eol = -1
            if kind == c'$' or kind == c':':
                eol = _plain_number(buf, pos + 1, end, &count)
            if eol >= 0 and kind == c'$' and count <= self._max_bulk_len:
                stop = eol + 2 + <Py_ssize_t>count
                if stop + 2 <= end and buf[stop] == c'\r' and buf[stop + 1] == c'\n':
                    if decode:
                        value = self._string(buf + eol + 2, count, True)
                    else:
                        value = PyBytes_FromStringAndSize(buf + eol + 2, count)
                    pos = stop + 2
                else:
                    eol = -1
            elif eol >= 0 and kind == c':':
                value = count
                pos = eol + 2
            elif kind == c'+':
                eol = _plain_line(buf, pos + 1, end)
                if eol > pos + 1 + self._max_bulk_len:
                    eol = -1
                if eol >= 0:
                    value = self._string(buf + pos + 1, eol - pos - 1, decode)
                    pos = eol + 2
            elif kind == c',':
                eol = _plain_line(buf, pos + 1, end)
                if eol >= 0:
                    value = self._double(buf + pos + 1, eol - pos - 1)
                    pos = eol + 2
            elif (
                kind == c'*' or kind == c'%' or kind == c'>' or kind == c'~'
            ) and self._open_plain(pos, end):
                pos = self._next
                continue
            else:
                eol = -1
            if eol < 0:
                value = self._item(pos, end, decode)
                if value is INCOMPLETE:
                    return INCOMPLETE
                pos = self._next
                if value is OPENED:
                    continue
                if value is RECEIVING:
                    self._pos = pos
                    self._need = 0  # any fed byte may complete it: let gets() look
                    return INCOMPLETE
            # A complete value: attach it, then close every aggregate it completes.
            if self._depth == 0:
                self._pos = pos
                self._need = 0
                return value
            self._attach(value)
            frame = &self._stack[self._depth - 1]
            if frame.remaining:
                continue
            frame_kind = frame.kind
            while True:
                self._depth -= 1
                if frame_kind == K_ATTR:  # attributes are metadata: the reply still follows
                    break
                if self._depth == 0:
                    self._pos = pos
                    self._need = 0
                    value = self._root
                    self._root = None
                    return value
                frame = &self._stack[self._depth - 1]
                frame_kind = frame.kind
                if frame.remaining:
                    break

    @cython.final
    cdef int _open(self, char kind, Py_ssize_t size, Py_ssize_t pos, Py_ssize_t end) except -1:
        """Open a non-empty aggregate of ``size`` items whose first item is at ``pos``."""
        cdef object container
        cdef int frame_kind
        if kind == c'%':
            # presized only by a count the bytes back (every key and value >= 3 bytes)
            container = rp_dict_presized(size // 2) if size * 3 <= end - pos else {}
            frame_kind = K_MAP
        elif kind == c'>':
            container = PyType_GenericNew(<PyTypeObject *>PushNotification, NULL, NULL)
            frame_kind = K_APPEND
        elif size * 3 <= end - pos:  # every item takes >= 3 bytes: presize safely
            container = PyList_New(size)
            frame_kind = K_LIST
        else:  # never allocate by a count the bytes do not back
            container = []
            frame_kind = K_APPEND
        if self._depth:
            self._attach(container)
        else:
            self._root = container
        self._push(<PyObject *>container, size, frame_kind)
        return 0

    @cython.final
    cdef bint _open_plain(self, Py_ssize_t pos, Py_ssize_t end) except -1:
        """The fast path of ``_item`` for a plain aggregate header (a short count, no
        attribute around it, not a map key): open it and return True, else False."""
        cdef long long count
        cdef Py_ssize_t eol = _plain_number(self._buf, pos + 1, end, &count)
        cdef char kind = self._buf[pos]
        cdef Frame *parent
        if eol < 0 or count == 0 or count > MAX_ELEMENTS or self._depth >= self._max_depth:
            return False
        if self._depth:
            parent = &self._stack[self._depth - 1]
            if parent.kind == K_ATTR or parent.kind == K_SKIP:
                return False
            if parent.kind == K_MAP and parent.remaining & 1 == 0:
                return False
        self._open(kind, <Py_ssize_t>(count * 2 if kind == c'%' else count), eol + 2, end)
        self._next = eol + 2
        return True

    @cython.final
    cdef object _item(self, Py_ssize_t pos, Py_ssize_t end, bint decode):
        """The general path for one item at ``pos``: its value (next position in ``_next``),
        OPENED when it opened an aggregate or attribute, or INCOMPLETE."""
        cdef const char *buf = self._buf
        cdef Py_ssize_t eol, start, stop, limit, size
        cdef long long count
        cdef unsigned char kind
        cdef int parent
        cdef object value
        if self._big is not None:  # a large bulk string, received straight into its result
            if self._big_len < self._big_want:
                return INCOMPLETE
            self._next = pos
            return self._finish_big(decode)
        kind = <unsigned char>buf[pos]
        if kind == c'$' or kind == c'=' or kind == c'!':
            eol = self._line_end(pos + 1, MAX_HEADER_LINE, "Bulk length")
            if eol < 0:
                return INCOMPLETE
            count = self._length(pos + 1, eol, "bulk string")
            if count < 0:
                if kind != c'$':
                    raise _Malformed(f"Bad bulk string length -1 for {chr(kind)!r}")
                value = None
                pos = eol + 2
            else:
                if count > self._max_bulk_len:
                    raise _Malformed(
                        f"Bulk string length {self._too_long(pos + 1, eol)} "
                        f"exceeds max_bulk_len {self._max_bulk_len}"
                    )
                start = eol + 2
                stop = start + <Py_ssize_t>count
                if stop + 2 > end:
                    if kind == c'$' and count >= BIG_BULK:
                        self._big_head = start - pos
                        self._receive_big(start, count, end)
                        self._next = end
                        return RECEIVING
                    self._need = stop + 2
                    return INCOMPLETE
                if buf[stop] != c'\r' or buf[stop + 1] != c'\n':
                    raise _Malformed(
                        f"Bulk string of length {count} not followed by CRLF: "
                        f"{PyBytes_FromStringAndSize(buf + stop, 2)!r}"
                    )
                if kind == c'$':
                    value = self._string(buf + start, count, decode)
                elif kind == c'!':
                    value = self._error(buf + start, count)
                else:
                    if count < 4 or buf[start + 3] != c':':
                        raise _Malformed(
                            "Verbatim string 4 bytes of content type are missing "
                            "or incorrectly encoded: "
                            f"{PyBytes_FromStringAndSize(buf + start, min(count, 4))!r}"
                        )
                    value = self._string(buf + start + 4, count - 4, decode)
                pos = stop + 2
        elif kind == c'*' or kind == c'%' or kind == c'~' or kind == c'>' or kind == c'|':
            eol = self._line_end(pos + 1, MAX_HEADER_LINE, "Aggregate length")
            if eol < 0:
                return INCOMPLETE
            count = self._length(pos + 1, eol, "multi-bulk")
            if count > MAX_ELEMENTS:
                raise _Malformed(
                    f"Multi-bulk length out of range: {self._too_long(pos + 1, eol)}"
                )
            if self._depth >= self._max_depth:
                raise _Malformed(f"Max nesting depth {self._max_depth} exceeded")
            pos = eol + 2
            parent = self._stack[self._depth - 1].kind if self._depth else K_LIST
            size = <Py_ssize_t>(count * 2 if kind == c'%' or kind == c'|' else count)
            if count == -1:
                value = None
            elif kind == c'|' or parent == K_ATTR or parent == K_SKIP:
                # attribute data is parsed and dropped
                if kind == c'|':
                    if size:
                        self._push(NULL, size, K_ATTR)
                    self._next = pos
                    return OPENED
                value = None
                if size:
                    self._attach(None)
                    self._push(NULL, size, K_SKIP)
                    self._next = pos
                    return OPENED
            elif parent == K_MAP and self._stack[self._depth - 1].remaining & 1 == 0:
                raise _UnhashableKey(f"Unhashable map key: aggregate type {chr(kind)!r}")
            elif size == 0:
                if kind == c'>':
                    value = PyType_GenericNew(<PyTypeObject *>PushNotification, NULL, NULL)
                else:
                    value = {} if kind == c'%' else []
            else:
                self._open(kind, size, pos, end)
                self._next = pos
                return OPENED
        else:
            if kind == c'+' or kind == c'-' or kind == c'(':
                limit = self._max_bulk_len
            elif kind == c',':
                limit = MAX_DOUBLE_LINE
            else:
                limit = MAX_HEADER_LINE
                if not (kind == c':' or kind == c'#' or kind == c'_'):
                    raise _Malformed(
                        f"Protocol error, got {_describe_byte(kind)} as reply type byte"
                    )
            eol = self._line_end(pos + 1, limit, "Reply")
            if eol < 0:
                return INCOMPLETE
            start = pos + 1
            size = eol - start
            if kind == c':':
                value = self._integer(buf + start, size)
            elif kind == c'+' or kind == c'-':
                if (
                    memchr(buf + start, c'\r', size) != NULL
                    or memchr(buf + start, c'\n', size) != NULL
                ):
                    raise _Malformed(
                        "Bad simple string value "
                        f"{PyBytes_FromStringAndSize(buf + start, size)!r}"
                    )
                if kind == c'+':
                    value = self._string(buf + start, size, decode)
                else:
                    value = self._error(buf + start, size)
            elif kind == c',':
                value = self._double(buf + start, size)
            elif kind == c'#':
                if size == 1 and (buf[start] == c't' or buf[start] == c'T'):
                    value = True
                elif size == 1 and (buf[start] == c'f' or buf[start] == c'F'):
                    value = False
                else:
                    raise _Malformed(
                        f"Bad bool value {PyBytes_FromStringAndSize(buf + start, size)!r}"
                    )
            elif kind == c'_':
                if size:
                    raise _Malformed(
                        f"Bad nil value {PyBytes_FromStringAndSize(buf + start, size)!r}"
                    )
                value = None
            else:  # ( bignum: digits, returned as a string like hiredis does
                self._integer_text(buf + start, size)
                value = self._string(buf + start, size, decode)
            pos = eol + 2
        self._next = pos
        return value

    @cython.final
    cdef int _integer_text(self, const char *s, Py_ssize_t n) except -1:
        cdef Py_ssize_t i = 1 if n > 0 and s[0] == c'-' else 0
        if i == n:
            raise _Malformed(f"Bad bignum value {PyBytes_FromStringAndSize(s, n)!r}")
        while i < n:
            if not (c'0' <= s[i] <= c'9'):
                raise _Malformed(f"Bad bignum value {PyBytes_FromStringAndSize(s, n)!r}")
            i += 1
        return 0
