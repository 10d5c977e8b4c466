"""redis-py's private pool containers, as snapshots that write through.

redis-py's own code and tests read ``pool._available_connections`` (a list) and
``pool._in_use_connections`` (a set), and its tests add connections to them by hand.
Here the slot array is the truth: these views are copies taken when the attribute is
read, and ``append``/``extend``/``add``/``update`` hand the connections to the pool
instead of to the copy. The blocking pool's ``_connections`` (a list of every connection)
and ``pool`` (a ``LifoQueue`` of idle connections and ``None`` placeholders) are views
of the same kind.
"""

from __future__ import annotations

from collections import deque
from queue import Empty, Full
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError

from . import _compat, handover
from .slot_codes import CLOSE, FULL, NEW, RENEW
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

    lent = False  #: how ``append``/``extend`` hand the pool a connection

    def __init__(self, slots: Any, connections: list[Any]) -> None:
        super().__init__(connections)
        self._slots = slots

    def append(self, conn: Any) -> None:
        super().append(conn)
        adopt(self._slots, conn, idle=not self.lent)

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
    ``_in_use_connections`` and their getters) as views of the pool's slot array, the
    maintenance handler held so that it refers to its pool weakly, and the pool's
    ``stats()``; shared by the sync and asyncio pools. redis-py's ``__init__`` assigns the
    containers: the setters ignore that, the slot array being the truth."""

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

    @property  # redis-py's; its pool reference is weak (``_compat.weak_pool_handler``)
    def _maint_notifications_pool_handler(self) -> Any:
        return getattr(self, "_rp_maint_handler", None)

    @_maint_notifications_pool_handler.setter
    def _maint_notifications_pool_handler(self, handler: Any) -> None:
        self._rp_maint_handler = _compat.weak_pool_handler(handler)

    def stats(self) -> PoolStats:
        """Counters and gauges of this pool (see ``redispool.PoolStats``)."""
        stats: PoolStats = self._slots.stats()
        return stats


class AllView(IdleView):
    """The blocking pool's ``_connections``: every connection, idle or lent. In redis-py a
    connection in this list and not in the queue is in use, so ``append``/``extend``
    hand the pool a connection as lent out."""

    lent = True


class QueueView:
    """The blocking pool's ``pool``: in redis-py a ``LifoQueue`` of ``max_connections``
    items, each an idle connection or ``None`` (room for one more connection), from which
    a checkout takes an item and to which a release puts one back.

    This one is live: ``qsize``/``empty``/``full`` and ``queue`` (a snapshot) read the
    slot array, and the queue operations act on it. ``get`` takes the next idle
    connection (then lent out), else a ``None`` (a slot reserved for a connection made by
    the caller), else raises ``queue.Empty`` (or waits, as the pool waits, when
    ``block``). ``put`` gives back a lent connection, puts a new one into a slot a
    ``get`` reserved (or into a free one), and a ``None`` gives back a reserved slot; it
    raises ``queue.Full`` when there is no room (where a blocking ``put`` on redis-py's
    queue would wait for a ``get``).
    """

    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @property
    def maxsize(self) -> int:
        return int(self._pool._slots.capacity)

    def qsize(self) -> int:
        slots = self._pool._slots
        return int(slots.idle_count + slots.capacity - slots.size)

    def empty(self) -> bool:
        return self.qsize() <= 0

    def full(self) -> bool:
        return self.qsize() >= self.maxsize

    @property
    def queue(self) -> deque[Any]:
        """The items, as redis-py's queue holds them: the next to be taken last (first
        for a FIFO pool)."""
        slots = self._pool._slots
        idle = slots.idle_connections()  # coldest first
        room = [None] * max(0, slots.capacity - slots.size)
        return deque(idle + room if self._pool.fifo else room + idle)

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        pool = self._pool
        if block and timeout is not None and timeout < 0:
            raise ValueError("'timeout' must be a non-negative number")
        code, item = pool._slots.checkout()
        if code == FULL:
            if not block:
                raise Empty
            try:
                code, item = pool._wait(timeout)
            except RedisConnectionError:
                raise Empty from None
        if code == NEW:
            pool._taken.append(item)
            return None
        if code == RENEW:  # past max_lifetime or idle_timeout
            item.disconnect()
        return item

    def get_nowait(self) -> Any:
        return self.get(block=False)

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        pool = self._pool
        slots = pool._slots
        if item is None:
            try:
                slot = pool._taken.pop()
            except IndexError:
                if self.full():
                    raise Full from None
                return  # room for it only while a connection is lent: nothing to record
            slots.cancel(slot)
            pool._notify()
            return
        if not slots.in_use(item):
            if any(c is item for c in slots.idle_connections()):
                if self.full():
                    raise Full
                return  # queued already
            try:
                slot = pool._taken.pop()
            except IndexError:
                slot = slots.reserve()
                if slot < 0:
                    raise Full from None
            try:
                slots.fill(slot, item)
            except BaseException:
                slots.cancel(slot)
                raise
        released = handover.decode(slots, item, slots.release(item))
        for conn in released.close:  # max_idle says no more idle ones, or reaped
            conn.disconnect()
        if released.wake:
            pool._notify()

    def put_nowait(self, item: Any) -> None:
        self.put(item, block=False)
