"""redispool: a compiled RESP2/RESP3 parser and command packer for redis-py.

``Reader`` is a drop-in for ``hiredis.Reader``; ``Parser`` and ``Packer`` plug into
redis-py (``parser_class=`` and ``command_packer=``). Each has a pure-Python twin that
behaves identically; ``IMPLEMENTATION`` says which one was loaded.
"""

from __future__ import annotations

from ._impl import IMPLEMENTATION, Packer, Reader, pack_command
from .errors import HiredisError, ProtocolError, ReplyError
from .parsers import Parser
from .push import PushNotification

__version__ = "0.1.0"

__all__ = (
    "IMPLEMENTATION",
    "HiredisError",
    "Packer",
    "Parser",
    "ProtocolError",
    "PushNotification",
    "Reader",
    "ReplyError",
    "__version__",
    "pack_command",
)
