"""pytest plugin (``-p redispool_plugin``): run redis-py's own tests with redispool's
pools and Parser as redis-py's defaults.

The plugin is loaded before any test module imports names, so rebinding the pool classes
in redis-py's modules is enough for ``from redis import ConnectionPool`` in the tests.
redis-py binds its default parser as a default argument of the undecorated
``AbstractConnection.__init__``, so that default is what is replaced.
"""

from __future__ import annotations

import inspect
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.connection
import redis.client
import redis.cluster
import redis.connection

import redispool
import redispool.asyncio

_init: Any = redis.connection.AbstractConnection.__init__
_raw = getattr(_init, "__wrapped__", _init)
_names = [p.name for p in inspect.signature(_raw).parameters.values() if p.default is not p.empty]
_defaults = list(_raw.__defaults__)
_defaults[_names.index("parser_class")] = redispool.Parser
_raw.__defaults__ = tuple(_defaults)

for _module in (redis, redis.connection, redis.client, redis.cluster):
    _module.ConnectionPool = redispool.ConnectionPool  # type: ignore[attr-defined,misc]
for _module in (redis, redis.connection):
    _module.BlockingConnectionPool = redispool.BlockingConnectionPool  # type: ignore[misc]
for _module in (redis.asyncio, redis.asyncio.connection, redis.asyncio.client):
    _module.ConnectionPool = redispool.asyncio.ConnectionPool  # type: ignore[attr-defined,misc]
for _module in (redis.asyncio, redis.asyncio.connection):
    _module.BlockingConnectionPool = redispool.asyncio.BlockingConnectionPool  # type: ignore[misc]
_async_init: Any = redis.asyncio.connection.AbstractConnection.__init__
_async_raw = getattr(_async_init, "__wrapped__", _async_init)
_async_raw.__kwdefaults__["parser_class"] = redispool.asyncio.AsyncParser

_connects = 0
_checkouts = 0
_on_connect = redispool.Parser.on_connect
_async_checkouts = 0
_get_connection = redispool.ConnectionPool.get_connection
_async_get_connection = redispool.asyncio.ConnectionPool.get_connection


def _counting_get_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
    global _checkouts
    _checkouts += 1
    return _get_connection(self, *args, **kwargs)


async def _counting_async_get_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
    global _async_checkouts
    _async_checkouts += 1
    return await _async_get_connection(self, *args, **kwargs)


redispool.ConnectionPool.get_connection = _counting_get_connection  # type: ignore[method-assign]
redispool.asyncio.ConnectionPool.get_connection = _counting_async_get_connection  # type: ignore[method-assign]


def _counting_on_connect(self: redispool.Parser, connection: Any) -> None:
    global _connects
    _connects += 1
    _on_connect(self, connection)


redispool.Parser.on_connect = _counting_on_connect  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"redispool.Parser connections: {_connects}")
    terminalreporter.write_line(f"redispool pool checkouts: {_checkouts}")
    terminalreporter.write_line(f"redispool asyncio pool checkouts: {_async_checkouts}")
