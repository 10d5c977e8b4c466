"""A faster write and read for the asyncio pool's connections, without subclassing them.

With a socket timeout (``from_url`` and most clients set one), redis-py runs every write
in ``asyncio.wait_for`` (a task per command) and every read in a timeout context. Here a
write waits under the timeout only when the transport's buffer is full, and a read is
guarded by one watchdog timer per connection, re-armed at most once per timeout period,
that fails the read still going past its deadline. ``ConnectionIO`` provides the
connection's ``send_packed_command``, ``read_response`` and
``_reschedule_active_read_timeout`` as instance attributes; it refers to the connection
weakly, so no cycle keeps a dropped connection (and its socket) alive. Anything unusual
(a health-check interval, a per-call timeout, a push request, another parser) takes
redis-py's own method, and so does everything where a private name these paths read is
missing (``redispool._compat.FAST_IO`` off: ``install()`` does nothing).
"""

from __future__ import annotations

import asyncio
import weakref
from asyncio import current_task
from time import monotonic
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .. import _compat
from .parser import AsyncParser

#: Past its deadline, a read that is not waiting on the socket (a push handler awaits
#: something) is looked at again every ``LATE_DELAY`` seconds, ``LATE_LOOKS`` times, and
#: then cancelled, as redis-py's timeout context would cancel it at the deadline.
LATE_LOOKS = 10
LATE_DELAY = 0.01


class ConnectionIO:
    """The write and read paths of one redis-py asyncio connection (see the module)."""

    __slots__ = ("__weakref__", "_cancelled", "_conn", "_deadline", "_late", "_task", "_timer")

    def __init__(self, connection: Any) -> None:
        self._conn = weakref.ref(connection)
        self._deadline: float | None = None  # monotonic deadline of the read in progress
        self._task: Any = None  # the task reading, while there is a deadline
        self._timer: Any = None
        self._late = 0  # looks at a read past its deadline and not waiting on the socket
        self._cancelled: Any = None  # the task the watchdog cancelled

    def install(self) -> None:
        """Become the connection's write and read paths (instance attributes), unless
        a private name they read is missing here (``redispool._compat.FAST_IO``)."""
        if not _compat.FAST_IO:
            return
        conn: Any = self._conn()
        conn.send_packed_command = self.send_packed_command
        conn.read_response = self.read_response
        conn._reschedule_active_read_timeout = self._reschedule_active_read_timeout

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        conn: Any = self._conn()
        writer = conn._writer
        if writer is None or conn.health_check_interval or type(command) is not list:
            await type(conn).send_packed_command(conn, command, check_health)
            return
        try:
            writer.writelines(command)
            timeout = conn.socket_timeout
            if timeout and writer.transport.get_write_buffer_size():
                await asyncio.wait_for(writer.drain(), timeout)
            else:
                await writer.drain()
        except asyncio.TimeoutError:
            await conn.disconnect(nowait=True)
            raise RedisTimeoutError("Timeout writing to socket") from None
        except OSError as exc:
            await conn.disconnect(nowait=True)
            code, message = ("UNKNOWN", exc.args[0]) if len(exc.args) == 1 else exc.args[:2]
            raise RedisConnectionError(f"Error {code} while writing to socket. {message}.") from exc
        except BaseException:
            await conn.disconnect(nowait=True)
            raise

    async def read_response(
        self,
        disable_decoding: bool = False,
        timeout: float | None = None,
        *,
        disconnect_on_error: bool = True,
        push_request: bool | None = False,
    ) -> Any:
        conn: Any = self._conn()
        if (
            timeout is not None
            or push_request
            or conn.health_check_interval
            or type(conn._parser) is not AsyncParser
        ):
            return await type(conn).read_response(
                conn,
                disable_decoding,
                timeout,
                disconnect_on_error=disconnect_on_error,
                push_request=push_request,
            )
        socket_timeout = conn.socket_timeout
        try:
            if socket_timeout is not None:
                self._deadline = monotonic() + socket_timeout
                self._task = current_task()
                if self._timer is None:
                    self._watch(socket_timeout)
            try:
                response = await conn._read_response_from_parser(disable_decoding=disable_decoding)
            finally:
                self._deadline = self._task = None
        except asyncio.TimeoutError:  # set by the watchdog
            if disconnect_on_error:
                await conn.disconnect(nowait=True)
            raise RedisTimeoutError(f"Timeout reading from {conn._host_error()}") from None
        except OSError as exc:
            if disconnect_on_error:
                await conn.disconnect(nowait=True)
            host = conn._host_error()
            raise RedisConnectionError(f"Error while reading from {host} : {exc.args}") from exc
        except BaseException as exc:
            timed_out = self._timed_out(exc)
            if disconnect_on_error:
                await conn.disconnect(nowait=True)
            if timed_out:
                raise RedisTimeoutError(f"Timeout reading from {conn._host_error()}") from None
            raise
        if isinstance(response, ResponseError):
            raise response from None
        return response

    def _watch(self, delay: float) -> None:
        self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        """The watchdog: past the deadline, fail the read in progress. One waiting on the
        socket gets ``asyncio.TimeoutError`` from its stream; one busy elsewhere (a push
        handler) gets ``LATE_LOOKS`` more looks, then its task is cancelled. Either way
        the read raises redis-py's ``TimeoutError`` and disconnects, as in redis-py."""
        self._timer = None
        deadline = self._deadline
        conn: Any = self._conn()
        if deadline is None or conn is None:  # no read in progress; the next one re-arms
            self._late = 0
            return
        left = deadline - monotonic()
        if left > 0:
            self._late = 0
            self._watch(left)
            return
        waiter = getattr(conn._reader, "_waiter", None)
        if waiter is not None and not waiter.done():
            self._late = 0
            waiter.set_exception(asyncio.TimeoutError())
            return
        task = self._task
        if task is None or task.done():
            return
        if self._late < LATE_LOOKS:  # busy elsewhere: look again shortly
            self._late += 1
            self._watch(LATE_DELAY)
            return
        self._late = 0
        self._cancelled = task
        task.cancel()

    def _timed_out(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the watchdog's cancellation of the task reading; if so it is
        withdrawn (``uncancel``, as ``asyncio.timeout`` does) unless the task was also
        cancelled from elsewhere, which then goes on as a cancellation."""
        task, self._cancelled = self._cancelled, None
        if task is None or task is not current_task():
            return False
        uncancel = getattr(task, "uncancel", None)  # Python 3.11+
        others = uncancel() if uncancel is not None else 0
        return others == 0 and isinstance(exc, asyncio.CancelledError)

    def _reschedule_active_read_timeout(self, timeout: float | None) -> None:
        """Maintenance notifications relax (or restore) the timeout of a read in flight."""
        if self._deadline is None:
            conn: Any = self._conn()
            type(conn)._reschedule_active_read_timeout(conn, timeout)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if timeout is None:
            self._deadline = float("inf")
            return
        self._deadline = monotonic() + timeout
        self._watch(timeout)
