"""Pool metrics as a service sees them: ``redispool.metrics.PrometheusCollector`` scraped
through a real ``prometheus_client`` registry, and redis-py's OpenTelemetry metrics read
with the SDK's in-memory reader, each compared with ``stats()`` after a workload with
waits, a timeout, reconnects and a dirty release; and neither keeps a dropped pool alive."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import redis.asyncio
import redis.asyncio.observability.recorder as arecorder
import redis.observability.recorder as recorder
from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from redis.observability.attributes import get_pool_name
from redis.observability.config import MetricGroup, OTelConfig
from redis.observability.providers import get_observability_instance

import redispool
import redispool.asyncio
from redispool import PoolStats
from redispool.metrics import PrometheusCollector, live_pools
from redispool.stats import WAIT_BUCKETS


def wait_until(predicate: Any, what: str) -> None:
    """Poll ``predicate`` (a bound against hangs, not a timing assertion)."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.001)


def workload(pool: Any, url: str) -> None:
    """On a blocking pool of 2 (its connections named with ``client_name``): a checkout
    that waits for a release, one that times out, both idle connections killed by the
    server and reconnected at their next checkout, and a connection released with its
    reply unread (disconnected)."""
    r = redis.Redis(connection_pool=pool)
    r.ping()
    a, b = pool.get_connection(), pool.get_connection()
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(pool.get_connection()))
    waiter.start()
    wait_until(lambda: pool._slots.waiters == 1, "a waiting checkout")
    pool.release(a)
    waiter.join()
    pool.timeout = 0.001
    with pytest.raises(redis.ConnectionError, match="No connection available"):
        pool.get_connection()
    pool.timeout = 5
    pool.release(got[0])
    pool.release(b)
    with redis.Redis.from_url(url) as killer:  # the server closes both idle connections
        mine = pool.connection_kwargs["client_name"]
        ids = [c["id"] for c in killer.client_list() if c["name"] == mine]
        assert len(ids) == 2
        for client_id in ids:
            assert killer.client_kill_filter(_id=client_id) == 1
    conns = [pool.get_connection(), pool.get_connection()]  # each reconnected
    for conn in conns:
        conn.send_command("PING")
        assert conn.read_response() == b"PONG"
    conns[0].send_command("PING")  # its reply never read: closed on release
    for conn in conns:
        pool.release(conn)
    assert r.get("nothing") is None


def check_workload(stats: PoolStats) -> None:
    assert stats.waits == 2 and stats.timeouts == 1 and stats.dirty_closed == 1
    assert (stats.max_in_use, stats.in_use, stats.idle, stats.idle_closed) == (2, 0, 1, 1)
    assert sum(stats.wait_buckets) == stats.waits


# ---- Prometheus ---------------------------------------------------------------------------


