"""Pure-Python twin of ``redispool._pack_c``: RESP command packing.

``pack_command(cmd)`` is ``hiredis.pack_command``: one ``bytes``, ``str`` as UTF-8, floats and
exact ints through ``repr()``, ``TypeError`` for anything else (``bool`` and int subclasses
included). Two extensions: it takes ``bytearray`` (hiredis does not), and it packs a
non-contiguous ``memoryview`` as its bytes (hiredis sends the raw memory under the view).

``Packer`` is redis-py's ``command_packer=`` hook. The chunks it returns join to exactly the
bytes of redis-py's ``PythonRespSerializer``: ``str`` in the packer's encoding, ``DataError``
with redis-py's message for ``bool`` and other types, multi-word command names split.
Values longer than ``buffer_cutoff`` and contiguous memoryviews are chunks of their own,
returned uncopied; everything else is coalesced into as few ``bytes`` as possible. Where
redis-py would send a corrupt command, the packer does not: a memoryview's length is its
``nbytes`` (redis-py uses ``len()``, the item count) and a non-contiguous view is sent as
its bytes.
"""

from __future__ import annotations

import codecs
import operator
from collections.abc import Iterable
from typing import Any, Final, TypeAlias

from redis.exceptions import DataError

from .ledger import UNCOUNTABLE, uncounted
from .slot_codes import DIRTY, NO_SOCKET

__all__ = ("Packer", "pack_command")

DEFAULT_BUFFER_CUTOFF: Final = 6000  # redis-py's: larger values travel as their own chunk

Chunk: TypeAlias = "bytes | bytearray | memoryview"


def _hiredis_arg(arg: object) -> bytes:
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, bytearray):
        return bytes(arg)  # a copy: nothing can resize it before the join
    if type(arg) is int or isinstance(arg, float):
        return repr(arg).encode()
    if isinstance(arg, memoryview):
        return arg.tobytes()
    raise TypeError(f"A tuple item must be str, int, float or bytes, not {type(arg).__name__}.")


