# cython: language_level=3, freethreading_compatible=True
"""Compiled twin of ``redispool._pack_py``: RESP command packing.

Two passes over the arguments. The first resolves each one to a pointer and a length (an
ASCII ``str`` read in place, bytes-like objects through a held buffer export so nothing can
resize or release them meanwhile), an integer to format in C, or an object that travels as
its own chunk (a large value, a memoryview). The second computes the exact size of each
output chunk and writes it straight into a new ``bytes``: no per-argument Python objects,
no joins. Nothing is shared between calls, so one Packer can serve every connection of a
pool, from any thread.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.conversion cimport Py_DTSF_ADD_DOT_0, PyOS_double_to_string
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.unicode cimport PyUnicode_AsEncodedString, PyUnicode_AsUTF8String
from libc.string cimport memchr, memcpy, strlen

from _slot_codes cimport C_DIRTY, C_NO_SOCKET

import codecs
import operator

from redis.exceptions import DataError

from redispool.ledger import UNCOUNTABLE, UNCOUNTED, uncounted

cdef extern from *:
    """
    /* An ASCII-only str read in place: 1 (ptr and size set), 0 if it holds other
       characters, -1 with an exception set. */
    static int redispool_ascii(PyObject *s, const char **ptr, Py_ssize_t *size) {
    #if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(s) < 0) return -1;
    #endif
        if (!PyUnicode_IS_ASCII(s)) return 0;
        *ptr = (const char *)PyUnicode_DATA(s);
        *size = PyUnicode_GET_LENGTH(s);
        return 1;
    }
    """
    int redispool_ascii(object s, const char **ptr, Py_ssize_t *size) except -1

cdef extern from "Python.h":
    const Py_ssize_t PY_SSIZE_T_MAX

__all__ = ("Packer", "pack_command")

DEFAULT_BUFFER_CUTOFF = 6000  # redis-py's: larger values travel as their own chunk
cdef enum:
    STACK_ARGS = 16  # commands up to this many arguments need no heap allocation

cdef enum ArgKind:
    A_BYTES = 0  # copy size bytes from ptr
    A_INT = 1    # format value in C
    A_CHUNK = 2  # obj is returned as its own chunk (Packer only)

cdef struct Arg:
    int kind
    const char *ptr
    Py_ssize_t size     # length of the bulk string
    long long value
    PyObject *obj       # A_CHUNK: the argument itself, or a temporary held by ref
    PyObject *ref       # owned: an encoded str, a repr, a copy of a strided view
    char *heap          # owned (PyMem): a float's repr
    Py_buffer *view     # owned (PyMem): a held export of a bytearray or memoryview

cdef struct Mode:
    bint redis          # Packer rules (DataError, encoding, chunks) or hiredis rules
    bint ascii_in_place  # the encoding maps ASCII to itself: read ASCII str in place
    const char *encoding
    const char *errors
    Py_ssize_t cutoff    # values longer than this become chunks (Packer only)


cdef inline Py_ssize_t _digits(unsigned long long v) noexcept nogil:
    cdef Py_ssize_t n = 1
    while v >= 10:
        v //= 10
        n += 1
    return n


cdef inline unsigned long long _magnitude(long long v) noexcept nogil:
    return <unsigned long long>(-(v + 1)) + 1 if v < 0 else <unsigned long long>v


cdef inline char *_write_ull(char *p, unsigned long long v, Py_ssize_t n) noexcept nogil:
    """Write the n decimal digits of v, right to left."""
    cdef char *end = p + n
    while True:
        n -= 1
        p[n] = <char>(c'0' + v % 10)
        v //= 10
        if n == 0:
            return end


cdef inline char *_write_header(char *p, char kind, Py_ssize_t n) noexcept nogil:
    p[0] = kind
    p = _write_ull(p + 1, <unsigned long long>n, _digits(<unsigned long long>n))
    p[0] = c'\r'
    p[1] = c'\n'
    return p + 2


cdef inline Py_ssize_t _header_size(Py_ssize_t n) noexcept nogil:
    return 3 + _digits(<unsigned long long>n)  # kind byte, digits, CRLF


cdef inline int _own(Arg *a, object data, Py_ssize_t cutoff) except -1:
    """Hold the temporary bytes ``data``; it is a chunk if longer than the cutoff (pass
    PY_SSIZE_T_MAX for numbers: they never are)."""
    Py_INCREF(data)
    a.ref = <PyObject *>data
    a.ptr = PyBytes_AS_STRING(data)
    a.size = PyBytes_GET_SIZE(data)
    if a.size > cutoff:
        a.kind = A_CHUNK
        a.obj = a.ref
    return 0


cdef bint _export(object arg, Arg *a) except -1:
    """Hold a C-contiguous buffer export of arg (so it can be neither resized nor released
    while the command is written) and point at it; False if it is not C-contiguous."""
    a.view = <Py_buffer *>PyMem_Malloc(sizeof(Py_buffer))
    if a.view == NULL:
        raise MemoryError()
    try:
        PyObject_GetBuffer(arg, a.view, PyBUF_SIMPLE)
    except BaseException as exc:
        PyMem_Free(a.view)
        a.view = NULL
        if isinstance(exc, BufferError):
            return False
        raise
    a.ptr = <const char *>a.view.buf
    a.size = a.view.len
    return True


cdef int _resolve(object arg, Arg *a, const Mode *m) except -1:
    """Turn one argument into bytes to copy, an integer to format, or a chunk."""
    cdef int overflow = 0
    cdef long long value
    if isinstance(arg, str):
        if m.ascii_in_place and redispool_ascii(arg, &a.ptr, &a.size) and a.size <= m.cutoff:
            return 0
        if m.redis:
            return _own(a, PyUnicode_AsEncodedString(arg, m.encoding, m.errors), m.cutoff)
        return _own(a, PyUnicode_AsUTF8String(arg), m.cutoff)
    if isinstance(arg, bytes):
        a.ptr = PyBytes_AS_STRING(arg)
        a.size = PyBytes_GET_SIZE(arg)
        if a.size > m.cutoff:
            a.kind = A_CHUNK
            a.obj = <PyObject *>arg
        return 0
    if type(arg) is int:
        value = PyLong_AsLongLongAndOverflow(arg, &overflow)
        if overflow:
            return _own(a, repr(arg).encode(), PY_SSIZE_T_MAX)
        a.kind = A_INT
        a.value = value
        a.size = (value < 0) + _digits(_magnitude(value))
        return 0
    if type(arg) is float:  # a subclass may override __repr__
        a.heap = PyOS_double_to_string(PyFloat_AS_DOUBLE(arg), b'r', 0, Py_DTSF_ADD_DOT_0, NULL)
        a.ptr = a.heap
        a.size = <Py_ssize_t>strlen(a.heap)
        return 0
    if isinstance(arg, float) or (m.redis and isinstance(arg, int) and not isinstance(arg, bool)):
        return _own(a, repr(arg).encode(), PY_SSIZE_T_MAX)
    if isinstance(arg, memoryview):
        if not _export(arg, a):  # not C-contiguous: hiredis would send the raw memory
            return _own(a, arg.tobytes(), m.cutoff)
        if m.redis:  # redis-py sends every memoryview as its own chunk, uncopied
            a.kind = A_CHUNK
            a.obj = <PyObject *>arg
        return 0
    if isinstance(arg, bytearray):
        _export(arg, a)
        if a.size > m.cutoff:
            a.kind = A_CHUNK
            a.obj = <PyObject *>arg
        return 0
    if m.redis:
        raise DataError(
            f"Invalid input of type: '{type(arg).__name__}'. "
            "Convert to a bytes, string, int or float first."
        )
    raise TypeError(f"A tuple item must be str, int, float or bytes, not {type(arg).__name__}.")


cdef inline void _release(Arg *a) noexcept:
    if a.view != NULL:
        PyBuffer_Release(a.view)
        PyMem_Free(a.view)
    Py_XDECREF(a.ref)
    PyMem_Free(a.heap)


cdef inline char *_write_arg(char *p, const Arg *a) noexcept nogil:
    p = _write_header(p, c'$', a.size)
    if a.kind == A_INT:
        if a.value < 0:
            p[0] = c'-'
            p += 1
        p = _write_ull(p, _magnitude(a.value), a.size - (a.value < 0))
    else:
        memcpy(p, a.ptr, a.size)
        p += a.size
    p[0] = c'\r'
    p[1] = c'\n'
    return p + 2


cdef object _write(Arg *args, Py_ssize_t n, bint redis):
    """The RESP array: one bytes (hiredis rules) or a list of chunks (Packer rules).

    Each bytes chunk holds the array header (first chunk only) or the CRLF ending the
    previous chunk argument, the arguments up to the next chunk argument, and its header.
    """
    cdef list chunks = [] if redis else None
    cdef Py_ssize_t start = 0, i, size
    cdef bytes out
    cdef char *p
    while True:
        size = _header_size(n) if start == 0 else 2
        i = start
        while i < n and args[i].kind != A_CHUNK:
            size += _header_size(args[i].size) + args[i].size + 2
            i += 1
        if i < n:
            size += _header_size(args[i].size)
        out = PyBytes_FromStringAndSize(NULL, size)
        p = PyBytes_AS_STRING(out)
        if start == 0:
            p = _write_header(p, c'*', n)
        else:
            p[0] = c'\r'
            p[1] = c'\n'
            p += 2
        while start < i:
            p = _write_arg(p, &args[start])
            start += 1
        if not redis:
            return out
        chunks.append(out)
        if i == n:
            return chunks
        _write_header(p, c'$', args[i].size)
        chunks.append(<object>args[i].obj)
        start = i + 1
        if start == n:
            chunks.append(b"\r\n")
            return chunks


cdef struct Sink:
    char *data  # PyMem: the bytes of the chunk being built
    Py_ssize_t len
    Py_ssize_t cap


cdef char *_reserve(Sink *sink, Py_ssize_t more) except NULL:
    """Room for ``more`` bytes at the end of the sink's chunk: a pointer to it."""
    cdef Py_ssize_t cap
    cdef char *grown
    if sink.len + more > sink.cap:
        cap = max(sink.cap * 2, sink.len + more, 4096)
        grown = <char *>PyMem_Realloc(sink.data, cap)
        if grown == NULL:
            raise MemoryError()
        sink.data = grown
        sink.cap = cap
    return sink.data + sink.len