def scrape(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The registry's exposition text, parsed back: value by sample name and labels."""
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def expected_samples(pool: str, stats: PoolStats) -> dict[tuple[str, Any], float]:
    """What the scrape must show for a pool with these stats (the table in
    ``redispool.metrics``)."""
    label = (("pool", pool),)
    out: dict[tuple[str, Any], float] = {}
    for name, value in [
        ("hits_total", stats.hits),
        ("misses_total", stats.misses),
        ("timeouts_total", stats.timeouts),
        ("connections_created_total", stats.created),
        ("connections_closed_total", stats.closed),
        ("connections_stale_closed_total", stats.stale_closed),
        ("connections_dirty_closed_total", stats.dirty_closed),
        ("wait_seconds_count", stats.waits),
        ("wait_seconds_sum", stats.wait_time),
        ("max_wait_seconds", stats.max_wait_time),
        ("max_connections", stats.max),
        ("max_in_use_connections", stats.max_in_use),
    ]:
        out[f"redispool_pool_{name}", label] = value
    for state in ("idle", "idle_closed", "in_use"):
        out["redispool_pool_connections", (("pool", pool), ("state", state))] = getattr(
            stats, state
        )
    cumulative = 0
    for bound, count in zip((*WAIT_BUCKETS, float("inf")), stats.wait_buckets, strict=True):
        cumulative += count
        le = "+Inf" if bound == float("inf") else repr(bound)
        out["redispool_pool_wait_seconds_bucket", (("le", le), ("pool", pool))] = cumulative
    return out


def of_pool(samples: dict[Any, float], pool: str) -> dict[Any, float]:
    return {key: value for key, value in samples.items() if ("pool", pool) in key[1]}


@pytest.fixture
def registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(PrometheusCollector())
    return registry


def test_prometheus_scrape_equals_stats(
    redis_url: str, slot_twin: str, registry: CollectorRegistry
) -> None:
    pool = redispool.BlockingConnectionPool.from_url(
        redis_url, max_connections=2, name="api", client_name="metrics-workload"
    )
    workload(pool, redis_url)
    stats = pool.stats()
    check_workload(stats)
    samples = of_pool(scrape(registry), "api")
    # the _created timestamps prometheus_client adds to counters are not stats
    samples = {k: v for k, v in samples.items() if not k[0].endswith("_created")}
    assert samples == expected_samples("api", stats)


def test_prometheus_pool_label_is_redis_pys_name_by_default(
    redis_url: str, registry: CollectorRegistry
) -> None:
    pool = redispool.ConnectionPool.from_url(redis_url)
    apool = redispool.asyncio.ConnectionPool.from_url(redis_url, name="async-api")
    pool.release(pool.get_connection())
    samples = scrape(registry)
    assert samples["redispool_pool_hits_total", (("pool", get_pool_name(pool)),)] == 0
    assert samples["redispool_pool_misses_total", (("pool", get_pool_name(pool)),)] == 1
    assert samples["redispool_pool_connections", (("pool", "async-api"), ("state", "idle"))] == 0
    assert pool.name is None and apool.name == "async-api"
    with pytest.raises(TypeError):
        redispool.ConnectionPool(name=1)  # type: ignore[arg-type]


def test_pools_sharing_a_name_add_up(redis_url: str, registry: CollectorRegistry) -> None:
    pools = [redispool.ConnectionPool.from_url(redis_url, name="shared") for _ in range(2)]
    for pool in pools:
        pool.release(pool.get_connection())
    samples = scrape(registry)
    assert samples["redispool_pool_misses_total", (("pool", "shared"),)] == 2
    assert samples["redispool_pool_max_connections", (("pool", "shared"),)] == sum(
        pool.max_connections for pool in pools
    )


def test_the_collector_keeps_no_pool_alive(redis_url: str, registry: CollectorRegistry) -> None:
    pool = redispool.BlockingConnectionPool.from_url(redis_url, name="dropped")
    apool = redispool.asyncio.BlockingConnectionPool.from_url(redis_url, name="adropped")
    pool.release(pool.get_connection())
    assert of_pool(scrape(registry), "dropped") and of_pool(scrape(registry), "adropped")
    refs = [weakref.ref(pool), weakref.ref(apool)]
    del pool, apool
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert not of_pool(scrape(registry), "dropped") and not of_pool(scrape(registry), "adropped")
    assert all(p.name not in ("dropped", "adropped") for p in live_pools())


def test_describe_names_the_families() -> None:
    """``describe`` lets a registry refuse a second collector with the same names."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(PrometheusCollector())
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        registry.register(PrometheusCollector())


# ---- OpenTelemetry, through redis-py's collector -------------------------------------------

_READER: list[InMemoryMetricReader] = []


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryMetricReader]:
    """redis-py's observability on, its collectors made afresh, over an SDK MeterProvider
    with an in-memory reader (OpenTelemetry's global provider can be set once per process)."""
    if not _READER:
        _READER.append(InMemoryMetricReader())
        otel_metrics.set_meter_provider(MeterProvider(metric_readers=[_READER[0]]))
    monkeypatch.setattr(recorder, "_metrics_collector", None)
    monkeypatch.setattr(arecorder, "_async_metrics_collector", None)
    get_observability_instance().init(
        OTelConfig(
            metric_groups=[MetricGroup.CONNECTION_BASIC, MetricGroup.CONNECTION_ADVANCED],
            buckets_connection_wait_time=list(WAIT_BUCKETS),
        )
    )
    yield _READER[0]
    get_observability_instance().shutdown()


def exported(reader: InMemoryMetricReader, pool_name: str) -> dict[tuple[str, Any], Any]:
    """The reader's data points for one pool: a value (sums) or a histogram point."""
    out: dict[tuple[str, Any], Any] = {}
    data = reader.get_metrics_data()
    assert data is not None
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    attrs = dict(point.attributes or {})
                    if attrs.get("db.client.connection.pool.name") == pool_name:
                        key = (metric.name, attrs.get("db.client.connection.state"))
                        out[key] = getattr(point, "value", point)
    return out


def check_exported(
    points: dict[tuple[str, Any], Any],
    stats: PoolStats,
    before: dict[tuple[str, Any], Any] | None = None,
) -> None:
    """redis-py's series for a pool agree with its ``stats()``: connections by state,
    one creation time per connection made, one wait time per checkout that got a
    connection (redis-py's blocking pools record every checkout's), the timeouts.
    ``before``: the series' points before the pool was made (redis-py names an
    asyncio pool ``host:port``, the same for every pool to a server)."""
    before = before or {}

    def grew(name: str, what: str) -> Any:
        old = before.get((name, None))
        return getattr(points[name, None], what) - (getattr(old, what) if old else 0)

    assert points["db.client.connection.count", "idle"] == stats.idle + stats.idle_closed
    assert points["db.client.connection.count", "used"] == stats.in_use
    assert grew("db.client.connection.create_time", "count") == stats.created
    assert grew("db.client.connection.wait_time", "count") == stats.hits + stats.misses
    timeouts = points["db.client.connection.timeouts", None]
    assert timeouts - before.get(("db.client.connection.timeouts", None), 0) == stats.timeouts


def test_opentelemetry_equals_stats(
    redis_url: str, slot_twin: str, otel: InMemoryMetricReader
) -> None:
    pool = redispool.BlockingConnectionPool.from_url(
        redis_url, max_connections=2, client_name="metrics-workload"
    )
    workload(pool, redis_url)
    stats = pool.stats()
    check_workload(stats)
    check_exported(exported(otel, get_pool_name(pool)), stats)


def test_opentelemetry_counts_follow_closes(redis_url: str, otel: InMemoryMetricReader) -> None:
    """Connections the pool closes (``max_idle``), a ``reset()`` and a pool dropped leave
    redis-py's counts as they leave ``stats()``."""
    pool = redispool.ConnectionPool.from_url(redis_url, max_idle=1)
    name = get_pool_name(pool)
    conns = [pool.get_connection() for _ in range(3)]
    points = exported(otel, name)
    assert (points["db.client.connection.count", "used"], pool.stats().in_use) == (3, 3)
    for conn in conns:
        pool.release(conn)
    stats = pool.stats()
    assert (stats.idle, stats.stale_closed) == (1, 2)
    points = exported(otel, name)
    assert points["db.client.connection.count", "idle"] == 1
    assert points["db.client.connection.count", "used"] == 0
    held = pool.get_connection()
    pool.reset()
    points = exported(otel, name)
    assert (points["db.client.connection.count", "used"], pool.stats().in_use) == (0, 0)
    pool.release(held)  # not the pool's any more: ignored
    pool.release(pool.get_connection())
    assert exported(otel, name)["db.client.connection.count", "idle"] == 1
    del pool, held
    gc.collect()
    points = exported(otel, name)
    assert points["db.client.connection.count", "idle"] == 0
    assert points["db.client.connection.count", "used"] == 0


async def test_opentelemetry_equals_stats_asyncio(
    redis_url: str, slot_twin: str, otel: InMemoryMetricReader
) -> None:
    gc.collect()  # the last test's pool, if any, takes its counts off
    pool = redispool.asyncio.BlockingConnectionPool.from_url(
        redis_url, max_connections=2, timeout=5
    )
    before = exported(otel, get_pool_name(pool))
    assert before.get(("db.client.connection.count", "idle"), 0) == 0
    r = redis.asyncio.Redis(connection_pool=pool)
    await r.ping()
    a, b = await pool.get_connection(), await pool.get_connection()
    waiting = asyncio.ensure_future(pool.get_connection())
    while pool._slots.waiters == 0:
        await asyncio.sleep(0)
    await pool.release(a)
    c = await waiting
    pool.timeout = 0.001
    with pytest.raises(redis.ConnectionError, match="No connection available"):
        await pool.get_connection()
    pool.timeout = 5
    await c.send_command("PING")  # its reply never read: closed on release
    await pool.release(c)
    await pool.release(b)
    assert await r.get("nothing") is None
    stats = pool.stats()
    assert (stats.waits, stats.timeouts, stats.dirty_closed, stats.max_in_use) == (2, 1, 1, 2)
    check_exported(exported(otel, get_pool_name(pool)), stats, before)
    await pool.disconnect()
