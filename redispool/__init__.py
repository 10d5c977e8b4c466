"""redispool: a compiled connection pool, RESP2/RESP3 parser and command packer for redis-py.

``Redis`` is redis-py's client on a compiled command path (its ``pipeline()`` too);
``ConnectionPool``/``BlockingConnectionPool`` are drop-ins for redis-py's pools;
``Reader`` is a drop-in for ``hiredis.Reader``; ``Parser`` and ``Packer`` plug into
redis-py (``parser_class=`` and ``command_packer=``). Each compiled piece has a
pure-Python twin that behaves identically; ``IMPLEMENTATION`` says which one was loaded.
"""

from __future__ import annotations

from ._impl import IMPLEMENTATION, Packer, Reader, pack_command
from .client import Pipeline, Redis
from .errors import HiredisError, ProtocolError, ReplyError, UnhashableKeyError
from .parsers import Parser
from .patch import install, uninstall
from .pool import BlockingConnectionPool, ConnectionPool
from .push import PushNotification
from .stats import PoolStats

__version__ = "0.1.0"

__all__ = (
    "IMPLEMENTATION",
    "BlockingConnectionPool",
    "ConnectionPool",
    "HiredisError",
    "Packer",
    "Parser",
    "Pipeline",
    "PoolStats",
    "ProtocolError",
    "PushNotification",
    "Reader",
    "Redis",
    "ReplyError",
    "UnhashableKeyError",
    "__version__",
    "install",
    "pack_command",
    "uninstall",
)
