"""Pool stress: 16 threads on a pool of 4 connections, every reply checked against the key
its caller asked for, while connections are killed (``CLIENT KILL``) and the server
restarts. ``make test`` runs 4,000 commands; ``make stress`` 100,000
(``REDISPOOL_STRESS_COMMANDS``)."""

from __future__ import annotations

import os
import random
import threading
import time
from typing import Any

import pytest
import redis
from helpers import balanced

from redispool import BlockingConnectionPool
from redispool.server import RedisServer

pytestmark = pytest.mark.usefixtures("slot_twin")

COMMANDS = int(os.environ.get("REDISPOOL_STRESS_COMMANDS", "4000"))
THREADS = 16


def test_threads_kills_and_a_restart() -> None:
    """What must hold however the threads are scheduled: no reply goes to the wrong
    caller, a failure is only ever a ConnectionError/TimeoutError, the stats balance and
    the pool works afterwards. How many commands fail depends on the machine's load (one
    busy run: 1,854 answered, 2,146 failed), so it is printed, not asserted."""
    with RedisServer() as server:
        no_retry = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
        pool = BlockingConnectionPool.from_url(
            server.url, max_connections=4, timeout=None, retry=no_retry
        )
        r = redis.Redis(connection_pool=pool)  # the pool's retry applies, not the client's
        wrong: list[Any] = []
        failures: list[BaseException] = []
        answered = [0] * THREADS
        done = threading.Event()
        restarted = threading.Event()

        def worker(index: int) -> None:
            for i in range(COMMANDS // THREADS):
                key, value = f"stress:{index}:{i % 50}", f"{index}:{i}"
                try:
                    r.set(key, value)
                    got = r.get(key)
                except Exception as exc:  # checked below: connection errors only
                    failures.append(exc)
                    continue
                answered[index] += 1
                if got is None and restarted.is_set():
                    continue  # set before the restart, read after it: the data is gone
                if got != value.encode():
                    wrong.append((key, value, got))

        def killer() -> None:
            admin = redis.Redis.from_url(server.url, retry=no_retry)
            rng = random.Random(7)
            while not done.is_set():
                try:
                    clients = [c for c in admin.client_list() if c["cmd"] in ("get", "set")]
                    if clients:
                        admin.client_kill_filter(_id=rng.choice(clients)["id"])
                except redis.RedisError:
                    pass  # the server is restarting
                time.sleep(0.005)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        kill = threading.Thread(target=killer)
        for thread in [*threads, kill]:
            thread.start()
        time.sleep(0.2)
        restarted.set()
        server.restart()
        for thread in threads:
            thread.join(600)
        done.set()
        kill.join(30)
        stats = pool.stats()
        print(
            f"\n{sum(answered):,} commands answered, {len(failures):,} ConnectionError/"
            f"TimeoutError, {len(wrong)} wrong replies; pool: {stats.created} connections "
            f"made, {stats.closed} closed, {stats.dirty_closed} closed dirty, {stats.waits:,} waits"
        )
        assert not any(t.is_alive() for t in threads)
        assert wrong == []
        unexpected = [
            f for f in failures if not isinstance(f, (redis.ConnectionError, redis.TimeoutError))
        ]
        assert unexpected == []
        assert sum(answered) + len(failures) == THREADS * (COMMANDS // THREADS)
        assert stats.in_use == 0
        assert balanced(stats)
        assert stats.created - stats.closed <= 4
        # recovered: a connection killed in the killer's last moments fails once, as with
        # redis-py; with one retry (a reconnect) every command succeeds. Four threads at
        # once use every connection the pool holds.
        pool.set_retry(redis.retry.Retry(redis.backoff.NoBackoff(), 1))
        after = redis.Redis(connection_pool=pool)
        barrier = threading.Barrier(4)
        results: list[Any] = []

        def use(index: int) -> None:
            barrier.wait(30)
            for i in range(10):
                after.set(f"stress:after:{index}", i)
                results.append(after.get(f"stress:after:{index}") == str(i).encode())

        users = [threading.Thread(target=use, args=(i,)) for i in range(4)]
        for thread in users:
            thread.start()
        for thread in users:
            thread.join(60)
        assert results == [True] * 40
        stats = pool.stats()
        assert stats.in_use == 0 and balanced(stats) and stats.created - stats.closed <= 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forks_while_threads_check_out(redis_url: str) -> None:
    """Threads keep checking out while the main thread forks: each child gets a working
    pool of its own, the parent's threads never notice, nothing deadlocks."""
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=4, timeout=None)
    r = redis.Redis(connection_pool=pool)
    r.set("fork:k", "v")
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                assert r.get("fork:k") == b"v"
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(5):
            pid = os.fork()
            if pid == 0:  # the child: only this thread exists here
                code = 1
                try:
                    child = redis.Redis(connection_pool=pool)
                    if child.get("fork:k") == b"v" and pool.stats().in_use == 0:
                        code = 0
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
            time.sleep(0.01)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert errors == []
    stats = pool.stats()
    assert stats.in_use == 0 and balanced(stats)


@pytest.mark.parametrize("asyncio_pool", [False, True], ids=["sync", "asyncio"])
def test_readonly_after_failover_drops_every_connection(asyncio_pool: bool) -> None:
    """The primary is demoted (REPLICAOF): the first READONLY reply makes the pool
    reconnect every connection to it, idle ones at once and in-use ones on release."""
    with RedisServer() as other, RedisServer() as primary:
        admin = redis.Redis.from_url(primary.url)
        if asyncio_pool:
            import asyncio

            from redispool import asyncio as rp_asyncio

            async def scenario() -> None:
                import redis.asyncio as aredis

                pool = rp_asyncio.ConnectionPool.from_url(primary.url)
                r = aredis.Redis(connection_pool=pool)
                conns = [await pool.get_connection() for _ in range(3)]
                for conn in conns[:2]:
                    await pool.release(conn)
                assert all(c.is_connected for c in conns)
                admin.replicaof("127.0.0.1", other.port)
                with pytest.raises(redis.ReadOnlyError):
                    await r.set("k", "v")
                assert not any(c.is_connected for c in conns[:2])  # idle: dropped
                assert conns[2].should_reconnect()  # in use: reconnected on release
                await pool.release(conns[2])
                assert not conns[2].is_connected
                await pool.disconnect()

            asyncio.run(scenario())
            return
        pool = BlockingConnectionPool.from_url(primary.url, max_connections=4)
        r = redis.Redis(connection_pool=pool)
        conns = [pool.get_connection() for _ in range(3)]
        for conn in conns[:2]:
            pool.release(conn)
        admin.replicaof("127.0.0.1", other.port)
        with pytest.raises(redis.ReadOnlyError):
            r.set("k", "v")
        assert all(c._sock is None for c in conns[:2])
        assert conns[2].should_reconnect()
        pool.release(conns[2])
        assert conns[2]._sock is None
        admin.replicaof("NO", "ONE")
        assert r.set("k", "v") and r.get("k") == b"v"  # reconnected, writable again
