# cython: language_level=3, freethreading_compatible=True
"""Compiled twin of ``redispool._pack_py``: RESP command packing.

Each argument is resolved once to a pointer and a length (UTF-8 ``str`` without a temporary
when the encoding allows, integers formatted in C), the exact output size is computed, and
the output is written straight into new ``bytes`` objects: no intermediate joins. Large
values and memoryviews become their own chunks without being copied. Nothing is shared
between calls, so one Packer may serve every connection of a pool, from any thread.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_AsEncodedString
from libc.string cimport memcpy

from redis.exceptions import DataError

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t *size) except NULL

__all__ = ("Packer", "pack_command")

DEFAULT_BUFFER_CUTOFF = 6000

cdef enum ArgKind:
    A_BYTES = 0    # ptr/size point into an object kept alive by the args or ``keep``
    A_INT = 1      # a long long written in C
    A_CHUNK = 2    # sent as its own chunk (large value or memoryview): ``obj``

cdef struct Arg:
    const char *ptr
    Py_ssize_t size
    long long value
    int kind
    PyObject *obj


cdef inline Py_ssize_t _digits(unsigned long long v) noexcept:
    cdef Py_ssize_t n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


cdef inline Py_ssize_t _ll_size(long long v) noexcept:
    if v < 0:
        return 1 + _digits(<unsigned long long>(-(v + 1)) + 1)
    return _digits(<unsigned long long>v)


cdef inline char *_write_ull(char *p, unsigned long long v) noexcept:
    cdef char tmp[24]
    cdef Py_ssize_t n = 0
    while True:
        tmp[n] = <char>(c'0' + v % 10)
        n += 1
        v //= 10
        if v == 0:
            break
    while n:
        n -= 1
        p[0] = tmp[n]
        p += 1
    return p


cdef inline char *_write_ll(char *p, long long v) noexcept:
    if v < 0:
        p[0] = c'-'
        return _write_ull(p + 1, <unsigned long long>(-(v + 1)) + 1)
    return _write_ull(p, <unsigned long long>v)


cdef inline char *_write_header(char *p, char kind, Py_ssize_t n) noexcept:
    p[0] = kind
    p = _write_ull(p + 1, <unsigned long long>n)
    p[0] = c'\r'
    p[1] = c'\n'
    return p + 2


cdef int _resolve(
    object arg, Arg *out, list keep, bint redis, const char *encoding, const char *errors,
    bint utf8, Py_ssize_t cutoff,
) except -1:
    """Turn one argument into bytes to copy, an integer to format, or a chunk to send."""
    cdef int overflow = 0
    cdef long long value
    cdef object data
    out.kind = A_BYTES
    out.obj = NULL
    if isinstance(arg, bytes):
        out.ptr = PyBytes_AS_STRING(arg)
        out.size = PyBytes_GET_SIZE(arg)
        if redis and out.size > cutoff:
            out.kind = A_CHUNK
            out.obj = <PyObject *>arg
        return 0
    if isinstance(arg, str):
        if utf8 and not (redis and len(<str>arg) * 4 > cutoff):
            out.ptr = PyUnicode_AsUTF8AndSize(arg, &out.size)
            return 0
        data = PyUnicode_AsEncodedString(arg, encoding, errors) if redis else (<str>arg).encode()
    elif isinstance(arg, memoryview):
        if redis and (<memoryview>arg).c_contiguous:
            out.kind = A_CHUNK
            out.obj = <PyObject *>arg
            out.size = (<memoryview>arg).nbytes
            return 0
        data = (<memoryview>arg).tobytes()
    elif isinstance(arg, bytearray):
        data = bytes(arg)
    elif type(arg) is int:
        value = PyLong_AsLongLongAndOverflow(arg, &overflow)
        if not overflow:
            out.kind = A_INT
            out.value = value
            out.size = _ll_size(value)
            return 0
        data = repr(arg).encode()
    elif isinstance(arg, float) or (redis and isinstance(arg, int) and not isinstance(arg, bool)):
        data = repr(arg).encode()
    elif redis:
        raise DataError(
            f"Invalid input of type: '{type(arg).__name__}'. "
            "Convert to a bytes, string, int or float first."
        )
    else:
        raise TypeError(
            f"A tuple item must be str, int, float or bytes, not {type(arg).__name__}."
        )
    keep.append(data)
    out.ptr = PyBytes_AS_STRING(data)
    out.size = PyBytes_GET_SIZE(data)
    if redis and out.size > cutoff:
        out.kind = A_CHUNK
        out.obj = <PyObject *>data
    return 0


cdef object _pack(
    tuple args, bint redis, const char *encoding, const char *errors, bint utf8,
    Py_ssize_t cutoff,
):
    """The RESP array for ``args``: one bytes (hiredis mode) or a list of chunks (redis)."""
    cdef Py_ssize_t n = len(args)
    cdef Arg stack_args[16]
    cdef Arg *resolved = stack_args
    cdef list keep = []
    cdef list chunks
    cdef Py_ssize_t i, start, size
    cdef bytes out
    cdef char *p
    if n > 16:
        resolved = <Arg *>PyMem_Malloc(n * sizeof(Arg))
        if resolved == NULL:
            raise MemoryError()
    try:
        for i in range(n):
            _resolve(args[i], &resolved[i], keep, redis, encoding, errors, utf8, cutoff)
        chunks = [] if redis else None
        start = 0  # first argument of the current segment (segments end at chunk args)
        while True:
            # Size of this segment: header (first segment), then each argument, up to and
            # including the header of the next chunk argument.
            size = _header_size(n) if start == 0 else 2
            i = start
            while i < n and resolved[i].kind != A_CHUNK:
                size += 1 + _digits(<unsigned long long>resolved[i].size) + 2
                size += resolved[i].size + 2
                i += 1
            if i < n:
                size += 1 + _digits(<unsigned long long>resolved[i].size) + 2
            out = PyBytes_FromStringAndSize(NULL, size)
            p = PyBytes_AS_STRING(out)
            if start == 0:
                p = _write_header(p, c'*', n)
            else:
                p[0] = c'\r'
                p[1] = c'\n'
                p += 2
            i = start
            while i < n and resolved[i].kind != A_CHUNK:
                p = _write_header(p, c'$', resolved[i].size)
                if resolved[i].kind == A_INT:
                    p = _write_ll(p, resolved[i].value)
                else:
                    memcpy(p, resolved[i].ptr, resolved[i].size)
                    p += resolved[i].size
                p[0] = c'\r'
                p[1] = c'\n'
                p += 2
                i += 1
            if not redis:
                return out
            if i == n:
                chunks.append(out)
                return chunks
            p = _write_header(p, c'$', resolved[i].size)
            chunks.append(out)
            chunks.append(<object>resolved[i].obj)
            start = i + 1
            if start == n:
                chunks.append(b"\r\n")
                return chunks
    finally:
        if resolved != stack_args:
            PyMem_Free(resolved)


cdef inline Py_ssize_t _header_size(Py_ssize_t n) noexcept:
    return 1 + _digits(<unsigned long long>n) + 2


def pack_command(cmd):
    """Pack a command into one RESP array of bulk strings, as ``hiredis.pack_command``."""
    if not isinstance(cmd, tuple):
        raise TypeError("The argument must be a tuple of str, int, float or bytes.")
    return _pack(<tuple>cmd, False, NULL, NULL, True, 0)


@cython.final
cdef class Packer:
    """redis-py's ``command_packer=`` hook: ``pack(*args)`` returns the chunks to send."""

    cdef readonly str encoding
    cdef readonly str errors
    cdef readonly Py_ssize_t buffer_cutoff
    cdef bint _utf8
    cdef bytes _enc, _errs  # owned: the char* passed down point into them

    def __init__(
        self,
        str encoding="utf-8",
        str errors="strict",
        Py_ssize_t buffer_cutoff=DEFAULT_BUFFER_CUTOFF,
    ):
        self.encoding = encoding
        self.errors = errors
        self.buffer_cutoff = buffer_cutoff
        self._enc = encoding.encode()
        self._errs = errors.encode()
        self._utf8 = encoding.lower().replace("_", "-") in ("utf-8", "utf8") and errors == "strict"

    def pack(self, *args):
        """Pack one command; multi-word command names (``"CONFIG GET"``) are split."""
        if args:
            name = args[0]
            if isinstance(name, str):
                args = (*(<str>name).encode().split(), *args[1:])
            elif isinstance(name, bytes) and b" " in <bytes>name:
                args = (*(<bytes>name).split(), *args[1:])
        return _pack(args, True, self._enc, self._errs, self._utf8, self.buffer_cutoff)
