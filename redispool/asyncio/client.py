"""``redispool.asyncio.Redis``: redis.asyncio's client on lanes, with auto-pipelining.

``Redis`` is a ``redis.asyncio.Redis`` in every way a user can see (constructor,
``from_url``, commands, callbacks, exceptions, retries). Without a ``connection_pool`` it
builds redispool's asyncio ``ConnectionPool``. A command runs through one coroutine
(``execute_command`` of ``_acommand_c``, or of its pure twin ``_acommand_py``): checkout,
pack, write, its reply resolved by a ``Lane`` as it arrives, callback, release. Its
``pipeline()`` returns ``Pipeline``, whose stack goes out in one buffer and whose replies
come back in one list. While redis-py's metrics are on, a tracer wraps redis-py's
``execute_command``, or a class or object replaces how a command is sent, read or
parsed, redis-py's own code runs instead (``redispool.fastpath``).

``auto_pipeline=True`` makes commands issued concurrently by many tasks share one
connection, written together once per event-loop iteration (see ``_acommand_py``);
blocking, transaction, pub/sub and connection-state commands (``redispool.exclusive``)
still run on a connection of their own.
"""

from __future__ import annotations

import functools
from typing import Any

import redis.asyncio.client
import redis.asyncio.connection

from .. import _compat, fastpath
from .._impl import (
    async_execute_command,
    async_pipeline_command,
    async_run_pipeline,
    async_run_transaction,
)
from .parser import AsyncParser
from .pool import ConnectionPool

__all__ = ("Pipeline", "Redis")

fastpath.aparser(AsyncParser)  # takes its methods as they are now, before any test's patch


def _with_our_classes(function: Any) -> Any:
    """``function`` (redis-py's, in ``redis.asyncio.client``) as it runs with redispool's
    pool as ``redis.asyncio.client.ConnectionPool``, unless ``install()`` or the user
    bound another pool class there."""
    if redis.asyncio.client.ConnectionPool is not redis.asyncio.connection.ConnectionPool:
        return function
    return _compat.with_globals(function, {"ConnectionPool": ConnectionPool})


class Redis(redis.asyncio.client.Redis):
    """``redis.asyncio.Redis`` on redispool's command path (see the module's docstring);
    ``auto_pipeline=True`` shares connections between concurrent commands."""

    #: whether concurrent commands share a connection (``auto_pipeline=``)
    auto_pipeline: bool = False
    _rp_lane: Any = None  # the shared lane, while one is open
    _rp_packer: Any = None  # packs commands for the shared lane

    def __init__(self, *args: Any, auto_pipeline: bool = False, **kwargs: Any) -> None:
        _with_our_classes(redis.asyncio.client.Redis.__init__)(self, *args, **kwargs)
        self.auto_pipeline = bool(auto_pipeline)

    @classmethod
    def from_url(
        cls,
        url: str,
        single_connection_client: bool = False,
        auto_close_connection_pool: bool | None = None,
        *,
        auto_pipeline: bool = False,
        **kwargs: Any,
    ) -> Redis:
        from_url = vars(redis.asyncio.client.Redis)["from_url"].__func__
        client: Redis = _with_our_classes(from_url)(
            cls, url, single_connection_client, auto_close_connection_pool, **kwargs
        )
        client.auto_pipeline = bool(auto_pipeline)
        return client

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Pipeline:
        """A redispool ``Pipeline``, made as redis-py makes its own."""
        return Pipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)

    #: the lanes, or redis-py's own ``execute_command`` (``redispool.fastpath``)
    execute_command = async_execute_command


class Pipeline(redis.asyncio.client.Pipeline):
    """redis.asyncio's ``Pipeline``, whose stack goes out in one buffer and whose replies
    are read in one list (``run_pipeline``/``run_transaction``)."""

    #: redis-py's ``Pipeline.execute_command``, one call shorter per queued command
    execute_command = async_pipeline_command

    async def _execute_pipeline(self, connection: Any, commands: Any, raise_on_error: bool) -> Any:
        return await async_run_pipeline(self, connection, commands, raise_on_error)

    async def _execute_transaction(
        self, connection: Any, commands: Any, raise_on_error: bool
    ) -> Any:
        return await async_run_transaction(self, connection, commands, raise_on_error)


functools.update_wrapper(Redis.__init__, redis.asyncio.client.Redis.__init__)
functools.update_wrapper(
    vars(Redis)["from_url"].__func__, vars(redis.asyncio.client.Redis)["from_url"].__func__
)
