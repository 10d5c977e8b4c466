"""``install()``/``uninstall()``: make redispool redis-py's default, process-wide.

redis-py picks its pool class through module globals (``Redis(host=...)`` and
``Redis.from_url`` look up ``redis.client.ConnectionPool`` at call time) and through
default arguments bound at definition time (``RedisCluster``'s nodes manager, Sentinel's
``master_for``/``slave_for``, the connections' ``parser_class``). ``install()`` rebinds
each of them, sync and asyncio, and remembers the original; ``uninstall()`` puts every
one back.

The client class is reached through the class itself, which code imported before
``install()`` holds (``from redis import Redis``): ``redis.client.Redis`` gets a
``__new__`` that makes a ``redispool.Redis`` where exactly ``redis.client.Redis`` is
asked for (CPython then runs ``redispool.Redis.__init__``) and leaves every subclass,
redis-py's own and the user's, as it is; ``redis.asyncio.client.Redis`` the same, making
a ``redispool.asyncio.Redis``. That ``__new__`` stays after ``uninstall()``,
inert: CPython cannot give a class back ``object.__new__`` once it had another (deleting
it leaves the class and every subclass refusing constructor arguments, CPython issue
105888), so ``uninstall()`` empties the table it reads instead.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.client
import redis.asyncio.connection
import redis.client
import redis.cluster
import redis.connection
import redis.sentinel

from . import _compat
from ._impl import Packer
from .asyncio import AsyncParser
from .asyncio import BlockingConnectionPool as AsyncBlockingConnectionPool
from .asyncio import ConnectionPool as AsyncConnectionPool
from .asyncio.client import Redis as AsyncRedis
from .asyncio.pool import pack_command as async_pack_command
from .client import Redis
from .parsers import Parser
from .pool import BlockingConnectionPool, ConnectionPool
from .sentinel import SentinelConnectionPool

_undo: list[Callable[[], None]] = []

#: redis-py's class -> the class its ``__new__`` makes instead while installed.
_made_as: dict[type, type] = {}
#: redis-py's class -> the ``__new__`` set on it (kept after ``uninstall()``).
_news: dict[type, Any] = {}


def _new_for(base: Any) -> Any:
    """A ``__new__`` for ``base``: an instance of what ``_made_as`` names for exactly
    ``base`` (of ``cls`` itself otherwise, and for every subclass), made by the next
    ``__new__`` in its MRO (a mixin's gets the arguments; ``object``'s does not). It
    shows ``base.__init__``'s signature, which ``inspect.signature(base)`` reads from a
    class's own ``__new__`` first."""

    def new(cls: type, *args: Any, **kwargs: Any) -> Any:
        made: Any = _made_as.get(cls, cls)
        after: Any = super(base, made).__new__  # a mixin's after base in made's MRO
        if after is object.__new__:
            return after(made)
        return after(made, *args, **kwargs)

    new.__name__ = "__new__"
    new.__qualname__ = f"{base.__qualname__}.__new__"
    new.__signature__ = inspect.signature(vars(base)["__init__"])  # type: ignore[attr-defined]
    return new


def _substitute(base: type, replacement: type) -> None:
    """Make ``base(...)`` build a ``replacement`` (a subclass of it) until ``uninstall()``."""
    if vars(base).get("__new__") is None:  # redis-py's own classes define none
        _news[base] = _new_for(base)
        base.__new__ = staticmethod(_news[base])  # type: ignore[method-assign]
    elif getattr(vars(base)["__new__"], "__func__", None) is not _news.get(base):
        warnings.warn(
            f"{base.__module__}.{base.__qualname__} has a __new__ of its own: install()"
            f" leaves it, and what it makes stays as it is ({replacement!r} not substituted)",
            RuntimeWarning,
            stacklevel=3,
        )
        return
    _made_as[base] = replacement
    _undo.append(lambda: _made_as.__delitem__(base))


