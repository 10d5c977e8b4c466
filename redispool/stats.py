"""``PoolStats``: one consistent snapshot of a pool's counters and gauges, and the bounds
of its wait-time histogram (``WAIT_BUCKETS``), which both slot-array twins record into."""

from __future__ import annotations

from typing import NamedTuple

#: Upper bounds, in seconds, of the wait-time histogram's buckets (``PoolStats.wait_buckets``):
#: a wait of ``w`` seconds counts in the first bucket whose bound is ``>= w``, or in the
#: last, unbounded one. The same bounds as redis-py's default for its
#: ``db.client.connection.wait_time`` histogram (``OTelConfig.buckets_connection_wait_time``).
#: Both slot-array twins read them from here (the compiled one when it is imported).
WAIT_BUCKETS: tuple[float, ...] = (
    0.0001,
    0.0005,
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    5.0,
    10.0,
)

_NO_WAITS: tuple[int, ...] = (0,) * (len(WAIT_BUCKETS) + 1)


class PoolStats(NamedTuple):
    """Counters since the pool was created (they survive ``reset()`` and forks) and the
    gauges at the moment of the snapshot.

    ``hits``/``misses`` count checkouts that found an idle connection (or, asyncio, were
    handed one straight from a release) or had to create one; ``waits``, ``wait_time``
    (seconds, total) and ``max_wait_time`` describe checkouts that found the pool at
    ``max_connections``; ``timeouts`` those that gave up.
    ``closed`` counts connections removed from the pool for any reason, ``stale_closed``
    those removed by ``idle_timeout``/``max_lifetime``/``max_idle``, and ``dirty_closed``
    the disconnects of connections released with a reply possibly unread.

    The gauges count sockets: ``idle`` the idle connections with an open socket,
    ``idle_closed`` those kept without one (disconnected, reconnected on checkout), and
    ``in_use`` the connections lent out; ``idle + idle_closed + in_use == created - closed``.
    ``max`` is ``max_connections``.

    Added later, at the end (positional users are unaffected): ``max_in_use``, the most
    connections ever lent out at once (the high-water mark of ``in_use``), and
    ``wait_buckets``, the wait-time histogram: how many of the ``waits`` (timed out or not)
    lasted up to each bound of ``WAIT_BUCKETS`` (one count per bucket, not cumulative),
    then how many lasted longer; ``sum(wait_buckets) == waits``. A checkout that finds a
    connection at once does not wait and is in neither.
    """

    hits: int
    misses: int
    waits: int
    wait_time: float
    max_wait_time: float
    timeouts: int
    created: int
    closed: int
    stale_closed: int
    dirty_closed: int
    idle: int
    idle_closed: int
    in_use: int
    max: int
    max_in_use: int = 0
    wait_buckets: tuple[int, ...] = _NO_WAITS
