"""Pool metrics for Prometheus: every live pool's ``stats()``, scraped.

Every redispool pool (sync and asyncio, and the Sentinel pool) is tracked here from its
construction, weakly: a pool you drop is gone from the next scrape and is never kept
alive by it. ``PrometheusCollector`` is a custom collector for ``prometheus_client``
(the ``redispool[prometheus]`` extra), used the way that library expects::

    from prometheus_client import REGISTRY
    from redispool.metrics import PrometheusCollector

    REGISTRY.register(PrometheusCollector())

Each scrape reads each pool's ``stats()`` (one snapshot, no lock on the pool's fast path)
and reports it with a ``pool`` label: the ``name=`` the pool was given, else redis-py's
name for it (``host:port_id``; redis-py's asyncio pools have no id: ``host:port``). Pools
that share a name are reported as one: their numbers add up (``max_wait_seconds``: the
longest). ``PoolStats`` field by field:

=====================================  ==========================================
``hits``, ``misses``                   ``redispool_pool_hits_total``, ``..._misses_total``
``waits``, ``wait_time``,              ``redispool_pool_wait_seconds`` (histogram:
``wait_buckets``                       ``_count``, ``_sum``, ``_bucket{le=...}``)
``max_wait_time``                      ``redispool_pool_max_wait_seconds`` (gauge)
``timeouts``                           ``redispool_pool_timeouts_total``
``created``, ``closed``,               ``redispool_pool_connections_created_total``,
``stale_closed``, ``dirty_closed``     ``..._closed_total``, ``..._stale_closed_total``,
                                       ``..._dirty_closed_total``
``idle``, ``idle_closed``, ``in_use``  ``redispool_pool_connections{state=...}`` (gauge)
``max``                                ``redispool_pool_max_connections`` (gauge)
``max_in_use``                         ``redispool_pool_max_in_use_connections`` (gauge)
=====================================  ==========================================

OpenTelemetry needs nothing from here: with redis-py's metrics collector enabled, the
pools report through it under redis-py's names (``redispool.telemetry``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .stats import WAIT_BUCKETS, PoolStats
from .telemetry import pool_name

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

_pools: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()  # a WeakSet may not grow while another thread iterates it


def track(pool: Any) -> None:
    """Report ``pool`` from now on, for as long as something else keeps it alive (the
    pools call this from their constructors)."""
    with _lock:
        _pools.add(pool)


def live_pools() -> list[Any]:
    """The pools tracked and still alive."""
    with _lock:
        return list(_pools)


def snapshot() -> dict[str, PoolStats]:
    """Each live pool's ``stats()`` by its name (pools sharing a name combined)."""
    out: dict[str, PoolStats] = {}
    for pool in live_pools():
        try:
            stats = pool.stats()
        except Exception:  # a pool whose constructor failed half-way, or one being reset
            continue
        name = pool_name(pool)
        out[name] = stats if name not in out else _combine(out[name], stats)
    return out


def _combine(a: PoolStats, b: PoolStats) -> PoolStats:
    """Two pools' stats as one: everything adds up but the longest wait."""
    return PoolStats(
        hits=a.hits + b.hits,
        misses=a.misses + b.misses,
        waits=a.waits + b.waits,
        wait_time=a.wait_time + b.wait_time,
        max_wait_time=max(a.max_wait_time, b.max_wait_time),
        timeouts=a.timeouts + b.timeouts,
        created=a.created + b.created,
        closed=a.closed + b.closed,
        stale_closed=a.stale_closed + b.stale_closed,
        dirty_closed=a.dirty_closed + b.dirty_closed,
        idle=a.idle + b.idle,
        idle_closed=a.idle_closed + b.idle_closed,
        in_use=a.in_use + b.in_use,
        max=a.max + b.max,
        max_in_use=a.max_in_use + b.max_in_use,
        wait_buckets=tuple(x + y for x, y in zip(a.wait_buckets, b.wait_buckets, strict=True)),
    )


#: the counters: (PoolStats field, metric name without ``_total``, help)
_COUNTERS = (
    ("hits", "redispool_pool_hits", "Checkouts that found an idle connection."),
    ("misses", "redispool_pool_misses", "Checkouts that made a new connection."),
    ("timeouts", "redispool_pool_timeouts", "Checkouts that gave up waiting for a connection."),
    ("created", "redispool_pool_connections_created", "Connections made by the pool."),
    ("closed", "redispool_pool_connections_closed", "Connections removed from the pool."),
    (
        "stale_closed",
        "redispool_pool_connections_stale_closed",
        "Connections closed by idle_timeout, max_lifetime or max_idle.",
    ),
    (
        "dirty_closed",
        "redispool_pool_connections_dirty_closed",
        "Connections disconnected because they were released with a reply possibly unread.",
    ),
)
_STATES = ("idle", "idle_closed", "in_use")


class PrometheusCollector:
    """A ``prometheus_client`` custom collector of every live redispool pool's
    ``stats()``: ``registry.register(PrometheusCollector())``. It holds no pool."""

    def describe(self) -> Iterator[Metric]:
        """The metric families, without samples (``prometheus_client`` checks names
        against other collectors' with it)."""
        yield from self._families({})

    def collect(self) -> Iterator[Metric]:
        yield from self._families(snapshot())

    def _families(self, pools: dict[str, PoolStats]) -> Iterator[Metric]:
        from prometheus_client.core import (
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )
        from prometheus_client.utils import floatToGoString

        for field, name, doc in _COUNTERS:
            counter = CounterMetricFamily(name, doc, labels=["pool"])
            for pool, stats in pools.items():
                counter.add_metric([pool], getattr(stats, field))
            yield counter

        waits = HistogramMetricFamily(
            "redispool_pool_wait_seconds",
            "Time checkouts waited for a free connection (those that found one at once did not"
            " wait), timed-out waits included.",
            labels=["pool"],
        )
        for pool, stats in pools.items():
            cumulative, buckets = 0, []
            for bound, count in zip((*WAIT_BUCKETS, float("inf")), stats.wait_buckets, strict=True):
                cumulative += count
                buckets.append((floatToGoString(bound), cumulative))
            waits.add_metric([pool], buckets, stats.wait_time)
        yield waits

        gauges = (
            ("max_wait_time", "redispool_pool_max_wait_seconds", "The longest wait so far."),
            ("max", "redispool_pool_max_connections", "max_connections."),
            (
                "max_in_use",
                "redispool_pool_max_in_use_connections",
                "The most connections lent out at once so far.",
            ),
        )
        for field, name, doc in gauges:
            gauge = GaugeMetricFamily(name, doc, labels=["pool"])
            for pool, stats in pools.items():
                gauge.add_metric([pool], getattr(stats, field))
            yield gauge

        connections = GaugeMetricFamily(
            "redispool_pool_connections",
            "Connections by state: idle (with an open socket), idle_closed (kept without one,"
            " reconnected on checkout), in_use (lent out).",
            labels=["pool", "state"],
        )
        for pool, stats in pools.items():
            for state in _STATES:
                connections.add_metric([pool, state], getattr(stats, state))
        yield connections


__all__ = ("PrometheusCollector", "live_pools", "snapshot", "track")