cdef int _write_into(Arg *args, Py_ssize_t n, Sink *sink, list chunks) except -1:
    """``_write``'s chunks (Packer rules), with the bytes between chunk arguments added
    to the sink's chunk instead of new ``bytes``: a chunk argument closes it."""
    cdef Py_ssize_t start = 0, i, size
    cdef char *p
    while True:
        size = _header_size(n) if start == 0 else 2
        i = start
        while i < n and args[i].kind != A_CHUNK:
            size += _header_size(args[i].size) + args[i].size + 2
            i += 1
        if i < n:
            size += _header_size(args[i].size)
        p = _reserve(sink, size)
        if start == 0:
            p = _write_header(p, c'*', n)
        else:
            p[0] = c'\r'
            p[1] = c'\n'
            p += 2
        while start < i:
            p = _write_arg(p, &args[start])
            start += 1
        if i == n:
            sink.len = p - sink.data
            return 0
        p = _write_header(p, c'$', args[i].size)
        sink.len = p - sink.data
        chunks.append(PyBytes_FromStringAndSize(sink.data, sink.len))
        sink.len = 0
        chunks.append(<object>args[i].obj)
        start = i + 1
        if start == n:
            p = _reserve(sink, 2)
            p[0] = c'\r'
            p[1] = c'\n'
            sink.len = 2
            return 0


