"""redis.cluster.RedisCluster through redispool's pools: RedisCluster builds one pool per
node from ``connection_pool_class``, so a real three-master cluster checks that our pools
take its keyword arguments, serve every node, survive MOVED redirects and pipelines, and
never keep a connection checked out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from cluster import RedisCluster3
from redis.cluster import RedisCluster

import redispool
from redispool.server import ServerNotFound

pytestmark = pytest.mark.usefixtures("slot_twin")

PoolClass = type[redis.connection.ConnectionPool]
Connect = Callable[..., RedisCluster]


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisCluster3]:
    try:
        manager = RedisCluster3()
    except ServerNotFound as exc:
        pytest.skip(f"cannot start a Redis Cluster: {exc}")
    with manager:
        yield manager


@pytest.fixture(
    params=[redispool.ConnectionPool, redispool.BlockingConnectionPool],
    ids=["ConnectionPool", "BlockingConnectionPool"],
)
def pool_class(request: pytest.FixtureRequest) -> PoolClass:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def connect(cluster: RedisCluster3, pool_class: PoolClass) -> Iterator[Connect]:
    """``RedisCluster.from_url`` with ``pool_class`` for every node; closed after the test."""
    clients: list[RedisCluster] = []

    def connect(**kwargs: Any) -> RedisCluster:
        rc = RedisCluster.from_url(cluster.url, connection_pool_class=pool_class, **kwargs)
        clients.append(rc)
        return rc

    yield connect
    for rc in clients:
        rc.close()


def node_pools(rc: RedisCluster) -> list[Any]:
    pools = []
    for node in rc.get_nodes():
        assert node.redis_connection is not None, node
        pools.append(node.redis_connection.connection_pool)
    return pools


def assert_all_released(rc: RedisCluster) -> None:
    """Every command returned its connection: nothing is left checked out of any node."""
    for node in rc.get_nodes():
        assert node.redis_connection is not None, node
        in_use = node.redis_connection.connection_pool._in_use_connections
        assert not in_use, f"{node.name}: {in_use}"


def spread_keys(rc: RedisCluster, prefix: str, count: int = 60) -> list[str]:
    """Keys whose slots fall on all three masters."""
    keys = [f"{prefix}:{i}" for i in range(count)]
    owners = {rc.get_node_from_key(key).name for key in keys}
    primaries = {node.name for node in rc.get_primaries()}
    assert len(primaries) == 3
    assert owners == primaries
    assert len({rc.keyslot(key) for key in keys}) > 3
    return keys


@pytest.mark.parametrize("protocol", [2, 3])
def test_set_get_on_every_master(connect: Connect, pool_class: PoolClass, protocol: int) -> None:
    rc = connect(protocol=protocol)
    keys = spread_keys(rc, f"basic{protocol}")
    for key in keys:
        assert rc.set(key, key.upper()) is True
    assert [rc.get(key) for key in keys] == [key.upper().encode() for key in keys]
    for key in keys:  # each key really lives on the node the slot map names
        node = rc.get_node_from_key(key)
        assert node.redis_connection is not None
        assert node.redis_connection.get(key) == key.upper().encode()
    assert rc.delete(*keys) == len(keys)
    pools = node_pools(rc)
    assert len(pools) == 3
    for pool in pools:
        assert isinstance(pool, pool_class)
        assert pool.connection_kwargs["protocol"] == protocol
    for node in rc.get_nodes():
        assert node.redis_connection is not None
        assert int(node.redis_connection.client_info()["resp"]) == protocol
    assert_all_released(rc)


def test_pool_kwargs_reach_node_pools(connect: Connect, pool_class: PoolClass) -> None:
    rc = connect(max_connections=5)
    pools = node_pools(rc)
    assert len(pools) == 3
    for pool in pools:
        assert isinstance(pool, pool_class)
        assert pool.max_connections == 5
    assert_all_released(rc)


def test_node_pool_limit_and_timeout(connect: Connect, pool_class: PoolClass) -> None:
    blocking = issubclass(pool_class, redispool.BlockingConnectionPool)
    kwargs: dict[str, Any] = {"max_connections": 1}
    if blocking:
        kwargs["timeout"] = 0.2
    rc = connect(**kwargs)
    rc.set("limit:k", "v")
    node = rc.get_node_from_key("limit:k")
    assert node.redis_connection is not None
    pool = node.redis_connection.connection_pool
    if blocking:
        assert pool.timeout == 0.2
    held = pool.get_connection()
    started = time.monotonic()
    with pytest.raises(redis.ConnectionError) as info:
        pool.get_connection()
    waited = time.monotonic() - started
    if blocking:
        assert str(info.value) == "No connection available."
        assert 0.15 <= waited < 2
    else:
        assert isinstance(info.value, redis.exceptions.MaxConnectionsError)
    pool.release(held)
    assert rc.get("limit:k") == b"v"
    assert_all_released(rc)


def test_moved_redirect_is_followed(cluster: RedisCluster3, connect: Connect) -> None:
    rc = connect()
    key = "moved:key"
    rc.set(key, "before")
    slot = rc.keyslot(key)
    source = rc.get_node_from_key(key)
    assert cluster.slot_owner(slot) == source.port
    target = next(node for node in rc.get_primaries() if node.port != source.port)
    cluster.move_slot(slot, target.port)
    try:
        assert rc.get_node_from_key(key).port == source.port  # the client's map is stale
        assert rc.get(key) == b"before"  # MOVED, followed to the new owner
        assert rc.get_node_from_key(key).port == target.port  # and the map refreshed
        assert rc.set(key, "after") is True
        with cluster.client(target.port) as direct:
            assert direct.get(key) == "after"
        assert_all_released(rc)
    finally:
        cluster.move_slot(slot, source.port)
    assert rc.get(key) == b"after"  # moved back: a second redirect
    assert rc.get_node_from_key(key).port == source.port
    assert rc.delete(key) == 1
    assert_all_released(rc)


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipeline_across_nodes_decoded(connect: Connect, protocol: int) -> None:
    rc = connect(decode_responses=True, protocol=protocol)
    keys = spread_keys(rc, f"pipe{protocol}", count=30)
    with rc.pipeline() as pipe:
        for i, key in enumerate(keys):
            pipe.set(key, f"value-{i}")
        for key in keys:
            pipe.get(key)
        pipe.get(f"pipe{protocol}:missing")
        results = pipe.execute()
    assert results == [True] * len(keys) + [f"value-{i}" for i in range(len(keys))] + [None]
    with rc.pipeline() as pipe:
        for key in keys:
            pipe.incr(key)  # not an integer: the error is returned, not raised
        results = pipe.execute(raise_on_error=False)
    assert all(isinstance(result, redis.ResponseError) for result in results)
    assert rc.mget_nonatomic(keys) == [f"value-{i}" for i in range(len(keys))]
    assert rc.delete(*keys) == len(keys)
    assert_all_released(rc)


def test_threads_share_the_node_pools(connect: Connect, pool_class: PoolClass) -> None:
    """Eight threads, one client: a blocking pool of three per node makes them wait."""
    blocking = issubclass(pool_class, redispool.BlockingConnectionPool)
    rc = connect(max_connections=3, timeout=10) if blocking else connect()
    keys = spread_keys(rc, "threads", count=24)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                key = keys[(n + i) % len(keys)]
                rc.set(key, n)
                assert rc.get(key) is not None
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert rc.delete(*keys) == len(keys)
    assert_all_released(rc)


def test_install_reaches_host_port_mode(cluster: RedisCluster3) -> None:
    """``RedisCluster(host=, port=)`` ignores ``connection_pool_class``; install() still
    gives every node redispool's pool and parser, and makes each node's client (redis-py
    builds a ``Redis``) a ``redispool.Redis``."""
    redispool.install()
    try:
        rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
        try:
            assert all(type(n.redis_connection) is redispool.Redis for n in rc.get_nodes())
            keys = spread_keys(rc, "install")
            for key in keys:
                rc.set(key, key)
                assert rc.get(key) == key.encode()
            with rc.pipeline() as pipe:
                pipe.get(keys[0]).get(keys[-1])
                assert pipe.execute() == [b"install:0", b"install:59"]
            for pool in node_pools(rc):
                assert isinstance(pool, redispool.ConnectionPool)
                conn = pool.get_connection()
                assert isinstance(conn._parser, redispool.Parser)
                pool.release(conn)
            assert_all_released(rc)
        finally:
            rc.close()
    finally:
        redispool.uninstall()
    rc = RedisCluster(host="127.0.0.1", port=cluster.ports[0])
    assert all(type(n.redis_connection) is redis.Redis for n in rc.get_nodes())
    rc.close()


async def test_install_reaches_the_asyncio_cluster(cluster: RedisCluster3) -> None:
    """redis-py's asyncio cluster keeps its own per-node connection lists (no pool hook);
    install() gives those connections redispool's parser and packer."""
    from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster

    from redispool.asyncio import AsyncParser

    redispool.install()
    try:
        rc = AsyncRedisCluster(host="127.0.0.1", port=cluster.ports[0])
        try:
            keys = [f"async:{i}" for i in range(60)]
            for key in keys:
                await rc.set(key, key)
            assert [await rc.get(key) for key in keys] == [k.encode() for k in keys]
            nodes = rc.get_nodes()
            assert len({rc.get_node_from_key(key).name for key in keys}) == 3
            for node in nodes:
                for conn in node._connections:
                    assert isinstance(conn._parser, AsyncParser)
                    assert conn._rp_packer is not None
        finally:
            await rc.aclose()
    finally:
        redispool.uninstall()
