"""A connection the server has closed is never lent (issue 11, point 2).

redis-py checks every connection at checkout and reconnects a closed one silently; so
must redispool, by default, over TCP, TLS and unix sockets, sync and asyncio. Retries are
switched off so that a closed connection handed out would surface as an error.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis
from redis.backoff import NoBackoff
from redis.retry import Retry

import redispool
import redispool.asyncio
from redispool.server import RedisServer, _free_port

TRANSPORTS = ("tcp", "unix", "tls")
KILLS = 20


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RedisServer, int]]:
    """A redis-server that also listens for TLS, with a throwaway self-signed certificate."""
    certs = tmp_path_factory.mktemp("tls")
    key, cert = certs / "key.pem", certs / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    port = _free_port()
    args = ("--tls-port", str(port), "--tls-cert-file", str(cert), "--tls-key-file", str(key))
    args += ("--tls-ca-cert-file", str(cert), "--tls-auth-clients", "no")
    with RedisServer(extra_args=args) as server:
        yield server, port


def _url(transport: str, server: RedisServer, tls_port: int) -> str:
    if transport == "unix":
        return f"unix://{server.unix_path}"
    if transport == "tls":
        return f"rediss://127.0.0.1:{tls_port}/0?ssl_cert_reqs=none"
    return server.url


def _kill(admin: redis.Redis, name: str) -> int:
    """Kill every connection named ``name``; how many there were."""
    ids = [c["id"] for c in admin.client_list() if c.get("name") == name]
    for client_id in ids:
        admin.client_kill_filter(_id=client_id)
    return len(ids)


def _admin(server: RedisServer) -> redis.Redis:
    return redis.Redis.from_url(server.url)


NO_RETRY = Retry(NoBackoff(), 0)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("pool_class", [redispool.ConnectionPool, redispool.BlockingConnectionPool])
def test_killed_connection_is_never_lent(
    tls_server: tuple[RedisServer, int], transport: str, pool_class: type, slot_twin: str
) -> None:
    server, tls_port = tls_server
    name = f"health-{transport}-{pool_class.__name__}-{slot_twin}"
    pool = pool_class.from_url(_url(transport, server, tls_port), client_name=name, retry=NO_RETRY)
    r = redis.Redis(connection_pool=pool)
    admin = _admin(server)
    errors = 0
    for i in range(KILLS):
        r.set(name, i)
        assert _kill(admin, name) == 1
        time.sleep(0.01)
        try:
            assert r.get(name) == str(i).encode()
        except redis.ConnectionError:
            errors += 1
    assert errors == 0
    stats = pool.stats()
    assert stats.created == 1 and stats.in_use == 0
    pool.disconnect()


def test_threads_after_every_warm_connection_is_killed(
    redis_server: RedisServer, slot_twin: str
) -> None:
    name = f"health-threads-{slot_twin}"
    pool = redispool.BlockingConnectionPool.from_url(
        redis_server.url, max_connections=4, client_name=name, retry=NO_RETRY
    )
    held = [pool.get_connection() for _ in range(4)]
    for conn in held:
        pool.release(conn)
    assert _kill(_admin(redis_server), name) == 4
    time.sleep(0.01)
    r = redis.Redis(connection_pool=pool)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work() -> None:
        barrier.wait(10)
        try:
            r.ping()
        except redis.RedisError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    pool.disconnect()


def test_health_check_after_is_an_opt_in_skip(redis_server: RedisServer) -> None:
    """Within ``health_check_after`` seconds of its last use a connection is lent without
    a look at its socket: the trade-off the knob documents."""
    name = "health-opt-in"
    pool = redispool.ConnectionPool.from_url(
        redis_server.url, client_name=name, retry=NO_RETRY, health_check_after=60
    )
    r = redis.Redis(connection_pool=pool)
    r.ping()
    assert _kill(_admin(redis_server), name) == 1
    time.sleep(0.01)
    with pytest.raises(redis.ConnectionError):
        r.ping()
    r.ping()  # the failed connection was disconnected: the next command reconnects
    pool.disconnect()


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "pool_class", [redispool.asyncio.ConnectionPool, redispool.asyncio.BlockingConnectionPool]
)
def test_asyncio_killed_connection_is_never_lent(
    tls_server: tuple[RedisServer, int], transport: str, pool_class: type, slot_twin: str
) -> None:
    server, tls_port = tls_server
    name = f"health-async-{transport}-{pool_class.__name__}-{slot_twin}"
    admin = _admin(server)

    async def main() -> int:
        pool = pool_class.from_url(
            _url(transport, server, tls_port), client_name=name, retry=NO_RETRY
        )
        r: Any = aredis.Redis(connection_pool=pool)
        errors = 0
        for i in range(KILLS):
            await r.set(name, i)
            assert _kill(admin, name) == 1
            await asyncio.sleep(0.01)
            try:
                assert await r.get(name) == str(i).encode()
            except redis.ConnectionError:
                errors += 1
        assert pool.stats().created == 1
        await pool.disconnect()
        return errors

    assert asyncio.run(main()) == 0


def test_tls_connections_are_polled(tls_server: tuple[RedisServer, int]) -> None:
    """The TLS fixture really speaks TLS (a plain client on its port is refused)."""
    server, tls_port = tls_server
    pool = redispool.ConnectionPool.from_url(_url("tls", server, tls_port))
    conn = pool.get_connection()
    assert conn.__class__ is redis.SSLConnection and Path("/proc/self/fd").exists()
    pool.release(conn)
    pool.disconnect()
