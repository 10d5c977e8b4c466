"""Connections that know whether they still owe the caller a reply.

A socket peek at checkout cannot see a reply that is still in flight, so redis-py hands
such connections to the next caller (who then reads someone else's reply). The pool's
connections count commands sent against replies read instead: a connection released
while it owes a reply is disconnected, never lent again. The count is exact for
ordinary commands, pipelines and transactions; commands whose replies cannot be counted
(pub/sub, MONITOR, CLIENT REPLY, replication) mark the connection unusable until it is
disconnected, which is what redis-py's own pub/sub and monitor code does on release.
"""

from __future__ import annotations

import asyncio
from time import monotonic
from typing import Any

from redis.asyncio.connection import AbstractConnection as AsyncAbstractConnection
from redis.connection import AbstractConnection, CacheProxyConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._impl import Packer

#: ``_rp_owed`` for a connection whose reply count is unknown: never lent again.
UNCOUNTABLE = 1 << 62

_UNCOUNTED_NAMES = (
    "SUBSCRIBE",
    "PSUBSCRIBE",
    "SSUBSCRIBE",
    "UNSUBSCRIBE",
    "PUNSUBSCRIBE",
    "SUNSUBSCRIBE",
    "MONITOR",
    "SYNC",
    "PSYNC",
    "CLIENT REPLY",
    "RESET",
)
_UNCOUNTED = frozenset(
    variant
    for name in _UNCOUNTED_NAMES
    for text in (name, name.lower())
    for variant in (text, text.encode())
)


def _demoted(conn: Any) -> None:
    """A READONLY reply: the server this connection reaches is no longer a primary. The
    pool then drops every connection to it (``_rp_demoted``), not just this one."""
    conn._rp_demoted = True


_UPPER = frozenset(name for name in _UNCOUNTED_NAMES if " " not in name)


def _uncounted(args: tuple[Any, ...]) -> bool:
    """Whether a command's replies cannot be counted; any spelling (``Subscribe``,
    ``client reply``, ``CLIENT`` and ``REPLY`` as two arguments)."""
    if not args:
        return False
    name = args[0]
    if name in _UNCOUNTED:
        return True
    if type(name) is str and name.isupper() and name != "CLIENT":  # redis-py's spelling
        return False
    words = [_text(arg).upper() for arg in args[:2]]
    first = words[0].split()
    if not first:
        return False
    if first[0] in _UPPER:
        return True
    second = first[1] if len(first) > 1 else (words[1] if len(words) > 1 else "")
    return first[0] == "CLIENT" and second == "REPLY"


def _text(arg: Any) -> str:
    if isinstance(arg, (bytes, bytearray, memoryview)):
        return bytes(arg).decode("latin-1")
    return arg if isinstance(arg, str) else ""


def _owed(commands: list[Any]) -> int:
    """Replies a batch of commands owes (pipelines, transactions)."""
    if any(_uncounted(args) for args in commands):
        return UNCOUNTABLE
    return len(commands)


class _Counting:
    """What the sync and asyncio mixins share: the reply count and the batch a pipeline
    packed, so that sending it adds as many replies owed as it holds commands."""

    _rp_owed: int = 0
    _rp_batch: Any = None
    _rp_demoted = False

    def pack_commands(self, commands: Any) -> Any:
        commands = commands if isinstance(commands, list) else list(commands)
        packed = super().pack_commands(commands)  # type: ignore[misc]
        self._rp_batch = (packed, _owed(commands))
        return packed

    def _rp_sending(self, command: Any) -> int:
        """Replies ``command`` will owe: its batch's count if ``pack_commands`` made it."""
        batch = self._rp_batch
        if batch is None:
            return 1
        self._rp_batch = None
        return int(batch[1]) if batch[0] is command else 1


class Tracked(_Counting):
    """Mixin over a redis-py connection class; ``tracked()`` builds the subclasses."""

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        owed = self._rp_sending(command)
        super().send_packed_command(command, check_health)  # type: ignore[misc]
        self._rp_owed += owed

    def send_command(self, *args: Any, **kwargs: Any) -> None:
        super().send_command(*args, **kwargs)  # type: ignore[misc]
        if _uncounted(args):
            self._rp_owed = UNCOUNTABLE

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().read_response(*args, **kwargs)  # type: ignore[misc]
        except ResponseError as exc:  # an error reply: read in full, then raised
            if self._rp_owed:
                self._rp_owed -= 1
            if isinstance(exc, ReadOnlyError):
                _demoted(self)
            raise
        if self._rp_owed:
            self._rp_owed -= 1
        return response

    def disconnect(self, *args: Any, **kwargs: Any) -> None:
        super().disconnect(*args, **kwargs)  # type: ignore[misc]
        self._rp_owed = 0
        self._rp_batch = None


