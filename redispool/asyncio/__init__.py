"""redispool for ``redis.asyncio``: ``AsyncParser`` and the asyncio pools."""

from __future__ import annotations

from .parser import AsyncParser
from .pool import BlockingConnectionPool, ConnectionPool

__all__ = ("AsyncParser", "BlockingConnectionPool", "ConnectionPool")
