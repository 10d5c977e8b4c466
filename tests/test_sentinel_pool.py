"""redis.sentinel through redispool's SentinelConnectionPool: a real master, replica and
Sentinel on loopback, including a failover."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import redis
from redis.sentinel import Sentinel

import redispool
from redispool.sentinel import SentinelConnectionPool
from redispool.server import RedisServer, _free_port, _ping

pytestmark = pytest.mark.usefixtures("slot_twin")


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def topology() -> Iterator[tuple[RedisServer, RedisServer, int]]:
    """A master, its replica, and one Sentinel (quorum 1) watching them."""
    with ExitStack() as stack:
        master = stack.enter_context(RedisServer())
        replica_args = ("--replicaof", "127.0.0.1", str(master.port))
        replica = stack.enter_context(RedisServer(extra_args=replica_args))
        workdir = tempfile.mkdtemp(prefix="redispool-sentinel-")
        port = _free_port()
        config = os.path.join(workdir, "sentinel.conf")
        with open(config, "w") as f:
            f.write(
                f"port {port}\nbind 127.0.0.1\ndir {workdir}\n"
                f"sentinel monitor pool 127.0.0.1 {master.port} 1\n"
                "sentinel down-after-milliseconds pool 1000\n"
                "sentinel failover-timeout pool 5000\n"
            )
        process = subprocess.Popen(
            [master.binary, config, "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: _ping(port), "sentinel to start")
            sentinel = redis.Redis(port=port)
            wait_for(
                lambda: sentinel.sentinel_master("pool")["num-slaves"] >= 1,
                "sentinel to discover the replica",
            )
            yield master, replica, port
        finally:
            process.terminate()
            process.wait(10)
            shutil.rmtree(workdir, ignore_errors=True)


def test_master_for_uses_our_pool(topology: tuple[RedisServer, RedisServer, int]) -> None:
    master, _, port = topology
    sentinel = Sentinel([("127.0.0.1", port)])
    r = sentinel.master_for("pool", connection_pool_class=SentinelConnectionPool)
    pool = r.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    r.set("sentinel:k", "v")
    assert r.get("sentinel:k") == b"v"
    assert pool.stats().in_use == 0 and pool.stats().idle == 1
    replica = sentinel.slave_for("pool", connection_pool_class=SentinelConnectionPool)
    wait_for(lambda: _replicated(replica, "sentinel:k", b"v"), "replication")
    del master


def test_failover_drops_old_master_connections(
    topology: tuple[RedisServer, RedisServer, int],
) -> None:
    master, replica, port = topology
    sentinel = Sentinel([("127.0.0.1", port)])
    r = sentinel.master_for("pool", connection_pool_class=SentinelConnectionPool)
    before = sentinel.discover_master("pool")
    r.set("sentinel:f", "1")
    held = r.connection_pool.get_connection()  # in use across the failover
    wait_for(lambda: _failover(sentinel.sentinels[0]), "a replica to promote")
    after = wait_for(
        lambda: (a := sentinel.discover_master("pool")) != before and a,
        "the failover",
    )
    assert after[1] in (master.port, replica.port)
    wait_for(lambda: _writable(r), "the new master to accept writes")
    r.connection_pool.release(held)  # a connection to the demoted master: disconnected
    assert held._sock is None
    assert all(
        (c.host, c.port) == after for c in r.connection_pool._available_connections if c._sock
    )
    assert r.get("sentinel:f") == b"1"


def _failover(sentinel: redis.Redis) -> bool:
    """Ask for a failover; after an earlier one the demoted master needs a moment to be
    a suitable replica (NOGOODSLAVE), or the previous failover is still running."""
    try:
        return bool(sentinel.execute_command("SENTINEL FAILOVER", "pool"))
    except redis.ResponseError as exc:
        if "NOGOODSLAVE" in str(exc) or "INPROG" in str(exc):
            return False
        raise


def _writable(r: redis.Redis) -> bool:
    try:
        return bool(r.set("sentinel:w", "1"))
    except (redis.ConnectionError, redis.ReadOnlyError, redis.TimeoutError):
        return False


def _replicated(r: redis.Redis, key: str, value: bytes) -> bool:
    """Whether the replica behind ``r`` has ``key`` (not yet, while the Sentinel still
    reconfigures it: it ends with CLIENT KILL TYPE normal, which closes every client's
    connection, retries included)."""
    try:
        return bool(r.get(key) == value)
    except (redis.ConnectionError, redis.TimeoutError):
        return False


def test_install_makes_sentinel_clients_redispool_clients(
    topology: tuple[RedisServer, RedisServer, int],
) -> None:
    """After ``install()``, ``master_for``/``slave_for`` (``redis_class=Redis``) and the
    Sentinel's own clients are ``redispool.Redis`` on redispool's Sentinel pool."""
    _, _, port = topology
    redispool.install()
    try:
        sentinel = Sentinel([("127.0.0.1", port)])
        assert all(type(s) is redispool.Redis for s in sentinel.sentinels)
        master = sentinel.master_for("pool")
        assert type(master) is redispool.Redis
        assert isinstance(master.connection_pool, SentinelConnectionPool)
        wait_for(lambda: _writable(master), "the master to accept writes")
        assert master.set("sentinel:i", "v") and master.get("sentinel:i") == b"v"
        pipe = master.pipeline()
        assert type(pipe) is redispool.Pipeline
        assert pipe.incr("sentinel:n").incr("sentinel:n").execute()[1] >= 2
        replica = sentinel.slave_for("pool")
        assert type(replica) is redispool.Redis
        wait_for(lambda: _replicated(replica, "sentinel:i", b"v"), "replication")
        assert master.connection_pool.stats().in_use == 0
        master.close()
        replica.close()
    finally:
        redispool.uninstall()
    assert type(Sentinel([("127.0.0.1", port)]).master_for("pool")) is redis.Redis