class AsyncTracked(_Counting):
    """The same for ``redis.asyncio`` connections, which also get the compiled packer
    (redis-py's asyncio connections have no packer hook and always pack in Python) and a
    write path without a task per command. Replies are counted where the parser returns
    one, because ``read_response`` with a ``timeout`` returns None both for a nil reply
    and for a timeout."""

    _rp_packer: Any = None
    _rp_deadline: float | None = None  # monotonic deadline of the read in progress
    _rp_timer: Any = None

    def pack_command(self, *args: Any) -> Any:
        packer = self._rp_packer
        if packer is None:
            encoder = self.encoder  # type: ignore[attr-defined]
            packer = self._rp_packer = Packer(encoder.encoding, encoder.encoding_errors)
        return packer.pack(*args)

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        owed = self._rp_sending(command)
        writer = self._writer  # type: ignore[attr-defined]
        if writer is None or self.health_check_interval or type(command) is not list:  # type: ignore[attr-defined]
            await super().send_packed_command(command, check_health)  # type: ignore[misc]
        else:
            await self._rp_write(writer, command)
        self._rp_owed += owed

    async def _rp_write(self, writer: Any, command: list[Any]) -> None:
        """Write a packed command. redis-py wraps every write in ``wait_for`` (a task per
        command); here the socket timeout guards only a drain that really has to wait."""
        try:
            writer.writelines(command)
            timeout = self.socket_timeout  # type: ignore[attr-defined]
            if timeout and writer.transport.get_write_buffer_size():
                await asyncio.wait_for(writer.drain(), timeout)
            else:
                await writer.drain()
        except asyncio.TimeoutError:
            await self.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await self.disconnect(nowait=True)
            code, message = ("UNKNOWN", exc.args[0]) if len(exc.args) == 1 else exc.args[:2]
            raise RedisConnectionError(f"Error {code} while writing to socket. {message}.") from exc
        except BaseException:
            await self.disconnect(nowait=True)
            raise

    async def send_command(self, *args: Any, **kwargs: Any) -> None:
        await super().send_command(*args, **kwargs)  # type: ignore[misc]
        if _uncounted(args):
            self._rp_owed = UNCOUNTABLE

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        """redis-py's ``read_response``, without a timeout context per read when the
        socket timeout applies: a per-connection watchdog timer, re-armed at most once
        per timeout period, fails the read waiting past its deadline instead."""
        parser = self._parser  # type: ignore[attr-defined]
        if (
            timeout is not None
            or push_request
            or self.health_check_interval  # type: ignore[attr-defined]
            or not getattr(parser, "watchdog_safe", False)
        ):
            return await super().read_response(  # type: ignore[misc]
                disable_decoding,
                timeout,
                disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )
        socket_timeout = self.socket_timeout  # type: ignore[attr-defined]
        try:
            if socket_timeout is not None:
                self._rp_deadline = monotonic() + socket_timeout
                if self._rp_timer is None:
                    self._rp_watch(socket_timeout)
            try:
                response = await self._read_response_from_parser(disable_decoding=disable_decoding)
            finally:
                self._rp_deadline = None
        except asyncio.TimeoutError:  # set by the watchdog
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            host = self._host_error()  # type: ignore[attr-defined]
            raise RedisTimeoutError(f"Timeout reading from {host}") from None
        except OSError as exc:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            host = self._host_error()  # type: ignore[attr-defined]
            raise RedisConnectionError(f"Error while reading from {host} : {exc.args}") from exc
        except BaseException:
            if disconnect_on_error:
                await self.disconnect(nowait=True)
            raise
        if isinstance(response, ResponseError):
            raise response from None
        return response

    def _rp_watch(self, delay: float) -> None:
        self._rp_timer = asyncio.get_running_loop().call_later(delay, self._rp_expire)

    def _rp_expire(self) -> None:
        """The watchdog: past the deadline, fail the read that waits on the socket."""
        self._rp_timer = None
        deadline = self._rp_deadline
        if deadline is None:  # no read in progress; the next one re-arms
            return
        left = deadline - monotonic()
        if left > 0:
            self._rp_watch(left)
            return
        waiter = getattr(self._reader, "_waiter", None)  # type: ignore[attr-defined]
        if waiter is not None and not waiter.done():
            waiter.set_exception(asyncio.TimeoutError())
        else:  # busy elsewhere (a push handler): look again shortly
            self._rp_watch(0.01)

    def _reschedule_active_read_timeout(self, timeout: float | None) -> None:
        """Maintenance notifications relax (or restore) the timeout of a read in flight."""
        if self._rp_deadline is None:
            super()._reschedule_active_read_timeout(timeout)  # type: ignore[misc]
            return
        if self._rp_timer is not None:
            self._rp_timer.cancel()
            self._rp_timer = None
        if timeout is None:
            self._rp_deadline = float("inf")
            return
        self._rp_deadline = monotonic() + timeout
        self._rp_watch(timeout)

    async def _read_response_from_parser(self, *args: Any, **kwargs: Any) -> Any:
        response = await super()._read_response_from_parser(*args, **kwargs)  # type: ignore[misc]
        if self._rp_owed:
            self._rp_owed -= 1
        if isinstance(response, ReadOnlyError):
            _demoted(self)
        return response

    async def disconnect(self, *args: Any, **kwargs: Any) -> None:
        await super().disconnect(*args, **kwargs)  # type: ignore[misc]
        self._rp_owed = 0
        self._rp_batch = None


class TrackedCacheProxy(CacheProxyConnection):
    """Client-side caching wraps the pool's connection: what it owes is the inner one's."""

    @property
    def _rp_owed(self) -> int:
        return int(getattr(self._conn, "_rp_owed", 0))


_classes: dict[type, type] = {}


def tracked(cls: type) -> type:
    """``cls`` with reply tracking, same name and module, for redis-py's sync and asyncio
    connection classes; other classes are returned as they are (only a socket peek
    checks them)."""
    sub = _classes.get(cls)
    if sub is not None:
        return sub
    if not isinstance(cls, type) or issubclass(cls, (Tracked, AsyncTracked)):
        return cls
    if issubclass(cls, AbstractConnection):
        mixin: type = Tracked
    elif issubclass(cls, AsyncAbstractConnection):
        mixin = AsyncTracked
    else:
        return cls
    sub = type(
        cls.__name__,
        (mixin, cls),
        {"__module__": cls.__module__, "__qualname__": cls.__qualname__},
    )
    _classes[cls] = sub
    return sub
