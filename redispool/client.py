"""``redispool.Redis``: redis-py's client, its commands and pipelines on a fused path.

``Redis`` is a ``redis.Redis`` in every way a user can see (constructor, ``from_url``,
commands, callbacks, exceptions, retries); two things differ. Without a
``connection_pool`` it builds redispool's ``ConnectionPool`` where redis-py would build
its own. And a command runs through one call (``execute_command`` of ``_command_c``, or
of its pure twin ``_command_py``): checkout, pack, send, read, callback, release, with no
per-command allocation redis-py's path does not need. Its ``pipeline()`` returns
``Pipeline``, whose stack is packed into one buffer and whose replies are read in one
loop. While redis-py's metrics are on, a tracer wraps redis-py's ``execute_command``, or
a class or object replaces how a command is sent, read or parsed, redis-py's own code
runs instead (``redispool.fastpath``).
"""

from __future__ import annotations

import functools
from typing import Any

import redis.client
import redis.connection

from . import _compat
from ._impl import execute_command, pipeline_command, run_pipeline, run_transaction
from .pool import ConnectionPool

__all__ = ("Pipeline", "Redis")


def _with_our_classes(function: Any) -> Any:
    """``function`` (redis-py's, in ``redis.client``) as it runs with redispool's pool as
    ``redis.client.ConnectionPool``, unless ``install()`` or the user bound another pool
    class there. redis-py's constructor picks its pool through that global, so this
    keeps every line of it (argument handling, deprecations, events) redis-py's own."""
    if redis.client.ConnectionPool is not redis.connection.ConnectionPool:
        return function
    return _compat.with_globals(function, {"ConnectionPool": ConnectionPool})


class Redis(redis.client.Redis):
    """``redis.Redis`` on redispool's fused command path (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _with_our_classes(redis.client.Redis.__init__)(self, *args, **kwargs)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Redis:
        from_url = vars(redis.client.Redis)["from_url"].__func__
        client: Redis = _with_our_classes(from_url)(cls, url, **kwargs)
        return client

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        """A redispool ``Pipeline``, made as redis-py makes its own."""
        return Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    #: the fused path, or redis-py's own ``execute_command`` (``redispool.fastpath``)
    execute_command = execute_command


class Pipeline(redis.client.Pipeline):
    """redis-py's ``Pipeline``, whose stack goes out in one buffer and whose replies are
    read and converted in one loop (``run_pipeline``/``run_transaction``)."""

    #: redis-py's ``Pipeline.execute_command``, one call shorter per queued command
    execute_command = pipeline_command

    def _execute_pipeline(self, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        return run_pipeline(self, connection, commands, raise_on_error)

    def _execute_transaction(self, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        return run_transaction(self, connection, commands, raise_on_error)


# redis-py's signatures and documentation, for help() and for code that inspects them
functools.update_wrapper(Redis.__init__, redis.client.Redis.__init__)
functools.update_wrapper(
    vars(Redis)["from_url"].__func__, vars(redis.client.Redis)["from_url"].__func__
)