def pack_command(cmd: tuple[Any, ...]) -> bytes:
    """Pack a command into one RESP array of bulk strings, as ``hiredis.pack_command``."""
    if not isinstance(cmd, tuple):
        raise TypeError(
            f"The argument must be a tuple of str, int, float or bytes, not {type(cmd).__name__}."
        )
    parts = [b"*%d\r\n" % len(cmd)]
    for arg in cmd:
        data = _hiredis_arg(arg)
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class Packer:
    """redis-py's ``command_packer=`` hook: ``pack(*args)`` returns the chunks to send.

    A Packer belongs to one connection and keeps its reply ledger (see
    ``redispool.ledger``): ``owed`` counts replies of the commands packed and not yet
    read (the connection's ``Parser`` calls ``replied()``), ``demoted`` records a
    READONLY reply, ``fd`` is the connection's socket (``NO_SOCKET`` when unknown or
    closed).
    """

    __slots__ = ("_buffer_cutoff", "_encoding", "_errors", "demoted", "fd", "owed")

    def __init__(
        self,
        encoding: str = "utf-8",
        errors: str = "strict",
        buffer_cutoff: int = DEFAULT_BUFFER_CUTOFF,
    ) -> None:
        codecs.lookup(encoding)  # fail here, not on the first command
        codecs.lookup_error(errors)
        self._encoding = encoding
        self._errors = errors
        self._buffer_cutoff = operator.index(buffer_cutoff)
        self.owed = 0
        self.demoted = False
        self.fd = NO_SOCKET

    @property
    def dirty(self) -> bool:
        """Whether the connection may hold an unread reply, or reached a demoted server."""
        return bool(self.owed or self.demoted)

    @property
    def lend_fd(self) -> int:
        """The pools' one question on release: ``fd`` if the connection is clean to lend
        again, else ``DIRTY``."""
        return DIRTY if self.owed or self.demoted else self.fd

    def replied(self) -> None:
        """One reply was read."""
        if self.owed:
            self.owed -= 1

    def disconnected(self) -> None:
        """The connection closed: nothing is owed on a socket that is gone."""
        self.owed = 0
        self.fd = NO_SOCKET

    @property
    def encoding(self) -> str:
        return self._encoding

    @property
    def errors(self) -> str:
        return self._errors

    @property
    def buffer_cutoff(self) -> int:
        return self._buffer_cutoff

    def __repr__(self) -> str:
        return (
            f"Packer(encoding={self._encoding!r}, errors={self._errors!r}, "
            f"buffer_cutoff={self._buffer_cutoff!r})"
        )

    def __reduce__(self) -> tuple[type[Packer], tuple[str, str, int]]:
        return Packer, (self._encoding, self._errors, self._buffer_cutoff)

    def pack(self, *args: Any) -> list[Chunk]:
        """Pack one command; multi-word command names (``"CONFIG GET"``) are split. The
        command's reply is owed from now on."""
        chunks = self._pack(args)
        self.owed = UNCOUNTABLE if uncounted(args) else self.owed + 1
        return chunks

    def pack_commands(self, commands: Iterable[Iterable[Any]]) -> list[Chunk]:
        """Pack many commands (each a tuple, as ``pack`` takes its arguments): the chunks
        ``pack`` returns for each, with the adjacent ones it builds joined into one
        ``bytes`` (values it returns uncopied, those longer than ``buffer_cutoff`` and
        memoryviews, stay chunks of their own). Every command's reply is owed, none if
        one of them cannot be packed (then none is sent)."""
        out: list[Chunk] = []
        run: list[Chunk] = []
        owed = self.owed
        try:
            for args in commands:
                # pack's chunks alternate: bytes it built, a value, bytes it built, ...
                for i, chunk in enumerate(self.pack(*args)):
                    if i % 2:
                        out += (b"".join(run), chunk)
                        run = []
                    else:
                        run.append(chunk)
        except BaseException:
            self.owed = owed  # nothing of the stack is sent: nothing is owed for it
            raise
        if run:
            out.append(b"".join(run))
        return out

    def _pack(self, args: tuple[Any, ...]) -> list[Chunk]:
        if args:
            name = args[0]
            if isinstance(name, str):  # always UTF-8, as redis-py
                args = (*name.encode().split(), *args[1:])
            elif isinstance(name, (bytes, bytearray)) and b" " in name:
                args = (*name.split(), *args[1:])
        cutoff = self._buffer_cutoff
        chunks: list[Chunk] = []
        buff: list[bytes | bytearray] = [b"*%d\r\n" % len(args)]
        held: list[memoryview] = []  # exports: a large bytearray cannot be resized meanwhile
        try:
            for arg in args:
                data: bytes | bytearray
                if isinstance(arg, str):
                    data = arg.encode(self._encoding, self._errors)
                elif isinstance(arg, bytes):
                    data = arg
                elif isinstance(arg, (int, float)) and not isinstance(arg, bool):
                    data = repr(arg).encode()  # never a chunk of its own
                    buff += (b"$%d\r\n" % len(data), data, b"\r\n")
                    continue
                elif isinstance(arg, bytearray):
                    if len(arg) > cutoff:
                        held.append(memoryview(arg))
                        data = arg
                    else:
                        data = bytes(arg)
                elif isinstance(arg, memoryview):
                    if arg.c_contiguous:
                        buff.append(b"$%d\r\n" % arg.nbytes)
                        chunks += (b"".join(buff), arg)
                        buff = [b"\r\n"]
                        continue
                    data = arg.tobytes()
                else:
                    raise DataError(
                        f"Invalid input of type: '{type(arg).__name__}'. "
                        "Convert to a bytes, string, int or float first."
                    )
                size = len(data)
                if size > cutoff:
                    buff.append(b"$%d\r\n" % size)
                    chunks += (b"".join(buff), data)
                    buff = [b"\r\n"]
                else:
                    buff += (b"$%d\r\n" % size, data, b"\r\n")
        finally:
            for view in held:
                view.release()
        chunks.append(b"".join(buff))
        return chunks
