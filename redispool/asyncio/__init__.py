"""redispool for ``redis.asyncio``: the client (``Redis``, with auto-pipelining),
``AsyncParser`` and the asyncio pools."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .parser import AsyncParser
from .pool import BlockingConnectionPool, ConnectionPool

if TYPE_CHECKING:
    from .client import Pipeline, Redis

__all__ = ("AsyncParser", "BlockingConnectionPool", "ConnectionPool", "Pipeline", "Redis")


def __getattr__(name: str) -> Any:
    """The client classes, imported on first use: their command path (chosen by
    ``redispool._impl``) imports this package's parser and I/O modules."""
    if name in ("Pipeline", "Redis"):
        from . import client

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
