"""Stub of the compiled twin of ``redispool._pack_py`` (``src_c/_pack_c.pyx``).

mypy checks it against ``redispool._protocols.PackerProtocol``; ``make lint`` checks it
against the built module with ``mypy.stubtest``.
"""

from typing import Any, final

from typing_extensions import Self

from ._pack_py import Chunk

__all__ = ("Packer", "pack_command")

DEFAULT_BUFFER_CUTOFF: int

def pack_command(cmd: tuple[Any, ...]) -> bytes: ...

@final  # @cython.final
class Packer:
    owed: int
    demoted: bool
    fd: int
    @property
    def encoding(self) -> str: ...
    @property
    def errors(self) -> str: ...
    @property
    def buffer_cutoff(self) -> int: ...
    def __new__(  # __cinit__
        cls, encoding: str = "utf-8", errors: str = "strict", buffer_cutoff: int = ...
    ) -> Self: ...
    @property
    def dirty(self) -> bool: ...
    @property
    def lend_fd(self) -> int: ...
    def replied(self) -> None: ...
    def disconnected(self) -> None: ...
    def __reduce__(self) -> tuple[type[Packer], tuple[str, str, int]]: ...
    def pack(self, *args: Any) -> list[Chunk]: ...
