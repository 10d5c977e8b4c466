"""The embedded redis-server the demo and the tests run."""

from __future__ import annotations

import socket

import pytest
import redis

from redispool.server import RedisServer, ServerNotFound


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
