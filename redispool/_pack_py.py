"""Pure-Python twin of ``redispool._pack_c``: RESP command packing.

``pack_command`` is ``hiredis.pack_command`` (one ``bytes``, UTF-8, ``TypeError``);
``Packer`` is the redis-py ``command_packer=`` hook: it honours the connection's
encoding, returns large values as separate chunks without copying them, and raises
redis-py's ``DataError`` with redis-py's messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import DataError

__all__ = ("Packer", "pack_command")

DEFAULT_BUFFER_CUTOFF = 6000  # redis-py's: larger values travel as their own chunk

Chunk = bytes | memoryview


def _hiredis_arg(arg: Any) -> bytes:
    if isinstance(arg, bytes):
        return arg
    if isinstance(arg, str):
        return arg.encode()
    if isinstance(arg, memoryview):
        return arg.tobytes()  # also right for non-contiguous views, unlike hiredis
    if isinstance(arg, bytearray):
        return bytes(arg)
    if type(arg) is int or isinstance(arg, float):
        return repr(arg).encode()
    raise TypeError(f"A tuple item must be str, int, float or bytes, not {type(arg).__name__}.")


def pack_command(cmd: tuple[Any, ...]) -> bytes:
    """Pack a command into one RESP array of bulk strings, as ``hiredis.pack_command``."""
    if not isinstance(cmd, tuple):
        raise TypeError("The argument must be a tuple of str, int, float or bytes.")
    parts = [b"*%d\r\n" % len(cmd)]
    for arg in cmd:
        data = _hiredis_arg(arg)
        parts += (b"$%d\r\n" % len(data), data, b"\r\n")
    return b"".join(parts)


class Packer:
    """redis-py's ``command_packer=`` hook: ``pack(*args)`` returns the chunks to send."""

    __slots__ = ("buffer_cutoff", "encoding", "errors")

    def __init__(
        self,
        encoding: str = "utf-8",
        errors: str = "strict",
        buffer_cutoff: int = DEFAULT_BUFFER_CUTOFF,
    ) -> None:
        self.encoding = encoding
        self.errors = errors
        self.buffer_cutoff = buffer_cutoff

    def _arg(self, arg: Any) -> Chunk:
        if isinstance(arg, bytes):
            return arg
        if isinstance(arg, memoryview):
            return arg if arg.c_contiguous else arg.tobytes()
        if isinstance(arg, str):
            return arg.encode(self.encoding, self.errors)
        if isinstance(arg, bytearray):
            return bytes(arg)
        if isinstance(arg, (int, float)) and not isinstance(arg, bool):
            return repr(arg).encode()
        raise DataError(
            f"Invalid input of type: '{type(arg).__name__}'. "
            "Convert to a bytes, string, int or float first."
        )

    def pack(self, *args: Any) -> list[Chunk]:
        """Pack one command; multi-word command names (``"CONFIG GET"``) are split."""
        command: Sequence[Any] = args
        if args:
            name = args[0]
            if isinstance(name, str):
                command = (*name.encode().split(), *args[1:])
            elif isinstance(name, bytes) and b" " in name:
                command = (*name.split(), *args[1:])
        chunks: list[Chunk] = []
        buff = [b"*%d\r\n" % len(command)]
        cutoff = self.buffer_cutoff
        for arg in command:
            data = self._arg(arg)
            size = data.nbytes if isinstance(data, memoryview) else len(data)
            if size > cutoff or isinstance(data, memoryview):
                buff.append(b"$%d\r\n" % size)
                chunks += (b"".join(buff), data)
                buff = [b"\r\n"]
            else:
                buff += (b"$%d\r\n" % size, data, b"\r\n")
        chunks.append(b"".join(buff))
        return chunks