def _rebind(owner: Any, name: str, value: Any) -> None:
    old = getattr(owner, name)
    setattr(owner, name, value)
    _undo.append(lambda: setattr(owner, name, old))


def _default(func: Any, name: str, value: Any) -> None:
    """Replace the default of parameter ``name`` of ``func`` (unwrapping decorators)."""
    raw = inspect.unwrap(func)
    kwdefaults = raw.__kwdefaults__
    if kwdefaults and name in kwdefaults:
        old = kwdefaults[name]
        kwdefaults[name] = value
        _undo.append(lambda: kwdefaults.__setitem__(name, old))
        return
    positional = [
        p.name
        for p in inspect.signature(raw).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is not p.empty
    ]
    index = positional.index(name)
    defaults = raw.__defaults__
    raw.__defaults__ = (*defaults[:index], value, *defaults[index + 1 :])
    _undo.append(lambda: setattr(raw, "__defaults__", defaults))


def _substitute_from_url(base: Any, replacement: Any) -> None:
    """Make ``base.from_url(...)`` build what ``replacement.from_url`` builds (for exactly
    ``base``, as ``_substitute`` does for the constructor) until ``uninstall()``, so it
    takes the replacement's own keywords too (``auto_pipeline=``)."""
    original = vars(base)["from_url"]

    def from_url(cls: type, url: str, *args: Any, **kwargs: Any) -> Any:
        made: Any = _made_as.get(cls)
        if made is replacement:
            return made.from_url(url, *args, **kwargs)
        return original.__func__(cls, url, *args, **kwargs)

    from_url.__doc__ = original.__func__.__doc__
    base.from_url = classmethod(from_url)
    _undo.append(lambda: setattr(base, "from_url", original))


def _construct_command_packer(self: Any, packer: Any) -> Any:
    if packer is not None:
        return packer
    return Packer(encoding=self.encoder.encoding, errors=self.encoder.encoding_errors)


def install() -> None:
    """Make every redis-py client created from now on use redispool's pools, parsers and
    packer, sync and asyncio, and every ``redis.Redis`` made a ``redispool.Redis`` (and
    every ``redis.asyncio.Redis`` a ``redispool.asyncio.Redis``).
    Idempotent; existing clients keep what they have."""
    if _undo:
        return
    _substitute(redis.client.Redis, Redis)
    _substitute(redis.asyncio.client.Redis, AsyncRedis)
    _substitute_from_url(redis.asyncio.client.Redis, AsyncRedis)
    for module in (redis, redis.connection, redis.client, redis.cluster):
        _rebind(module, "ConnectionPool", ConnectionPool)
    for module in (redis, redis.connection):
        _rebind(module, "BlockingConnectionPool", BlockingConnectionPool)
    _rebind(redis.sentinel, "SentinelConnectionPool", SentinelConnectionPool)
    _default(redis.cluster.NodesManager.__init__, "connection_pool_class", ConnectionPool)
    for method in (redis.sentinel.Sentinel.master_for, redis.sentinel.Sentinel.slave_for):
        _default(method, "connection_pool_class", SentinelConnectionPool)
    _default(redis.connection.AbstractConnection.__init__, "parser_class", Parser)
    if _compat.PACKER_HOOK:  # redis-py's private hook for a connection's packer
        _rebind(
            redis.connection.AbstractConnection,
            "_construct_command_packer",
            _construct_command_packer,
        )
    for module in (redis.asyncio, redis.asyncio.connection, redis.asyncio.client):
        _rebind(module, "ConnectionPool", AsyncConnectionPool)
    for module in (redis.asyncio, redis.asyncio.connection):
        _rebind(module, "BlockingConnectionPool", AsyncBlockingConnectionPool)
    _default(redis.asyncio.connection.AbstractConnection.__init__, "parser_class", AsyncParser)
    _rebind(redis.asyncio.connection.AbstractConnection, "pack_command", async_pack_command)


def uninstall() -> None:
    """Undo ``install()``."""
    while _undo:
        _undo.pop()()


__all__ = ("install", "uninstall")