cdef object _pack(tuple args, const Mode *m, bint name_in_place, Sink *sink=NULL, list chunks=None):
    """Resolve every argument, then write (into ``sink`` and ``chunks`` if given);
    ``name_in_place``: args[0] is a plain ASCII str (a command name is always UTF-8,
    whatever the encoding)."""
    cdef Py_ssize_t n = len(args), i, done = 0
    cdef Arg stack_args[STACK_ARGS]
    cdef Arg *resolved = stack_args
    cdef Arg *a
    if n > STACK_ARGS:
        resolved = <Arg *>PyMem_Malloc(n * sizeof(Arg))
        if resolved == NULL:
            raise MemoryError()
    try:
        for i in range(n):
            a = &resolved[i]
            a.kind = A_BYTES
            a.obj = a.ref = NULL
            a.heap = NULL
            a.view = NULL
            done = i + 1
            if i == 0 and name_in_place:
                redispool_ascii(args[0], &a.ptr, &a.size)
            else:
                _resolve(args[i], a, m)
        if sink != NULL:
            return _write_into(resolved, n, sink, chunks)
        return _write(resolved, n, m.redis)
    finally:
        for i in range(done):
            _release(&resolved[i])
        if resolved != stack_args:
            PyMem_Free(resolved)


cdef Mode HIREDIS_MODE = Mode(
    redis=False, ascii_in_place=True, encoding=NULL, errors=NULL, cutoff=PY_SSIZE_T_MAX
)


