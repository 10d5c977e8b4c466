"""pytest plugin (``-p redispool_plugin``): run redis-py's own tests with redispool's
Parser as redis-py's default parser class.

redis-py binds its default parser as a default argument of the undecorated
``AbstractConnection.__init__``, so that default is what is replaced.
"""

from __future__ import annotations

import inspect
from typing import Any

import redis.connection

import redispool

_init: Any = redis.connection.AbstractConnection.__init__
_raw = getattr(_init, "__wrapped__", _init)
_names = [p.name for p in inspect.signature(_raw).parameters.values() if p.default is not p.empty]
_defaults = list(_raw.__defaults__)
_defaults[_names.index("parser_class")] = redispool.Parser
_raw.__defaults__ = tuple(_defaults)

_connects = 0
_on_connect = redispool.Parser.on_connect


def _counting_on_connect(self: redispool.Parser, connection: Any) -> None:
    global _connects
    _connects += 1
    _on_connect(self, connection)


redispool.Parser.on_connect = _counting_on_connect  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"redispool.Parser connections: {_connects}")
