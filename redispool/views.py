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