def pack_command(cmd):
    """Pack a command into one RESP array of bulk strings, as ``hiredis.pack_command``."""
    if not isinstance(cmd, tuple):
        raise TypeError(
            f"The argument must be a tuple of str, int, float or bytes, not {type(cmd).__name__}."
        )
    return _pack(<tuple>cmd, &HIREDIS_MODE, False)


cdef inline bint _is_whitespace(char c) noexcept nogil:
    return c == c' ' or c'\t' <= c <= c'\r'  # bytes.split()'s separators


cdef enum NameKind:
    N_OTHER = 0  # not ASCII, empty, too long, or with something to split
    N_PLAIN = 1  # an ASCII name with nothing for ``.encode().split()`` to split
    N_UPPER = 2  # the same without lower-case letters (redis-py's spelling)


cdef int _name_kind(str name, Py_ssize_t cutoff) except -1:
    """What a str command name is, in one pass over its characters read in place."""
    cdef const char *ptr
    cdef Py_ssize_t size, i
    cdef int kind = N_UPPER
    if not redispool_ascii(name, &ptr, &size) or size == 0 or size > cutoff:
        return N_OTHER
    for i in range(size):
        if _is_whitespace(ptr[i]):
            return N_OTHER
        if c'a' <= ptr[i] <= c'z':
            kind = N_PLAIN
    return kind


cdef bint _maps_ascii_to_itself(encoding, errors) except -1:
    """Whether ``s.encode(encoding)`` is the ASCII of ``s`` for an ASCII-only ``s``."""
    cdef bytes probe = bytes(range(128))
    try:
        return probe.decode("ascii").encode(encoding, errors) == probe
    except Exception:  # an encoding that cannot even encode ASCII: always call it
        return False


