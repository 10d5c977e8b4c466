"""redis-py's pool metrics (its OpenTelemetry recorder), reported by redispool's pools.

redis-py's pools record connection counts by state, connection creation times and
checkout wait times through ``redis.observability.recorder`` (sync) and
``redis.asyncio.connection``'s async recorder functions; redispool's pools report the same
events under the same names, so existing dashboards keep working. Every function here is
called only while a metrics collector is enabled: the pools test that inline (one global
read) and skip the call otherwise. The asyncio pools record what redis-py's asyncio pools
record, which is less than the sync ones do (no idle counts).
"""

from __future__ import annotations

from time import monotonic
from typing import Any

import redis.asyncio.connection as _aconnection
import redis.observability.recorder as _recorder
from redis.observability.attributes import ConnectionState, get_pool_name

IDLE, USED = ConnectionState.IDLE, ConnectionState.USED


def _count(pool_name: str, state: Any, counter: int) -> None:
    _recorder.record_connection_count(pool_name=pool_name, connection_state=state, counter=counter)


def created(pool: Any) -> None:
    """A new connection (made idle: the checkout that made it moves it to used)."""
    _count(get_pool_name(pool), IDLE, 1)


def checked_out(pool: Any, started: float) -> None:
    """A checkout on the slow path; ``started`` is when it began making a connection
    (0: it made none)."""
    name = get_pool_name(pool)
    _count(name, IDLE, -1)
    _count(name, USED, 1)
    if started:
        _recorder.record_connection_create_time(
            connection_pool=pool, duration_seconds=monotonic() - started
        )


def released(pool: Any) -> None:
    name = get_pool_name(pool)
    _count(name, USED, -1)
    _count(name, IDLE, 1)


def released_foreign() -> None:
    """A connection a custom ``owns_connection`` disowned (redis-py's name for its pool)."""
    _count("unknown_pool", USED, -1)


def waited(pool: Any, started: float) -> None:
    _recorder.record_connection_wait_time(
        pool_name=get_pool_name(pool), duration_seconds=monotonic() - started
    )


async def acreated(pool: Any, started: float) -> None:
    await _aconnection.record_connection_create_time(
        connection_pool=pool, duration_seconds=monotonic() - started
    )


async def achecked_out(pool: Any) -> None:
    await _aconnection.record_connection_count(
        pool_name=get_pool_name(pool), connection_state=USED, counter=1
    )


async def areleased(pool: Any) -> None:
    await _aconnection.record_connection_count(
        pool_name=get_pool_name(pool), connection_state=USED, counter=-1
    )


async def awaited(pool: Any, started: float) -> None:
    await _aconnection.record_connection_wait_time(
        pool_name=get_pool_name(pool), duration_seconds=monotonic() - started
    )
