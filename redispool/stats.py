"""``PoolStats``: one consistent snapshot of a pool's counters and gauges."""

from __future__ import annotations

from typing import NamedTuple


class PoolStats(NamedTuple):
    """Counters since the pool was created (they survive ``reset()`` and forks) and the
    gauges at the moment of the snapshot.

    ``hits``/``misses`` count checkouts that found an idle connection or had to create
    one; ``waits``, ``wait_time`` (seconds, total) and ``max_wait_time`` describe
    checkouts that found the pool at ``max_connections``; ``timeouts`` those that gave up.
    ``closed`` counts connections removed from the pool for any reason, ``stale_closed``
    those removed by ``idle_timeout``/``max_lifetime``/``max_idle``, and ``dirty_closed``
    the disconnects of connections released with a reply possibly unread.

    The gauges count sockets: ``idle`` the idle connections with an open socket,
    ``idle_closed`` those kept without one (disconnected, reconnected on checkout), and
    ``in_use`` the connections lent out; ``idle + idle_closed + in_use == created - closed``.
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
