"""Stub of the compiled twin of ``redispool._reader_py`` (``src_c/_reader_c.pyx``).

mypy checks it against ``redispool._protocols.ReaderProtocol``; ``make lint`` checks it
against the built module with ``mypy.stubtest``.
"""

from collections.abc import Callable
from typing import Any

from typing_extensions import disjoint_base

__all__ = ("DEFAULT_MAX_BULK_LEN", "DEFAULT_MAX_DEPTH", "MAX_BULK_LEN_LIMIT", "Reader")

__cython_version__: str
DEFAULT_MAX_BULK_LEN: int
DEFAULT_MAX_DEPTH: int
MAX_BULK_LEN_LIMIT: int

@disjoint_base  # not final: hiredis's Reader can be subclassed
class Reader:
    def __init__(
        self,
        protocolError: Callable[[str], BaseException] = ...,  # noqa: N803
        replyError: Callable[[str], Any] = ...,  # noqa: N803
        encoding: str | None = None,
        errors: str | None = None,
        notEnoughData: Any = False,  # noqa: N803
        *,
        max_bulk_len: int = ...,
        max_depth: int = ...,
    ) -> None: ...
    def set_encoding(self, encoding: str | None = None, errors: str | None = None) -> None: ...
    def setmaxbuf(self, maxbuf: int | None) -> None: ...
    def getmaxbuf(self) -> int: ...
    def feed(self, buf: Any, off: int = 0, len: int = -1) -> None: ...  # noqa: A002
    def len(self) -> int: ...
    def has_data(self) -> bool: ...
    def gets(self, shouldDecode: bool = True) -> Any: ...  # noqa: N803