@cython.final
cdef class Packer:
    """redis-py's ``command_packer=`` hook: ``pack(*args)`` returns the chunks to send.

    A Packer belongs to one connection and keeps its reply ledger (see
    ``redispool.ledger``): ``owed`` counts replies of the commands packed and not yet
    read (the connection's ``Parser`` calls ``replied()``), ``demoted`` records a
    READONLY reply, ``fd`` is the connection's socket (``NO_SOCKET`` when unknown or
    closed).
    """

    cdef public long long owed
    cdef public bint demoted
    cdef public int fd
    cdef readonly object encoding, errors  # str, as given
    cdef readonly object buffer_cutoff  # an int, as given; the Mode holds it clamped
    cdef bytes _encoding, _errors  # owned: the Mode's char* point into them
    cdef Mode _mode

    def __cinit__(self, encoding="utf-8", errors="strict", buffer_cutoff=DEFAULT_BUFFER_CUTOFF):
        codecs.lookup(encoding)  # fail here, not on the first command
        codecs.lookup_error(errors)
        self.encoding = encoding
        self.errors = errors
        self.buffer_cutoff = operator.index(buffer_cutoff)
        self._encoding = encoding.encode()
        self._errors = errors.encode()
        self.fd = C_NO_SOCKET
        self._mode = Mode(
            redis=True,
            ascii_in_place=_maps_ascii_to_itself(encoding, errors),
            encoding=self._encoding,
            errors=self._errors,
            cutoff=max(-1, min(self.buffer_cutoff, PY_SSIZE_T_MAX)),
        )

    @property
    def dirty(self):
        """Whether the connection may hold an unread reply, or reached a demoted server."""
        return self.owed != 0 or self.demoted

    @property
    def lend_fd(self):
        """The pools' one question on release: ``fd`` if the connection is clean to lend
        again, else ``DIRTY``."""
        return C_DIRTY if self.owed != 0 or self.demoted else self.fd

    def replied(self):
        """One reply was read."""
        if self.owed:
            self.owed -= 1

    def disconnected(self):
        """The connection closed: nothing is owed on a socket that is gone."""
        self.owed = 0
        self.fd = C_NO_SOCKET

    def __repr__(self):
        return (
            f"Packer(encoding={self.encoding!r}, errors={self.errors!r}, "
            f"buffer_cutoff={self.buffer_cutoff!r})"
        )

    def __reduce__(self):
        return Packer, (self.encoding, self.errors, self.buffer_cutoff)

    def pack(self, *args):
        """Pack one command; multi-word command names (``"CONFIG GET"``) are split. The
        command's reply is owed from now on."""
        return self._pack_one(args, NULL, None)

    def pack_commands(self, commands):
        """Pack many commands (each a tuple, as ``pack`` takes its arguments): the chunks
        ``pack`` returns for each, with the adjacent ones it builds joined into one
        ``bytes`` (values it returns uncopied, those longer than ``buffer_cutoff`` and
        memoryviews, stay chunks of their own). Every command's reply is owed, none if
        one of them cannot be packed (then none is sent)."""
        cdef Sink sink = Sink(NULL, 0, 0)
        cdef list chunks = []
        cdef long long owed = self.owed
        try:
            for args in commands:
                self._pack_one(args if type(args) is tuple else tuple(args), &sink, chunks)
            if sink.len:
                chunks.append(PyBytes_FromStringAndSize(sink.data, sink.len))
        except BaseException:
            self.owed = owed  # nothing of the stack is sent: nothing is owed for it
            raise
        finally:
            PyMem_Free(sink.data)
        return chunks

    cdef object _pack_one(self, tuple args, Sink *sink, list chunks):
        cdef bint name_in_place = False
        cdef bint counted = True
        cdef int kind = N_OTHER
        cdef object packed
        if args:
            name = args[0]
            if type(name) is str:
                kind = _name_kind(name, self._mode.cutoff)
            if kind != N_OTHER:
                name_in_place = True
                # redis-py's upper-case spellings cost one set lookup (CLIENT: two words)
                if kind == N_PLAIN or name in UNCOUNTED or name == "CLIENT":
                    counted = not uncounted(args)
            else:
                counted = not uncounted(args)
                if isinstance(name, str):
                    args = (*name.encode().split(), *args[1:])
                elif type(name) is bytes:
                    if memchr(PyBytes_AS_STRING(name), c' ', PyBytes_GET_SIZE(name)) != NULL:
                        args = (*name.split(), *args[1:])
                elif isinstance(name, (bytes, bytearray)) and b" " in name:
                    args = (*name.split(), *args[1:])
        packed = _pack(args, &self._mode, name_in_place, sink, chunks)
        self.owed = self.owed + 1 if counted else UNCOUNTABLE
        return packed
