"""redis-py's pool metrics (its OpenTelemetry recorder), reported by redispool's pools.

redis-py's pools record connection counts by state (``db.client.connection.count``, an
up-down counter with the pool's name and ``state`` idle or used), connection creation
times (``db.client.connection.create_time``) and checkout wait times
(``db.client.connection.wait_time``) through ``redis.observability.recorder`` (sync) and
the asyncio recorder functions ``redis.asyncio.connection`` imports; redispool's pools
report under the same names through the same functions, so existing dashboards keep
working. They also count checkouts that timed out (``db.client.connection.timeouts``,
redis-py's instrument, which redis-py's own pools never record).

The counts follow the slot array rather than replaying events: each report moves the
pool's series to the array's gauges (idle: ``idle + idle_closed`` of ``stats()``, used:
``in_use``) by adding the difference from what the pool reported last, idle decrements
first, as redis-py records a checkout. Whatever happened between two reports (a
connection closed by ``max_idle`` or ``idle_timeout``, a ``reset()``, checkouts made before
redis-py made its collector), the next report settles it, so the exported counts equal
``stats()`` whenever the pool is quiet. A connection being made counts as idle until its
checkout reports, as in redis-py.

Every function here runs only while a metrics collector is enabled: the pools test that
inline (one global read) and skip the call otherwise.
"""

from __future__ import annotations

import threading
from contextlib import suppress
from time import monotonic
from typing import Any

import redis.asyncio.connection as _aconnection
import redis.asyncio.observability.recorder as _arecorder
import redis.observability.recorder as _recorder
from redis.observability.attributes import ConnectionState, get_pool_name

IDLE, USED = ConnectionState.IDLE, ConnectionState.USED


def pool_name(pool: Any) -> str:
    """The ``pool`` label of ``redispool.metrics``: the pool's ``name=``, else redis-py's
    name for it (``host:port_id``). redis-py's OpenTelemetry metrics always carry
    redis-py's name (it computes the name itself for some of them)."""
    return getattr(pool, "name", None) or get_pool_name(pool)


class Reported:
    """What a pool last reported as its idle and used counts (``pool._rp_reported``, set
    by the pools' constructors)."""

    __slots__ = ("idle", "lock", "used")

    def __init__(self) -> None:
        self.idle = self.used = 0
        self.lock = threading.Lock()

    @property
    def any(self) -> bool:
        return bool(self.idle or self.used)


def _reported(pool: Any) -> Reported:
    state: Reported = pool._rp_reported
    return state


def _deltas(pool: Any, extra_idle: int = 0) -> list[tuple[Any, int]]:
    """Move the pool's reported counts to its slot array's (plus ``extra_idle``), and say
    by how much, decrements first. The caller holds the pool's report lock (sync)."""
    state = _reported(pool)
    slots = pool._slots
    idle, used = slots.idle_count + extra_idle, slots.busy_count
    changes = [(IDLE, idle - state.idle), (USED, used - state.used)]
    state.idle, state.used = idle, used
    changes.sort(key=lambda change: change[1])
    return [change for change in changes if change[1]]


def _count(pool_name: str, state: Any, counter: int) -> None:
    _recorder.record_connection_count(pool_name=pool_name, connection_state=state, counter=counter)


def counts(pool: Any) -> None:
    """Bring the pool's ``db.client.connection.count`` series to its slot array's gauges."""
    name = get_pool_name(pool)
    with _reported(pool).lock:
        for state, change in _deltas(pool):
            _count(name, state, change)


def created(pool: Any) -> None:
    """A new connection, counted idle until its checkout reports (redis-py's order). This
    also makes redis-py's collector if observability is on and none was made yet."""
    state = _reported(pool)
    with state.lock:
        state.idle += 1
        _count(get_pool_name(pool), IDLE, 1)


def checked_out(pool: Any, started: float, began: float) -> None:
    """A checkout with metrics on; ``started`` is when it began making a connection (0: it
    made none), ``began`` when the checkout began (0: no wait time is recorded: only the
    blocking pool records one, for every checkout, as redis-py's does)."""
    counts(pool)
    now = monotonic()
    if started:
        _recorder.record_connection_create_time(
            connection_pool=pool, duration_seconds=now - started
        )
    if began:
        _recorder.record_connection_wait_time(
            pool_name=get_pool_name(pool), duration_seconds=now - began
        )


def timed_out(pool: Any) -> None:
    """A checkout that gave up waiting (``db.client.connection.timeouts``)."""
    _recorder.record_connection_timeout(pool_name=get_pool_name(pool))


def dropped(pool: Any) -> None:
    """The pool is going away (``__del__``): take its counts off, as redis-py's pools
    do. Never raises."""
    state = getattr(pool, "_rp_reported", None)
    if state is None or not state.any:
        return
    with suppress(Exception):
        name = get_pool_name(pool)
        for conn_state, change in ((IDLE, -state.idle), (USED, -state.used)):
            if change:
                _count(name, conn_state, change)
        state.idle = state.used = 0


# ---- asyncio: the same through redis-py's asyncio recorder ----------------------------------


async def acounts(pool: Any) -> None:
    """``counts`` for an asyncio pool (one event loop: no lock)."""
    name = get_pool_name(pool)
    for state, change in _deltas(pool):
        await _aconnection.record_connection_count(
            pool_name=name, connection_state=state, counter=change
        )


async def acreated(pool: Any, started: float) -> None:
    await _aconnection.record_connection_create_time(
        connection_pool=pool, duration_seconds=monotonic() - started
    )


async def awaited(pool: Any, started: float) -> None:
    await _aconnection.record_connection_wait_time(
        pool_name=get_pool_name(pool), duration_seconds=monotonic() - started
    )


async def atimed_out(pool: Any) -> None:
    await _arecorder.record_connection_timeout(pool_name=get_pool_name(pool))
