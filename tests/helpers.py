"""What several test modules share: the stats invariant and a connection without a network."""

from __future__ import annotations

import os
from typing import Any

from redispool import PoolStats


def balanced(stats: PoolStats) -> bool:
    """Every connection ever made is idle (open or not), in use, or counted as closed."""
    return stats.idle + stats.idle_closed + stats.in_use == stats.created - stats.closed


class Dummy:
    """A connection that never touches the network (as in redis-py's pool tests)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.pid = os.getpid()
        self._sock: Any = None

    def connect(self) -> None:
        self._sock = object()

    def disconnect(self) -> None:
        self._sock = None

    def can_read(self) -> bool:
        return False

    def should_reconnect(self) -> bool:
        return False

    def re_auth(self) -> None:
        pass
