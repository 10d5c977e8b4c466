"""redis-py's private pool containers, as snapshots that write through.

redis-py's own code and tests read ``pool._available_connections`` (a list) and
``pool._in_use_connections`` (a set), and its tests add connections to them by hand.
Here the slot array is the truth: these views are copies taken when the attribute is
read, and ``append``/``extend``/``add``/``update`` hand the connections to the pool
instead of to the copy.
"""

from __future__ import annotations

from typing import Any

from redis.exceptions import MaxConnectionsError

from .slot_codes import CLOSE
from .stats import PoolStats


def adopt(slots: Any, conn: Any, idle: bool) -> None:
    """Put a connection made outside the pool into ``slots``, idle or in use (one the
    pool already holds is left as it is, as adding it to a set would)."""
    if slots.in_use(conn) or any(c is conn for c in slots.idle_connections()):
        return
    slot = slots.reserve()
    if slot < 0:
        raise MaxConnectionsError("Too many connections")
    try:
        slots.fill(slot, conn)
    except BaseException:
        slots.cancel(slot)
        raise
    if idle and slots.release(conn) & CLOSE:  # max_idle says no more idle ones
        conn.disconnect()


class IdleView(list):  # type: ignore[type-arg]
    """``_available_connections``: the idle connections, the next one to be lent last."""

    def __init__(self, slots: Any, connections: list[Any]) -> None:
        super().__init__(connections)
        self._slots = slots

    def append(self, conn: Any) -> None:
        super().append(conn)
        adopt(self._slots, conn, idle=True)

    def extend(self, connections: Any) -> None:
        for conn in connections:
            self.append(conn)


class BusyView(set):  # type: ignore[type-arg]
    """``_in_use_connections``: the connections lent out."""

    def __init__(self, slots: Any, connections: list[Any]) -> None:
        super().__init__(connections)
        self._slots = slots

    def add(self, conn: Any) -> None:
        super().add(conn)
        adopt(self._slots, conn, idle=False)

    def update(self, *others: Any) -> None:
        for connections in others:
            for conn in connections:
                self.add(conn)


class SlotViews:
    """redis-py's private pool containers (``_available_connections``,
    ``_in_use_connections`` and their getters) as views of the pool's slot array, and the
    pool's ``stats()``; shared by the sync and asyncio pools. redis-py's ``__init__``
    assigns the containers: the setters ignore that, the slot array being the truth."""

    _slots: Any
    fifo: bool

    @property
    def _available_connections(self) -> list[Any]:
        """Idle connections, the next one to be handed out last (as in redis-py)."""
        idle: list[Any] = self._slots.idle_connections()
        if self.fifo:
            idle.reverse()
        return IdleView(self._slots, idle)

    @_available_connections.setter
    def _available_connections(self, value: Any) -> None:
        pass

    @property
    def _in_use_connections(self) -> set[Any]:
        return BusyView(self._slots, self._slots.busy_connections())

    @_in_use_connections.setter
    def _in_use_connections(self, value: Any) -> None:
        pass

    def _get_free_connections(self) -> Any:
        return self._available_connections

    def _get_in_use_connections(self) -> set[Any]:
        return self._in_use_connections

    def stats(self) -> PoolStats:
        """Counters and gauges of this pool (see ``redispool.PoolStats``)."""
        stats: PoolStats = self._slots.stats()
        return stats
