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


#: The fused command path's entry points: ``redispool.Redis.execute_command`` and the two
#: functions ``redispool.Pipeline`` calls (looked up in ``redispool.client`` at call time).
FUSED_ENTRIES = ("execute_command", "run_pipeline", "run_transaction")


def use_command_twin(monkeypatch: Any, module: Any) -> None:
    """Make ``redispool.Redis`` and its ``Pipeline`` run ``module``'s fused path (a
    ``redispool._command_c``/``_command_py``)."""
    import redispool.client

    monkeypatch.setattr(redispool.client.Redis, "execute_command", module.execute_command)
    monkeypatch.setattr(redispool.client.Pipeline, "execute_command", module.pipeline_command)
    monkeypatch.setattr(redispool.client, "run_pipeline", module.run_pipeline)
    monkeypatch.setattr(redispool.client, "run_transaction", module.run_transaction)


def count_fused(monkeypatch: Any) -> dict[str, int]:
    """How often each of ``FUSED_ENTRIES`` is entered from now on (a count, nothing else:
    whether the entry then takes redis-py's path is not told apart)."""
    import redispool.client

    counts = dict.fromkeys(FUSED_ENTRIES, 0)
    owners: dict[str, Any] = {
        "execute_command": redispool.client.Redis,
        "run_pipeline": redispool.client,
        "run_transaction": redispool.client,
    }
    for name, owner in owners.items():
        original = getattr(owner, name) if owner is redispool.client else vars(owner)[name]

        def counting(*args: Any, _name: str = name, _original: Any = original, **kw: Any) -> Any:
            counts[_name] += 1
            return _original(*args, **kw)

        monkeypatch.setattr(owner, name, counting)
    return counts
